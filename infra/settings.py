"""Typed stack settings: the one schema of the files in ``stacks/``.

This module is the contract between the Pulumi program (``infra``) and the release tool
(``model_packaging``): the program reads a stack's config through it once, at the top, and the
release tool validates every stack file it writes with the same rules. It therefore imports
neither pulumi nor the sagemaker SDK.

Problems are collected, never raised one at a time: ``load_settings`` reports every problem in
a config at once, each line naming its key path, e.g.
``models.churn.scaling.max_instances: must be >= min_instances (2)``.

Keys of the project namespace (``mlserve:``) are written without the namespace in those paths;
keys of other namespaces keep theirs (``aws:region``).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PROJECT = "mlserve"
ENVIRONMENTS = ("shared", "dev", "staging", "prod")
# Namespaces a stack file may use besides the project's own. A key in any other namespace is
# almost always a typo of the project name, which would silently drop that setting.
FOREIGN_NAMESPACES = ("aws", "pulumi")

# Settings fields read from another namespace: problems name the key as the stack file does.
SETTING_KEYS = {"region": "aws:region"}

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy); botocore's model
# documents them in prose, not as an enum, so they are listed here.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)

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


@functools.lru_cache(maxsize=1)
def sagemaker_instance_types() -> frozenset[str]:
    """Instance types a production variant accepts, from the API model botocore ships."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return frozenset(model.shape_for("ProductionVariantInstanceType").enum)


class SettingsError(Exception):
    """A stack config has problems; ``problems`` holds one ``"path: message"`` per problem."""

    def __init__(self, problems: list[str], source: str = "stack config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(
            f"{source} has {len(problems)} problem(s):\n" + "\n".join(f"  {p}" for p in problems)
        )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- environment stacks -------------------------------------------------------------------


class Strategy(StrEnum):
    ALL_AT_ONCE = "all_at_once"
    CANARY = "canary"
    LINEAR = "linear"


class ModelVersion(_Strict):
    """A pinned model: a Model Registry version, or an artifact URI plus image.

    ``digest`` is the artifact's sha256 as ``model_packaging build`` prints it; it is tagged on
    every resource and exported, so the post-deploy check can compare it with what is served.
    """

    package: str | None = None
    artifact_uri: str | None = None
    image: str | None = None
    digest: str


class Scaling(_Strict):
    min_instances: Annotated[int, Field(ge=1)]
    max_instances: Annotated[int, Field(ge=1)]
    # Invocations per instance per minute that target tracking holds the fleet at.
    target_invocations_per_instance: Annotated[int, Field(ge=1)] = 100
    scale_in_cooldown_seconds: Annotated[int, Field(ge=0, le=3600)] = 300
    scale_out_cooldown_seconds: Annotated[int, Field(ge=0, le=3600)] = 60
    schedules: list[ScheduledScaling] = []


class ScheduledScaling(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,40}$")]
    schedule: str
    timezone: str = "UTC"
    min_instances: Annotated[int, Field(ge=1)]
    max_instances: Annotated[int, Field(ge=1)]


class Serverless(_Strict):
    memory_mb: int = 2048
    max_concurrency: Annotated[int, Field(ge=1, le=200)] = 5
    provisioned_concurrency: Annotated[int, Field(ge=1, le=200)] | None = None


