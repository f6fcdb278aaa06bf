"""CloudWatch Logs permissions name the resource each action is authorised against.

The Service Authorization Reference ("Actions, resources, and condition keys for Amazon
CloudWatch Logs") authorises ``logs:CreateLogStream`` and ``logs:PutLogEvents`` against a
log-stream, ``arn:...:log-group:<group>:log-stream:<stream>``, and ``logs:CreateLogGroup`` and
``logs:DescribeLogStreams`` against the log-group, whose ARN in an IAM policy ends in ``:*``
(botocore logs ``LogGroup.arn``); the bare group ARN matches no request. These tests match each
role's statements, as IAM does (``*`` and ``?`` wildcards, case-sensitive), against those
resources, for the endpoints' execution roles and the monitoring roles of every environment.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra import iam, naming
from infra.resource_types import DRIFT_MONITOR, LOG_GROUP, MODEL_ENDPOINT, ROLE_POLICY
from infra.review.plan import Plan
from tests.infra.plan_checks import account, as_list, children_of, only, statements

STREAM_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
GROUP_ACTIONS = ("logs:DescribeLogStreams",)
MONITORING_GROUP_ACTIONS = ("logs:CreateLogGroup", "logs:DescribeLogStreams")


def _matches(pattern: str, value: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None


def allows(document: dict[str, Any], action: str, resource: str) -> bool:
    """Whether an Allow statement of the identity policy covers the action on the resource."""
    return any(
        st["Effect"] == "Allow"
        and any(_matches(a, action) for a in as_list(st["Action"]))
        and any(_matches(r, resource) for r in as_list(st["Resource"]))
        for st in statements(document)
    )


def _group_arn(plan: Plan, region: str, name: str) -> str:
    return f"arn:{naming.partition(region)}:logs:{region}:{account(plan)}:log-group:{name}"


def _check_group(document: dict[str, Any], group_arn: str, group_actions: tuple[str, ...]) -> None:
    stream = f"{group_arn}:log-stream:AllTraffic/i-0123456789abcdef0"
    for action in STREAM_ACTIONS:
        assert allows(document, action, stream), (action, stream)
        # Only its own group's streams.
        assert not allows(document, action, f"{group_arn}-other:log-stream:x"), action
    for action in group_actions:
        assert allows(document, action, f"{group_arn}:*"), (action, group_arn)
    # No logs grant on a resource IAM never matches: every logs resource is the group's
    # ":*" form or its streams.
    for st in statements(document):
        if any(str(a).startswith("logs:") for a in as_list(st["Action"])):
            for resource in as_list(st["Resource"]):
                assert resource.endswith((":*", ":log-stream:*")), (st["Sid"], resource)


def _role_policy(plan: Plan, component: str, component_type: str) -> dict[str, Any]:
    policy = only(children_of(plan, component, ROLE_POLICY, component_type), f"{component} policy")
    document = json.loads(policy.inputs["policy"])
    assert isinstance(document, dict)
    return document


def test_endpoint_roles_write_their_own_log_group(plans, stack_settings, env_stack):
    plan, settings = plans[env_stack], stack_settings[env_stack]
    for model in settings.models:
        group = only(children_of(plan, model, LOG_GROUP), f"log group of {model}")
        group_arn = _group_arn(plan, settings.region, group.inputs["name"])
        _check_group(_role_policy(plan, model, MODEL_ENDPOINT), group_arn, GROUP_ACTIONS)


def test_monitoring_roles_write_the_processing_jobs_log_group(
    monitor_plans, monitor_settings, env_stack
):
    plan, settings = monitor_plans[env_stack], monitor_settings[env_stack]
    monitored = [name for name, model in settings.models.items() if model.drift.enabled]
    if not monitored:
        pytest.skip(f"no drift monitoring in {env_stack}")
    group_arn = _group_arn(plan, settings.region, iam.PROCESSING_LOG_GROUP)
    for model in monitored:
        document = _role_policy(plan, f"{model}-drift", DRIFT_MONITOR)
        _check_group(document, group_arn, MONITORING_GROUP_ACTIONS)


def test_the_policy_functions_scope_logs_to_the_reference_resource_types():
    group = "arn:aws:logs:us-east-1:444444444444:log-group:/aws/sagemaker/Endpoints/churn-prod-1"
    endpoint = iam.execution_role_policy(
        partition="aws",
        region="us-east-1",
        account="444444444444",
        artifact_bucket_arn="arn:aws:s3:::artifacts",
        artifact_prefixes=["models/churn/"],
        artifact_key_arn="arn:aws:kms:us-east-1:111111111111:key/a",
        log_group_arn=group,
        capture_bucket_arn=None,
        capture_prefix=None,
        environment_key_arn="arn:aws:kms:us-east-1:444444444444:key/e",
        subnet_ids=[],
        security_group_ids=[],
    )
    _check_group(endpoint, group, GROUP_ACTIONS)
    monitoring = iam.monitoring_role_policy(
        partition="aws",
        region="us-east-1",
        account="444444444444",
        capture_bucket_arn="arn:aws:s3:::capture",
        capture_prefix="data-capture/churn/",
        reports_prefix="drift-reports/churn/",
        environment_key_arn="arn:aws:kms:us-east-1:444444444444:key/e",
        artifact_bucket_arn="arn:aws:s3:::artifacts",
        baseline_prefix="models/churn/sha256-ab/baseline/",
        artifact_key_arn="arn:aws:kms:us-east-1:111111111111:key/a",
        analyzer_repository_arn="arn:aws:ecr:us-east-1:156813124566:repository/x",
    )
    processing = f"arn:aws:logs:us-east-1:444444444444:log-group:{iam.PROCESSING_LOG_GROUP}"
    _check_group(monitoring, processing, MONITORING_GROUP_ACTIONS)
