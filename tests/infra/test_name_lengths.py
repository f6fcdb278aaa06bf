"""Every physical name the program gives fits its API's limit, for the longest model names the
settings allow, in every stack shape the shipped stack files have.

Auto-naming does not check limits: Pulumi names a resource that sets no name after its logical
name, a dash and 7 random characters, and AWS refuses the request when that is too long. Each
shipped environment stack (instances and serverless in dev; drift in staging; a challenger, a
shadow, drift and a VPC in prod) and the shared stack are planned again with every model
renamed to the longest name the settings take, and each resource's name, explicit or auto-named,
is checked against the limit of its API's name member.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import pytest

from infra import resource_types as rt
from infra.review.plan import Plan, evaluate
from infra.settings.rules import MODEL_NAME_MAX

# Pulumi's auto-name: the logical name, "-", then 7 random characters (pulumi-aws's autonaming,
# the default of `pulumi:autonaming`).
AUTO_NAME_SUFFIX = 8

# Type -> (the input holding its physical name, the longest name the API takes, where that
# limit is written). botocore's shapes where they state a max; AWS's documentation otherwise.
NAME_LIMITS: Mapping[str, tuple[str, int, str]] = {
    rt.MODEL: ("name", 63, "botocore sagemaker ModelName"),
    rt.ENDPOINT_CONFIG: ("name", 63, "botocore sagemaker EndpointConfigName"),
    rt.ENDPOINT: ("name", 63, "botocore sagemaker EndpointName"),
    rt.DATA_QUALITY_JOB: ("name", 63, "botocore sagemaker MonitoringJobDefinitionName"),
    rt.MONITORING_SCHEDULE: ("name", 63, "botocore sagemaker MonitoringScheduleName"),
    rt.MODEL_PACKAGE_GROUP: ("modelPackageGroupName", 63, "botocore sagemaker EntityName"),
    rt.ROLE: ("name", 64, "botocore iam roleNameType"),
    rt.ROLE_POLICY: ("name", 128, "botocore iam policyNameType"),
    rt.LOG_GROUP: ("name", 512, "botocore logs LogGroupName"),
    rt.ALARM: ("name", 255, "botocore cloudwatch AlarmName"),
    rt.DASHBOARD: ("dashboardName", 255, "CloudWatch API reference, PutDashboard"),
    rt.KMS_ALIAS: ("name", 256, "botocore kms AliasNameType"),
    rt.BUCKET: ("bucket", 63, "Amazon S3 user guide, general purpose bucket naming rules"),
    rt.TOPIC: ("name", 256, "Amazon SNS API reference, CreateTopic"),
    rt.SCALING_POLICY: ("name", 256, "botocore application-autoscaling PolicyName"),
    rt.SCHEDULED_ACTION: (
        "name",
        256,
        "botocore application-autoscaling ScheduledActionName",
    ),
    rt.SCHEDULE: ("name", 64, "botocore scheduler Name"),
    # FunctionName's own max is 140, for an ARN; a name alone is at most 64 characters
    # (botocore lambda CreateFunctionRequest.FunctionName documentation).
    rt.LAMBDA_FUNCTION: ("name", 64, "botocore lambda CreateFunctionRequest.FunctionName"),
    rt.LAMBDA_LAYER: ("layerName", 140, "botocore lambda LayerName"),
    rt.QUEUE: ("name", 80, "botocore sqs CreateQueueRequest.QueueName"),
}
# Types with no physical name of their own: they attach to, or configure, a named resource.
NAMELESS = frozenset(
    {
        rt.MODEL_PACKAGE_GROUP_POLICY,
        rt.SCALABLE_TARGET,
        rt.KMS_KEY,
        rt.BUCKET_ENCRYPTION,
        rt.BUCKET_LIFECYCLE,
        rt.BUCKET_OWNERSHIP,
        rt.BUCKET_POLICY,
        rt.BUCKET_PUBLIC_ACCESS,
        rt.BUCKET_VERSIONING,
        rt.TOPIC_POLICY,
        rt.TOPIC_SUBSCRIPTION,
        rt.LAMBDA_PERMISSION,
        rt.RANDOM_ID,
        rt.STACK_REFERENCE,
    }
)


def longest_name(model: str) -> str:
    """A name of MODEL_NAME_MAX characters that keeps the model apart from the others."""
    return (model + "x" * MODEL_NAME_MAX)[:MODEL_NAME_MAX]


def with_longest_names(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config with every model renamed, and every pin naming its renamed group."""
    renamed = copy.deepcopy(dict(config))
    models = renamed.get("mlserve:models", {})
    text = json.dumps({longest_name(name): value for name, value in models.items()})
    for name in models:
        text = text.replace(f"/{name}/", f"/{longest_name(name)}/")
    renamed["mlserve:models"] = json.loads(text)
    return renamed


def physical_name(resource: Any) -> tuple[str, int, str] | None:
    """The resource's name, its limit and the limit's source; None for a nameless type."""
    if resource.type in NAMELESS or not resource.custom:
        return None
    key, limit, source = NAME_LIMITS[resource.type]
    name = resource.inputs.get(key) or f"{resource.name}-{'x' * (AUTO_NAME_SUFFIX - 1)}"
    return str(name), limit, source


@pytest.fixture(scope="module")
def longest_plans(stack_configs: Mapping[str, dict[str, Any]]) -> dict[str, Plan]:
    return {
        stack: evaluate(with_longest_names(stack_configs[stack]), stack) for stack in stack_configs
    }


def test_every_registered_type_is_named_or_nameless(longest_plans: dict[str, Plan]) -> None:
    registered = {r.type for plan in longest_plans.values() for r in plan.resources if r.custom}
    assert registered - NAME_LIMITS.keys() - NAMELESS == set()


def test_every_name_fits_its_api_for_the_longest_model_names(
    longest_plans: dict[str, Plan],
) -> None:
    too_long = []
    for plan in longest_plans.values():
        for resource in plan.resources:
            named = physical_name(resource)
            if named is not None and len(named[0]) > named[1]:
                name, limit, source = named
                too_long.append(f"{resource.urn}: {name!r} has {len(name)} > {limit} ({source})")
    assert too_long == []


def test_the_check_sees_an_auto_name_past_its_limit(longest_plans: dict[str, Plan]) -> None:
    # A control: the longest logical name among the endpoint's resources, auto-named with a
    # model name 20 characters longer than allowed, would not fit.
    endpoint = next(r for p in longest_plans.values() for r in p.resources if r.type == rt.MODEL)
    longer = dataclasses.replace(endpoint, name=endpoint.name + "y" * 20, inputs={})
    named = physical_name(longer)
    assert named is not None and len(named[0]) > named[1]
