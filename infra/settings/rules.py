"""Checks across fields of validated settings: what AWS or the provider would refuse, or worse,
accept and then do something else.

Each check records its problems under the key path of the setting to change and never raises,
so a config's problems are all reported at once. Facts about AWS come from ``limits``.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata

from infra.monitor_images import analyzer_image
from infra.settings import limits
from infra.settings.artifacts import DIGEST_RE, PACKAGE_ARN_RE, model_prefix
from infra.settings.problems import Problems
from infra.settings.schedules import schedule_problem
from infra.settings.schema import (
    MLSERVE_KEYS,
    MODEL_MONITOR_KEYS,
    SECRET,
    Deployment,
    DriftEngine,
    EnvironmentSettings,
    ModelSettings,
    ModelVersion,
    Scaling,
    SharedSettings,
    Strategy,
    instances_per_step,
)

MODEL_NAME_RE = re.compile(r"^[a-z0-9](-?[a-z0-9])*$")
MODEL_NAME_MAX = 40  # leaves room in the 63-character endpoint name for the env and a suffix
ACCOUNT_RE = re.compile(r"^\d{12}$")
SUBNET_RE = re.compile(r"^subnet-[0-9a-f]{8,17}$")
SECURITY_GROUP_RE = re.compile(r"^sg-[0-9a-f]{8,17}$")
S3_URI_RE = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>.+)$")
STACK_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# botocore sagemaker TagValue's pattern, [\p{L}\p{Z}\p{N}_.:/=+\-@]*: characters of the Unicode
# categories letter (L), separator (Z) and number (N), and these.
TAG_VALUE_SYMBOLS = frozenset("_.:/=+-@")


# --- shared stack -------------------------------------------------------------------------


def check_shared(settings: SharedSettings, p: Problems) -> None:
    _check_tags(settings, p)
    for name in settings.models:
        _check_model_name(f"models.{name}", name, p)
    for i, account in enumerate(settings.artifact_store.reader_accounts):
        if not ACCOUNT_RE.match(account):
            p.add(f"artifact_store.reader_accounts.{i}", "must be a 12-digit account id")


def _check_tags(settings: SharedSettings | EnvironmentSettings, p: Problems) -> None:
    """``owner`` and ``cost_center`` are the tags that say whom a resource belongs to: AWS takes
    an empty tag value, the platform does not. Each must also be a value AWS accepts (botocore
    sagemaker ``TagValue``: at most 256 characters of letters, digits, spaces and ``_.:/=+-@``).
    """
    for key in ("owner", "cost_center"):
        value = getattr(settings, key)
        if not value.strip():
            p.add(key, "must not be blank: it is a required tag on every resource")
        elif len(value) > limits.TAG_VALUE_MAX or not _is_tag_value(value):
            p.add(
                key,
                f"{value!r} is not a valid tag value: at most {limits.TAG_VALUE_MAX} letters, "
                "digits, spaces and _.:/=+-@",
            )


def _is_tag_value(value: str) -> bool:
    return all(c in TAG_VALUE_SYMBOLS or unicodedata.category(c)[0] in "LZN" for c in value)


# --- environment stacks -------------------------------------------------------------------


def check_environment(settings: EnvironmentSettings, p: Problems) -> None:
    _check_tags(settings, p)
    if not STACK_NAME_RE.match(settings.shared_stack):
        p.add("shared_stack", "must be a fully qualified stack name, org/project/stack")
    for name, model in settings.models.items():
        _check_model(name, model, settings, p)
    _check_alerts(settings, p)


def _check_model(name: str, model: ModelSettings, env: EnvironmentSettings, p: Problems) -> None:
    path = f"models.{name}"
    _check_model_name(path, name, p)
    _check_versions(path, name, model, env.region, p)
    if model.serverless is not None:
        _check_serverless(path, model, p)
    else:
        _check_instances(path, model, env.environment, p)
    _check_logs(path, model, p)
    _check_network(path, model, p)
    _check_deployment(path, model, p)
    _check_drift(path, model, env.region, p)
    if env.environment == "prod":
        _check_prod_policy(path, model, p)


def _check_model_name(path: str, name: str, p: Problems) -> None:
    if len(name) > MODEL_NAME_MAX or not MODEL_NAME_RE.match(name):
        p.add(
            path,
            f"model name must be lowercase letters, digits and single hyphens, "
            f"at most {MODEL_NAME_MAX} characters",
        )


# --- version ------------------------------------------------------------------------------


def _check_versions(path: str, name: str, model: ModelSettings, region: str, p: Problems) -> None:
    _check_version(f"{path}.version", model.version, name, region, p)
    if model.challenger is not None:
        _check_version(f"{path}.challenger.version", model.challenger.version, name, region, p)
    if model.shadow is not None:
        _check_version(f"{path}.shadow.version", model.shadow.version, name, region, p)


def _check_version(path: str, version: ModelVersion, model: str, region: str, p: Problems) -> None:
    if not DIGEST_RE.match(version.digest):
        p.add(f"{path}.digest", "must be sha256: followed by 64 lowercase hex digits")
    if version.package is not None:
        if version.artifact_uri is not None or version.image is not None:
            p.add(path, "set either package, or artifact_uri and image, not both")
        match = PACKAGE_ARN_RE.match(version.package)
        if match is None:
            p.add(f"{path}.package", "must be a model package version ARN")
        else:
            if match["group"] != model:
                p.add(
                    f"{path}.package",
                    f"belongs to model package group {match['group']!r}, not {model!r}",
                )
            if match["region"] != region:
                p.add(f"{path}.package", f"is in {match['region']}, the stack is in {region}")
    else:
        if version.artifact_uri is None or version.image is None:
            p.add(path, "set package, or both artifact_uri and image")
        if version.artifact_uri is not None:
            _check_artifact_uri(f"{path}.artifact_uri", version.artifact_uri, model, p)


def _check_artifact_uri(path: str, uri: str, model: str, p: Problems) -> None:
    match = S3_URI_RE.match(uri)
    if match is None:
        p.add(path, "must be an s3:// URI")
        return
    # The execution role reads only its own model's prefix of the artifact store (infra/iam.py,
    # execution_role_policy): an artifact anywhere else fails when SageMaker downloads it.
    prefix = model_prefix(model)
    if not match["key"].startswith(prefix) or match["key"] == prefix:
        p.add(
            path,
            f"must lie under s3://<bucket>/{prefix}, the only prefix the model's execution "
            f"role can read",
        )


# --- serverless ---------------------------------------------------------------------------


def _check_serverless(path: str, model: ModelSettings, p: Problems) -> None:
    serverless = model.serverless
    assert serverless is not None
    if model.instance_type is not None:
        p.add(f"{path}.serverless", "a serverless model must not also set instance_type")
    if model.scaling is not None:
        p.add(f"{path}.serverless", "a serverless model must not also set scaling")
    if serverless.memory_mb not in limits.SERVERLESS_MEMORY_MB:
        allowed = ", ".join(map(str, limits.SERVERLESS_MEMORY_MB))
        p.add(f"{path}.serverless.memory_mb", f"must be one of {allowed}")
    provisioned = serverless.provisioned_concurrency
    if provisioned is not None and provisioned > serverless.max_concurrency:
        p.add(
            f"{path}.serverless.provisioned_concurrency",
            f"must be <= max_concurrency ({serverless.max_concurrency})",
        )
    _check_serverless_features(path, model, p)


def _check_serverless_features(path: str, model: ModelSettings, p: Problems) -> None:
    """What a serverless endpoint cannot have that an endpoint on instances can."""
    if model.deployment.strategy is not Strategy.ALL_AT_ONCE:
        p.add(
            f"{path}.deployment.strategy", "serverless endpoints support only all_at_once updates"
        )
    if model.network.subnet_ids or model.network.security_group_ids:
        p.add(f"{path}.network", "serverless endpoints cannot be placed in a VPC")
    if model.network.isolation:
        p.add(f"{path}.network.isolation", "serverless endpoints cannot use network isolation")
    if model.shadow is not None:
        p.add(f"{path}.shadow", "serverless endpoints cannot have a shadow variant")
    if model.challenger is not None:
        p.add(f"{path}.challenger", "serverless endpoints serve a single production variant")
    if model.data_capture.enabled:
        p.add(f"{path}.data_capture.enabled", "serverless endpoints cannot capture data")


# --- instances ----------------------------------------------------------------------------


def _check_instances(path: str, model: ModelSettings, environment: str, p: Problems) -> None:
    if model.instance_type is None:
        p.add(f"{path}.instance_type", "is required unless serverless is set")
    elif model.instance_type not in limits.sagemaker_instance_types():
        p.add(
            f"{path}.instance_type",
            f"{model.instance_type!r} is not a SageMaker hosting instance type",
        )
    elif model.instance_type.startswith("ml.inf1.") and (
        model.deployment.strategy is not Strategy.ALL_AT_ONCE
    ):
        # SageMaker silently falls back to all-at-once for Inf1 (deployment guardrails).
        p.add(
            f"{path}.deployment.strategy",
            "canary and linear shifting are not available on ml.inf1 instances",
        )
    if model.scaling is None:
        p.add(f"{path}.scaling", "is required unless serverless is set")
    else:
        _check_scaling(f"{path}.scaling", model.scaling, environment, p)
    if model.shadow is not None and model.challenger is not None:
        # botocore sagemaker CreateEndpointConfigInput.ShadowProductionVariants: with a shadow
        # variant, ProductionVariants may hold only one variant.
        p.add(
            f"{path}.shadow",
            f"a shadow variant needs a single production variant; remove {path}.challenger "
            f"or the shadow",
        )


def _check_scaling(path: str, scaling: Scaling, environment: str, p: Problems) -> None:
    if scaling.max_instances < scaling.min_instances:
        p.add(f"{path}.max_instances", f"must be >= min_instances ({scaling.min_instances})")
    if environment == "prod" and scaling.min_instances < 2:
        p.add(f"{path}.min_instances", "must be >= 2 in prod (one instance is no redundancy)")
    for i, schedule in enumerate(scaling.schedules):
        at = f"{path}.schedules.{i}"
        problem = schedule_problem(schedule.schedule)
        if problem is not None:
            p.add(f"{at}.schedule", problem)
        problem = _timezone_problem(schedule.timezone)
        if problem is not None:
            p.add(f"{at}.timezone", problem)
        if schedule.max_instances < schedule.min_instances:
            p.add(f"{at}.max_instances", f"must be >= min_instances ({schedule.min_instances})")
    names = [s.name for s in scaling.schedules]
    for name in sorted({n for n in names if names.count(n) > 1}):
        p.add(f"{path}.schedules", f"schedule name {name!r} is used more than once")


def _timezone_problem(name: str) -> str | None:
    """Application Auto Scaling takes canonical time zone names only (``limits.timezones``)."""
    if name in limits.timezones():
        return None
    canonical = limits.timezone_aliases().get(name)
    if canonical is not None:
        return f"{name!r} is a backward-compatible alias; use {canonical!r}"
    return f"{name!r} is not an IANA time zone name, e.g. Europe/London or UTC"


# --- logs ---------------------------------------------------------------------------------


def _check_logs(path: str, model: ModelSettings, p: Problems) -> None:
    if model.log_retention_days not in limits.LOG_RETENTION_DAYS:
        allowed = ", ".join(map(str, limits.LOG_RETENTION_DAYS))
        p.add(f"{path}.log_retention_days", f"must be one of CloudWatch's periods: {allowed}")


# --- network ------------------------------------------------------------------------------


def _check_network(path: str, model: ModelSettings, p: Problems) -> None:
    network = model.network
    if bool(network.subnet_ids) != bool(network.security_group_ids):
        p.add(f"{path}.network", "set both subnet_ids and security_group_ids, or neither")
    for i, subnet in enumerate(network.subnet_ids):
        if not SUBNET_RE.match(subnet):
            p.add(f"{path}.network.subnet_ids.{i}", f"{subnet!r} is not a subnet id")
    for i, group in enumerate(network.security_group_ids):
        if not SECURITY_GROUP_RE.match(group):
            p.add(f"{path}.network.security_group_ids.{i}", f"{group!r} is not a security group id")


# --- drift --------------------------------------------------------------------------------


def _check_drift(path: str, model: ModelSettings, region: str, p: Problems) -> None:
    """The drift analysis reads what the endpoint captures; each engine reads its own keys, and
    Model Monitor needs the region's analyzer."""
    drift = model.drift
    at = f"{path}.drift"
    _check_capture_content_types(f"{path}.data_capture", model, p)
    if drift.instance_type not in processing_instance_types():
        p.add(
            f"{at}.instance_type",
            f"{drift.instance_type!r} is not a SageMaker processing instance type",
        )
    _check_engine_keys(at, model, p)
    if not drift.enabled:
        return
    if model.serverless is not None:
        # SageMaker developer guide, "Serverless Inference": data capture is among the features
        # serverless endpoints do not support, and a data-quality job reads only captured data.
        p.add(
            f"{at}.enabled",
            f"serverless endpoints cannot capture data, which drift monitoring analyses; set "
            f"{at}.enabled: false",
        )
    elif not model.data_capture.enabled:
        # botocore sagemaker EndpointInput.EndpointName: an endpoint "which has enabled
        # DataCaptureConfig"; without captured requests the job has nothing to read.
        p.add(
            f"{at}.enabled",
            f"drift monitoring analyses captured requests, and {path}.data_capture.enabled is "
            f"false; set {path}.data_capture.enabled: true or {at}.enabled: false",
        )
    elif model.data_capture.sampling_percent == 0:
        p.add(
            f"{path}.data_capture.sampling_percent",
            f"0 captures nothing for drift monitoring ({at}.enabled is true); raise it above 0 "
            f"or set {at}.enabled: false",
        )
    if drift.engine is DriftEngine.MODEL_MONITOR and analyzer_image(region) is None:
        p.add(
            f"{at}.engine",
            f"SageMaker Model Monitor has no analyzer image in {region}; set {at}.engine: "
            f"{DriftEngine.MLSERVE.value}",
        )