class Deployment(_Strict):
    strategy: Strategy
    # CANARY: share of the new fleet that takes traffic first.
    canary_percent: Annotated[int, Field(ge=1, le=50)] = 10
    # LINEAR: share of traffic moved at each step.
    linear_step_percent: Annotated[int, Field(ge=1, le=50)] = 20
    # Time each traffic step is watched before the next one (the alarms decide).
    wait_seconds: Annotated[int, Field(ge=0, le=3600)] = 300
    # Time the old fleet is kept after the shift, for a fast rollback.
    termination_wait_seconds: Annotated[int, Field(ge=0, le=3600)] = 300
    # Ceiling on the whole blue/green update; SageMaker rolls back past it.
    maximum_execution_timeout_seconds: Annotated[int, Field(ge=600, le=14400)] = 3600
    auto_rollback: bool = True

    def traffic_shift_seconds(self) -> int:
        """How long the traffic shift itself takes, watched step by step by the alarms."""
        if self.strategy is Strategy.LINEAR:
            return -(-100 // self.linear_step_percent) * self.wait_seconds
        if self.strategy is Strategy.CANARY:
            return 2 * self.wait_seconds  # the canary step, then the rest of the fleet
        return self.wait_seconds

    def update_timeout_seconds(self) -> int:
        """A ceiling for one create or update: longer than SageMaker's own, never cut short.

        Provisioning the new fleet comes on top of the execution timeout, and the old fleet is
        kept for ``termination_wait_seconds`` after the shift (terraform-provider-aws #39040).
        """
        provisioning = 45 * 60
        return self.maximum_execution_timeout_seconds + self.termination_wait_seconds + provisioning


class DataCapture(_Strict):
    enabled: bool = True
    sampling_percent: Annotated[int, Field(ge=0, le=100)] = 20


class Network(_Strict):
    subnet_ids: list[str] = []
    security_group_ids: list[str] = []
    isolation: bool = False


class Alarms(_Strict):
    error_5xx_threshold: Annotated[int, Field(ge=1)] = 5
    p99_latency_ms: Annotated[int, Field(ge=1)] = 1000
    cpu_utilization_percent: Annotated[int, Field(ge=1, le=10000)] = 80
    memory_utilization_percent: Annotated[int, Field(ge=1, le=100)] = 85
    period_seconds: Literal[60, 300] = 60
    evaluation_periods: Annotated[int, Field(ge=1, le=60)] = 3


class Challenger(_Strict):
    """A second production variant for A/B testing."""

    version: ModelVersion
    traffic_percent: Annotated[int, Field(ge=1, le=99)]


class Shadow(_Strict):
    """A shadow variant: receives a copy of requests, its responses are discarded."""

    version: ModelVersion
    sampling_percent: Annotated[int, Field(ge=1, le=100)] = 100


class ModelSettings(_Strict):
    version: ModelVersion
    instance_type: str | None = None
    scaling: Scaling | None = None
    serverless: Serverless | None = None
    challenger: Challenger | None = None
    shadow: Shadow | None = None
    deployment: Deployment
    data_capture: DataCapture = DataCapture()
    network: Network = Network()
    alarms: Alarms = Alarms()
    log_retention_days: int

    @property
    def autoscaled(self) -> bool:
        return self.scaling is not None and self.scaling.max_instances > self.scaling.min_instances


class AlertSubscription(_Strict):
    protocol: Literal["email", "https", "sqs", "lambda"]
    endpoint: str


class Alerts(_Strict):
    subscriptions: list[AlertSubscription] = []


class EnvironmentSettings(_Strict):
    environment: Literal["dev", "staging", "prod"]
    region: str
    owner: str
    cost_center: str
    shared_stack: str
    alerts: Alerts = Alerts()
    models: dict[str, ModelSettings] = {}


# --- shared stack -------------------------------------------------------------------------


class ModelGroup(_Strict):
    description: str = ""


class ArtifactStoreSettings(_Strict):
    # Noncurrent object versions are expired after this many days.
    noncurrent_version_days: Annotated[int, Field(ge=1)] = 90
    abort_incomplete_multipart_days: Annotated[int, Field(ge=1)] = 1
    # Accounts whose environment stacks read artifacts and registry versions.
    reader_accounts: list[str] = []


class SharedSettings(_Strict):
    environment: Literal["shared"]
    region: str
    owner: str
    cost_center: str
    artifact_store: ArtifactStoreSettings = ArtifactStoreSettings()
    models: dict[str, ModelGroup] = {}


Settings = EnvironmentSettings | SharedSettings

# Per-environment defaults, deep-merged under what a stack file says. ``instance_type`` and
# ``scaling`` apply only to models that are not serverless.
INSTANCE_DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {"instance_type": "ml.t2.medium", "scaling": {"min_instances": 1, "max_instances": 1}},
    "staging": {
        "instance_type": "ml.m5.large",
        "scaling": {"min_instances": 1, "max_instances": 2},
    },
    "prod": {"instance_type": "ml.m5.large", "scaling": {"min_instances": 2, "max_instances": 4}},
}
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {
        "deployment": {"strategy": "all_at_once", "wait_seconds": 0, "termination_wait_seconds": 0},
        "data_capture": {"enabled": False},
        "log_retention_days": 7,
    },
    "staging": {
        "deployment": {"strategy": "all_at_once", "wait_seconds": 120},
        "data_capture": {"enabled": True, "sampling_percent": 50},
        "log_retention_days": 30,
    },
    "prod": {
        "deployment": {"strategy": "canary", "canary_percent": 10, "wait_seconds": 600},
        "data_capture": {"enabled": True, "sampling_percent": 20},
        "log_retention_days": 365,
    },
}


