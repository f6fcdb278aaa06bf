"""Every IAM policy document the program produces, for every stack, linted by parliament.

parliament checks each document against its copy of the Service Authorization Reference:
unknown actions and condition keys, resources that cannot match an action, type mismatches,
``"Resource": "*"``, and, with its community auditors, actions that manage permissions or hand
out credentials. A stack's documents must have no findings, except the few that are parliament
misreading a kind of policy; those are allowed below by issue code and kind of document, each
as narrowly as the finding allows, with the reason and its source.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import parliament
import pytest
from parliament.finding import Finding

from infra.review.plan import Plan
from tests.infra.plan_checks import PolicyDoc, account, policy_docs, statements

# The community auditors are parliament's opt-in checks (permissions management, credentials
# exposure, privilege escalation, NotPrincipal/NotResource with Allow); they are what would
# catch a role given iam:PassRole or kms:PutKeyPolicy. Private auditors are a site's own
# additions: none are configured, and the lint must not pick up whatever a machine has.
LINT_OPTIONS: dict[str, Any] = {"ignore_private_auditors": True, "include_community_auditors": True}


def lint(document: Mapping[str, Any]) -> list[Finding]:
    return list(parliament.analyze_policy_string(json.dumps(document), **LINT_OPTIONS).findings)


def lint_document(doc: PolicyDoc, plan: Plan) -> list[Finding]:
    """parliament's findings for one document, read as the kind of policy it is."""
    if doc.kind != "trust":
        return lint(doc.document)
    # A trust policy is the role's own resource policy, so it names no Resource (IAM User Guide,
    # "IAM JSON policy elements: Resource": a role trust policy does not include it,
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html).
    # parliament wants one in every statement and stops at MALFORMED before checking actions
    # or principals, so it reads the document with the role it is attached to as the Resource.
    # The role is auto-named from its logical name, hence the wildcard.
    role = doc.resource
    arn = f"arn:aws:iam::{account(plan)}:role{role.inputs.get('path', '/')}{role.name}*"
    document = copy.deepcopy(doc.document)
    for statement in statements(document):
        statement.setdefault("Resource", arn)
    return lint(document)


def _actions(finding: Finding) -> set[str]:
    """The actions a community auditor's finding names (lower case, as parliament gives them)."""
    return set(finding.location.get("actions", ()))


def _mismatched_actions(finding: Finding) -> set[str]:
    return {entry["action"] for entry in finding.detail}


@dataclass(frozen=True)
class Allowance:
    issue: str
    kind: str
    # Whether this finding, in this document of this plan, is the false positive allowed.
    covers: Callable[[Finding, PolicyDoc, Plan], bool]


def _any(finding: Finding, doc: PolicyDoc, plan: Plan) -> bool:
    return True


def _only_the_account_administers(finding: Finding, doc: PolicyDoc, plan: Plan) -> bool:
    """The actions come from AWS's default statement, granted to the key's own account only."""
    own = f"arn:aws:iam::{account(plan)}:root"
    default = [
        s
        for s in statements(doc.document)
        if s.get("Sid") == "AccountAdministers"
        and s.get("Principal") == {"AWS": own}
        and s.get("Action") == "kms:*"
    ]
    rest = dict(doc.document, Statement=[s for s in statements(doc.document) if s not in default])
    return bool(default) and all(f.issue != finding.issue for f in lint(rest))


def _only(*actions: str) -> Callable[[Finding, PolicyDoc, Plan], bool]:
    allowed = {action.lower() for action in actions}
    return lambda finding, doc, plan: bool(_actions(finding)) and _actions(finding) <= allowed


def _only_mismatched(*actions: str) -> Callable[[Finding, PolicyDoc, Plan], bool]:
    return lambda finding, doc, plan: _mismatched_actions(finding) <= set(actions)


def _grants(statement: dict[str, Any], action: str) -> bool:
    """Whether an Allow statement's actions (wildcards expanded) include ``action``."""
    if statement.get("Effect") != "Allow":
        return False
    named = statement.get("Action", [])
    return any(
        f"{a['service']}:{a['action']}".lower() == action.lower()
        for name in ([named] if isinstance(named, str) else named)
        for a in parliament.expand_action(name)
    )


def _service_grants_only(finding: Finding, doc: PolicyDoc, plan: Plan) -> bool:
    """kms:CreateGrant, in every statement that allows it, only for grants AWS services make."""
    return all(
        s.get("Condition", {}).get("Bool", {}).get("kms:GrantIsForAWSResource") == "true"
        for s in statements(doc.document)
        if _grants(s, "kms:CreateGrant")
    )