def _check_engine_keys(at: str, model: ModelSettings, p: Problems) -> None:
    """A key only the other engine reads would be ignored without a word: refused instead."""
    drift = model.drift
    ignored: tuple[str, ...] = MODEL_MONITOR_KEYS
    reader = DriftEngine.MODEL_MONITOR
    if drift.engine is DriftEngine.MODEL_MONITOR:
        ignored, reader = MLSERVE_KEYS, DriftEngine.MLSERVE
    for key in ignored:
        if key in drift.model_fields_set:
            p.add(
                f"{at}.{key}",
                f"applies to the {reader.value} engine only, and {at}.engine is "
                f"{drift.engine.value}; remove it or set {at}.engine: {reader.value}",
            )


def _check_capture_content_types(at: str, model: ModelSettings, p: Problems) -> None:
    """Each content type as botocore sagemaker CaptureContentTypeHeader takes it (the
    CsvContentType and JsonContentType shapes), and none in both lists: SageMaker would have to
    capture one request both as text and as JSON."""
    capture = model.data_capture
    pattern = limits.capture_content_type()
    for key in ("csv_content_types", "json_content_types"):
        for i, value in enumerate(getattr(capture, key)):
            if len(value) > limits.CONTENT_TYPE_MAX or not pattern.fullmatch(value):
                p.add(
                    f"{at}.{key}.{i}",
                    f"{value!r} is not a content type SageMaker's capture header takes "
                    "(type/subtype, letters, digits, '-' and '.')",
                )
    both = sorted(set(capture.csv_content_types) & set(capture.json_content_types))
    for value in both:
        p.add(
            f"{at}.json_content_types",
            f"{value!r} is also in {at}.csv_content_types; a content type is captured one way",
        )


