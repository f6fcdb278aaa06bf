"""Which input changes make the provider replace a resource, and when a replacement collides.

pulumi-aws bridges terraform-provider-aws: a change to an attribute the Terraform schema marks
``ForceNew`` (or, in plugin-framework resources, gives a ``RequiresReplace`` plan modifier)
replaces the resource instead of updating it. Pulumi replaces by creating the new resource
before deleting the old one, so a resource whose physical name the program fixes collides with
itself when it is replaced under the same name: AWS refuses the create ("already exists"), or,
where the create call is an upsert, the delete of the old resource removes the new one.

``REPLACE_FORCING`` lists, per type token the program registers, the input paths (Pulumi's
camelCase names, dotted for nested properties) whose change forces a replacement, each cited to
the provider's source. A path through a list means "in any element". ``FIXED_NAMES`` lists the
inputs that are a resource's physical identity when the program sets them; a resource without
them is auto-named, and Pulumi draws a new name for the replacement.

What SageMaker refuses of an endpoint update that the provider makes in place (new variant
names, a scaled variant resized or removed) is not a replacement; ``infra.review.endpoint_updates``
checks it, and the program's endpoint name (``infra.naming.endpoint_identity``) avoids it.

Pure Python: the plan diff and the replacement tests use it on recorded inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from infra.resource_types import (
    ALARM,
    BUCKET,
    BUCKET_ENCRYPTION,
    BUCKET_LIFECYCLE,
    BUCKET_OWNERSHIP,
    BUCKET_POLICY,
    BUCKET_PUBLIC_ACCESS,
    BUCKET_VERSIONING,
    DASHBOARD,
    DATA_QUALITY_JOB,
    ENDPOINT,
    ENDPOINT_CONFIG,
    KMS_ALIAS,
    KMS_KEY,
    LAMBDA_FUNCTION,
    LAMBDA_LAYER,
    LAMBDA_PERMISSION,
    LOG_GROUP,
    MODEL,
    MODEL_PACKAGE_GROUP,
    MODEL_PACKAGE_GROUP_POLICY,
    MONITORING_SCHEDULE,
    QUEUE,
    RANDOM_ID,
    ROLE,
    ROLE_POLICY,
    SCALABLE_TARGET,
    SCALING_POLICY,
    SCHEDULE,
    SCHEDULED_ACTION,
    TOPIC,
    TOPIC_POLICY,
    TOPIC_SUBSCRIPTION,
)

# Every regional resource of terraform-provider-aws v6 (pulumi-aws v7) has a top-level `region`,
# and changing it forces replacement (terraform-provider-aws
# website/docs/guides/enhanced-region-support.html.markdown, "How region works"). IAM is global
# and has no `region` (same guide, "Global services").
_REGION = "region"


def _regional(*paths: str) -> frozenset[str]:
    return frozenset((*paths, _REGION))


_TABLE: dict[str, frozenset[str]] = {
    # terraform-provider-aws internal/service/sagemaker/endpoint.go: name,
    # deployment_config.auto_rollback_configuration (ForceNew); endpoint_config_name and the
    # rest of deployment_config go through UpdateEndpoint.
    ENDPOINT: _regional("name", "deploymentConfig.autoRollbackConfiguration"),
    # terraform-provider-aws internal/service/sagemaker/endpoint_configuration.go: every
    # argument is ForceNew, or (production_variants, shadow_production_variants) has only
    # ForceNew attributes; Update handles tags only.
    ENDPOINT_CONFIG: _regional(
        "asyncInferenceConfig",
        "dataCaptureConfig",
        "executionRoleArn",
        "kmsKeyArn",
        "name",
        "namePrefix",
        "productionVariants",
        "shadowProductionVariants",
    ),
    # terraform-provider-aws internal/service/sagemaker/model.go: every argument is ForceNew,
    # or (container, primary_container) has only ForceNew attributes; Update handles tags only.
    MODEL: _regional(
        "containers",
        "enableNetworkIsolation",
        "executionRoleArn",
        "inferenceExecutionConfig",
        "name",
        "primaryContainer",
        "vpcConfig",
    ),
    # terraform-provider-aws internal/service/sagemaker/model_package_group.go:
    # model_package_group_name, model_package_group_description (ForceNew).
    MODEL_PACKAGE_GROUP: _regional("modelPackageGroupName", "modelPackageGroupDescription"),
    # terraform-provider-aws internal/service/sagemaker/model_package_group_policy.go:
    # model_package_group_name (ForceNew).
    MODEL_PACKAGE_GROUP_POLICY: _regional("modelPackageGroupName"),
    # terraform-provider-aws internal/service/sagemaker/data_quality_job_definition.go: every
    # argument but role_arn and tags is ForceNew, and its Update handles tags only, so a new
    # role_arn would be ignored: the program replaces the definition on it (replace_on_changes
    # in infra/components/drift_monitor.py), and the table says so.
    DATA_QUALITY_JOB: _regional(
        "dataQualityAppSpecification",
        "dataQualityBaselineConfig",
        "dataQualityJobInput",
        "dataQualityJobOutputConfig",
        "jobResources",
        "name",
        "networkConfig",
        "roleArn",
        "stoppingCondition",
    ),
    # terraform-provider-aws internal/service/sagemaker/monitoring_schedule.go: name (ForceNew);
    # monitoring_schedule_config goes through UpdateMonitoringSchedule.
    MONITORING_SCHEDULE: _regional("name"),
    # terraform-provider-aws internal/service/appautoscaling/target.go: resource_id,
    # scalable_dimension, service_namespace (ForceNew); the capacities and role go through
    # RegisterScalableTarget.
    SCALABLE_TARGET: _regional("resourceId", "scalableDimension", "serviceNamespace"),
    # terraform-provider-aws internal/service/appautoscaling/policy.go: name, resource_id,
    # scalable_dimension, service_namespace (ForceNew).
    SCALING_POLICY: _regional("name", "resourceId", "scalableDimension", "serviceNamespace"),
    # terraform-provider-aws internal/service/appautoscaling/scheduled_action.go: name,
    # resource_id, scalable_dimension, service_namespace (ForceNew).
    SCHEDULED_ACTION: _regional("name", "resourceId", "scalableDimension", "serviceNamespace"),
    # terraform-provider-aws internal/service/cloudwatch/metric_alarm.go: alarm_name (ForceNew),
    # Pulumi's `name`; every other argument goes through PutMetricAlarm.
    ALARM: _regional("name"),
    # terraform-provider-aws internal/service/logs/group.go: name, name_prefix,
    # log_group_class (ForceNew).
    LOG_GROUP: _regional("name", "namePrefix", "logGroupClass"),
    # terraform-provider-aws internal/service/cloudwatch/dashboard.go: dashboard_name (ForceNew).
    DASHBOARD: _regional("dashboardName"),
    # terraform-provider-aws internal/service/iam/role.go: name, name_prefix, path (ForceNew).
    ROLE: frozenset({"name", "namePrefix", "path"}),
    # terraform-provider-aws internal/service/iam/role_policy.go: name, name_prefix, role
    # (ForceNew).
    ROLE_POLICY: frozenset({"name", "namePrefix", "role"}),
    # terraform-provider-aws internal/service/kms/key.go: custom_key_store_id,
    # customer_master_key_spec, key_usage, multi_region, xks_key_id (ForceNew).
    KMS_KEY: _regional(
        "customKeyStoreId", "customerMasterKeySpec", "keyUsage", "multiRegion", "xksKeyId"
    ),
    # terraform-provider-aws internal/service/kms/alias.go: name, name_prefix (ForceNew);
    # target_key_id is updated in place.
    KMS_ALIAS: _regional("name", "namePrefix"),
    # terraform-provider-aws internal/service/s3/bucket.go: bucket, bucket_prefix,
    # object_lock_enabled, object_lock_configuration.object_lock_enabled (ForceNew);
    # bucket_namespace is "Optional, Forces new resource" (terraform-provider-aws PR #46917).
    BUCKET: _regional(
        "bucket",
        "bucketPrefix",
        "bucketNamespace",
        "objectLockEnabled",
        "objectLockConfiguration.objectLockEnabled",
    ),
    # terraform-provider-aws internal/service/s3/bucket_lifecycle_configuration.go
    # (plugin framework): bucket, expected_bucket_owner (RequiresReplace).
    BUCKET_LIFECYCLE: _regional("bucket", "expectedBucketOwner"),
    # terraform-provider-aws internal/service/s3/bucket_ownership_controls.go: bucket
    # (ForceNew).
    BUCKET_OWNERSHIP: _regional("bucket"),
    # terraform-provider-aws internal/service/s3/bucket_policy.go: bucket (ForceNew).
    BUCKET_POLICY: _regional("bucket"),
    # terraform-provider-aws internal/service/s3/bucket_public_access_block.go: bucket
    # (ForceNew).
    BUCKET_PUBLIC_ACCESS: _regional("bucket"),
    # terraform-provider-aws internal/service/s3/bucket_server_side_encryption_configuration.go:
    # bucket, expected_bucket_owner (ForceNew).
    BUCKET_ENCRYPTION: (_regional("bucket", "expectedBucketOwner")),
    # terraform-provider-aws internal/service/s3/bucket_versioning.go: bucket,
    # expected_bucket_owner (ForceNew).
    BUCKET_VERSIONING: _regional("bucket", "expectedBucketOwner"),
    # terraform-provider-aws internal/service/sns/topic.go: name, name_prefix, fifo_topic
    # (ForceNew); the other arguments are topic attributes set in place.
    TOPIC: _regional("name", "namePrefix", "fifoTopic"),
    # terraform-provider-aws internal/service/sns/topic_policy.go: arn (ForceNew).
    TOPIC_POLICY: _regional("arn"),
    # terraform-provider-aws internal/service/sns/topic_subscription.go: endpoint, protocol,
    # topic_arn (ForceNew), Pulumi's `topic`.
    TOPIC_SUBSCRIPTION: _regional("endpoint", "protocol", "topic"),
    # terraform-provider-aws internal/service/lambda/permission.go: every argument is ForceNew
    # (the resource has no Update); function_name is Pulumi's `function`.
    LAMBDA_PERMISSION: _regional(
        "action",
        "eventSourceToken",
        "function",
        "functionUrlAuthType",
        "invokedViaFunctionUrl",
        "principal",
        "principalOrgId",
        "qualifier",
        "sourceAccount",
        "sourceArn",
        "statementId",
        "statementIdPrefix",
    ),
    # terraform-provider-aws internal/service/scheduler/schedule.go: name, name_prefix,
    # group_name (ForceNew); the expression, target, retry policy and dead-letter queue go
    # through UpdateSchedule.
    SCHEDULE: _regional("name", "namePrefix", "groupName"),
    # terraform-provider-aws internal/service/lambda/function.go: function_name (Pulumi's
    # `name`), package_type and tenancy_config (ForceNew), and durable_config when it is added
    # or removed (CustomizeDiff ForceNewIfChange); code, layers, memory, timeout, role and
    # environment go through UpdateFunctionCode and UpdateFunctionConfiguration.
    LAMBDA_FUNCTION: _regional("name", "packageType", "tenancyConfig", "durableConfig"),
    # terraform-provider-aws internal/service/lambda/layer_version.go: every argument is
    # ForceNew (a published layer version is immutable; the resource has no Update).
    LAMBDA_LAYER: _regional(
        "code",
        "compatibleArchitectures",
        "compatibleRuntimes",
        "description",
        "layerName",
        "licenseInfo",
        "s3Bucket",
        "s3Key",
        "s3ObjectVersion",
        "skipDestroy",
        "sourceCodeHash",
    ),
    # terraform-provider-aws internal/service/sqs/queue.go: name, name_prefix, fifo_queue
    # (ForceNew); the other arguments are queue attributes set in place.
    QUEUE: _regional("name", "namePrefix", "fifoQueue"),
    # terraform-provider-random internal/provider/resource_id.go (plugin framework):
    # byte_length, prefix (RequiresReplace), keepers (RequiresReplaceIfValuesNotNull).
    RANDOM_ID: frozenset({"byteLength", "keepers", "prefix"}),
}

REPLACE_FORCING: Mapping[str, frozenset[str]] = MappingProxyType(_TABLE)

_BUCKET_IDENTITY = ("bucket",)

_FIXED: dict[str, tuple[str, ...]] = {
    ENDPOINT: ("name",),
    ENDPOINT_CONFIG: ("name",),
    MODEL: ("name",),
    MODEL_PACKAGE_GROUP: ("modelPackageGroupName",),
    DATA_QUALITY_JOB: ("name",),
    MONITORING_SCHEDULE: ("name",),
    # A group has one resource policy (PutModelPackageGroupPolicy takes only the group name).
    MODEL_PACKAGE_GROUP_POLICY: ("modelPackageGroupName",),
    # A scalable target is the triple RegisterScalableTarget and DeregisterScalableTarget take.
    SCALABLE_TARGET: ("serviceNamespace", "resourceId", "scalableDimension"),
    SCALING_POLICY: (
        "name",
        "serviceNamespace",
        "resourceId",
        "scalableDimension",
    ),
    SCHEDULED_ACTION: (
        "name",
        "serviceNamespace",
        "resourceId",
        "scalableDimension",
    ),
    ALARM: ("name",),
    LOG_GROUP: ("name",),
    DASHBOARD: ("dashboardName",),
    ROLE: ("name",),
    # An inline policy is named within its role (PutRolePolicy takes both).
    ROLE_POLICY: ("role", "name"),
    # CreateKey draws the key id; nothing the program sets names a key.
    KMS_KEY: (),
    KMS_ALIAS: ("name",),
    BUCKET: ("bucket",),
    # Each of these is the bucket's one configuration of its kind, addressed by the bucket alone.
    BUCKET_LIFECYCLE: _BUCKET_IDENTITY,
    BUCKET_OWNERSHIP: _BUCKET_IDENTITY,
    BUCKET_POLICY: _BUCKET_IDENTITY,
    BUCKET_PUBLIC_ACCESS: _BUCKET_IDENTITY,
    BUCKET_ENCRYPTION: (_BUCKET_IDENTITY),
    BUCKET_VERSIONING: _BUCKET_IDENTITY,
    TOPIC: ("name",),
    # A topic has one policy attribute (SetTopicAttributes on the topic ARN).
    TOPIC_POLICY: ("arn",),
    # Subscribe takes the topic, protocol and endpoint, and no name (botocore sns SubscribeInput).
    TOPIC_SUBSCRIPTION: ("topic", "protocol", "endpoint"),
    # A statement id is unique in the function's policy (AddPermission, RemovePermission).
    LAMBDA_PERMISSION: ("function", "statementId"),
    RANDOM_ID: (),
    # A schedule is named within its group (CreateSchedule takes both).
    SCHEDULE: ("groupName", "name"),
    LAMBDA_FUNCTION: ("name",),
    # PublishLayerVersion adds a numbered version to the layer: a replacement is a new version
    # beside the old one, never the same resource.
    LAMBDA_LAYER: (),
    QUEUE: ("name",),
}

FIXED_NAMES: Mapping[str, tuple[str, ...]] = MappingProxyType(_FIXED)


def _scope(type_token: str) -> tuple[str, ...]:
    """Inputs that scope a fixed name, compared even when unset.

    Names are per region, except S3 bucket names, unique across the partition's regions (S3 user
    guide, "General purpose bucket naming rules"); the bucket configurations are addressed by
    the bucket. A statement id differentiates statements "in the same policy", and a
    `qualifier` puts the permission on a version's or alias's policy (botocore lambda
    AddPermissionRequest).
    """
    if _REGION not in _TABLE[type_token] or type_token.startswith("aws:s3/"):
        return ()
    if type_token == LAMBDA_PERMISSION:
        return ("qualifier", _REGION)
    return (_REGION,)


_SCOPE: dict[str, tuple[str, ...]] = {token: _scope(token) for token in _TABLE}


class UnknownResourceType(LookupError):
    """A type token with no entry in the replacement table."""


def _paths(type_token: str) -> frozenset[str]:
    try:
        return REPLACE_FORCING[type_token]
    except KeyError:
        raise UnknownResourceType(
            f"{type_token}: no entry in infra/review/replacement.py; add its replace-forcing "
            "inputs from the provider's schema before the program registers it"
        ) from None


def _normal(value: Any) -> Any:
    """A value with what does not count removed.

    Unset, None, and empty lists and maps compare equal (SDKv2 schemas do not tell them apart),
    at any depth. Elements at the end of a list that set nothing (blocks added without the input
    a path reads) add nothing; elements keep their positions otherwise.
    """
    if isinstance(value, Mapping):
        items = {key: _normal(item) for key, item in value.items()}
        kept = {key: item for key, item in items.items() if item is not None}
        return kept or None
    if isinstance(value, list | tuple):
        elements = [_normal(item) for item in value]
        while elements and elements[-1] is None:
            elements.pop()
        return elements or None
    return value


def _at(value: Any, parts: list[str]) -> Any:
    """The value at a dotted path; through a list, the list of each element's value."""
    if not parts:
        return value
    if isinstance(value, Mapping):
        return _at(value.get(parts[0]), parts[1:])
    if isinstance(value, list | tuple):
        return [_at(element, parts) for element in value]
    # None, or an opaque value such as a redacted secret: compared as it is.
    return value


def input_value(inputs: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted input path as the table compares it: through a list, each
    element's value; unset, None and empty all read None."""
    return _normal(_at(inputs, path.split(".")))


def replaced_properties(
    type_token: str, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[str]:
    """The replace-forcing paths whose values differ between old and new inputs (sorted)."""
    return sorted(p for p in _paths(type_token) if input_value(old, p) != input_value(new, p))


def collision(type_token: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str | None:
    """A one-line reason when a replacement keeps the same fixed name, else None.

    Inputs are compared as recorded: a redacted secret equals itself, whatever it hides.
    """
    replaced = replaced_properties(type_token, old, new)
    names = FIXED_NAMES[type_token]
    if not replaced or not names:
        return None
    identity = [(key, input_value(new, key)) for key in names]
    if any(value is None for _, value in identity):
        return None
    if any(input_value(old, key) != value for key, value in identity):
        return None
    if any(input_value(old, key) != input_value(new, key) for key in _SCOPE[type_token]):
        return None
    named = ", ".join(f"{key}={value!r}" for key, value in identity)
    return (
        f"{type_token} {named}: {', '.join(replaced)} changed, which replaces it under the "
        "same name; Pulumi creates the replacement before deleting the original, so they collide"
    )
