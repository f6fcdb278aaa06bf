"""The typed shape of a stack's config: one pydantic model per section of a stack file.

Field constraints that need no other field live here; checks across fields are in ``rules``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

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