def _role_permissions(finding: Finding, doc: PolicyDoc, plan: Plan) -> bool:
    vpc = {"ec2:createnetworkinterfacepermission", "ec2:deletenetworkinterfacepermission"}
    actions = _actions(finding)
    return (
        bool(actions)
        and actions <= vpc | {"kms:creategrant"}
        and ("kms:creategrant" not in actions or _service_grants_only(finding, doc, plan))
    )


ALLOWED: tuple[Allowance, ...] = (
    # In a key policy "Resource": "*" means the key the policy is attached to and no other
    # (AWS KMS developer guide, "Key policies in AWS KMS",
    # https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html); parliament
    # reads every document as an identity policy, where it would mean every key.
    Allowance("RESOURCE_STAR", "key", _any),
    # AWS's default key policy gives the key's own account kms:*, so that IAM policies in that
    # account decide who may use and manage the key, and the key cannot become unmanageable
    # (AWS KMS developer guide, "Default key policy",
    # https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html). kms:*
    # includes kms:PutKeyPolicy and the grant actions, which the community auditor reports.
    # Allowed only when that statement alone grants them.
    Allowance("PERMISSIONS_MANAGEMENT_ACTIONS", "key", _only_the_account_administers),
    # A trust policy exists to let its principal call sts:AssumeRole on the role; the community
    # auditor lists that action as exposing credentials (IAM User Guide, "Roles terms and
    # concepts", trust policy:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles.html).
    Allowance("CREDENTIALS_EXPOSURE", "trust", _only("sts:AssumeRole")),
    # The roles SageMaker runs endpoints and monitoring jobs with pull their images from ECR,
    # which needs a registry login token (SageMaker developer guide, "SageMaker AI Roles":
    # "CreateModel API" and "CreateProcessingJob API: Execution Role Permissions",
    # https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html); the token reads
    # images, nothing else.
    Allowance("CREDENTIALS_EXPOSURE", "identity", _only("ecr:GetAuthorizationToken")),
    # Two actions the community auditor counts as managing permissions, and nothing else:
    # - a model in a VPC: SageMaker attaches network interfaces to the model's subnets with the
    #   execution role, which needs the interface permission actions (same page, and "Give
    #   SageMaker Hosted Endpoints Access to Resources in Your Amazon VPC",
    #   https://docs.aws.amazon.com/sagemaker/latest/dg/host-vpc.html), scoped to the account's
    #   network interfaces;
    # - a monitoring job's volumes encrypted with the environment key: its role lets SageMaker
    #   create a grant on that key (infra/iam.py, EncryptAnalysisVolumes), allowed here only when
    #   the condition kms:GrantIsForAWSResource limits it to grants that an AWS service makes
    #   for the role (AWS KMS developer guide, "AWS KMS condition keys",
    #   https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html).
    Allowance("PERMISSIONS_MANAGEMENT_ACTIONS", "identity", _role_permissions),
    # A model package group's policy may name only the group and its versions, and the
    # cross-account deployment guide grants sagemaker:CreateModel on the versions
    # ("Deploy a Model Version from a Different Account",
    # https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-deploy-xaccount.html).
    # parliament wants the Model's ARN, which is in the deploying account and cannot be named
    # by the group's policy.
    Allowance(
        "RESOURCE_MISMATCH", "model-package-group", _only_mismatched("sagemaker:CreateModel")
    ),
)


def allowance_for(finding: Finding, doc: PolicyDoc, plan: Plan) -> Allowance | None:
    return next(
        (
            a
            for a in ALLOWED
            if a.issue == finding.issue and a.kind == doc.kind and a.covers(finding, doc, plan)
        ),
        None,
    )


def describe(finding: Finding, doc: PolicyDoc) -> str:
    where = finding.location.get("actions") or finding.location.get("string") or ""
    return f"{doc.resource.urn} ({doc.kind} policy): {finding.issue} {finding.detail or ''} {where}"


def unallowed_findings(plan: Plan) -> list[str]:
    return [
        describe(finding, doc)
        for doc in policy_docs(plan)
        for finding in lint_document(doc, plan)
        if allowance_for(finding, doc, plan) is None
    ]


def test_every_policy_document_lints_clean(stack: str, plans: Mapping[str, Plan]) -> None:
    plan = plans[stack]
    assert policy_docs(plan), f"{stack}: no policy documents to lint"
    assert unallowed_findings(plan) == []


def test_every_allowance_is_needed(plans: Mapping[str, Plan]) -> None:
    used = {
        allowance
        for plan in plans.values()
        for doc in policy_docs(plan)
        for finding in lint_document(doc, plan)
        if (allowance := allowance_for(finding, doc, plan)) is not None
    }
    unused = [f"{a.issue} in {a.kind} policies" for a in ALLOWED if a not in used]
    assert unused == [], "allowances no stack needs any more: remove them"


