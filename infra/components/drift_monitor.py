"""``DriftMonitor``: SageMaker Model Monitor's data-quality analysis of one endpoint.

On the model's schedule, a monitoring job compares the requests the endpoint captured with the
baseline published with the pinned version (``statistics.json`` and
``constraints.json`` under ``models/<model>/sha256-<hex>/baseline/`` in the artifact store),
writes its reports to the environment's capture bucket under ``drift-reports/<model>/`` and
emits one drift metric per feature. Children: the monitoring role and its policy, the
data-quality job definition, the monitoring schedule, and an alarm per feature the settings
name (``drift.alarms``), notifying the environment's topic.

The program does not know a model's features (they are in its baseline), so it alarms only on
the features the stack file lists. It does not alarm on failed analyses: SageMaker reports a
monitoring execution's failure as its status and as a processing job event, not as a metric, and
a missing-metric alarm would also fire every hour an endpoint takes no traffic.

SageMaker Model Monitor is closed to new customers (SageMaker developer guide, "Amazon SageMaker
Model Monitor availability change"): an account that has not used it before may be refused
these resources.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from pulumi_aws import sagemaker as sm

from infra import iam, instances, monitor_images
from infra.components.sagemaker_role import sagemaker_role
from infra.resource_types import DRIFT_MONITOR
from infra.settings.artifacts import baseline_prefix
from infra.settings.schema import DriftSchedule, ModelSettings

# Where the analyzer's per-feature metrics for endpoints go, and the dimensions they carry. AWS's
# pages disagree: "Amazon SageMaker AI metrics in Amazon CloudWatch" (data quality metrics) and
# "CloudWatch Metrics for Bring Your Own Containers" give aws/sagemaker/Endpoints/data-metrics
# with Endpoint and MonitoringSchedule; the built-in container's own page, "CloudWatch Metrics"
# (awsdocs/amazon-sagemaker-developer-guide doc_source/model-monitor-interpreting-cloudwatch.md),
# gives /aws/sagemaker/Endpoints/data-metric with EndpointName and ScheduleName. The sagemaker
# SDK does not settle it: it only sets publish_cloudwatch_metrics (sagemaker/core/model_monitor/
# model_monitoring.py) and never reads the metrics back. So each alarm watches both, the larger
# value of the two (metric math MAX ignores a series without data): an alarm on the wrong one
# alone would watch nothing, silently. An alarm without its dimensions matches no data either.
METRIC_NAMESPACE = iam.DRIFT_METRIC_NAMESPACES[0]
METRIC_SOURCES = (
    # (namespace, endpoint dimension, schedule dimension)
    (iam.DRIFT_METRIC_NAMESPACES[0], "Endpoint", "MonitoringSchedule"),
    (iam.DRIFT_METRIC_NAMESPACES[1], "EndpointName", "ScheduleName"),
)
DRIFT_METRIC_PREFIX = "feature_baseline_drift_"

# botocore sagemaker ScheduleConfig.ScheduleExpression: "Hourly: cron(0 * ? * * *)"; a daily
# schedule is cron(0 [00-23] ? * * *), here at midnight UTC.
SCHEDULE_EXPRESSIONS = {
    DriftSchedule.HOURLY: "cron(0 * ? * * *)",
    DriftSchedule.DAILY: "cron(0 0 ? * * *)",
}
# One analysis, so one value of each drift metric, per period.
SCHEDULE_SECONDS = {DriftSchedule.HOURLY: 3600, DriftSchedule.DAILY: 86400}


def capture_prefix(model_name: str) -> str:
    """The capture bucket prefix the endpoint's data capture writes to."""
    return f"data-capture/{model_name}/"


def reports_prefix(model_name: str) -> str:
    """The capture bucket prefix of the model's monitoring reports."""
    return f"drift-reports/{model_name}/"


def schedule_name(endpoint_name: str) -> str:
    """The schedule is named after the endpoint it watches: at most 57 + 6 characters, within
    the 63 botocore sagemaker allows a MonitoringScheduleName."""
    return f"{endpoint_name}-drift"


def drift_metric(feature: str) -> str:
    return f"{DRIFT_METRIC_PREFIX}{feature}"


@dataclass(frozen=True)
class DriftArgs:
    """What either drift engine needs of its model, its endpoint and the stores: all that
    Model Monitor needs, and what the mlserve engine's ``DriftEngineArgs`` adds to."""

    model_name: str
    region: str
    partition: str
    account: pulumi.Input[str]
    settings: ModelSettings
    tags: dict[str, str]
    # The endpoint's name as the endpoint resource outputs it: the analysis waits for the
    # endpoint.
    endpoint_name: pulumi.Output[str]
    capture_bucket_name: pulumi.Input[str]
    capture_bucket_arn: pulumi.Input[str]
    environment_key_arn: pulumi.Input[str]
    artifact_bucket_name: pulumi.Input[str]
    artifact_bucket_arn: pulumi.Input[str]
    artifact_key_arn: pulumi.Input[str]
    alert_topic_arn: pulumi.Input[str]


