"""The checks themselves: each one flags what it is meant to flag, naming the URN.

The stack tests pass when the program is right; these make sure that they would fail if it were
not, on small hand-made plans with one flaw each.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.resource_types import (
    BUCKET_POLICY,
    COMPONENTS,
    ENDPOINT,
    KMS_KEY,
    MODEL,
    MODEL_ENDPOINT,
    ROLE,
    ROLE_POLICY,
    TOPIC,
)
from infra.review.plan import Plan, PlannedResource
from tests.infra.plan_checks import (
    component_children,
    managed_policy_problems,
    policy_problems,
    tag_problems,
    unread_policies,
    version_tag_problems,
)

STACK = "prod"
PREFIX = f"urn:pulumi:{STACK}::mlserve::"
ROOT_ARN = "arn:aws:iam::444444444444:root"


def resource(
    type_: str, name: str, inputs: dict[str, Any], parent: tuple[str, str] | None = None
) -> PlannedResource:
    chain = f"{parent[0]}${type_}" if parent else type_
    return PlannedResource(
        type=type_,
        name=name,
        parent=parent[1] if parent else None,
        inputs=inputs,
        urn=f"{PREFIX}{chain}::{name}",
        custom=type_ not in COMPONENTS,
        dependencies=(),
        custom_timeouts={},
        retain_on_delete=False,
    )


def plan_of(*resources: PlannedResource) -> Plan:
    return Plan(stack=STACK, resources=list(resources), outputs={})


def role_policy(name: str, *statements: dict[str, Any]) -> PlannedResource:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return resource(ROLE_POLICY, name, {"policy": json.dumps(document)})


def key(name: str, *statements: dict[str, Any]) -> PlannedResource:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return resource(KMS_KEY, name, {"policy": json.dumps(document)})


def allow(
    action: str, resource_: str = "arn:aws:s3:::bucket/models/*", **extra: Any
) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource_, **extra}


@pytest.mark.parametrize(
    ("flawed", "flagged"),
    [
        (role_policy("star", allow("*")), "action '*'"),
        (role_policy("service", allow("s3:*")), "service-wide"),
        (role_policy("unscoped", allow("s3:GetObject", "*")), "'Resource': '*'"),
        (
            key("foreign-admin", allow("kms:*", "*", Principal={"AWS": "arn:aws:iam::1:root"})),
            "outside the account-root statement",
        ),
        (
            resource(
                BUCKET_POLICY,
                "public",
                {
                    "bucket": "b",
                    "policy": json.dumps(
                        {"Statement": [allow("s3:GetObject", "arn:aws:s3:::b/*", Principal="*")]}
                    ),
                },
            ),
            "allows any principal",
        ),
    ],
    ids=["star-action", "service-wide", "unscoped-resource", "foreign-kms-admin", "public"],
)
def test_policy_check_flags(stack_settings, flawed, flagged):
    problems = policy_problems(plan_of(flawed), stack_settings[STACK])
    assert problems and all(p.startswith(flawed.urn) for p in problems), problems
    assert any(flagged in p for p in problems), problems


def test_policy_check_allows_the_exemptions(stack_settings):
    fine = plan_of(
        role_policy("token", allow("ecr:GetAuthorizationToken", "*")),
        # In a key policy "*" is the key itself; kms:* goes to the account root only.
        key("admin", allow("kms:*", "*", Principal={"AWS": ROOT_ARN})),
        resource(
            BUCKET_POLICY,
            "tls",
            {
                "bucket": "b",
                "policy": json.dumps(
                    {
                        "Statement": [
                            {
                                "Effect": "Deny",
                                "Principal": "*",
                                "Action": "s3:*",
                                "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                            }
                        ]
                    }
                ),
            },
        ),
    )
    assert policy_problems(fine, stack_settings[STACK]) == []


def test_managed_full_access_is_flagged():
    role = resource(
        ROLE,
        "admin",
        {"managedPolicyArns": ["arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"]},
    )
    problems = managed_policy_problems(plan_of(role))
    assert problems and problems[0].startswith(role.urn)


def test_policies_of_unknown_types_are_flagged():
    queue = resource(
        "aws:sqs/queuePolicy:QueuePolicy", "queue", {"policy": json.dumps({"Statement": []})}
    )
    problems = unread_policies(plan_of(queue))
    assert len(problems) == 1 and problems[0].startswith(queue.urn), problems


def test_tag_check_flags_missing_and_wrong_tags(stack_settings):
    settings = stack_settings[STACK]
    owner = resource(MODEL_ENDPOINT, "churn", {})
    tags = {"environment": "prod", "owner": settings.owner, "cost-center": settings.cost_center}
    untagged = resource(TOPIC, "untagged", {"tags": {"environment": "prod"}})
    unlabelled = resource(
        ENDPOINT,
        "churn-endpoint",
        {"tags": tags},
        parent=(MODEL_ENDPOINT, "churn"),
    )
    plan = plan_of(owner, untagged, unlabelled)
    assert component_children(plan, "churn") == [unlabelled]
    problems = tag_problems(plan, settings)
    assert {p.split(": tag ")[0] for p in problems} == {untagged.urn, unlabelled.urn}
    assert any(": tag model is None" in p for p in problems), problems


def test_version_tag_check_flags_a_version_outside_the_models():
    tags = {"model": "churn", "model-version": "3"}
    model = resource(MODEL, "churn-champion", {"tags": tags})
    endpoint = resource(ENDPOINT, "churn-endpoint", {"tags": tags})
    assert version_tag_problems(plan_of(model, endpoint)) == [
        f"{endpoint.urn}: carries model-version"
    ]