def test_parliament_reads_a_trust_policy_without_resource_as_malformed() -> None:
    # Why trust policies are linted with their role as the Resource: as written, parliament
    # stops at the missing Resource and checks nothing else.
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    findings = lint(trust)
    assert [(f.issue, f.detail) for f in findings] == [
        ("MALFORMED", "Statement contains neither Resource nor NotResource")
    ]


# --- the lint catches what it should -------------------------------------------------------

BUCKET = "arn:aws:s3:::mlserve-artifacts-1234"


def _identity(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@pytest.mark.parametrize(
    ("statement", "issue", "detail"),
    [
        # Objects are s3:::bucket/key: the bucket's ARN alone matches no object.
        (
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": BUCKET},
            "RESOURCE_MISMATCH",
            "arn:*:s3:::*/*",
        ),
        (
            {"Effect": "Allow", "Action": "s3:GetObjectz", "Resource": f"{BUCKET}/*"},
            "UNKNOWN_ACTION",
            "s3:GetObjectz",
        ),
        (
            {"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": "*"},
            "RESOURCE_STAR",
            "sagemaker:InvokeEndpoint",
        ),
        (
            {
                "Effect": "Allow",
                "Action": "kms:DescribeKey",
                "Resource": "arn:aws:kms:us-east-1:111111111111:key/1234",
                "Condition": {"StringLike": {"kms:EncryptionContext:aws:logs:arn": "arn:*"}},
            },
            "UNKNOWN_CONDITION_FOR_ACTION",
            "kms:DescribeKey",
        ),
    ],
    ids=["object-action-on-bucket", "unknown-action", "resource-star", "condition-not-for-action"],
)
def test_a_bad_identity_policy_is_flagged(
    statement: dict[str, Any], issue: str, detail: str, plans: Mapping[str, Plan]
) -> None:
    findings = lint(_identity(statement))
    flagged = [f for f in findings if f.issue == issue]
    assert flagged, [f.issue for f in findings]
    assert any(detail in str(f.detail) for f in flagged), [f.detail for f in flagged]
    # No allowance hides it in an identity policy.
    role_policy = next(d for d in policy_docs(plans["prod"]) if d.kind == "identity")
    assert all(allowance_for(f, role_policy, plans["prod"]) is None for f in flagged)


def test_allowances_do_not_cover_more_than_their_reason(plans: Mapping[str, Plan]) -> None:
    plan = plans["prod"]
    role_policy = next(d for d in policy_docs(plan) if d.kind == "identity")
    key_policy = next(d for d in policy_docs(plan) if d.kind == "key")

    # A role that may pass roles manages permissions: not the VPC allowance.
    passing = lint(
        _identity(
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": "arn:aws:iam::111111111111:role/x",
            }
        )
    )
    management = [f for f in passing if f.issue == "PERMISSIONS_MANAGEMENT_ACTIONS"]
    assert management and allowance_for(management[0], role_policy, plan) is None

    # Grants on the key for anyone, not only for AWS services: not the volume encryption.
    key = "arn:aws:kms:us-east-1:111111111111:key/1234"
    for action in ("kms:CreateGrant", "kms:Create*"):
        granting = _identity({"Effect": "Allow", "Action": action, "Resource": key})
        granting_doc = PolicyDoc(role_policy.resource, "identity", granting)
        management = [f for f in lint(granting) if f.issue == "PERMISSIONS_MANAGEMENT_ACTIONS"]
        assert management and allowance_for(management[0], granting_doc, plan) is None
    limited = _identity(
        {
            "Effect": "Allow",
            "Action": "kms:CreateGrant",
            "Resource": key,
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        }
    )
    management = [f for f in lint(limited) if f.issue == "PERMISSIONS_MANAGEMENT_ACTIONS"]
    assert allowance_for(management[0], PolicyDoc(role_policy.resource, "identity", limited), plan)

    # Another account allowed to change the key policy: not AWS's default statement.
    widened = copy.deepcopy(key_policy.document)
    widened["Statement"].append(
        {
            "Sid": "Outsider",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
            "Action": "kms:PutKeyPolicy",
            "Resource": "*",
        }
    )
    widened_doc = PolicyDoc(key_policy.resource, "key", widened)
    management = [f for f in lint(widened) if f.issue == "PERMISSIONS_MANAGEMENT_ACTIONS"]
    assert management and allowance_for(management[0], widened_doc, plan) is None
