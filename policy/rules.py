"""The policy pack's rules, as plain functions over resources as the engine passes them.

A resource rule is ``check(type, props, config) -> [message]``; a stack rule is
``check(resources, config) -> [Violation]`` over every resource of the stack, for what needs
more than one resource (a bucket and its encryption, an endpoint and its configuration).
Properties are the engine's: camelCase names, policy documents as JSON strings. A value that is
not known yet (a preview of a resource that does not exist) is ``UNKNOWN``; no rule fails on it.

``policy/pack.py`` wraps each rule as a ``pulumi_policy`` policy; the tests call the functions
directly with the offline plan's resources.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from infra.iam import GLOBAL_ACTIONS


class _Unknown:
    """A value the engine does not know during a preview (an output of a resource to create)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()

Enforcement = Literal["mandatory", "advisory"]
Level = Literal["mandatory", "advisory", "disabled"]
LEVELS: tuple[Level, ...] = ("mandatory", "advisory", "disabled")


@dataclass(frozen=True)
class Resource:
    type: str
    props: Mapping[str, Any]
    urn: str
    dependencies: tuple[str, ...] = ()

    @property
    def stack(self) -> str:
        """The stack's name, from ``urn:pulumi:<stack>::<project>::...``."""
        return self.urn.split("::", 1)[0].removeprefix("urn:pulumi:")


@dataclass(frozen=True)
class Violation:
    urn: str | None
    message: str


ResourceCheck = Callable[[str, Mapping[str, Any], Mapping[str, Any]], list[str]]
StackCheck = Callable[[Sequence[Resource], Mapping[str, Any]], list[Violation]]


@dataclass(frozen=True)
class Setting:
    """One property of a rule's config: its JSON schema (``array`` of strings, ``integer``,
    ``boolean``) and its default."""

    schema: dict[str, Any]
    default: Any
    description: str


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    enforcement: Enforcement
    # The Well-Architected Machine Learning Lens practice and the scanner controls of the same
    # intent (docs/security.md maps them).
    ml_lens: str
    controls: tuple[str, ...]
    resource_check: ResourceCheck | None = None
    stack_check: StackCheck | None = None
    settings: Mapping[str, Setting] = field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        return {key: setting.default for key, setting in self.settings.items()}

    def run(self, resources: Sequence[Resource], config: Mapping[str, Any]) -> list[Violation]:
        """Every violation in ``resources``, as the engine would report them."""
        if self.stack_check is not None:
            return self.stack_check(resources, config)
        assert self.resource_check is not None
        return [
            Violation(r.urn, message)
            for r in resources
            for message in self.resource_check(r.type, r.props, config)
        ]


class PolicyConfigError(ValueError):
    """A policy config that does not fit the rules' schemas; the message names the key path."""


# --- resource types (pulumi-aws 7 tokens) ---------------------------------------------------

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
BUCKET_PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_LOGGING = "aws:s3/bucketLogging:BucketLogging"
BUCKET_LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
MODEL = "aws:sagemaker/model:Model"
DATA_QUALITY_JOB = "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"
MODEL_PACKAGE_GROUP_POLICY = "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
KMS_KEY = "aws:kms/key:Key"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_POLICY = "aws:iam/policy:Policy"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
POLICY_ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)

# Resource types whose provider arguments include ``tags`` (pulumi_aws's Args classes;
# tests/policy checks this table against the installed SDK for every type the stacks use).
TAGGABLE_TYPES = frozenset(
    {
        BUCKET,
        ENDPOINT,
        ENDPOINT_CONFIG,
        MODEL,
        DATA_QUALITY_JOB,
        "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
        "aws:sagemaker/monitoringSchedule:MonitoringSchedule",
        TOPIC,
        LOG_GROUP,
        ALARM,
        KMS_KEY,
        ROLE,
        IAM_POLICY,
        "aws:appautoscaling/target:Target",
        "aws:lambda/function:Function",
    }
)


# --- helpers --------------------------------------------------------------------------------


def _known(value: Any) -> bool:
    return value is not UNKNOWN