class DriftMonitor(pulumi.ComponentResource):
    schedule_name: pulumi.Output[str]
    job_definition_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    alarm_names: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: DriftArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(DRIFT_MONITOR, name, None, opts)
        drift = args.settings.drift
        image = monitor_images.analyzer_image(args.region)
        # Settings refuse drift monitoring in a region without the analyzer (settings.rules).
        assert image is not None, f"no Model Monitor analyzer image in {args.region}"
        child = pulumi.ResourceOptions(parent=self)
        model, digest = args.model_name, args.settings.version.digest
        # An instance type with local storage analyses on its instance store, which a hardware
        # module on the instance encrypts, and SageMaker refuses a volume key for it (botocore
        # sagemaker ProcessingClusterConfig.VolumeKmsKeyId; SageMaker developer guide, "Notebook
        # instances, SageMaker jobs, and Endpoints": "You can't use a KMS key on an instance
        # type with local storage"). Other types get EBS volumes under the environment key.
        volume_key = not instances.has_local_storage(drift.instance_type)

        policy = pulumi.Output.all(
            args.account,
            args.capture_bucket_arn,
            args.environment_key_arn,
            args.artifact_bucket_arn,
            args.artifact_key_arn,
        ).apply(
            lambda v: json.dumps(
                iam.monitoring_role_policy(
                    partition=args.partition,
                    region=args.region,
                    account=v[0],
                    capture_bucket_arn=v[1],
                    capture_prefix=capture_prefix(model),
                    reports_prefix=reports_prefix(model),
                    environment_key_arn=v[2],
                    artifact_bucket_arn=v[3],
                    baseline_prefix=baseline_prefix(model, digest),
                    artifact_key_arn=v[4],
                    analyzer_repository_arn=monitor_images.analyzer_repository_arn(
                        args.partition, args.region
                    ),
                    volume_key=volume_key,
                )
            )
        )
        role, role_policy = sagemaker_role(
            name,
            description=f"Runs the data-quality monitoring of {model}",
            policy=policy,
            tags=args.tags,
            parent=self,
        )

        baseline = pulumi.Output.concat(
            "s3://", args.artifact_bucket_name, "/", baseline_prefix(model, digest)
        )
        job = aws.sagemaker.DataQualityJobDefinition(
            # Auto-named: the logical name, a dash and 7 characters must fit the 63 that botocore
            # sagemaker MonitoringJobDefinitionName allows, with a model name of up to 40
            # (settings' MODEL_NAME_MAX): "<model>-drift-dq" leaves 6 to spare
            # (tests/infra/test_name_lengths.py).
            f"{name}-dq",
            role_arn=role.arn,
            data_quality_app_specification=sm.DataQualityJobDefinitionDataQualityAppSpecificationArgs(
                image_uri=image,
                # As the sagemaker SDK's DefaultModelMonitor.create_monitoring_schedule sets it
                # for enable_cloudwatch_metrics (sagemaker/core/model_monitor/
                # model_monitoring.py): without it the analyzer emits no drift metrics.
                environment={"publish_cloudwatch_metrics": "Enabled"},
            ),
            data_quality_baseline_config=sm.DataQualityJobDefinitionDataQualityBaselineConfigArgs(
                constraints_resource=sm.DataQualityJobDefinitionDataQualityBaselineConfigConstraintsResourceArgs(
                    s3_uri=pulumi.Output.concat(baseline, "constraints.json")
                ),
                statistics_resource=sm.DataQualityJobDefinitionDataQualityBaselineConfigStatisticsResourceArgs(
                    s3_uri=pulumi.Output.concat(baseline, "statistics.json")
                ),
            ),
            data_quality_job_input=sm.DataQualityJobDefinitionDataQualityJobInputArgs(
                endpoint_input=sm.DataQualityJobDefinitionDataQualityJobInputEndpointInputArgs(
                    endpoint_name=args.endpoint_name
                )
            ),
            data_quality_job_output_config=sm.DataQualityJobDefinitionDataQualityJobOutputConfigArgs(
                monitoring_outputs=sm.DataQualityJobDefinitionDataQualityJobOutputConfigMonitoringOutputsArgs(
                    s3_output=sm.DataQualityJobDefinitionDataQualityJobOutputConfigMonitoringOutputsS3OutputArgs(
                        s3_uri=pulumi.Output.concat(
                            "s3://", args.capture_bucket_name, "/", reports_prefix(model)
                        ),
                        s3_upload_mode="EndOfJob",
                    )
                ),
                # SSE-KMS with the environment key: the capture bucket refuses other uploads.
                kms_key_id=args.environment_key_arn,
            ),
            job_resources=sm.DataQualityJobDefinitionJobResourcesArgs(
                cluster_config=sm.DataQualityJobDefinitionJobResourcesClusterConfigArgs(
                    instance_count=drift.instance_count,
                    instance_type=drift.instance_type,
                    volume_size_in_gb=drift.volume_size_gb,
                    # The environment key, not an AWS managed one (checkov CKV_AWS_368); the role
                    # may create the grant this needs (iam.monitoring_role_policy). None on an
                    # instance store (above).
                    volume_kms_key_id=args.environment_key_arn if volume_key else None,
                )
            ),
            # Traffic between the analysis's instances is encrypted too (checkov CKV_AWS_369).
            network_config=sm.DataQualityJobDefinitionNetworkConfigArgs(
                enable_inter_container_traffic_encryption=True
            ),
            stopping_condition=sm.DataQualityJobDefinitionStoppingConditionArgs(
                max_runtime_in_seconds=drift.max_runtime_seconds
            ),
            tags=args.tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                # The first analysis runs as the role: its policy must be in place.
                depends_on=[role_policy],
                # role_arn is neither ForceNew nor updated by the provider ("Tags only" in
                # resourceDataQualityJobDefinitionUpdate, terraform-provider-aws
                # internal/service/sagemaker/data_quality_job_definition.go): a new role would
                # be ignored, so a change replaces the (auto-named) definition.
                replace_on_changes=["roleArn"],
            ),
        )
        schedule = aws.sagemaker.MonitoringSchedule(
            f"{name}-schedule",
            name=args.endpoint_name.apply(schedule_name),
            monitoring_schedule_config=sm.MonitoringScheduleMonitoringScheduleConfigArgs(
                monitoring_type="DataQuality",
                monitoring_job_definition_name=job.name,
                schedule_config=sm.MonitoringScheduleMonitoringScheduleConfigScheduleConfigArgs(
                    schedule_expression=SCHEDULE_EXPRESSIONS[drift.schedule]
                ),
            ),
            tags=args.tags,
            opts=child,
        )

        period = SCHEDULE_SECONDS[drift.schedule]
        alarms = [
            aws.cloudwatch.MetricAlarm(
                f"{name}-{feature}",
                name=pulumi.Output.concat(args.endpoint_name, f"-drift-{feature}"),
                alarm_description=(
                    f"Drift of feature {feature} from the baseline of the pinned version above "
                    f"{threshold:g} ({drift.schedule.value} data-quality analysis)"
                ),
                metric_queries=_metric_queries(feature, args.endpoint_name, schedule.name, period),
                evaluation_periods=1,
                threshold=threshold,
                comparison_operator="GreaterThanThreshold",
                # No analysis, no value: no traffic is not drift.
                treat_missing_data="notBreaching",
                alarm_actions=[args.alert_topic_arn],
                ok_actions=[args.alert_topic_arn],
                tags=args.tags,
                opts=child,
            )
            for feature, threshold in sorted(drift.alarms.items())
        ]

        self.schedule_name = schedule.name
        self.job_definition_name = job.name
        self.role_arn = role.arn
        self.alarm_names = pulumi.Output.all(*(a.name for a in alarms))
        self.register_outputs(
            {
                "schedule_name": self.schedule_name,
                "job_definition_name": self.job_definition_name,
                "role_arn": self.role_arn,
                "alarm_names": self.alarm_names,
            }
        )


