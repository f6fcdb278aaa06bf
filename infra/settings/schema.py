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

    package: str | None = Field(
        default=None, description="the pinned Model Registry version: its model package ARN"
    )
    artifact_uri: str | None = Field(
        default=None, description="instead of `package`: the S3 URI of a model artifact"
    )
    image: str | None = Field(
        default=None, description="instead of `package`: the container image that serves it"
    )
    digest: str = Field(
        description="the artifact's sha256, as `model_packaging build` prints it; tagged on "
        "every resource and exported"
    )


class Scaling(_Strict):
    min_instances: Annotated[
        int,
        Field(
            ge=1,
            description="the fewest instances; also the variant's initial instance count, "
            "which every update starts the new fleet at",
        ),
    ]
    max_instances: Annotated[
        int,
        Field(
            ge=1,
            description="the most instances; autoscaling is registered when it is larger than "
            "`min_instances`",
        ),
    ]
    target_invocations_per_instance: Annotated[
        int,
        Field(
            ge=1,
            description="invocations per instance per minute that target tracking on "
            "`SageMakerVariantInvocationsPerInstance` holds the fleet at",
        ),
    ] = 100
    scale_in_cooldown_seconds: Annotated[
        int,
        Field(ge=0, le=3600, description="seconds after a scale-in before another scale-in starts"),
    ] = 300
    scale_out_cooldown_seconds: Annotated[
        int,
        Field(
            ge=0,
            le=3600,
            description="seconds after a scale-out before another scale-out starts",
        ),
    ] = 60
    schedules: list[ScheduledScaling] = Field(
        default=[],
        description="scheduled changes of the instance bounds (Application Auto Scaling "
        "scheduled actions)",
    )


class ScheduledScaling(_Strict):
    name: Annotated[
        str, Field(pattern=r"^[a-z0-9-]{1,40}$", description="the scheduled action's name")
    ]
    schedule: str = Field(
        description="when it applies: a moment, a rate (`rate(1 day)`, `rate(15 minutes)`) or "
        "a cron expression with `?` in exactly one of day-of-month and day-of-week"
    )
    timezone: str = Field(default="UTC", description="the time zone `schedule` is read in")
    min_instances: Annotated[int, Field(ge=1, description="the fewest instances from then on")]
    max_instances: Annotated[int, Field(ge=1, description="the most instances from then on")]


class Serverless(_Strict):
    memory_mb: int = Field(default=2048, description="memory of each serverless worker, in MB")
    max_concurrency: Annotated[
        int, Field(ge=1, le=200, description="the most invocations served at once")
    ] = 5
    provisioned_concurrency: Annotated[int, Field(ge=1, le=200)] | None = Field(
        default=None, description="invocations kept warm, ready at once"
    )


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
    return int(min(high, max(low, limits.PROVISIONING_SECONDS + total)))


