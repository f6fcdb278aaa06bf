"""Checks across fields of validated settings: what AWS or the provider would refuse, or worse,
accept and then do something else.

Each check records its problems under the key path of the setting to change and never raises,
so a config's problems are all reported at once. Facts about AWS come from ``limits``.
"""

from __future__ import annotations

import re

from infra.settings import limits
from infra.settings.problems import Problems
from infra.settings.schema import (
    SECRET,
    EnvironmentSettings,
    ModelSettings,
    ModelVersion,
    Scaling,
    SharedSettings,
    Strategy,
)

MODEL_NAME_RE = re.compile(r"^[a-z0-9](-?[a-z0-9])*$")
MODEL_NAME_MAX = 40  # leaves room in the 63-character endpoint name for the env and a suffix
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
PACKAGE_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"model-package/(?P<group>[A-Za-z0-9-]+)/(?P<version>\d+)$"
)
ACCOUNT_RE = re.compile(r"^\d{12}$")
SUBNET_RE = re.compile(r"^subnet-[0-9a-f]{8,17}$")
SECURITY_GROUP_RE = re.compile(r"^sg-[0-9a-f]{8,17}$")
S3_URI_RE = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+$")
SCHEDULE_RE = re.compile(
    r"^(cron\(.+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\)|at\(.+\))$"
)
STACK_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# --- shared stack -------------------------------------------------------------------------


def check_shared(settings: SharedSettings, p: Problems) -> None:
    for name in settings.models:
        _check_model_name(f"models.{name}", name, p)
    for i, account in enumerate(settings.artifact_store.reader_accounts):
        if not ACCOUNT_RE.match(account):
            p.add(f"artifact_store.reader_accounts.{i}", "must be a 12-digit account id")


# --- environment stacks -------------------------------------------------------------------


def check_environment(settings: EnvironmentSettings, p: Problems) -> None:
    if not STACK_NAME_RE.match(settings.shared_stack):
        p.add("shared_stack", "must be a fully qualified stack name, org/project/stack")
    for name, model in settings.models.items():
        check_model(name, model, settings, p)
    _check_alerts(settings, p)


def check_model(name: str, model: ModelSettings, env: EnvironmentSettings, p: Problems) -> None:
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
        if version.artifact_uri is not None and not S3_URI_RE.match(version.artifact_uri):
            p.add(f"{path}.artifact_uri", "must be an s3:// URI")


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


def _check_scaling(path: str, scaling: Scaling, environment: str, p: Problems) -> None:
    if scaling.max_instances < scaling.min_instances:
        p.add(f"{path}.max_instances", f"must be >= min_instances ({scaling.min_instances})")
    if environment == "prod" and scaling.min_instances < 2:
        p.add(f"{path}.min_instances", "must be >= 2 in prod (one instance is no redundancy)")
    for i, schedule in enumerate(scaling.schedules):
        at = f"{path}.schedules.{i}"
        if not SCHEDULE_RE.match(schedule.schedule):
            p.add(f"{at}.schedule", "must be cron(...), rate(N minutes|hours|days) or at(...)")
        if schedule.max_instances < schedule.min_instances:
            p.add(f"{at}.max_instances", f"must be >= min_instances ({schedule.min_instances})")
    names = [s.name for s in scaling.schedules]
    for name in sorted({n for n in names if names.count(n) > 1}):
        p.add(f"{path}.schedules", f"schedule name {name!r} is used more than once")


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


# --- deployment ---------------------------------------------------------------------------


def _check_deployment(path: str, model: ModelSettings, p: Problems) -> None:
    shift = model.deployment.traffic_shift_seconds()
    if model.deployment.maximum_execution_timeout_seconds < shift:
        p.add(
            f"{path}.deployment.maximum_execution_timeout_seconds",
            f"must be >= the traffic shift's total wait ({shift} s)",
        )


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
        at = f"alerts.subscriptions.{i}.endpoint"
        if sub.endpoint == SECRET:
            continue
        if sub.protocol == "email" and not EMAIL_RE.match(sub.endpoint):
            p.add(at, f"{sub.endpoint!r} is not an email address")
        if sub.protocol == "https" and not sub.endpoint.startswith("https://"):
            p.add(at, "must start with https://")
        if sub.protocol in ("sqs", "lambda") and not sub.endpoint.startswith("arn:"):
            p.add(at, f"must be the {sub.protocol} ARN")