@functools.lru_cache(maxsize=1)
def processing_instance_types() -> frozenset[str]:
    """Instance types a monitoring job accepts, from the API model botocore ships
    (sagemaker ``MonitoringClusterConfig.InstanceType``, the ``ProcessingInstanceType`` enum)."""
    return frozenset(limits.service_model("sagemaker").shape_for("ProcessingInstanceType").enum)


# --- deployment ---------------------------------------------------------------------------


def _check_deployment(path: str, model: ModelSettings, p: Problems) -> None:
    # Every update starts the new fleet at the initial instance count, scaling.min_instances: the
    # program sets InitialInstanceCount from it, and an update resets an autoscaled variant to it
    # (terraform-provider-aws #48990). Traffic steps are shares of that fleet.
    instances = model.scaling.min_instances if model.scaling is not None else None
    at = f"{path}.deployment"
    if model.serverless is None and instances is not None:
        _check_traffic_step(at, model.deployment, instances, p)
        if model.deployment.auto_rollback:
            _check_rollback_alarms(path, model, p)
    _check_rollout_time(at, model.deployment, instances, p)
    _check_execution_timeout(at, model.deployment, instances, p)


def _check_traffic_step(path: str, deployment: Deployment, instances: int, p: Problems) -> None:
    """A canary or linear step must turn on at least one instance.

    botocore sagemaker TrafficRoutingConfig: the canary is at most 50% of the variant's instance
    count, a linear step 10-50% of it (the schema holds the percentages to those ranges). How
    SageMaker rounds a percentage to instances is undocumented, so a step is taken as rounded
    down (``instances_per_step``): one that might come to less than an instance is refused.
    """
    if deployment.strategy is Strategy.CANARY:
        key, percent, highest = "canary_percent", deployment.canary_percent, limits.CANARY_PERCENT
    elif deployment.strategy is Strategy.LINEAR:
        key, percent = "linear_step_percent", deployment.linear_step_percent
        highest = limits.LINEAR_STEP_PERCENT
    else:
        return
    if instances_per_step(percent, instances) >= 1:
        return
    fixes = f"raise scaling.min_instances to {math.ceil(100 / percent)}"
    if math.ceil(100 / instances) <= highest[1]:
        fixes += f" or {key} to {math.ceil(100 / instances)}"
    p.add(
        f"{path}.{key}",
        f"{percent}% of {_count(instances, 'instance')} (scaling.min_instances) is less than "
        f"one instance; {fixes}",
    )