class Deployment(_Strict):
    strategy: Strategy = Field(
        description="how an update shifts traffic to the new fleet: `canary` or `linear` "
        "blue/green traffic shifting, or all at once"
    )
    canary_percent: Annotated[
        int,
        Field(
            ge=limits.CANARY_PERCENT[0],
            le=limits.CANARY_PERCENT[1],
            description="`canary`: the share of the new fleet that takes traffic first",
        ),
    ] = 10
    linear_step_percent: Annotated[
        int,
        Field(
            ge=limits.LINEAR_STEP_PERCENT[0],
            le=limits.LINEAR_STEP_PERCENT[1],
            description="`linear`: the share of traffic moved at each step",
        ),
    ] = 20
    wait_seconds: Annotated[
        int,
        _WAIT,
        Field(
            description="how long each traffic step is watched by the rollback alarms before "
            "the next one"
        ),
    ] = 300
    termination_wait_seconds: Annotated[
        int,
        _WAIT,
        Field(description="how long the old fleet is kept after the shift, for a fast rollback"),
    ] = 300
    # Declared after the fields its default is derived from.
    maximum_execution_timeout_seconds: Annotated[
        int,
        Field(ge=limits.EXECUTION_TIMEOUT_SECONDS[0], le=limits.EXECUTION_TIMEOUT_SECONDS[1]),
    ] = Field(
        default_factory=_derived_execution_timeout,
        description="SageMaker stops, and rolls back, an update that runs longer. Default: "
        "the worst-case rollout (provisioning, every wait interval of the strategy and the "
        "termination wait), within the limits",
    )
    auto_rollback: bool = Field(
        default=True,
        description="roll back when a 5XX or p99 latency alarm fires during an update; not "
        "for serverless models",
    )

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
    enabled: bool = Field(
        default=True,
        description="capture requests and responses to the environment's capture bucket, "
        "under `data-capture/<name>/`",
    )
    sampling_percent: Annotated[
        int, Field(ge=0, le=100, description="the share of requests captured")
    ] = 20
    # botocore sagemaker CaptureContentTypeHeader: "If no headers are specified SageMaker will by
    # default base64 encode when capturing the data"; requests of these content types are
    # captured as text (CSV) or JSON instead, which the drift analysis reads without decoding.
    # CsvContentTypes and JsonContentTypes each take 1 to 10 types (an empty list sends none).
    csv_content_types: Annotated[
        list[str],
        Field(
            max_length=10,
            description="request content types captured as CSV text rather than base64",
        ),
    ] = ["text/csv"]
    json_content_types: Annotated[
        list[str],
        Field(
            max_length=10,
            description="request content types captured as JSON rather than base64",
        ),
    ] = ["application/json"]


class DriftSchedule(StrEnum):
    HOURLY = "hourly"
    DAILY = "daily"


class DriftEngine(StrEnum):
    """What analyses the captured requests: the project's own analysis in a scheduled Lambda
    function (``infra/components/drift_engine.py``), or SageMaker Model Monitor
    (``infra/components/drift_monitor.py``), which is closed to new customers (SageMaker
    developer guide, "Amazon SageMaker Model Monitor availability change")."""

    MLSERVE = "mlserve"
    MODEL_MONITOR = "model-monitor"


# Keys that only one engine reads: settings refuse the other engine's keys (rules).
MLSERVE_KEYS = ("memory_mb", "timeout_seconds")
MODEL_MONITOR_KEYS = ("instance_type", "instance_count", "volume_size_gb", "max_runtime_seconds")


