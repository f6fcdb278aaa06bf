"""Least privilege in every policy document: no wildcard actions, no broad AWS managed policies,
resources named, and no resource policy open to everyone."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from infra.iam import GLOBAL_ACTIONS
from infra.resource_types import (
    BUCKET_POLICY,
    IDENTITY_POLICY_TYPES,
    KMS_KEY,
    MODEL_PACKAGE_GROUP_POLICY,
    POLICY_ATTACHMENTS,
    ROLE,
    TOPIC_POLICY,
)
from policy.model import resource_rule
from policy.properties import as_list, document, principals, sid, statements, value_at

# Which property of which resource type holds a policy document, and whether it is an identity
# policy (whose "Resource" names what the principal may act on).
_POLICY_PROPS: dict[str, tuple[str, bool]] = {
    **{type_: ("policy", True) for type_ in IDENTITY_POLICY_TYPES},
    KMS_KEY: ("policy", False),
    BUCKET_POLICY: ("policy", False),
    TOPIC_POLICY: ("policy", False),
    MODEL_PACKAGE_GROUP_POLICY: ("resourcePolicy", False),
}


def _policy_documents(type_: str, props: Mapping[str, Any]) -> Iterator[tuple[str, Any, bool]]:
    """(where, document, identity) for every policy document a resource carries."""
    if type_ in _POLICY_PROPS:
        prop, identity = _POLICY_PROPS[type_]
        yield prop, document(props.get(prop)), identity
    if type_ == ROLE:
        for i, inline in enumerate(as_list(props.get("inlinePolicies"))):
            yield f"inlinePolicies[{i}]", document(value_at(inline, "policy")), True


@resource_rule(
    "iam-no-wildcard-action",
    "No policy document allows the action * or allows with NotAction.",
    "mandatory",
    "MLSEC03-BP01 Provide least privilege access",
)
def iam_no_wildcard_action(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    problems = []
    for where, policy, _identity in _policy_documents(type_, props):
        for i, statement in enumerate(statements(policy)):
            if statement.get("Effect") != "Allow":
                continue
            if "*" in as_list(statement.get("Action")):
                problems.append(f"{where} {sid(statement, i)} allows the action *")
            if "NotAction" in statement:
                problems.append(f"{where} {sid(statement, i)} allows everything but NotAction")
    return problems


_AWS_MANAGED_BROAD = re.compile(
    r"^arn:aws[a-z-]*:iam::aws:policy/(?:.*/)?(?:[^/]*FullAccess|AdministratorAccess)$"
)


@resource_rule(
    "iam-no-full-access-policies",
    "No role, user or group is given an AWS managed *FullAccess or AdministratorAccess policy.",
    "mandatory",
    "MLSEC03-BP01 Provide least privilege access",
)
def iam_no_full_access_policies(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    if type_ in POLICY_ATTACHMENTS:
        arns = as_list(props.get("policyArn"))
    elif type_ == ROLE:
        arns = as_list(props.get("managedPolicyArns"))
    else:
        return []
    return [
        f"attaches the AWS managed policy {arn}"
        for arn in arns
        if isinstance(arn, str) and _AWS_MANAGED_BROAD.match(arn)
    ]


@resource_rule(
    "iam-resource-scoping",
    'Identity policies grant on "Resource": "*" only actions that accept no resource ARN '
    "(infra/iam.py GLOBAL_ACTIONS).",
    "mandatory",
    "MLSEC03-BP01 Provide least privilege access",
)
def iam_resource_scoping(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    problems = []
    for where, policy, identity in _policy_documents(type_, props):
        if not identity:
            # In a resource policy "*" is the resource the policy is attached to.
            continue
        for i, statement in enumerate(statements(policy)):
            if statement.get("Effect") != "Allow" or "*" not in as_list(statement.get("Resource")):
                continue
            scoped = [a for a in as_list(statement.get("Action")) if a not in GLOBAL_ACTIONS]
            if scoped:
                problems.append(
                    f"{where} {sid(statement, i)} grants {', '.join(map(str, scoped))} on "
                    f'"Resource": "*"; name the resources'
                )
    return problems


@resource_rule(
    "resource-policy-no-wildcard-principal",
    "No resource policy allows the principal *: KMS key policies (checkov CKV_AWS_33), "
    "model package group, bucket and topic policies.",
    "mandatory",
    "MLSEC06-BP01 Restrict access to intended legitimate consumers",
    ("CKV_AWS_33",),
)
def resource_policy_no_wildcard_principal(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    problems = []
    for where, policy, identity in _policy_documents(type_, props):
        if identity:
            continue
        for i, statement in enumerate(statements(policy)):
            if statement.get("Effect") == "Allow" and "*" in principals(statement):
                problems.append(f"{where} {sid(statement, i)} allows the principal *")
    return problems