def _check_rollback_alarms(path: str, model: ModelSettings, p: Problems) -> None:
    """Each traffic step must last long enough for a rollback alarm to fire within it.

    SageMaker watches the rollback alarms during each step's baking period and rolls back when
    one fires (SageMaker developer guide, "Auto-Rollback Configuration and Monitoring"); a step
    shorter than the alarms' window moves on before a bad release can trip them.
    """
    deployment, alarms = model.deployment, model.alarms
    needed = alarms.window_seconds() + limits.METRIC_DELAY_SECONDS
    if deployment.wait_seconds >= needed:
        return
    p.add(
        f"{path}.deployment.wait_seconds",
        f"{deployment.wait_seconds} s is shorter than a rollback alarm takes to fire, {needed} s "
        f"(alarms.period_seconds {alarms.period_seconds} x alarms.evaluation_periods "
        f"{alarms.evaluation_periods} + {limits.METRIC_DELAY_SECONDS} s for CloudWatch to "
        f"receive and evaluate the data), so a bad release is never rolled back; raise "
        f"deployment.wait_seconds to {needed} or shorten alarms.period_seconds or "
        f"alarms.evaluation_periods",
    )


def _check_rollout_time(
    path: str, deployment: Deployment, instances: int | None, p: Problems
) -> None:
    """The worst case of an update must fit in the provider's wait for the endpoint (``limits``)."""
    worst = deployment.worst_case_rollout_seconds(instances)
    if worst <= limits.ROLLOUT_LIMIT_SECONDS:
        return
    fixes = "lower deployment.wait_seconds or deployment.termination_wait_seconds"
    if deployment.strategy is Strategy.LINEAR:
        fixes += ", or raise deployment.linear_step_percent"
    p.add(
        path,
        f"the worst-case rollout takes {worst} s ({limits.PROVISIONING_SECONDS} s provisioning + "
        f"{_waits(deployment, instances)}), more than the {limits.ROLLOUT_LIMIT_SECONDS} s that "
        f"fit in the provider's {limits.PROVIDER_ENDPOINT_WAIT_SECONDS // 60}-minute wait for "
        f"the endpoint; {fixes}",
    )