class Drift(_Strict):
    """Data-quality monitoring of the endpoint's captured requests against the pinned version's
    baseline, by the engine ``engine`` names."""

    enabled: bool = Field(
        default=False,
        description="data-quality monitoring of the captured requests against the pinned "
        "version's baseline (see *Drift monitoring* below)",
    )
    engine: DriftEngine = Field(
        default=DriftEngine.MLSERVE,
        description="what runs the analysis: `mlserve`, the project's own checks in a Lambda "
        "function on a schedule, or `model-monitor`, SageMaker Model Monitor (closed to new "
        "customers; see docs/drift.md)",
    )
    schedule: DriftSchedule = Field(
        default=DriftSchedule.HOURLY,
        description="how often an analysis runs, over the captures of the interval before: "
        "`hourly` (at the top of each hour) or `daily` (midnight UTC)",
    )
    # The provider validates memory_size to 128..10240 and timeout to 1..900
    # (terraform-provider-aws internal/service/lambda/function.go), within what botocore lambda
    # CreateFunctionRequest's MemorySize and Timeout take, and it is the provider that sends them.
    memory_mb: Annotated[
        int,
        Field(
            ge=128,
            le=10240,
            description="`mlserve`: the function's memory in MB, which also sets its CPU share "
            "(docs/drift.md, *Sizing the function*)",
        ),
    ] = 1024
    timeout_seconds: Annotated[
        int,
        Field(
            ge=1, le=900, description="`mlserve`: an analysis is stopped after this many seconds"
        ),
    ] = 300
    instance_type: str = Field(
        default="ml.m5.xlarge",
        description="`model-monitor`: the processing instances that run each analysis",
    )
    # botocore sagemaker MonitoringClusterConfig.InstanceCount: 1 to 100.
    instance_count: Annotated[
        int,
        Field(
            ge=1,
            le=100,
            description="`model-monitor`: how many processing instances an analysis runs on",
        ),
    ] = 1
    # terraform-provider-aws internal/service/sagemaker/data_quality_job_definition.go:
    # volume_size_in_gb is validated to 1..512.
    volume_size_gb: Annotated[
        int,
        Field(
            ge=1, le=512, description="`model-monitor`: GB of storage for each processing instance"
        ),
    ] = 20
    # botocore sagemaker MonitoringStoppingCondition.MaxRuntimeInSeconds: "cannot exceed the
    # frequency of the job ... up to 3600 seconds for an hourly schedule" for data quality; the
    # provider (data_quality_job_definition.go) validates 1..3600 whatever the schedule.
    max_runtime_seconds: Annotated[
        int,
        Field(
            ge=1,
            le=3600,
            description="`model-monitor`: an analysis is stopped after this many seconds",
        ),
    ] = 1800
    # Feature name -> the drift distance (0 to 1) above which an alarm notifies: the alarm
    # watches the metric feature_baseline_drift_<feature> each analysis emits. A name is
    # letters, digits, "_", "." and "-" (it is part of resource names), short enough for the
    # alarm's name, <endpoint>-drift-<feature>, to fit CloudWatch's 255 characters (botocore
    # cloudwatch PutMetricAlarmInput.AlarmName) after an endpoint name of up to 63.
    alarms: dict[
        Annotated[str, Field(min_length=1, max_length=180, pattern=r"^[A-Za-z0-9_.-]+$")],
        Annotated[float, Field(gt=0, le=1)],
    ] = Field(
        default={},
        description="a drift distance per feature: an alarm notifies the alert topic when the "
        "feature's drift from the baseline exceeds it",
    )


class Network(_Strict):
    subnet_ids: list[str] = Field(default=[], description="VPC placement: the subnets")
    security_group_ids: list[str] = Field(
        default=[], description="VPC placement: the security groups"
    )
    isolation: bool = Field(default=False, description="no outbound network from the container")


class Alarms(_Strict):
    error_5xx_threshold: Annotated[
        int, Field(ge=1, description="5XX errors in a period above which the 5XX alarm fires")
    ] = 5
    p99_latency_ms: Annotated[
        int,
        Field(ge=1, description="p99 `ModelLatency`, in ms, above which the latency alarm fires"),
    ] = 1000
    # A share of the whole instance: the alarm multiplies it by the instance's vCPU count.
    cpu_utilization_percent: Annotated[
        int,
        Field(
            ge=1,
            le=100,
            description="CPU use above which the CPU alarm fires, as a share of the whole "
            "instance; not for serverless models",
        ),
    ] = 80
    memory_utilization_percent: Annotated[
        int,
        Field(
            ge=1,
            le=100,
            description="memory use above which the memory alarm fires; not for serverless models",
        ),
    ] = 85
    period_seconds: Literal[60, 300] = Field(
        default=60, description="the period each alarm evaluates, in seconds"
    )
    evaluation_periods: Annotated[
        int, Field(ge=1, le=60, description="periods in a row above the threshold for an alarm")
    ] = 3

    def window_seconds(self) -> int:
        """How long a problem must last before an alarm can fire, once CloudWatch has the data."""
        return self.period_seconds * self.evaluation_periods


class Challenger(_Strict):
    """A second production variant for A/B testing."""

    version: ModelVersion = Field(description="the challenger's version, keys as in `version`")
    traffic_percent: Annotated[
        int, Field(ge=1, le=99, description="the share of requests the challenger serves")
    ]


class Shadow(_Strict):
    """A shadow variant: receives a copy of requests, its responses are discarded."""

    version: ModelVersion = Field(description="the shadow's version, keys as in `version`")
    sampling_percent: Annotated[
        int, Field(ge=1, le=100, description="the share of requests copied to the shadow")
    ] = 100