def _list(value: Any) -> list[Any]:
    if value is None or value is UNKNOWN:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _get(value: Any, *path: str) -> Any:
    """``value[path[0]][path[1]]...``; None where a level is missing, UNKNOWN where unknown."""
    for key in path:
        if value is UNKNOWN:
            return UNKNOWN
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _customer_key(value: Any, what: str) -> list[str]:
    """A problem unless ``value`` names a customer managed KMS key (or is not known yet).

    AWS managed keys are the ``alias/aws/<service>`` aliases (KMS developer guide, "AWS managed
    keys"); a customer's own aliases cannot start with ``alias/aws/`` (CreateAlias, botocore
    ``kms`` AliasName documentation).
    """
    if value is UNKNOWN:
        return []
    if not isinstance(value, str) or not value:
        return [f"{what} has no KMS key: name a customer managed key"]
    if value.startswith("alias/aws/") or ":alias/aws/" in value:
        return [f"{what} uses the AWS managed key {value}, not a customer managed key"]
    return []


def _document(value: Any) -> Any:
    """A policy document: parsed when a JSON string, UNKNOWN when not known, None when absent."""
    if value is None or value is UNKNOWN or isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        # A string that is no JSON document is refused by the provider before AWS sees it.
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, Mapping) else None
    return None


def _statements(document: Any) -> list[Mapping[str, Any]]:
    if not isinstance(document, Mapping):
        return []
    return [s for s in _list(document.get("Statement")) if isinstance(s, Mapping)]


def _sid(statement: Mapping[str, Any], index: int) -> str:
    sid = statement.get("Sid")
    return f"statement {sid}" if isinstance(sid, str) and sid else f"statement {index}"


def _principals(statement: Mapping[str, Any]) -> list[Any]:
    principal = statement.get("Principal")
    if isinstance(principal, Mapping):
        return [p for value in principal.values() for p in _list(value)]
    return _list(principal)


# Which properties of which resource types hold a policy document, and whether it is an
# identity policy (whose "Resource" names what the principal may act on).
_POLICY_PROPS: dict[str, tuple[str, bool]] = {
    ROLE_POLICY: ("policy", True),
    IAM_POLICY: ("policy", True),
    USER_POLICY: ("policy", True),
    GROUP_POLICY: ("policy", True),
    KMS_KEY: ("policy", False),
    BUCKET_POLICY: ("policy", False),
    TOPIC_POLICY: ("policy", False),
    MODEL_PACKAGE_GROUP_POLICY: ("resourcePolicy", False),
}


def _policy_documents(type_: str, props: Mapping[str, Any]) -> Iterator[tuple[str, Any, bool]]:
    """(where, document, identity) for every policy document a resource carries."""
    if type_ in _POLICY_PROPS:
        prop, identity = _POLICY_PROPS[type_]
        yield prop, _document(props.get(prop)), identity
    if type_ == ROLE:
        for i, inline in enumerate(_list(props.get("inlinePolicies"))):
            yield f"inlinePolicies[{i}]", _document(_get(inline, "policy")), True


def _tag(props: Mapping[str, Any], key: str) -> Any:
    return _get(props, "tags", key)


# --- S3 ---------------------------------------------------------------------------------------


def _attached(resources: Sequence[Resource], bucket: Resource, type_: str) -> list[Resource]:
    """The resources of ``type_`` that configure ``bucket``: they depend on it (the engine's
    dependencies), or name it when its name is known."""
    name = bucket.props.get("bucket")
    return [
        r
        for r in resources
        if r.type == type_
        and (
            bucket.urn in r.dependencies
            or (isinstance(name, str) and name and r.props.get("bucket") == name)
        )
    ]


def _denies_insecure_transport(document: Any) -> bool:
    """A Deny of every S3 action to everyone when ``aws:SecureTransport`` is false (S3 user
    guide, "Security best practices for Amazon S3": enforce encryption of data in transit)."""
    for statement in _statements(document):
        actions = _list(statement.get("Action"))
        condition = _get(statement, "Condition", "Bool", "aws:SecureTransport")
        if (
            statement.get("Effect") == "Deny"
            and "*" in _principals(statement)
            and ("s3:*" in actions or "*" in actions)
            and str(condition).lower() == "false"
        ):
            return True
    return False


