"""``ModelEndpoint``: one model served by one SageMaker endpoint, with all it needs to run.

Children: the random suffix of the endpoint's name, execution role and its policy, one Model
per variant, an auto-named endpoint configuration, the endpoint with its deployment guardrails,
autoscaling, the log group and alarms. Every taggable child carries the environment, model,
owner and cost-center tags; the Models, which hold the versions, also carry ``model-version``.
The component also hands out the widgets of its section on the environment's dashboard
(``dashboard_widgets``).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random
from pulumi_aws import sagemaker as sm

from infra import iam, instances, metrics, naming
from infra.components import dashboard
from infra.components.drift_monitor import capture_prefix
from infra.components.sagemaker_role import sagemaker_role
from infra.resource_types import MODEL_ENDPOINT
from infra.settings import ModelSettings, ModelVersion, Strategy
from infra.settings.artifacts import model_prefix

SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"


@dataclass(frozen=True)
class ModelEndpointArgs:
    model_name: str
    environment: str
    region: str
    partition: str
    account: pulumi.Input[str]
    settings: ModelSettings
    base_tags: dict[str, str]
    artifact_bucket_arn: pulumi.Input[str]
    artifact_key_arn: pulumi.Input[str]
    environment_key_arn: pulumi.Input[str]
    alert_topic_arn: pulumi.Input[str]
    # Data capture goes to s3://<capture_bucket>/data-capture/<model>/. Required when the
    # model's data capture is enabled.
    capture_bucket_name: pulumi.Input[str] | None = None
    capture_bucket_arn: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class _Variant:
    name: str
    version: ModelVersion
    weight: float
    shadow: bool = False


class ModelEndpoint(pulumi.ComponentResource):
    endpoint_name: pulumi.Output[str]
    endpoint_arn: pulumi.Output[str]
    endpoint_config_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    alarm_names: pulumi.Output[list[str]]
    rollback_alarm_names: pulumi.Output[list[str]]
    # This model's section of the environment dashboard (infra/components/dashboard.py).
    dashboard_widgets: pulumi.Output[list[dict[str, Any]]]

    def __init__(
        self, name: str, args: ModelEndpointArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(MODEL_ENDPOINT, name, None, opts)
        model = args.settings
        self._args = args
        self._name = name
        self._capacity = _Capacity.of(model)
        self._tags = naming.model_tags(args.base_tags, args.model_name)
        variants = _variants(model)

        # The name's suffix is drawn again whenever the endpoint must be replaced rather than
        # updated (naming.endpoint_identity), so a replacement never reuses a name: neither
        # the endpoint's nor its log group's, which outlives it.
        suffix = random.RandomId(
            f"{name}-endpoint-id",
            byte_length=4,
            keepers=naming.endpoint_identity(model),
            opts=pulumi.ResourceOptions(parent=self),
        )
        endpoint = pulumi.Output.concat(
            naming.endpoint_name_prefix(args.model_name, args.environment), suffix.hex
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            # SageMaker writes the endpoint's container logs to this group (SageMaker developer
            # guide, "Log groups and streams that Amazon SageMaker AI sends"); creating it first
            # gives it a retention and a key.
            name=pulumi.Output.concat(naming.LOG_GROUP_PREFIX, endpoint),
            retention_in_days=model.log_retention_days,
            kms_key_id=args.environment_key_arn,
            tags=self._tags,
            # Logs outlive the endpoint for their retention period. The group's name never
            # comes back: a new endpoint has a new name, also after a destroy.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        alarms = self._alarms(endpoint, variants)
        rollback_alarms = [a for a in alarms if a.rolls_back] if self._rolls_back() else []
        role, role_policy = self._execution_role(
            log_group.arn, [a.resource.arn for a in rollback_alarms]
        )
        models = {
            v.name: self._model(v, role, role_policy)
            for v in variants  # one Model per variant: a Model holds exactly one version
        }
        config = self._endpoint_config(variants, models)
        # No custom timeouts: the provider's Endpoint declares none, so Pulumi would ignore them
        # (pulumi-terraform-bridge #2390); its waiter gives up after 60 minutes
        # (terraform-provider-aws #39040), and settings refuse rollouts that may take longer.
        sm_endpoint = aws.sagemaker.Endpoint(
            f"{name}-endpoint",
            name=endpoint,
            endpoint_config_name=config.name,
            deployment_config=self._deployment_config([a.resource for a in rollback_alarms]),
            tags=self._tags,
            # The role must be able to read the rollback alarms before the first update.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, role_policy]),
        )
        if model.autoscaled:
            self._autoscaling(endpoint, sm_endpoint)
        self.dashboard_widgets = pulumi.Output.all(
            endpoint, *(a.resource.arn for a in alarms)
        ).apply(
            lambda values: dashboard.model_section(
                model_name=args.model_name,
                region=args.region,
                endpoint=values[0],
                variants=[v.name for v in variants],
                serverless=self._capacity.serverless,
                alarm_arns=list(values[1:]),
            )
        )

        self.endpoint_name = sm_endpoint.name
        self.endpoint_arn = sm_endpoint.arn
        self.endpoint_config_name = config.name
        self.role_arn = role.arn
        self.alarm_names = pulumi.Output.all(*(a.resource.name for a in alarms))
        self.rollback_alarm_names = pulumi.Output.all(*(a.resource.name for a in rollback_alarms))
        self.register_outputs(
            {
                "endpoint_name": self.endpoint_name,
                "endpoint_arn": self.endpoint_arn,
                "endpoint_config_name": self.endpoint_config_name,
                "role_arn": self.role_arn,
                "alarm_names": self.alarm_names,
                "rollback_alarm_names": self.rollback_alarm_names,
                "dashboard_widgets": self.dashboard_widgets,
            }
        )

    def _rolls_back(self) -> bool:
        return self._args.settings.deployment.auto_rollback and not self._capacity.serverless

    # --- identity ---------------------------------------------------------------------------

    def _execution_role(
        self, log_group_arn: pulumi.Output[str], rollback_alarm_arns: list[pulumi.Output[str]]
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        args, model = self._args, self._args.settings
        capture = model.data_capture.enabled
        policy = pulumi.Output.all(
            args.account,
            args.artifact_bucket_arn,
            args.artifact_key_arn,
            log_group_arn,
            args.environment_key_arn,
            args.capture_bucket_arn if capture else None,
            pulumi.Output.all(*rollback_alarm_arns),
        ).apply(
            lambda v: json.dumps(
                iam.execution_role_policy(
                    partition=args.partition,
                    region=args.region,
                    account=v[0],
                    artifact_bucket_arn=v[1],
                    artifact_prefixes=[model_prefix(args.model_name)],
                    artifact_key_arn=v[2],
                    log_group_arn=v[3],
                    environment_key_arn=v[4],
                    capture_bucket_arn=v[5],
                    capture_prefix=capture_prefix(args.model_name) if capture else None,
                    subnet_ids=model.network.subnet_ids,
                    security_group_ids=model.network.security_group_ids,
                    rollback_alarm_arns=list(v[6]),
                )
            )
        )
        return sagemaker_role(
            self._name,
            description=f"Runs the {args.model_name} endpoint in {args.environment}",
            policy=policy,
            tags=self._tags,
            parent=self,
        )

    # --- models and configuration -----------------------------------------------------------

    def _model(
        self, variant: _Variant, role: aws.iam.Role, role_policy: aws.iam.RolePolicy
    ) -> aws.sagemaker.Model:
        model, version = self._args.settings, variant.version
        if version.package is not None:
            container = aws.sagemaker.ModelPrimaryContainerArgs(model_package_name=version.package)
        else:
            container = aws.sagemaker.ModelPrimaryContainerArgs(
                image=version.image, model_data_url=version.artifact_uri
            )
        network = model.network
        return aws.sagemaker.Model(
            f"{self._name}-{variant.name}",
            execution_role_arn=role.arn,
            primary_container=container,
            enable_network_isolation=network.isolation,
            vpc_config=(
                aws.sagemaker.ModelVpcConfigArgs(
                    subnets=network.subnet_ids, security_group_ids=network.security_group_ids
                )
                if network.subnet_ids
                else None
            ),
            tags=naming.version_tags(self._args.base_tags, self._args.model_name, version),
            opts=pulumi.ResourceOptions(
                parent=self,
                # IAM is eventually consistent: a role is usable only once its policy is
                # attached, and CreateModel checks that it can read the artifact (IAM user
                # guide, "Changes that I make are not always immediately visible").
                depends_on=[role_policy],
                # Kept when superseded: an automatic rollback that the provider reports as a
                # success (terraform-provider-aws #48997, #46663) leaves the endpoint on the
                # previous configuration and its models. docs/runbook.md: cleaning them up.
                retain_on_delete=True,
            ),
        )

    def _endpoint_config(
        self, variants: list[_Variant], models: dict[str, aws.sagemaker.Model]
    ) -> aws.sagemaker.EndpointConfiguration:
        args, model = self._args, self._args.settings
        production = [
            aws.sagemaker.EndpointConfigurationProductionVariantArgs(
                **self._variant_args(v, models)
            )
            for v in variants
            if not v.shadow
        ]
        shadow = [
            aws.sagemaker.EndpointConfigurationShadowProductionVariantArgs(
                **self._variant_args(v, models)
            )
            for v in variants
            if v.shadow
        ]
        capture = None
        if model.data_capture.enabled:
            capture = aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs(
                enable_capture=True,
                initial_sampling_percentage=model.data_capture.sampling_percent,
                destination_s3_uri=pulumi.Output.concat(
                    "s3://", args.capture_bucket_name or "", "/", capture_prefix(args.model_name)
                ),
                kms_key_id=args.environment_key_arn,
                capture_options=[
                    aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureOptionArgs(
                        capture_mode=mode
                    )
                    for mode in ("Input", "Output")
                ],
                capture_content_type_header=_capture_header(model),
            )
        # No fixed name: configurations are immutable (every input forces a replacement,
        # terraform-provider-aws internal/service/sagemaker/endpoint_configuration.go), so each
        # change creates a new one and the endpoint moves to it (terraform-provider-aws #21811).
        return aws.sagemaker.EndpointConfiguration(
            f"{self._name}-config",
            production_variants=production,
            shadow_production_variants=shadow or None,
            data_capture_config=capture,
            kms_key_arn=self._capacity.volume_key(args.environment_key_arn),
            tags=self._tags,
            # Kept when superseded, like the models: the post-deploy check compares the
            # endpoint's live configuration with the newest one (docs/runbook.md).
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )

    def _variant_args(
        self, variant: _Variant, models: dict[str, aws.sagemaker.Model]
    ) -> dict[str, Any]:
        return {
            "variant_name": variant.name,
            "model_name": models[variant.name].name,
            "initial_variant_weight": variant.weight,
            **self._capacity.variant_args(),
        }

    def _deployment_config(
        self, rollback_alarms: list[aws.cloudwatch.MetricAlarm]
    ) -> aws.sagemaker.EndpointDeploymentConfigArgs | None:
        if self._capacity.serverless:
            return None  # blue/green guardrails need instances
        deployment = self._args.settings.deployment
        routing = sm.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationArgs
        if deployment.strategy is Strategy.CANARY:
            traffic = routing(
                type="CANARY",
                wait_interval_in_seconds=deployment.wait_seconds,
                canary_size=sm.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationCanarySizeArgs(
                    type="CAPACITY_PERCENT", value=deployment.canary_percent
                ),
            )
        elif deployment.strategy is Strategy.LINEAR:
            traffic = routing(
                type="LINEAR",
                wait_interval_in_seconds=deployment.wait_seconds,
                linear_step_size=sm.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationLinearStepSizeArgs(
                    type="CAPACITY_PERCENT", value=deployment.linear_step_percent
                ),
            )
        else:
            traffic = routing(type="ALL_AT_ONCE", wait_interval_in_seconds=deployment.wait_seconds)
        rollback = None
        if rollback_alarms:
            rollback = sm.EndpointDeploymentConfigAutoRollbackConfigurationArgs(
                alarms=[
                    sm.EndpointDeploymentConfigAutoRollbackConfigurationAlarmArgs(
                        alarm_name=alarm.name
                    )
                    for alarm in rollback_alarms
                ]
            )
        return sm.EndpointDeploymentConfigArgs(
            blue_green_update_policy=sm.EndpointDeploymentConfigBlueGreenUpdatePolicyArgs(
                traffic_routing_configuration=traffic,
                termination_wait_in_seconds=deployment.termination_wait_seconds,
                maximum_execution_timeout_in_seconds=deployment.maximum_execution_timeout_seconds,
            ),
            auto_rollback_configuration=rollback,
        )

    # --- scaling ----------------------------------------------------------------------------

    def _autoscaling(
        self, endpoint: pulumi.Output[str], sm_endpoint: aws.sagemaker.Endpoint
    ) -> None:
        model = self._args.settings
        assert model.scaling is not None
        scaling = model.scaling
        for variant in naming.production_variants(model):
            # The resource id names the endpoint through its output, so registration waits
            # for the endpoint to be in service; a new endpoint (new scaled layout) replaces
            # the target with it.
            resource_id = pulumi.Output.concat("endpoint/", sm_endpoint.name, f"/variant/{variant}")
            # A scheduled action sets the target's minimum and maximum capacity when it runs
            # (Application Auto Scaling user guide, "Scheduled scaling for Application Auto
            # Scaling"). After a `pulumi refresh` reads those values, the next `pulumi up` would
            # put the configured ones back, undoing the schedule until it next runs (the same
            # pattern: terraform-aws-modules/terraform-aws-ecs #422). With schedules, the stack
            # file's capacities are the target's capacities when it is registered, and the
            # schedules own them afterwards (docs/stack-config.md).
            scheduled = ["minCapacity", "maxCapacity"] if scaling.schedules else None
            target = aws.appautoscaling.Target(
                f"{self._name}-{variant}-scaling",
                service_namespace="sagemaker",
                scalable_dimension=SCALABLE_DIMENSION,
                resource_id=resource_id,
                min_capacity=scaling.min_instances,
                max_capacity=scaling.max_instances,
                tags=self._tags,
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=scheduled),
            )
            aws.appautoscaling.Policy(
                f"{self._name}-{variant}-invocations",
                name=pulumi.Output.concat(endpoint, f"-{variant}-invocations-per-instance"),
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                    target_value=scaling.target_invocations_per_instance,
                    predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                        predefined_metric_type="SageMakerVariantInvocationsPerInstance"
                    ),
                    scale_in_cooldown=scaling.scale_in_cooldown_seconds,
                    scale_out_cooldown=scaling.scale_out_cooldown_seconds,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for schedule in scaling.schedules:
                aws.appautoscaling.ScheduledAction(
                    f"{self._name}-{variant}-{schedule.name}",
                    name=pulumi.Output.concat(endpoint, f"-{variant}-{schedule.name}"),
                    service_namespace=target.service_namespace,
                    scalable_dimension=target.scalable_dimension,
                    resource_id=target.resource_id,
                    schedule=schedule.schedule,
                    timezone=schedule.timezone,
                    scalable_target_action=aws.appautoscaling.ScheduledActionScalableTargetActionArgs(
                        min_capacity=schedule.min_instances,
                        max_capacity=schedule.max_instances,
                    ),
                    opts=pulumi.ResourceOptions(parent=self),
                )

    # --- observability ----------------------------------------------------------------------

    def _alarms(self, endpoint: pulumi.Output[str], variants: list[_Variant]) -> list[_Alarm]:
        """The endpoint's alarms, from the metrics table (infra/metrics.py).

        Metrics that roll a deployment back get one alarm each over all production variants,
        combined with metric math: the set of rollback alarms then never changes with the
        variants, and the provider replaces an endpoint whose rollback alarm list changes
        (``deployment_config.auto_rollback_configuration`` is ``ForceNew`` in
        terraform-provider-aws internal/service/sagemaker/endpoint.go). A shadow variant's
        errors and latency, and every variant's utilisation, get an alarm per variant that
        only notifies.
        """
        production = [v.name for v in variants if not v.shadow]
        alarms: list[_Alarm] = []
        for metric in metrics.metrics_for(self._capacity.serverless):
            if metric.threshold is None:
                continue
            if metric.rolls_back:
                alarms.append(self._alarm(endpoint, metric, None, production))
                alarms += [
                    self._alarm(endpoint, metric, v.name, [v.name]) for v in variants if v.shadow
                ]
            else:
                alarms += [self._alarm(endpoint, metric, v.name, [v.name]) for v in variants]
        return alarms

    def _alarm(
        self,
        endpoint: pulumi.Output[str],
        metric: metrics.EndpointMetric,
        variant: str | None,
        watched: list[str],
    ) -> _Alarm:
        settings = self._args.settings.alarms
        topic = self._args.alert_topic_arn
        assert metric.threshold is not None
        vcpus = self._capacity.vcpus
        suffix = f"{variant}-{metric.key}" if variant else metric.key
        alarm_args: dict[str, Any] = {}
        if variant is not None:
            alarm_args = {
                "namespace": metric.namespace,
                "metric_name": metric.metric,
                "dimensions": endpoint.apply(
                    functools.partial(metrics.dimensions, variant=variant)
                ),
                "period": settings.period_seconds,
                "statistic": None if metric.extended else metric.stat,
                "extended_statistic": metric.stat if metric.extended else None,
            }
        else:
            queries = [
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id=f"m{i}",
                    metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                        namespace=metric.namespace,
                        metric_name=metric.metric,
                        dimensions=endpoint.apply(
                            functools.partial(metrics.dimensions, variant=name)
                        ),
                        period=settings.period_seconds,
                        stat=metric.stat,
                    ),
                    return_data=False,
                )
                for i, name in enumerate(watched)
            ]
            ids = ",".join(f"m{i}" for i in range(len(watched)))
            queries.append(
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="production",
                    expression=f"{metric.combine}([{ids}])",
                    label=f"{metric.metric} ({metric.stat}), {metric.combine} over "
                    + ", ".join(watched),
                    return_data=True,
                )
            )
            alarm_args = {"metric_queries": queries}
        resource = aws.cloudwatch.MetricAlarm(
            f"{self._name}-{suffix}",
            name=pulumi.Output.concat(endpoint, f"-{suffix}"),
            alarm_description=metric.describe(settings, vcpus),
            evaluation_periods=settings.evaluation_periods,
            threshold=metric.threshold(settings, vcpus),
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[topic],
            ok_actions=[topic],
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self),
            **alarm_args,
        )
        return _Alarm(metric.key, variant, metric.rolls_back and variant is None, resource)


# --- pure helpers -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Alarm:
    metric: str
    # None for an alarm over all production variants.
    variant: str | None
    rolls_back: bool
    resource: aws.cloudwatch.MetricAlarm


@dataclass(frozen=True)
class _Capacity:
    """Serverless or instances, decided once for every input that depends on it."""

    serverless: bool
    variant: dict[str, Any]
    vcpus: int

    @classmethod
    def of(cls, model: ModelSettings) -> _Capacity:
        if model.serverless is not None:
            config = aws.sagemaker.EndpointConfigurationProductionVariantServerlessConfigArgs(
                memory_size_in_mb=model.serverless.memory_mb,
                max_concurrency=model.serverless.max_concurrency,
                provisioned_concurrency=model.serverless.provisioned_concurrency,
            )
            return cls(serverless=True, variant={"serverless_config": config}, vcpus=0)
        assert model.scaling is not None and model.instance_type is not None
        return cls(
            serverless=False,
            variant={
                "instance_type": model.instance_type,
                # Every endpoint update resets an autoscaled variant to this count
                # (terraform-provider-aws #48990): starting at the configured minimum keeps an
                # update from shrinking below it.
                "initial_instance_count": model.scaling.min_instances,
            },
            vcpus=instances.vcpus(model.instance_type),
        )

    def variant_args(self) -> dict[str, Any]:
        return dict(self.variant)

    def volume_key(self, key_arn: pulumi.Input[str]) -> pulumi.Input[str] | None:
        # SageMaker refuses a KMS key for the storage volume of serverless variants
        # (CreateEndpointConfig: KmsKeyId "is not supported for serverless endpoints").
        return None if self.serverless else key_arn


def _variants(model: ModelSettings) -> list[_Variant]:
    champion_weight = 100 - (model.challenger.traffic_percent if model.challenger else 0)
    variants = [_Variant(naming.CHAMPION, model.version, float(champion_weight))]
    if model.challenger is not None:
        variants.append(
            _Variant(
                naming.CHALLENGER, model.challenger.version, float(model.challenger.traffic_percent)
            )
        )
    if model.shadow is not None:
        # A shadow variant's weight relative to production is the share of requests copied.
        variants.append(
            _Variant(
                naming.SHADOW,
                model.shadow.version,
                float(model.shadow.sampling_percent),
                shadow=True,
            )
        )
    return variants


def _capture_header(
    model: ModelSettings,
) -> aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureContentTypeHeaderArgs | None:
    """Requests of these content types are captured as CSV text or JSON: "If no headers are
    specified SageMaker will by default base64 encode when capturing the data" (botocore
    sagemaker CaptureContentTypeHeader). Each list takes 1 to 10 types, so an empty one is left
    out, and with both empty the header is."""
    capture = model.data_capture
    if not capture.csv_content_types and not capture.json_content_types:
        return None
    return aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureContentTypeHeaderArgs(
        csv_content_types=list(capture.csv_content_types) or None,
        json_content_types=list(capture.json_content_types) or None,
    )