class ModelSettings(_Strict):
    version: ModelVersion
    instance_type: str | None = Field(default=None, description="the hosting instance type")
    scaling: Scaling | None = None
    serverless: Serverless | None = Field(
        default=None,
        description="a serverless endpoint instead of instances; its updates are all at once",
    )
    challenger: Challenger | None = Field(
        default=None,
        description="an A/B test: a second production variant, `challenger`, beside `champion`",
    )
    shadow: Shadow | None = Field(
        default=None,
        description="a shadow variant: receives a copy of requests, its answers are discarded",
    )
    deployment: Deployment
    data_capture: DataCapture = DataCapture()
    drift: Drift = Drift()
    network: Network = Network()
    alarms: Alarms = Alarms()
    log_retention_days: int = Field(description="how long the endpoint's logs are kept, in days")

    @property
    def autoscaled(self) -> bool:
        return self.scaling is not None and self.scaling.max_instances > self.scaling.min_instances


class AlertSubscription(_Strict):
    protocol: Literal["email", "https", "sqs", "lambda"] = Field(
        description="how the alert topic delivers"
    )
    endpoint: str = Field(
        description="where it delivers. It may be encrypted (`pulumi config set --secret "
        "--path 'mlserve:alerts.subscriptions[1].endpoint' URL`); the program always passes "
        "endpoints to AWS as secrets, and the offline plan, which cannot decrypt, shows "
        "`[secret]`"
    )


class Alerts(_Strict):
    subscriptions: list[AlertSubscription] = Field(
        default=[], description="where every alarm of the environment notifies"
    )


# Keys every stack has, described once.
_ENVIRONMENT = Field(description="which stack this is: the shared one or an environment")
_REGION = Field(description="the AWS region of every resource (the provider's own key)")
_OWNER = Field(description="the `owner` tag on every resource")
_COST_CENTER = Field(description="the `cost-center` tag on every resource")


class EnvironmentSettings(_Strict):
    environment: Annotated[Literal["dev", "staging", "prod"], _ENVIRONMENT]
    region: Annotated[str, _REGION]
    owner: Annotated[str, _OWNER]
    cost_center: Annotated[str, _COST_CENTER]
    shared_stack: str = Field(
        description="the shared stack's fully qualified name, `<org>/mlserve/shared`, whose "
        "outputs the environment reads"
    )
    alerts: Alerts = Alerts()
    models: dict[str, ModelSettings] = Field(
        default={}, description="one endpoint per model, described below"
    )


# --- shared stack -------------------------------------------------------------------------


class ModelGroup(_Strict):
    description: str = Field(
        default="",
        description="the group's description. It is set when the group is created and never "
        "changed afterwards: SageMaker cannot update it and the provider would replace the "
        "group (and its versions) instead, so the program ignores later edits",
    )


class ArtifactStoreSettings(_Strict):
    noncurrent_version_days: Annotated[
        int, Field(ge=1, description="noncurrent object versions expire after this many days")
    ] = 90
    abort_incomplete_multipart_days: Annotated[
        int, Field(ge=1, description="unfinished uploads are removed after this many days")
    ] = 1
    reader_accounts: list[str] = Field(
        default=[],
        description="accounts whose execution roles (path `/mlserve/`) may read and list "
        "artifacts under `models/`, decrypt them, and describe the groups' versions and create "
        "models from them (`docs/security.md`)",
    )


class SharedSettings(_Strict):
    environment: Annotated[Literal["shared"], _ENVIRONMENT]
    region: Annotated[str, _REGION]
    owner: Annotated[str, _OWNER]
    cost_center: Annotated[str, _COST_CENTER]
    artifact_store: ArtifactStoreSettings = ArtifactStoreSettings()
    models: dict[str, ModelGroup] = Field(
        default={},
        description="one Model Package Group per model, named `<name>`. Groups are protected; "
        "`docs/shared-stack.md` says how to retire one",
    )


Settings = EnvironmentSettings | SharedSettings
