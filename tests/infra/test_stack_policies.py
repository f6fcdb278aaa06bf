"""Least privilege, for every stack file: what each IAM and resource policy allows."""

from __future__ import annotations

from collections import Counter

from infra.resource_types import ROLE, ROLE_POLICY_ATTACHMENT
from tests.infra.plan_checks import (
    managed_policy_problems,
    policy_docs,
    policy_problems,
    resources_of,
    unread_policies,
)


def test_policies_grant_no_wildcards(plans, stack_settings, stack):
    problems = policy_problems(plans[stack], stack_settings[stack])
    assert not problems, "\n".join(problems)


def test_every_policy_in_the_plan_is_checked(plans, stack_settings, stack):
    plan = plans[stack]
    kinds = Counter(doc.kind for doc in policy_docs(plan))
    if stack_settings[stack].environment == "shared":
        expected = {"bucket", "key", "model-package-group"}
    else:
        expected = {"identity", "trust", "key", "topic"}
    # The policy checks above must have had something to check.
    assert expected <= set(kinds), f"stack {stack}: policy kinds found {dict(kinds)}"
    problems = unread_policies(plan)
    assert not problems, "\n".join(problems)


def test_no_aws_managed_full_access_policies(plans, stack):
    plan = plans[stack]
    problems = managed_policy_problems(plan)
    for role in resources_of(plan, ROLE):
        if role.inputs.get("managedPolicyArns"):
            problems.append(f"{role.urn}: managedPolicyArns {role.inputs['managedPolicyArns']}")
    for attachment in resources_of(plan, ROLE_POLICY_ATTACHMENT):
        if ":iam::aws:policy/" in str(attachment.inputs.get("policyArn")):
            problems.append(f"{attachment.urn}: attaches {attachment.inputs['policyArn']}")
    assert not problems, "\n".join(problems)