# --- reading ------------------------------------------------------------------------------


def read_stack_file(path: Path) -> dict[str, Any]:
    """The ``config:`` map of a Pulumi stack file, keys as written (``mlserve:models``)."""
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SettingsError([f"not valid YAML: {exc}".replace("\n", " ")], str(path)) from exc
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise SettingsError(["config: must be a mapping of keys to values"], str(path))
    return {key: _hide_secrets(value) for key, value in (document.get("config") or {}).items()}


# What an encrypted value (``secure: ...``) reads as when a stack file is read without Pulumi,
# which alone can decrypt it: format checks skip it, everything else sees a plain string.
SECRET = "[secret]"


def _hide_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET
        return {key: _hide_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_hide_secrets(item) for item in value]
    return value


def decode_runtime_config(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Pulumi hands structured config to programs as JSON strings; decode those."""
    decoded: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and value[:1] in ("{", "["):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass
        decoded[key] = value
    return decoded


def load_settings(config: Mapping[str, Any], stack: str, source: str | None = None) -> Settings:
    """Validate a stack's whole config and return typed settings, or raise ``SettingsError``.

    ``config`` maps full keys (``mlserve:models``, ``aws:region``) to decoded values.
    """
    problems = _Problems()
    project: dict[str, Any] = {}
    for key, value in config.items():
        namespace, _, name = str(key).partition(":")
        if not name:
            problems.add(str(key), f"must be namespaced, e.g. {PROJECT}:{key}")
        elif namespace == PROJECT:
            project[name] = value
        elif namespace not in FOREIGN_NAMESPACES:
            problems.add(str(key), f"unknown namespace {namespace!r} (did you mean {PROJECT}:?)")

    environment = project.pop("environment", stack)
    if environment not in ENVIRONMENTS:
        problems.add(
            "environment", f"must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}"
        )
        raise SettingsError(problems.lines, source or f"stack {stack}")

    for name in SETTING_KEYS.keys() & project.keys():
        problems.add(name, f"unknown key (the setting is {SETTING_KEYS[name]})")
        del project[name]
    data: dict[str, Any] = {"environment": environment, **project}
    if "aws:region" in config:
        data["region"] = config["aws:region"]

    settings: Settings | None
    if environment == "shared":
        shared: SharedSettings | None = _validate(SharedSettings, data, problems)
        if shared is not None:
            _check_shared(shared, problems)
        settings = shared
    else:
        data["models"] = _validate_models(data.get("models"), environment, problems)
        env: EnvironmentSettings | None = _validate(EnvironmentSettings, data, problems)
        if env is not None:
            _check_environment(env, problems)
        settings = env

    if problems.lines or settings is None:
        raise SettingsError(problems.lines, source or f"stack {stack}")
    return settings


def load_stack_file(path: Path, stack: str | None = None) -> Settings:
    """Read and validate ``stacks/Pulumi.<stack>.yaml`` (or any file in that format)."""
    stack = stack or path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    return load_settings(read_stack_file(path), stack, source=str(path))


# --- internals ----------------------------------------------------------------------------


class _Problems:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.lines.append(f"{path}: {message}")


def _validate(
    schema: type[_Strict], data: Any, problems: _Problems, prefix: tuple[str, ...] = ()
) -> Any:
    """Validate ``data``; on failure record every error and return None.

    When the only errors are unknown keys, the value is validated again without them so that
    the cross-field checks still run: a typo must not hide the problems next to it.
    """
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
    for error in errors:
        loc = [str(part) for part in (*prefix, *error["loc"])]
        path = ".".join([SETTING_KEYS.get(loc[0], loc[0]), *loc[1:]] if loc else [])
        problems.add(path or "config", _message(error))
    if any(error["type"] != "extra_forbidden" for error in errors):
        return None
    pruned = copy.deepcopy(data)
    for error in errors:
        *parents, key = error["loc"]
        node = pruned
        for part in parents:
            node = node[part]
        node.pop(key, None)
    try:
        return schema.model_validate(pruned)
    except ValidationError:
        return None


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "is required"
    if kind in ("literal_error", "enum"):
        expected = error.get("ctx", {}).get("expected", "")
        return f"must be one of {expected}, got {error['input']!r}"
    message = str(error["msg"])
    return message[:1].lower() + message[1:]


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _with_defaults(models: Any, environment: str) -> Any:
    if not isinstance(models, Mapping):
        return models  # the schema reports the wrong type
    resolved: dict[str, Any] = {}
    for name, model in models.items():
        if not isinstance(model, Mapping):
            resolved[name] = model
            continue
        defaults = MODEL_DEFAULTS[environment]
        if "serverless" in model:
            # Deployment guardrails need instances, and serverless endpoints cannot capture
            # data: their updates are all at once, without capture.
            defaults = _deep_merge(
                defaults,
                {"deployment": {"strategy": "all_at_once"}, "data_capture": {"enabled": False}},
            )
        else:
            defaults = _deep_merge(defaults, INSTANCE_DEFAULTS[environment])
        resolved[name] = _deep_merge(defaults, model)
    return resolved


def _validate_models(models: Any, environment: str, problems: _Problems) -> Any:
    """Validate each model on its own, so one broken model does not hide another's problems."""
    models = _with_defaults(models, environment)
    if not isinstance(models, Mapping):
        return models  # the schema reports the wrong type
    parsed = {}
    for name, model in models.items():
        value = _validate(ModelSettings, model, problems, prefix=("models", str(name)))
        if value is not None:
            parsed[name] = value
    return parsed


def _check_model_name(path: str, name: str, problems: _Problems) -> None:
    if len(name) > MODEL_NAME_MAX or not MODEL_NAME_RE.match(name):
        problems.add(
            path,
            f"model name must be lowercase letters, digits and single hyphens, "
            f"at most {MODEL_NAME_MAX} characters",
        )


def _check_shared(settings: SharedSettings, problems: _Problems) -> None:
    for name in settings.models:
        _check_model_name(f"models.{name}", name, problems)
    for i, account in enumerate(settings.artifact_store.reader_accounts):
        if not ACCOUNT_RE.match(account):
            problems.add(f"artifact_store.reader_accounts.{i}", "must be a 12-digit account id")


def _check_version(path: str, version: ModelVersion, model: str, region: str, p: _Problems) -> None:
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


def _check_scaling(path: str, scaling: Scaling, environment: str, p: _Problems) -> None:
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


def _check_model(name: str, model: ModelSettings, env: EnvironmentSettings, p: _Problems) -> None:
    path = f"models.{name}"
    _check_model_name(path, name, p)
    _check_version(f"{path}.version", model.version, name, env.region, p)
    if model.challenger is not None:
        _check_version(f"{path}.challenger.version", model.challenger.version, name, env.region, p)
    if model.shadow is not None:
        _check_version(f"{path}.shadow.version", model.shadow.version, name, env.region, p)

    if model.serverless is not None:
        if model.instance_type is not None:
            p.add(f"{path}.serverless", "a serverless model must not also set instance_type")
        if model.scaling is not None:
            p.add(f"{path}.serverless", "a serverless model must not also set scaling")
        if model.serverless.memory_mb not in SERVERLESS_MEMORY_MB:
            allowed = ", ".join(map(str, SERVERLESS_MEMORY_MB))
            p.add(f"{path}.serverless.memory_mb", f"must be one of {allowed}")
        provisioned = model.serverless.provisioned_concurrency
        if provisioned is not None and provisioned > model.serverless.max_concurrency:
            p.add(
                f"{path}.serverless.provisioned_concurrency",
                f"must be <= max_concurrency ({model.serverless.max_concurrency})",
            )
        if model.deployment.strategy is not Strategy.ALL_AT_ONCE:
            p.add(
                f"{path}.deployment.strategy",
                "serverless endpoints support only all_at_once updates",
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
    else:
        if model.instance_type is None:
            p.add(f"{path}.instance_type", "is required unless serverless is set")
        elif model.instance_type not in sagemaker_instance_types():
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
            _check_scaling(f"{path}.scaling", model.scaling, env.environment, p)

    if model.log_retention_days not in LOG_RETENTION_DAYS:
        allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
        p.add(f"{path}.log_retention_days", f"must be one of CloudWatch's periods: {allowed}")

    network = model.network
    if bool(network.subnet_ids) != bool(network.security_group_ids):
        p.add(f"{path}.network", "set both subnet_ids and security_group_ids, or neither")
    for i, subnet in enumerate(network.subnet_ids):
        if not SUBNET_RE.match(subnet):
            p.add(f"{path}.network.subnet_ids.{i}", f"{subnet!r} is not a subnet id")
    for i, group in enumerate(network.security_group_ids):
        if not SECURITY_GROUP_RE.match(group):
            p.add(f"{path}.network.security_group_ids.{i}", f"{group!r} is not a security group id")

    shift = model.deployment.traffic_shift_seconds()
    if model.deployment.maximum_execution_timeout_seconds < shift:
        p.add(
            f"{path}.deployment.maximum_execution_timeout_seconds",
            f"must be >= the traffic shift's total wait ({shift} s)",
        )

    if env.environment == "prod":
        if model.deployment.strategy is Strategy.ALL_AT_ONCE and model.serverless is None:
            p.add(f"{path}.deployment.strategy", "prod requires canary or linear traffic shifting")
        if not model.deployment.auto_rollback:
            p.add(f"{path}.deployment.auto_rollback", "must be true in prod")


def _check_environment(settings: EnvironmentSettings, problems: _Problems) -> None:
    if not re.match(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", settings.shared_stack):
        problems.add("shared_stack", "must be a fully qualified stack name, org/project/stack")
    for name, model in settings.models.items():
        _check_model(name, model, settings, problems)
    if settings.environment == "prod" and not settings.alerts.subscriptions:
        problems.add("alerts.subscriptions", "prod needs at least one subscription")
    for i, sub in enumerate(settings.alerts.subscriptions):
        at = f"alerts.subscriptions.{i}.endpoint"
        if sub.endpoint == SECRET:
            continue
        if sub.protocol == "email" and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", sub.endpoint):
            problems.add(at, f"{sub.endpoint!r} is not an email address")
        if sub.protocol == "https" and not sub.endpoint.startswith("https://"):
            problems.add(at, "must start with https://")
        if sub.protocol in ("sqs", "lambda") and not sub.endpoint.startswith("arn:"):
            problems.add(at, f"must be the {sub.protocol} ARN")