def _check_execution_timeout(
    path: str, deployment: Deployment, instances: int | None, p: Problems
) -> None:
    """SageMaker stops, and rolls back, an update that runs past its execution timeout.

    botocore sagemaker BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds: it "should be
    larger than the total waiting time specified in TerminationWaitInSeconds and
    WaitIntervalInSeconds". The default is derived to be (``schema``), but without the fleet
    size: where whole-instance steps outnumber ``ceil(100 / percent)``, it may fall short.
    """
    timeout = deployment.maximum_execution_timeout_seconds
    total = deployment.total_wait_seconds(instances)
    if timeout > total:
        return
    given = f"{timeout} s"
    if "maximum_execution_timeout_seconds" not in deployment.model_fields_set:
        given = f"the default, {given},"
    p.add(
        f"{path}.maximum_execution_timeout_seconds",
        f"{given} is not more than the update's total wait, {total} s "
        f"({_waits(deployment, instances)}); set it above {total}",
    )


def _waits(deployment: Deployment, instances: int | None) -> str:
    waits = deployment.wait_intervals(instances)
    return (
        f"{_count(waits, 'wait')} of {deployment.wait_seconds} s + "
        f"{deployment.termination_wait_seconds} s termination wait"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --- prod policy --------------------------------------------------------------------------


def _check_prod_policy(path: str, model: ModelSettings, p: Problems) -> None:
    if model.deployment.strategy is Strategy.ALL_AT_ONCE and model.serverless is None:
        p.add(f"{path}.deployment.strategy", "prod requires canary or linear traffic shifting")
    if not model.deployment.auto_rollback:
        p.add(f"{path}.deployment.auto_rollback", "must be true in prod")


# --- alerts -------------------------------------------------------------------------------


def _check_alerts(settings: EnvironmentSettings, p: Problems) -> None:
    if settings.environment == "prod" and not settings.alerts.subscriptions:
        p.add("alerts.subscriptions", "prod needs at least one subscription")
    for i, sub in enumerate(settings.alerts.subscriptions):
        at = f"alerts.subscriptions.{i}"
        if sub.protocol == "sqs":
            # An SNS topic delivers to a queue only if the queue's access policy lets the topic
            # call sqs:SendMessage (Amazon SNS developer guide, "Subscribing an Amazon SQS
            # queue to an Amazon SNS topic"), and only the queue's owner can set that policy.
            p.add(
                f"{at}.protocol",
                "sqs needs a queue policy letting the alert topic send to the queue, which only "
                "the queue's owner can set; subscribe a lambda function or an https endpoint "
                "instead",
            )
            continue
        if sub.endpoint == SECRET:
            continue
        if sub.protocol == "email" and not EMAIL_RE.match(sub.endpoint):
            p.add(f"{at}.endpoint", f"{sub.endpoint!r} is not an email address")
        if sub.protocol == "https" and not sub.endpoint.startswith("https://"):
            p.add(f"{at}.endpoint", "must start with https://")
        if sub.protocol == "lambda" and not limits.lambda_function_arn().fullmatch(sub.endpoint):
            p.add(
                f"{at}.endpoint",
                "must be a Lambda function ARN, "
                "arn:<partition>:lambda:<region>:<account>:function:<name>",
            )