def s3_buckets(resources: Sequence[Resource], config: Mapping[str, Any]) -> list[Violation]:
    violations = []
    for bucket in (r for r in resources if r.type == BUCKET):

        def report(message: str, bucket: Resource = bucket) -> None:
            violations.append(Violation(bucket.urn, message))

        encryption = _attached(resources, bucket, BUCKET_ENCRYPTION)
        if not encryption:
            report("bucket has no default encryption (BucketServerSideEncryptionConfiguration)")
        for config_resource in encryption:
            if config_resource.props.get("rules") is UNKNOWN:
                continue
            for rule in _list(config_resource.props.get("rules")) or [None]:
                default = _get(rule, "applyServerSideEncryptionByDefault")
                algorithm = _get(default, "sseAlgorithm")
                # SSE-KMS is aws:kms, or aws:kms:dsse for dual-layer; the others are AES256,
                # aws:fsx and aws:backup (botocore ``s3`` ServerSideEncryptionByDefault).
                if _known(algorithm) and algorithm not in ("aws:kms", "aws:kms:dsse"):
                    report(f"default encryption is {algorithm or 'not set'}, not SSE-KMS")
                elif _known(algorithm):
                    for problem in _customer_key(
                        _get(default, "kmsMasterKeyId"), "default encryption (SSE-KMS)"
                    ):
                        report(problem)
        blocks = _attached(resources, bucket, BUCKET_PUBLIC_ACCESS)
        flags = (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
        if not blocks:
            report("bucket has no public access block (BucketPublicAccessBlock)")
        for block in blocks:
            off = [
                f for f in flags if _known(block.props.get(f)) and block.props.get(f) is not True
            ]
            if off:
                report(f"public access block leaves {', '.join(off)} off")
        policies = _attached(resources, bucket, BUCKET_POLICY)
        documents = [_document(p.props.get("policy")) for p in policies]
        if not any(d is UNKNOWN or _denies_insecure_transport(d) for d in documents):
            report("bucket policy does not deny requests without TLS (aws:SecureTransport false)")
        versioning = _attached(resources, bucket, BUCKET_VERSIONING)
        statuses = [_get(v.props, "versioningConfiguration", "status") for v in versioning]
        if not any(s == "Enabled" or s is UNKNOWN for s in statuses):
            report("bucket versioning is not Enabled (BucketVersioning)")
    return violations


def s3_access_logging(resources: Sequence[Resource], config: Mapping[str, Any]) -> list[Violation]:
    return [
        Violation(bucket.urn, "bucket has no server access logging (BucketLogging)")
        for bucket in resources
        if bucket.type == BUCKET and not _attached(resources, bucket, BUCKET_LOGGING)
    ]


def s3_lifecycle_abort_multipart(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    if type_ != BUCKET_LIFECYCLE or not _known(props.get("rules")):
        return []
    for rule in _list(props.get("rules")):
        days = _get(rule, "abortIncompleteMultipartUpload", "daysAfterInitiation")
        if _get(rule, "status") in ("Enabled", UNKNOWN) and days is not None:
            return []
    return ["no enabled lifecycle rule aborts incomplete multipart uploads"]


# --- encryption -------------------------------------------------------------------------------


def _serverless_only(props: Mapping[str, Any]) -> bool:
    variants = _list(props.get("productionVariants")) + _list(props.get("shadowProductionVariants"))
    return bool(variants) and all(_get(v, "serverlessConfig") for v in variants)


def customer_kms_keys(type_: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    if type_ == ENDPOINT_CONFIG:
        problems = []
        # SageMaker refuses a volume key for serverless variants, which have no ML storage
        # volume (CreateEndpointConfig KmsKeyId; infra/components/model_endpoint.py). Variants
        # not known yet may be serverless.
        variants_known = _known(props.get("productionVariants"))
        if variants_known and not _serverless_only(props):
            problems += _customer_key(props.get("kmsKeyArn"), "ML storage volumes (kmsKeyArn)")
        capture = props.get("dataCaptureConfig")
        if isinstance(capture, Mapping) and capture.get("enableCapture") is not False:
            problems += _customer_key(capture.get("kmsKeyId"), "data capture")
        return problems
    if type_ == TOPIC:
        return _customer_key(props.get("kmsMasterKeyId"), "topic (kmsMasterKeyId)")
    if type_ == LOG_GROUP:
        return _customer_key(props.get("kmsKeyId"), "log group (kmsKeyId)")
    return []


def log_group_retention(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    if type_ != LOG_GROUP:
        return []
    days = props.get("retentionInDays")
    # 0 or none: the events never expire (CloudWatch Logs PutRetentionPolicy, botocore ``logs``).
    if _known(days) and not (_number(days) or 0) > 0:
        return ["log group keeps its events forever: set retentionInDays"]
    return []


def log_group_retention_minimum(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    if type_ != LOG_GROUP:
        return []
    days = _number(props.get("retentionInDays"))
    minimum = config["minimumRetentionDays"]
    if days is not None and days < minimum:
        return [f"log group keeps events {days:g} days, fewer than minimumRetentionDays {minimum}"]
    return []


def kms_key_rotation(type_: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    if type_ != KMS_KEY:
        return []
    # Automatic rotation exists for symmetric encryption keys only (KMS EnableKeyRotation,
    # botocore ``kms``): other key specs and usages are not asked for it.
    spec = props.get("customerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    usage = props.get("keyUsage") or "ENCRYPT_DECRYPT"
    if spec != "SYMMETRIC_DEFAULT" or usage != "ENCRYPT_DECRYPT":
        return []
    rotation = props.get("enableKeyRotation")
    if _known(rotation) and rotation is not True:
        return ["key rotation is off: set enableKeyRotation"]
    return []


def data_quality_job_encryption(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    if type_ != DATA_QUALITY_JOB:
        return []
    problems = _customer_key(
        _get(props, "dataQualityJobOutputConfig", "kmsKeyId"), "job results (output kmsKeyId)"
    )
    problems += _customer_key(
        _get(props, "jobResources", "clusterConfig", "volumeKmsKeyId"),
        "job volumes (volumeKmsKeyId)",
    )
    traffic = _get(props, "networkConfig", "enableInterContainerTrafficEncryption")
    if _known(traffic) and traffic is not True:
        problems.append(
            "traffic between the job's instances is not encrypted: set "
            "networkConfig.enableInterContainerTrafficEncryption"
        )
    return problems


# --- IAM --------------------------------------------------------------------------------------


def iam_no_wildcard_action(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    problems = []
    for where, document, _identity in _policy_documents(type_, props):
        for i, statement in enumerate(_statements(document)):
            if statement.get("Effect") != "Allow":
                continue
            if "*" in _list(statement.get("Action")):
                problems.append(f"{where} {_sid(statement, i)} allows the action *")
            if "NotAction" in statement:
                problems.append(f"{where} {_sid(statement, i)} allows everything but NotAction")
    return problems


_AWS_MANAGED_BROAD = re.compile(
    r"^arn:aws[a-z-]*:iam::aws:policy/(?:.*/)?(?:[^/]*FullAccess|AdministratorAccess)$"
)


def iam_no_full_access_policies(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    if type_ in POLICY_ATTACHMENTS:
        arns = _list(props.get("policyArn"))
    elif type_ == ROLE:
        arns = _list(props.get("managedPolicyArns"))
    else:
        return []
    return [
        f"attaches the AWS managed policy {arn}"
        for arn in arns
        if isinstance(arn, str) and _AWS_MANAGED_BROAD.match(arn)
    ]


def iam_resource_scoping(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    problems = []
    for where, document, identity in _policy_documents(type_, props):
        if not identity:
            # In a resource policy "*" is the resource the policy is attached to.
            continue
        for i, statement in enumerate(_statements(document)):
            if statement.get("Effect") != "Allow" or "*" not in _list(statement.get("Resource")):
                continue
            scoped = [a for a in _list(statement.get("Action")) if a not in GLOBAL_ACTIONS]
            if scoped:
                problems.append(
                    f"{where} {_sid(statement, i)} grants {', '.join(map(str, scoped))} on "
                    f'"Resource": "*"; name the resources'
                )
    return problems


def resource_policy_no_wildcard_principal(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    problems = []
    for where, document, identity in _policy_documents(type_, props):
        if identity:
            continue
        for i, statement in enumerate(_statements(document)):
            if statement.get("Effect") == "Allow" and "*" in _principals(statement):
                problems.append(f"{where} {_sid(statement, i)} allows the principal *")
    return problems


# --- tags -------------------------------------------------------------------------------------


def required_tags(type_: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    if type_ not in TAGGABLE_TYPES:
        return []
    tags = props.get("tags")
    if tags is UNKNOWN:
        return []
    tags = tags if isinstance(tags, Mapping) else {}
    missing = [
        key
        for key in config["requiredTags"]
        if not (tags.get(key) is UNKNOWN or (isinstance(tags.get(key), str) and tags.get(key)))
    ]
    return [f"missing required tags: {', '.join(missing)}"] if missing else []


# --- instance types ---------------------------------------------------------------------------


def instance_type_allow_list(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    allowed = config["allowedInstanceTypes"]
    used: list[tuple[str, Any]] = []
    if type_ == ENDPOINT_CONFIG:
        for kind in ("productionVariants", "shadowProductionVariants"):
            for variant in _list(props.get(kind)):
                name = _get(variant, "variantName")
                used.append((f"variant {name}", _get(variant, "instanceType")))
    elif type_ == DATA_QUALITY_JOB:
        used.append(("job", _get(props, "jobResources", "clusterConfig", "instanceType")))
    return [
        f"{what} uses {instance}, which is not in allowedInstanceTypes ({', '.join(allowed)})"
        for what, instance in used
        if isinstance(instance, str) and instance not in allowed
    ]


# --- network (advisory) -----------------------------------------------------------------------


def _exempt(props: Mapping[str, Any], config: Mapping[str, Any]) -> bool:
    """Whether the model's ``model`` tag is exempt; a tag not known yet cannot be held to it."""
    model = _tag(props, "model")
    return model is UNKNOWN or model in config["exemptModels"]


def sagemaker_model_network_isolation(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    if type_ != MODEL or _exempt(props, config):
        return []
    isolation = props.get("enableNetworkIsolation")
    if _known(isolation) and isolation is not True:
        return ["model container may reach the network: set enableNetworkIsolation"]
    return []


def sagemaker_model_in_vpc(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    if type_ != MODEL or _exempt(props, config):
        return []
    vpc = props.get("vpcConfig")
    if vpc is UNKNOWN:
        return []
    if not (_list(_get(vpc, "subnets")) and _list(_get(vpc, "securityGroupIds"))):
        return ["model does not run in a VPC: set vpcConfig (subnets and security groups)"]
    return []


# --- alarms -----------------------------------------------------------------------------------

# The namespaces of endpoint metrics, which SageMaker publishes per EndpointName and VariantName
# (SageMaker developer guide, "Amazon SageMaker AI metrics in Amazon CloudWatch": endpoint
# invocation metrics and endpoint instance metrics).
ENDPOINT_NAMESPACES = frozenset({"AWS/SageMaker", "/aws/sagemaker/Endpoints"})
ENDPOINT_DIMENSIONS = ("EndpointName", "VariantName")


def _alarm_metrics(props: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(label, namespace, dimensions) of every metric an alarm reads."""
    metrics = []
    if props.get("metricName") is not None:
        metrics.append(("metric", props.get("namespace"), props.get("dimensions")))
    for query in _list(props.get("metricQueries")):
        metric = _get(query, "metric")
        if isinstance(metric, Mapping):
            label = f"metric query {_get(query, 'id')}"
            metrics.append((label, metric.get("namespace"), metric.get("dimensions")))
    return metrics


def alarm_actions_and_dimensions(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    if type_ != ALARM:
        return []
    problems = []
    if props.get("actionsEnabled") is False:
        problems.append("alarm actions are disabled (actionsEnabled false)")
    if _known(props.get("alarmActions")) and not _list(props.get("alarmActions")):
        problems.append("alarm has no alarmActions: nobody hears it")
    for label, namespace, dimensions in _alarm_metrics(props):
        if namespace not in ENDPOINT_NAMESPACES or dimensions is UNKNOWN:
            continue
        present = dimensions if isinstance(dimensions, Mapping) else {}
        missing = [d for d in ENDPOINT_DIMENSIONS if d not in present]
        if missing:
            problems.append(f"{label} in {namespace} lacks the dimensions {', '.join(missing)}")
    return problems


# --- prod endpoints ---------------------------------------------------------------------------


def _endpoint_configuration(resources: Sequence[Resource], endpoint: Resource) -> Resource | None:
    name = endpoint.props.get("endpointConfigName")
    for r in resources:
        if r.type == ENDPOINT_CONFIG and (
            r.urn in endpoint.dependencies
            or (isinstance(name, str) and name and r.props.get("name") == name)
        ):
            return r
    return None


def prod_endpoints(resources: Sequence[Resource], config: Mapping[str, Any]) -> list[Violation]:
    violations = []
    alarm_names = {r.props.get("name") for r in resources if r.type == ALARM}
    for endpoint in resources:
        if endpoint.type != ENDPOINT or endpoint.stack not in config["productionStacks"]:
            continue

        def report(message: str, endpoint: Resource = endpoint) -> None:
            violations.append(Violation(endpoint.urn, message))

        configuration = _endpoint_configuration(resources, endpoint)
        if configuration is None:
            report("endpoint configuration not found in the stack: cannot check capacity")
            continue
        serverless = _serverless_only(configuration.props)
        if serverless and not config["allowServerless"]:
            report("serverless endpoint in production: set allowServerless to accept it")
        if serverless:
            # Serverless endpoints have no instance count, update only all at once and capture
            # no data (infra/settings/rules.py, serverless): nothing more to hold them to.
            continue
        minimum = config["minInstances"]
        for variant in _list(configuration.props.get("productionVariants")):
            count = _number(_get(variant, "initialInstanceCount"))
            if count is not None and count < minimum:
                report(
                    f"variant {_get(variant, 'variantName')} starts with {count:g} instance(s), "
                    f"fewer than {minimum}"
                )
        deployment = endpoint.props.get("deploymentConfig")
        if deployment is not UNKNOWN:
            shifting = _get(
                deployment, "blueGreenUpdatePolicy", "trafficRoutingConfiguration", "type"
            )
            rolling = _get(deployment, "rollingUpdatePolicy")
            if not rolling and shifting not in ("CANARY", "LINEAR", UNKNOWN):
                report(
                    f"updates shift traffic {shifting or 'ALL_AT_ONCE'}: use CANARY or LINEAR "
                    "traffic shifting or a rolling update"
                )
            alarms = _get(deployment, "autoRollbackConfiguration", "alarms")
            if _known(alarms) and not _list(alarms):
                report("no rollback alarm: set deploymentConfig.autoRollbackConfiguration.alarms")
            for alarm in _list(alarms):
                name = _get(alarm, "alarmName")
                if isinstance(name, str) and UNKNOWN not in alarm_names and name not in alarm_names:
                    report(f"rollback alarm {name} is not an alarm of this stack")
        capture = configuration.props.get("dataCaptureConfig")
        enabled = _get(capture, "enableCapture")
        sampling = _number(_get(capture, "initialSamplingPercentage"))
        if capture is not UNKNOWN and (not capture or enabled is False or sampling == 0):
            report("data capture is off: set dataCaptureConfig with a sampling percentage above 0")
    return violations


# --- the rules --------------------------------------------------------------------------------

_STRINGS = {"type": "array", "items": {"type": "string"}}

RULES: tuple[Rule, ...] = (
    Rule(
        "s3-buckets",
        "S3 buckets are encrypted by default with SSE-KMS under a customer managed key "
        "(checkov CKV_AWS_145), block all public access, deny requests without TLS "
        "(CKV_AWS_379) and keep object versions (CKV_AWS_21).",
        "mandatory",
        "MLSEC03-BP02 Secure data and modeling environment",
        ("CKV_AWS_145", "CKV_AWS_379", "CKV_AWS_21"),
        stack_check=s3_buckets,
    ),
    Rule(
        "s3-access-logging",
        "S3 buckets log server access to a log bucket (checkov CKV_AWS_18).",
        "advisory",
        "MLSEC06-BP02 Monitor human interactions with data for anomalous activity",
        ("CKV_AWS_18",),
        stack_check=s3_access_logging,
    ),
    Rule(
        "s3-lifecycle-abort-multipart",
        "S3 lifecycle configurations abort incomplete multipart uploads (checkov CKV_AWS_300).",
        "advisory",
        "MLSEC03-BP05 Keep only relevant data",
        ("CKV_AWS_300",),
        resource_check=s3_lifecycle_abort_multipart,
    ),
    Rule(
        "customer-kms-keys",
        "Endpoint configurations (ML storage volumes, unless every variant is serverless; "
        "checkov CKV_AWS_98), data capture, SNS topics (CKV_AWS_26, Security Hub SNS.1) and "
        "log groups (CKV_AWS_158) are encrypted with a customer managed KMS key, not an AWS "
        "managed alias/aws/* key.",
        "mandatory",
        "MLSEC03-BP02 Secure data and modeling environment",
        ("CKV_AWS_98", "CKV_AWS_26", "SNS.1", "CKV_AWS_158"),
        resource_check=customer_kms_keys,
    ),
    Rule(
        "log-group-retention",
        "Log groups expire their events (retentionInDays set; never-expiring logs grow "
        "without bound).",
        "mandatory",
        "MLOPS06-BP02 Enable model observability and tracking",
        (),
        resource_check=log_group_retention,
    ),
    Rule(
        "log-group-retention-minimum",
        "Log groups keep their events at least minimumRetentionDays (checkov CKV_AWS_338: a year).",
        "advisory",
        "MLOPS06-BP02 Enable model observability and tracking",
        ("CKV_AWS_338",),
        resource_check=log_group_retention_minimum,
        settings={
            "minimumRetentionDays": Setting(
                {"type": "integer", "minimum": 1}, 365, "the shortest retention accepted"
            )
        },
    ),
    Rule(
        "kms-key-rotation",
        "Customer managed symmetric KMS keys rotate their key material (checkov CKV_AWS_7).",
        "mandatory",
        "MLSEC03-BP02 Secure data and modeling environment",
        ("CKV_AWS_7",),
        resource_check=kms_key_rotation,
    ),
    Rule(
        "data-quality-job-encryption",
        "Data quality monitoring jobs encrypt their results (checkov CKV_AWS_367) and volumes "
        "(CKV_AWS_368) with a customer managed KMS key and the traffic between their "
        "instances (CKV_AWS_369).",
        "mandatory",
        "MLSEC03-BP02 Secure data and modeling environment",
        ("CKV_AWS_367", "CKV_AWS_368", "CKV_AWS_369"),
        resource_check=data_quality_job_encryption,
    ),
    Rule(
        "iam-no-wildcard-action",
        "No policy document allows the action * or allows with NotAction.",
        "mandatory",
        "MLSEC03-BP01 Provide least privilege access",
        (),
        resource_check=iam_no_wildcard_action,
    ),
    Rule(
        "iam-no-full-access-policies",
        "No role, user or group is given an AWS managed *FullAccess or AdministratorAccess policy.",
        "mandatory",
        "MLSEC03-BP01 Provide least privilege access",
        (),
        resource_check=iam_no_full_access_policies,
    ),
    Rule(
        "iam-resource-scoping",
        'Identity policies grant on "Resource": "*" only actions that accept no resource ARN '
        "(infra/iam.py GLOBAL_ACTIONS).",
        "mandatory",
        "MLSEC03-BP01 Provide least privilege access",
        (),
        resource_check=iam_resource_scoping,
    ),
    Rule(
        "resource-policy-no-wildcard-principal",
        "No resource policy allows the principal *: KMS key policies (checkov CKV_AWS_33), "
        "model package group, bucket and topic policies.",
        "mandatory",
        "MLSEC06-BP01 Restrict access to intended legitimate consumers",
        ("CKV_AWS_33",),
        resource_check=resource_policy_no_wildcard_principal,
    ),
    Rule(
        "required-tags",
        "Every taggable resource carries the required tags (cost and ownership by ML activity).",
        "mandatory",
        "MLCOST06-BP01 Monitor usage and cost by ML activity",
        (),
        resource_check=required_tags,
        settings={
            "requiredTags": Setting(
                _STRINGS, ["environment", "owner", "cost-center"], "tag keys every resource has"
            )
        },
    ),
    Rule(
        "prod-endpoints",
        "Production endpoints start every variant with at least minInstances instances "
        "(Security Hub SageMaker.4) unless serverless is allowed, update with CANARY or LINEAR "
        "traffic shifting or a rolling update, roll back on at least one alarm of the stack, "
        "and capture data.",
        "mandatory",
        "MLREL04-BP02 Use an appropriate deployment and testing strategy",
        ("SageMaker.4",),
        stack_check=prod_endpoints,
        settings={
            "productionStacks": Setting(
                _STRINGS, ["prod"], "stack names (from the URN) whose endpoints are production"
            ),
            "minInstances": Setting(
                {"type": "integer", "minimum": 1}, 2, "instances each variant starts with"
            ),
            "allowServerless": Setting(
                {"type": "boolean"}, False, "whether a serverless production endpoint passes"
            ),
        },
    ),
    Rule(
        "alarm-actions-and-dimensions",
        "Every alarm has actions enabled and alarm actions (checkov CKV_AWS_319); every "
        "endpoint metric it reads names both EndpointName and VariantName.",
        "mandatory",
        "MLOPS05-BP01 Establish deployment environment metrics",
        ("CKV_AWS_319",),
        resource_check=alarm_actions_and_dimensions,
    ),
    Rule(
        "instance-type-allow-list",
        "Endpoint variants and monitoring jobs use only the instance types of "
        "allowedInstanceTypes.",
        "mandatory",
        "MLCOST05-BP03 Right-size the model hosting instance fleet",
        (),
        resource_check=instance_type_allow_list,
        settings={
            "allowedInstanceTypes": Setting(
                _STRINGS,
                ["ml.t2.medium", "ml.m5.large", "ml.m5.xlarge", "ml.c5.large", "ml.c5.xlarge"],
                "the instance types endpoints and jobs may use",
            )
        },
    ),
    Rule(
        "sagemaker-model-network-isolation",
        "SageMaker models run with network isolation (Security Hub SageMaker.5, checkov "
        "CKV_AWS_370).",
        "advisory",
        "MLSEC04-BP01 Secure governed ML environment",
        ("SageMaker.5", "CKV_AWS_370"),
        resource_check=sagemaker_model_network_isolation,
        settings={
            "exemptModels": Setting(_STRINGS, [], "models (their model tag) that need no isolation")
        },
    ),
    Rule(
        "sagemaker-model-in-vpc",
        "SageMaker models run in a VPC (AWS Config sagemaker-model-in-vpc).",
        "advisory",
        "MLSEC04-BP01 Secure governed ML environment",
        ("sagemaker-model-in-vpc",),
        resource_check=sagemaker_model_in_vpc,
        settings={
            "exemptModels": Setting(_STRINGS, [], "models (their model tag) that need no VPC")
        },
    ),
)

RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}


# --- configuration ----------------------------------------------------------------------------


def _check_value(path: str, schema: Mapping[str, Any], value: Any) -> None:
    kind = schema["type"]
    if kind == "array":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PolicyConfigError(f"{path}: must be a list of strings, not {value!r}")
    elif kind == "integer":
        number = _number(value)
        if number is None or not number.is_integer():
            raise PolicyConfigError(f"{path}: must be an integer, not {value!r}")
        if number < schema.get("minimum", number):
            raise PolicyConfigError(f"{path}: must be at least {schema['minimum']}, not {value!r}")
    elif kind == "boolean" and not isinstance(value, bool):
        raise PolicyConfigError(f"{path}: must be true or false, not {value!r}")


def settings(rule: Rule, given: Mapping[str, Any] | None, where: str = "policy config") -> dict:
    """The rule's config: ``given`` (the policy config's properties) over the defaults.

    Integers arrive as floats through the engine (protobuf Struct), and are turned back.
    """
    merged = rule.defaults()
    for key, value in (given or {}).items():
        if key == "enforcementLevel":
            continue
        path = f"{where}: {rule.name}.{key}"
        if key not in rule.settings:
            known = ", ".join(rule.settings) or "none"
            raise PolicyConfigError(f"{path}: unknown setting (settings: {known})")
        _check_value(path, rule.settings[key].schema, value)
        merged[key] = int(value) if rule.settings[key].schema["type"] == "integer" else value
    return merged


@dataclass(frozen=True)
class RuleConfig:
    level: Level
    settings: dict[str, Any]


def read_policy_config(path: Path) -> dict[str, RuleConfig]:
    """A stack's policy config file (``--policy-pack-config``), for every rule.

    The file maps a rule's name to its enforcement level, or to an object with
    ``enforcementLevel`` and settings, as the Pulumi CLI reads it. A stack may relax advisory
    rules and set any rule's settings; it may not lower a mandatory rule's level.
    """
    where = str(path)
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise PolicyConfigError(f"{where}: not a readable JSON document ({exc})") from exc
    if not isinstance(document, dict):
        raise PolicyConfigError(f"{where}: must be a JSON object of rule names")
    if "all" in document:
        raise PolicyConfigError(
            f"{where}: all: one level for every rule is not accepted; name each advisory rule"
        )
    unknown = sorted(set(document) - set(RULES_BY_NAME))
    if unknown:
        raise PolicyConfigError(f"{where}: {unknown[0]}: no such rule")
    configs = {}
    for rule in RULES:
        entry = document.get(rule.name, {})
        entry = {"enforcementLevel": entry} if isinstance(entry, str) else entry
        if not isinstance(entry, dict):
            raise PolicyConfigError(f"{where}: {rule.name}: must be a level or an object")
        level = entry.get("enforcementLevel", rule.enforcement)
        if level not in LEVELS:
            raise PolicyConfigError(
                f"{where}: {rule.name}.enforcementLevel: must be one of {', '.join(LEVELS)}"
            )
        if rule.enforcement == "mandatory" and level != "mandatory":
            raise PolicyConfigError(
                f"{where}: {rule.name}.enforcementLevel: the rule is mandatory; a stack's "
                "policy config may relax advisory rules only"
            )
        configs[rule.name] = RuleConfig(level, settings(rule, entry, where))
    return configs


def config_schema(rule: Rule) -> dict[str, dict[str, Any]]:
    """The rule's settings as JSON schema properties, for ``PolicyConfigSchema``."""
    return {
        key: {**setting.schema, "default": setting.default, "description": setting.description}
        for key, setting in rule.settings.items()
    }
