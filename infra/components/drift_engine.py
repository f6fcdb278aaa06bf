"""``DriftEngine``: the project's own data-quality analysis of one endpoint, on a schedule.

The ``mlserve`` drift engine. An EventBridge Scheduler schedule invokes a Lambda function once
per ``drift.schedule`` interval; the function (``model_packaging.drift.handler``) reads the
requests the endpoint captured in the interval, runs the checks ``drift-check`` runs against the
pinned version's baseline in the artifact store, puts one metric per feature and variant
(``model_packaging.drift.metrics``) and writes its reports under ``drift-reports/<model>/`` in
the capture bucket. No SageMaker monitoring service is involved.

Children: the function with its role, policy and log group (retention and the environment
key); the schedule with its own role and a dead-letter queue encrypted with the environment key;
an alarm per feature of ``drift.alarms`` on the engine's metric (the largest value over the
variants); an alarm on the function's errors and one on the dead-letter queue, so that an
analysis that fails, or is never started, notifies the alert topic like drift does.

The function's role is under ``iam.ROLE_PATH``: the artifact store's bucket policy and key
policy already let the environment accounts' roles under that path read and decrypt
``models/`` (``iam.artifact_read_statement``, ``iam.artifact_list_statement``,
``iam.key_policy``), which holds the baselines, so the shared stack needs no new grant.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import iam
from infra.components.drift_monitor import DriftArgs, capture_prefix, reports_prefix
from infra.lambda_package import HANDLER, RUNTIME
from infra.resource_types import DRIFT_ENGINE
from infra.settings.artifacts import baseline_prefix
from infra.settings.schema import DriftSchedule
from model_packaging.drift import metrics

LAMBDA = "lambda.amazonaws.com"
SCHEDULER = "scheduler.amazonaws.com"

# EventBridge Scheduler's cron has six fields, minutes hours day-of-month month day-of-week
# year, with "?" in one of the day fields (EventBridge Scheduler user guide, "Schedule types
# on EventBridge Scheduler", cron-based schedules); in UTC unless a time zone is given.
SCHEDULE_EXPRESSIONS = {
    DriftSchedule.HOURLY: "cron(0 * * * ? *)",
    DriftSchedule.DAILY: "cron(0 0 * * ? *)",
}
# The interval each run analyses, ending at its scheduled time, and each alarm's period: one
# value of each drift metric per interval.
SCHEDULE_SECONDS = {DriftSchedule.HOURLY: 3600, DriftSchedule.DAILY: 86400}
# Invocations that fail to start are retried twice, never past the next run's start; what is
# still undelivered then goes to the dead-letter queue (botocore scheduler RetryPolicy:
# MaximumEventAgeInSeconds 60..86400, MaximumRetryAttempts 0..185).
RETRY_ATTEMPTS = 2
# SQS keeps a message at most 14 days (botocore sqs SetQueueAttributes MessageRetentionPeriod:
# 60 to 1,209,600 seconds): the longest time to look at a run that never started.
DEAD_LETTER_RETENTION_SECONDS = 1_209_600
# Amazon SQS sends its queue metrics to CloudWatch every 5 minutes (Amazon SQS developer guide,
# "Available CloudWatch metrics for Amazon SQS").
SQS_METRIC_PERIOD = 300


def capture_uri(bucket: str, model_name: str) -> str:
    return f"s3://{bucket}/{capture_prefix(model_name)}"


def feature_alarm_name(endpoint: str, feature: str) -> str:
    """``<endpoint>-data-drift-<feature>``: at most 63 + 12 + 180 characters, within the 255 of
    botocore cloudwatch ``AlarmName``. Not the Model Monitor engine's ``<endpoint>-drift-...``:
    switching engines creates one alarm and deletes the other, and PutMetricAlarm overwrites an
    alarm of the same name, so the delete would remove the new one."""
    return f"{endpoint}-data-drift-{feature}"


@dataclass(frozen=True)
class DriftEngineArgs(DriftArgs):
    # Every variant whose captures are analysed (production and shadow).
    variants: list[str]
    # The function's code and its dependency layer (infra.lambda_package, infra.program).
    code: pulumi.Archive
    layer_arn: pulumi.Input[str]

    @classmethod
    def of(
        cls,
        shared: DriftArgs,
        *,
        variants: list[str],
        code: pulumi.Archive,
        layer_arn: pulumi.Input[str],
    ) -> DriftEngineArgs:
        """``shared`` with what the mlserve engine needs besides."""
        known = {f.name: getattr(shared, f.name) for f in dataclasses.fields(DriftArgs)}
        return cls(**known, variants=variants, code=code, layer_arn=layer_arn)


class DriftEngine(pulumi.ComponentResource):
    schedule_name: pulumi.Output[str]
    function_name: pulumi.Output[str]
    dead_letter_queue_url: pulumi.Output[str]
    alarm_names: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: DriftEngineArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(DRIFT_ENGINE, name, None, opts)
        drift = args.settings.drift
        child = pulumi.ResourceOptions(parent=self)
        model, digest = args.model_name, args.settings.version.digest

        role = aws.iam.Role(
            f"{name}-role",
            path=iam.ROLE_PATH,
            description=f"Runs the drift analysis of {model}",
            assume_role_policy=json.dumps(iam.service_trust(LAMBDA)),
            tags=args.tags,
            opts=child,
        )
        function = aws.lambda_.Function(
            # Auto-named: the logical name, a dash and 7 characters, at most 40 + 9 + 8 within
            # the 64 botocore lambda CreateFunctionRequest.FunctionName allows by name
            # (tests/infra/test_name_lengths.py).
            f"{name}-fn",
            description=f"Drift analysis of {model}'s captured requests",
            runtime=RUNTIME,
            handler=HANDLER,
            role=role.arn,
            code=args.code,
            layers=[args.layer_arn],
            memory_size=drift.memory_mb,
            timeout=drift.timeout_seconds,
            # The variables are encrypted at rest with the environment key, not Lambda's AWS
            # managed key (checkov CKV_AWS_173); the role may decrypt with it.
            kms_key_arn=args.environment_key_arn,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables=self._variables(args, model, digest)
            ),
            tags=args.tags,
            opts=child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            # Lambda writes a function's logs to /aws/lambda/<function name> (Lambda developer
            # guide, "Sending Lambda function logs to CloudWatch Logs"); creating it, before any
            # run, gives it a retention and a key, and its role may write streams in it only.
            name=pulumi.Output.concat("/aws/lambda/", function.name),
            retention_in_days=args.settings.log_retention_days,
            kms_key_id=args.environment_key_arn,
            tags=args.tags,
            # Logs outlive the function for their retention period, like the endpoint's.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        policy = pulumi.Output.all(
            args.capture_bucket_arn,
            args.environment_key_arn,
            args.artifact_bucket_arn,
            args.artifact_key_arn,
            log_group.arn,
        ).apply(
            lambda v: json.dumps(
                iam.drift_function_policy(
                    capture_bucket_arn=v[0],
                    capture_prefix=capture_prefix(model),
                    reports_prefix=reports_prefix(model),
                    environment_key_arn=v[1],
                    artifact_bucket_arn=v[2],
                    baseline_prefix=baseline_prefix(model, digest),
                    artifact_key_arn=v[3],
                    log_group_arn=v[4],
                    metric_namespace=metrics.NAMESPACE,
                )
            )
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-role-policy", role=role.id, policy=policy, opts=child
        )

        queue = aws.sqs.Queue(
            # Auto-named: at most 40 + 10 + 8 characters of the 80 a queue name takes (botocore
            # sqs CreateQueueRequest.QueueName). A standard queue: EventBridge Scheduler does not
            # support a FIFO queue as a dead-letter queue (EventBridge Scheduler user guide,
            # "Configuring a schedule's dead-letter queue").
            f"{name}-dlq",
            kms_master_key_id=args.environment_key_arn,
            message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
            tags=args.tags,
            opts=child,
        )
        scheduler_role = aws.iam.Role(
            # Auto-named: at most 40 + 14 + 8 characters of the 64 an IAM role name takes.
            f"{name}-invoker",
            description=f"Starts the drift analysis of {model}",
            assume_role_policy=pulumi.Output.from_input(args.account).apply(
                lambda account: json.dumps(iam.service_trust_from_account(SCHEDULER, account))
            ),
            tags=args.tags,
            opts=child,
        )
        scheduler_policy = aws.iam.RolePolicy(
            f"{name}-invoker-policy",
            role=scheduler_role.id,
            policy=pulumi.Output.all(function.arn, queue.arn, args.environment_key_arn).apply(
                lambda v: json.dumps(
                    iam.drift_scheduler_policy(
                        function_arn=v[0], dead_letter_queue_arn=v[1], environment_key_arn=v[2]
                    )
                )
            ),
            opts=child,
        )
        interval = SCHEDULE_SECONDS[drift.schedule]
        schedule = aws.scheduler.Schedule(
            # Auto-named: at most 40 + 15 + 8 characters of the 64 botocore scheduler
            # CreateScheduleInput.Name takes. Its expression is updated in place (only the name,
            # its prefix and the group force a new schedule: terraform-provider-aws
            # internal/service/scheduler/schedule.go).
            f"{name}-schedule",
            description=f"Drift analysis of {model}, {drift.schedule.value}",
            schedule_expression=SCHEDULE_EXPRESSIONS[drift.schedule],
            schedule_expression_timezone="UTC",
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=function.arn,
                role_arn=scheduler_role.arn,
                # Its scheduled time, one spelling with the handler's.
                input=metrics.SCHEDULE_INPUT,
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                    maximum_retry_attempts=RETRY_ATTEMPTS,
                    maximum_event_age_in_seconds=min(interval, 86400),
                ),
                dead_letter_config=aws.scheduler.ScheduleTargetDeadLetterConfigArgs(arn=queue.arn),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                # The first run needs both roles' policies and the log group in place.
                depends_on=[role_policy, scheduler_policy, log_group],
            ),
        )

        alarms = [
            self._feature_alarm(name, args, feature, threshold, interval)
            for feature, threshold in sorted(drift.alarms.items())
        ]
        # Lambda's function metrics carry FunctionName (Lambda developer guide, "Types of
        # metrics for Lambda functions").
        alarms.append(
            self._any_at_all(
                f"{name}-errors",
                pulumi.Output.concat(args.endpoint_name, "-drift-analysis-errors"),
                f"A drift analysis of {model} failed: the function's log group says why",
                args,
                namespace="AWS/Lambda",
                metric_name="Errors",
                dimensions={"FunctionName": function.name},
                statistic="Sum",
                period=interval,
            )
        )
        alarms.append(
            self._any_at_all(
                f"{name}-dead-letters",
                pulumi.Output.concat(args.endpoint_name, "-drift-dead-letters"),
                f"A drift analysis of {model} could not be started: its schedule's "
                "dead-letter queue holds the attempt",
                args,
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": queue.name},
                statistic="Maximum",
                period=SQS_METRIC_PERIOD,
            )
        )

        self.schedule_name = schedule.name
        self.function_name = function.name
        self.dead_letter_queue_url = queue.url
        self.alarm_names = pulumi.Output.all(*(a.name for a in alarms))
        self.register_outputs(
            {
                "schedule_name": self.schedule_name,
                "function_name": self.function_name,
                "dead_letter_queue_url": self.dead_letter_queue_url,
                "alarm_names": self.alarm_names,
            }
        )

    @staticmethod
    def _variables(args: DriftEngineArgs, model: str, digest: str) -> Any:
        interval = SCHEDULE_SECONDS[args.settings.drift.schedule]
        return pulumi.Output.all(
            args.capture_bucket_name, args.artifact_bucket_name, args.endpoint_name
        ).apply(
            lambda v: {
                metrics.ENV_CAPTURE_URI: capture_uri(v[0], model),
                metrics.ENV_ENDPOINT: v[2],
                metrics.ENV_VARIANTS: ",".join(args.variants),
                metrics.ENV_BASELINE_URI: f"s3://{v[1]}/{baseline_prefix(model, digest)}",
                metrics.ENV_REPORT_URI: f"s3://{v[0]}/{reports_prefix(model)}",
                metrics.ENV_NAMESPACE: metrics.NAMESPACE,
                metrics.ENV_WINDOW_SECONDS: str(interval),
            }
        )

    def _any_at_all(
        self,
        logical: str,
        name: pulumi.Output[str],
        description: str,
        args: DriftEngineArgs,
        **metric: Any,
    ) -> aws.cloudwatch.MetricAlarm:
        """An alarm that notifies as soon as the metric (``namespace``, ``metric_name``,
        ``dimensions``, ``statistic``, ``period``) is above zero, and when it is back to zero."""
        return aws.cloudwatch.MetricAlarm(
            logical,
            name=name,
            alarm_description=description,
            **metric,
            evaluation_periods=1,
            threshold=0,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[args.alert_topic_arn],
            ok_actions=[args.alert_topic_arn],
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _feature_alarm(
        self, name: str, args: DriftEngineArgs, feature: str, threshold: float, interval: int
    ) -> aws.cloudwatch.MetricAlarm:
        """One alarm per feature over every variant: the largest drift among them (metric math
        MAX), so the set of alarms does not change with the variants."""
        queries = [
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id=f"v{i}",
                metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                    namespace=metrics.NAMESPACE,
                    metric_name=metrics.metric_name(feature),
                    dimensions=args.endpoint_name.apply(functools.partial(_dimensions, variant)),
                    period=interval,
                    stat="Maximum",
                ),
                return_data=False,
            )
            for i, variant in enumerate(args.variants)
        ]
        ids = ",".join(f"v{i}" for i in range(len(args.variants)))
        queries.append(
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id="drift",
                expression=f"MAX([{ids}])",
                label=f"{metrics.metric_name(feature)}, largest over {', '.join(args.variants)}",
                return_data=True,
            )
        )
        drift = args.settings.drift
        return aws.cloudwatch.MetricAlarm(
            f"{name}-{feature}",
            name=args.endpoint_name.apply(lambda endpoint: feature_alarm_name(endpoint, feature)),
            alarm_description=(
                f"Drift of feature {feature} from the baseline of the pinned version above "
                f"{threshold:g} ({drift.schedule.value} mlserve analysis)"
            ),
            metric_queries=queries,
            evaluation_periods=1,
            threshold=threshold,
            comparison_operator="GreaterThanThreshold",
            # No captures in an interval, no value: no traffic is not drift.
            treat_missing_data="notBreaching",
            alarm_actions=[args.alert_topic_arn],
            ok_actions=[args.alert_topic_arn],
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )


def _dimensions(variant: str, endpoint: str) -> dict[str, str]:
    """The dimensions the handler puts each metric with (model_packaging.drift.metrics)."""
    return {metrics.DIMENSION_ENDPOINT: endpoint, metrics.DIMENSION_VARIANT: variant}
