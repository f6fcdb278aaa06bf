"""The typed shape of a stack's config: one pydantic model per section of a stack file.

Field constraints that need no other field live here; checks across fields are in ``rules``.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from infra.settings import limits

PROJECT = "mlserve"
ENVIRONMENTS = ("shared", "dev", "staging", "prod")

# What an encrypted value (``secure: ...``) reads as when a stack file is read without Pulumi,
# which alone can decrypt it: format checks skip it, everything else sees a plain string.
SECRET = "[secret]"


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


_WAIT = Field(ge=limits.WAIT_SECONDS[0], le=limits.WAIT_SECONDS[1])


def _wait_intervals(
    strategy: Strategy, canary_percent: int, linear_step_percent: int, instances: int | None
) -> int:
    """How many baking periods of ``wait_seconds`` a blue/green update goes through.

    Canary: the canary, then the rest of the fleet. Linear: one per step. All at once: one
    (SageMaker developer guide, "Use canary traffic shifting", "Use linear traffic shifting",
    "Use all at once traffic shifting"). SageMaker does not document how it turns a percentage
    into whole instances, so with a known fleet size the step is taken as rounded down
    (``instances_per_step``), which gives the most steps.
    """
    if strategy is Strategy.CANARY:
        return 2
    if strategy is Strategy.LINEAR:
        steps = math.ceil(100 / linear_step_percent)
        if instances is not None:
            per_step = instances_per_step(linear_step_percent, instances)
            if per_step >= 1:
                steps = max(steps, math.ceil(instances / per_step))
        return steps
    return 1


def instances_per_step(percent: int, instances: int) -> int:
    """The instances a traffic step of ``percent`` of a fleet of ``instances`` turns on.

    SageMaker does not document how it rounds (botocore ``CapacitySize`` only says a
    ``CAPACITY_PERCENT`` step is a percentage of the fleet), so this rounds down: a step that
    might come to less than one instance is treated as one that does.
    """
    return instances * percent // 100


def _derived_execution_timeout(data: dict[str, Any]) -> int:
    """The default ``maximum_execution_timeout_seconds``: the whole rollout, at least 600 s.

    SageMaker's timeout then ends a stuck deployment (and rolls it back) before the provider's
    wait gives up. ``data`` holds the fields declared before this one; pydantic calls this only
    once all of them are valid.
    """
    waits = _wait_intervals(
        data["strategy"], data["canary_percent"], data["linear_step_percent"], None
    )
    total = waits * data["wait_seconds"] + data["termination_wait_seconds"]
    low, high = limits.EXECUTION_TIMEOUT_SECONDS
    return min(high, max(low, limits.PROVISIONING_SECONDS + total))


class Deployment(_Strict):
    strategy: Strategy
    # CANARY: share of the new fleet that takes traffic first.
    canary_percent: Annotated[
        int, Field(ge=limits.CANARY_PERCENT[0], le=limits.CANARY_PERCENT[1])
    ] = 10
    # LINEAR: share of traffic moved at each step.
    linear_step_percent: Annotated[
        int, Field(ge=limits.LINEAR_STEP_PERCENT[0], le=limits.LINEAR_STEP_PERCENT[1])
    ] = 20
    # Time each traffic step is watched before the next one (the alarms decide).
    wait_seconds: Annotated[int, _WAIT] = 300
    # Time the old fleet is kept after the shift, for a fast rollback.
    termination_wait_seconds: Annotated[int, _WAIT] = 300
    # Ceiling on the whole blue/green update; SageMaker rolls back past it. Declared after the
    # fields its default is derived from.
    maximum_execution_timeout_seconds: Annotated[
        int,
        Field(ge=limits.EXECUTION_TIMEOUT_SECONDS[0], le=limits.EXECUTION_TIMEOUT_SECONDS[1]),
    ] = Field(default_factory=_derived_execution_timeout)
    auto_rollback: bool = True

    def wait_intervals(self, instances: int | None = None) -> int:
        """Baking periods of ``wait_seconds`` in an update of a fleet of ``instances``."""
        return _wait_intervals(
            self.strategy, self.canary_percent, self.linear_step_percent, instances
        )

    def total_wait_seconds(self, instances: int | None = None) -> int:
        """Every wait interval of the traffic shift plus the termination wait."""
        return self.wait_intervals(instances) * self.wait_seconds + self.termination_wait_seconds

    def worst_case_rollout_seconds(self, instances: int | None = None) -> int:
        """How long an update may take: provisioning, every wait, the termination wait.

        This is what must fit in the provider's wait for the endpoint (``limits``); a create
        has no traffic to shift and takes only the provisioning.
        """
        return limits.PROVISIONING_SECONDS + self.total_wait_seconds(instances)


class DataCapture(_Strict):
    enabled: bool = True
    sampling_percent: Annotated[int, Field(ge=0, le=100)] = 20


class DriftSchedule(StrEnum):
    HOURLY = "hourly"
    DAILY = "daily"


class Drift(_Strict):
    """Data-quality monitoring of the endpoint's captured requests against the pinned version's
    baseline (``infra/components/drift_monitor.py``)."""

    enabled: bool = False
    schedule: DriftSchedule = DriftSchedule.HOURLY
    # The processing instances that run each analysis.
    instance_type: str = "ml.m5.xlarge"
    # botocore sagemaker MonitoringClusterConfig.InstanceCount: 1 to 100.
    instance_count: Annotated[int, Field(ge=1, le=100)] = 1
    # terraform-provider-aws internal/service/sagemaker/data_quality_job_definition.go:
    # volume_size_in_gb is validated to 1..512.
    volume_size_gb: Annotated[int, Field(ge=1, le=512)] = 20
    # botocore sagemaker MonitoringStoppingCondition.MaxRuntimeInSeconds: "cannot exceed the
    # frequency of the job ... up to 3600 seconds for an hourly schedule" for data quality; the
    # provider (data_quality_job_definition.go) validates 1..3600 whatever the schedule.
    max_runtime_seconds: Annotated[int, Field(ge=1, le=3600)] = 1800
    # Feature name -> the drift distance (0 to 1) above which an alarm notifies: the alarm
    # watches the metric feature_baseline_drift_<feature> each analysis emits. A name is
    # letters, digits, "_", "." and "-" (it is part of resource names), short enough for the
    # alarm's name, <endpoint>-drift-<feature>, to fit CloudWatch's 255 characters (botocore
    # cloudwatch PutMetricAlarmInput.AlarmName) after an endpoint name of up to 63.
    alarms: dict[
        Annotated[str, Field(min_length=1, max_length=180, pattern=r"^[A-Za-z0-9_.-]+$")],
        Annotated[float, Field(gt=0, le=1)],
    ] = {}


class Network(_Strict):
    subnet_ids: list[str] = []
    security_group_ids: list[str] = []
    isolation: bool = False


class Alarms(_Strict):
    error_5xx_threshold: Annotated[int, Field(ge=1)] = 5
    p99_latency_ms: Annotated[int, Field(ge=1)] = 1000
    # A share of the whole instance: the alarm multiplies it by the instance's vCPU count.
    cpu_utilization_percent: Annotated[int, Field(ge=1, le=100)] = 80
    memory_utilization_percent: Annotated[int, Field(ge=1, le=100)] = 85
    period_seconds: Literal[60, 300] = 60
    evaluation_periods: Annotated[int, Field(ge=1, le=60)] = 3

    def window_seconds(self) -> int:
        """How long a problem must last before an alarm can fire, once CloudWatch has the data."""
        return self.period_seconds * self.evaluation_periods


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
    drift: Drift = Drift()
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