def _dimensions(endpoint_key: str, schedule_key: str, values: list[str]) -> dict[str, str]:
    return {endpoint_key: values[0], schedule_key: values[1]}


def _metric_queries(
    feature: str, endpoint: pulumi.Output[str], schedule: pulumi.Output[str], period: int
) -> list[aws.cloudwatch.MetricAlarmMetricQueryArgs]:
    """The feature's drift metric in each place AWS documents it (``METRIC_SOURCES``), and the
    larger of the two, which the alarm judges."""
    queries = [
        aws.cloudwatch.MetricAlarmMetricQueryArgs(
            id=f"m{i}",
            metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                namespace=namespace,
                metric_name=drift_metric(feature),
                dimensions=pulumi.Output.all(endpoint, schedule).apply(
                    functools.partial(_dimensions, endpoint_key, schedule_key)
                ),
                period=period,
                stat="Maximum",
            ),
            return_data=False,
        )
        for i, (namespace, endpoint_key, schedule_key) in enumerate(METRIC_SOURCES)
    ]
    ids = ",".join(f"m{i}" for i in range(len(METRIC_SOURCES)))
    queries.append(
        aws.cloudwatch.MetricAlarmMetricQueryArgs(
            id="drift",
            expression=f"MAX([{ids}])",
            label=f"{drift_metric(feature)}, either namespace",
            return_data=True,
        )
    )
    return queries
