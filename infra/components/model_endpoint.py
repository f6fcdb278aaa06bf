"""``ModelEndpoint``: one model served by one SageMaker endpoint, with all it needs to run.

Children: execution role and its policy, one Model per variant, an auto-named endpoint
configuration, the endpoint with its deployment guardrails, autoscaling, the log group and
alarms. Every taggable child carries the environment, model, model-version, owner and
cost-center tags. The component also hands out the widgets of its section on the environment's
dashboard (``dashboard_widgets``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi_aws import sagemaker as sm

from infra import iam, naming
from infra.settings import ModelSettings, ModelVersion, Strategy

SAGEMAKER = "sagemaker.amazonaws.com"
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
ROLLBACK_KINDS = ("5xx", "latency")


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
    role_arn: pulumi.Output[str]
    alarm_names: pulumi.Output[list[str]]
    rollback_alarm_names: pulumi.Output[list[str]]
    # This model's section of the environment dashboard (infra/components/dashboard.py).
    dashboard_widgets: pulumi.Output[list[dict[str, Any]]]

    def __init__(
        self, name: str, args: ModelEndpointArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlserve:serving:ModelEndpoint", name, None, opts)
        model = args.settings
        self._args = args
        self._name = name
        self._tags = naming.model_tags(args.base_tags, args.model_name, model.version)
        endpoint = naming.endpoint_name(args.model_name, args.environment, model)
        variants = _variants(model)

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=naming.log_group_name(endpoint),
            retention_in_days=model.log_retention_days,
            kms_key_id=args.environment_key_arn,
            tags=self._tags,
            # Logs outlive the endpoint: an endpoint replaced for a new instance type keeps
            # its history for the retention period.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        role, role_policy = self._execution_role(variants, log_group.arn)
        models = {
            v.name: self._model(v, role, role_policy)
            for v in variants  # one Model per variant: a Model holds exactly one version
        }
        alarms = self._alarms(endpoint, variants)
        # Errors and latency of the production variants roll a deployment back; a shadow's
        # alarms only notify, and utilisation is for scaling, not for judging a release.
        rollback_alarms = [
            alarm
            for (variant, kind), alarm in alarms.items()
            if kind in ROLLBACK_KINDS and variant != naming.SHADOW
        ]
        config = self._endpoint_config(variants, models, role)
        sm_endpoint = aws.sagemaker.Endpoint(
            f"{name}-endpoint",
            name=endpoint,
            endpoint_config_name=config.name,
            deployment_config=self._deployment_config(rollback_alarms),
            tags=self._tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[log_group],
                custom_timeouts=_timeouts(model),
            ),
        )
        if model.autoscaled:
            self._autoscaling(endpoint, sm_endpoint)
        self.dashboard_widgets = pulumi.Output.all(*(a.arn for a in alarms.values())).apply(
            lambda arns: _dashboard_widgets(args, endpoint, variants, list(arns))
        )

        self.endpoint_name = sm_endpoint.name
        self.endpoint_arn = sm_endpoint.arn
        self.role_arn = role.arn
        self.alarm_names = pulumi.Output.all(*(a.name for a in alarms.values()))
        self.rollback_alarm_names = pulumi.Output.all(*(a.name for a in rollback_alarms))
        self.register_outputs(
            {
                "endpoint_name": self.endpoint_name,
                "endpoint_arn": self.endpoint_arn,
                "role_arn": self.role_arn,
                "alarm_names": self.alarm_names,
                "rollback_alarm_names": self.rollback_alarm_names,
                "dashboard_widgets": self.dashboard_widgets,
            }
        )

    # --- identity ---------------------------------------------------------------------------

    def _execution_role(
        self, variants: list[_Variant], log_group_arn: pulumi.Output[str]
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        args, model = self._args, self._args.settings
        role = aws.iam.Role(
            f"{self._name}-role",
            path=iam.ROLE_PATH,
            description=f"Runs the {args.model_name} endpoint in {args.environment}",
            assume_role_policy=json.dumps(iam.service_trust(SAGEMAKER)),
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        capture = model.data_capture.enabled
        policy = pulumi.Output.all(
            args.account,
            args.artifact_bucket_arn,
            args.artifact_key_arn,
            log_group_arn,
            args.environment_key_arn,
            args.capture_bucket_arn if capture else None,
        ).apply(
            lambda v: json.dumps(
                iam.execution_role_policy(
                    partition=args.partition,
                    region=args.region,
                    account=v[0],
                    artifact_bucket_arn=v[1],
                    artifact_prefixes=[f"models/{args.model_name}/"],
                    artifact_key_arn=v[2],
                    log_group_arn=v[3],
                    environment_key_arn=v[4],
                    capture_bucket_arn=v[5],
                    capture_prefix=f"data-capture/{args.model_name}/" if capture else None,
                    subnet_ids=model.network.subnet_ids,
                    security_group_ids=model.network.security_group_ids,
                )
            )
        )
        role_policy = aws.iam.RolePolicy(
            f"{self._name}-role-policy",
            role=role.id,
            policy=policy,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return role, role_policy

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
            tags=naming.model_tags(self._args.base_tags, self._args.model_name, version),
            # The role is usable only once its policy is attached (pitfall 7).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )

    def _endpoint_config(
        self,
        variants: list[_Variant],
        models: dict[str, aws.sagemaker.Model],
        role: aws.iam.Role,
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
                    "s3://", args.capture_bucket_name or "", f"/data-capture/{args.model_name}/"
                ),
                kms_key_id=args.environment_key_arn,
                capture_options=[
                    aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureOptionArgs(
                        capture_mode=mode
                    )
                    for mode in ("Input", "Output")
                ],
            )
        # No fixed name: configurations are immutable, so every change gets a new one, the
        # endpoint moves to it, and the old one is deleted after (pitfall 1).
        return aws.sagemaker.EndpointConfiguration(
            f"{self._name}-config",
            production_variants=production,
            shadow_production_variants=shadow or None,
            data_capture_config=capture,
            # SageMaker refuses a KMS key for the storage volume of serverless variants.
            kms_key_arn=None if model.serverless else args.environment_key_arn,
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _variant_args(
        self, variant: _Variant, models: dict[str, aws.sagemaker.Model]
    ) -> dict[str, Any]:
        model = self._args.settings
        common: dict[str, Any] = {
            "variant_name": variant.name,
            "model_name": models[variant.name].name,
            "initial_variant_weight": variant.weight,
        }
        if model.serverless is not None:
            common["serverless_config"] = (
                aws.sagemaker.EndpointConfigurationProductionVariantServerlessConfigArgs(
                    memory_size_in_mb=model.serverless.memory_mb,
                    max_concurrency=model.serverless.max_concurrency,
                    provisioned_concurrency=model.serverless.provisioned_concurrency,
                )
            )
        else:
            assert model.scaling is not None and model.instance_type is not None
            common["instance_type"] = model.instance_type
            # Every endpoint update resets an autoscaled variant to this count (pitfall 2):
            # starting at the configured minimum keeps an update from shrinking below it.
            common["initial_instance_count"] = model.scaling.min_instances
        return common

    def _deployment_config(
        self, rollback_alarms: list[aws.cloudwatch.MetricAlarm]
    ) -> aws.sagemaker.EndpointDeploymentConfigArgs | None:
        model = self._args.settings
        if model.serverless is not None:
            return None  # blue/green guardrails need instances
        deployment = model.deployment
        routing = sm.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationArgs
        if deployment.strategy is Strategy.CANARY:
            traffic = routing(
                type="CANARY",
                wait_interval_in_seconds=deployment.wait_seconds,
                canary_size=aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationCanarySizeArgs(
                    type="CAPACITY_PERCENT", value=deployment.canary_percent
                ),
            )
        elif deployment.strategy is Strategy.LINEAR:
            traffic = routing(
                type="LINEAR",
                wait_interval_in_seconds=deployment.wait_seconds,
                linear_step_size=aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationLinearStepSizeArgs(
                    type="CAPACITY_PERCENT", value=deployment.linear_step_percent
                ),
            )
        else:
            traffic = routing(type="ALL_AT_ONCE", wait_interval_in_seconds=deployment.wait_seconds)
        rollback = None
        if deployment.auto_rollback:
            rollback = aws.sagemaker.EndpointDeploymentConfigAutoRollbackConfigurationArgs(
                alarms=[
                    aws.sagemaker.EndpointDeploymentConfigAutoRollbackConfigurationAlarmArgs(
                        alarm_name=alarm.name
                    )
                    for alarm in rollback_alarms
                ]
            )
        return aws.sagemaker.EndpointDeploymentConfigArgs(
            blue_green_update_policy=aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyArgs(
                traffic_routing_configuration=traffic,
                termination_wait_in_seconds=deployment.termination_wait_seconds,
                maximum_execution_timeout_in_seconds=deployment.maximum_execution_timeout_seconds,
            ),
            auto_rollback_configuration=rollback,
        )

    # --- scaling ----------------------------------------------------------------------------

    def _autoscaling(self, endpoint: str, sm_endpoint: aws.sagemaker.Endpoint) -> None:
        model = self._args.settings
        assert model.scaling is not None
        scaling = model.scaling
        for variant in naming.production_variants(model):
            # The resource id names the endpoint through its output, so registration waits
            # for the endpoint to be in service; a new endpoint name (new scaled layout)
            # replaces the target with it.
            resource_id = pulumi.Output.concat("endpoint/", sm_endpoint.name, f"/variant/{variant}")
            target = aws.appautoscaling.Target(
                f"{self._name}-{variant}-scaling",
                service_namespace="sagemaker",
                scalable_dimension=SCALABLE_DIMENSION,
                resource_id=resource_id,
                min_capacity=scaling.min_instances,
                max_capacity=scaling.max_instances,
                tags=self._tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.appautoscaling.Policy(
                f"{self._name}-{variant}-invocations",
                name=f"{endpoint}-{variant}-invocations-per-instance",
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
                    name=f"{endpoint}-{variant}-{schedule.name}",
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

    def _alarms(
        self, endpoint: str, variants: list[_Variant]
    ) -> dict[tuple[str, str], aws.cloudwatch.MetricAlarm]:
        alarms: dict[tuple[str, str], aws.cloudwatch.MetricAlarm] = {}
        topic = self._args.alert_topic_arn
        for spec in _alarm_specs(self._args.settings, variants):
            alarms[(spec.variant, spec.kind)] = aws.cloudwatch.MetricAlarm(
                f"{self._name}-{spec.variant}-{spec.kind}",
                name=spec.alarm_name(endpoint),
                alarm_description=spec.description,
                namespace=spec.namespace,
                metric_name=spec.metric,
                # Without both dimensions the metric never matches and the alarm never fires.
                dimensions={"EndpointName": endpoint, "VariantName": spec.variant},
                statistic=spec.statistic,
                extended_statistic=spec.extended_statistic,
                period=self._args.settings.alarms.period_seconds,
                evaluation_periods=self._args.settings.alarms.evaluation_periods,
                threshold=spec.threshold,
                comparison_operator="GreaterThanThreshold",
                treat_missing_data="notBreaching",
                alarm_actions=[topic],
                ok_actions=[topic],
                tags=self._tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
        return alarms


# --- pure helpers -------------------------------------------------------------------------


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


def _timeouts(model: ModelSettings) -> pulumi.CustomTimeouts:
    minutes = -(-model.deployment.update_timeout_seconds() // 60)
    return pulumi.CustomTimeouts(create=f"{minutes}m", update=f"{minutes}m", delete="60m")


@dataclass(frozen=True)
class _AlarmSpec:
    variant: str
    kind: str
    namespace: str
    metric: str
    threshold: float
    description: str
    statistic: str | None = None
    extended_statistic: str | None = None

    def alarm_name(self, endpoint: str) -> str:
        return f"{endpoint}-{self.variant}-{self.kind}"


def _alarm_specs(model: ModelSettings, variants: list[_Variant]) -> list[_AlarmSpec]:
    limits = model.alarms
    specs: list[_AlarmSpec] = []
    for v in variants:
        specs += [
            _AlarmSpec(
                v.name,
                "5xx",
                "AWS/SageMaker",
                "Invocation5XXErrors",
                limits.error_5xx_threshold,
                f"More than {limits.error_5xx_threshold} 5XX errors per period",
                statistic="Sum",
            ),
            _AlarmSpec(
                v.name,
                "latency",
                "AWS/SageMaker",
                "ModelLatency",
                # ModelLatency is reported in microseconds.
                limits.p99_latency_ms * 1000,
                f"p99 model latency above {limits.p99_latency_ms} ms",
                extended_statistic="p99",
            ),
        ]
        if model.serverless is None:  # serverless variants report no utilisation
            specs += [
                _AlarmSpec(
                    v.name,
                    "cpu",
                    "/aws/sagemaker/Endpoints",
                    "CPUUtilization",
                    limits.cpu_utilization_percent,
                    f"CPU above {limits.cpu_utilization_percent}% (summed over cores)",
                    statistic="Average",
                ),
                _AlarmSpec(
                    v.name,
                    "memory",
                    "/aws/sagemaker/Endpoints",
                    "MemoryUtilization",
                    limits.memory_utilization_percent,
                    f"Memory above {limits.memory_utilization_percent}%",
                    statistic="Average",
                ),
            ]
    return specs


def _dashboard_widgets(
    args: ModelEndpointArgs, endpoint: str, variants: list[_Variant], alarm_arns: list[str]
) -> list[dict[str, Any]]:
    region, model = args.region, args.settings

    def metric_widget(title: str, namespace: str, metric: str, stat: str) -> dict[str, Any]:
        return {
            "type": "metric",
            "width": 8,
            "height": 6,
            "properties": {
                "title": f"{args.model_name}: {title}",
                "region": region,
                "stat": stat,
                "period": 60,
                "metrics": [
                    [namespace, metric, "EndpointName", endpoint, "VariantName", v.name]
                    for v in variants
                ],
            },
        }

    pinned = ", ".join(f"{v.name} {naming.version_label(v.version)}" for v in variants)
    widgets: list[dict[str, Any]] = [
        {
            "type": "text",
            "width": 24,
            "height": 2,
            "properties": {"markdown": f"## {args.model_name}\nEndpoint `{endpoint}`: {pinned}"},
        }
    ]
    widgets += [
        metric_widget("Invocations", "AWS/SageMaker", "Invocations", "Sum"),
        metric_widget("5XX errors", "AWS/SageMaker", "Invocation5XXErrors", "Sum"),
        metric_widget("Model latency p99 (us)", "AWS/SageMaker", "ModelLatency", "p99"),
        metric_widget("Invocations per instance", "AWS/SageMaker", "InvocationsPerInstance", "Sum"),
    ]
    if model.serverless is None:
        widgets += [
            metric_widget(
                "CPU utilisation", "/aws/sagemaker/Endpoints", "CPUUtilization", "Average"
            ),
            metric_widget(
                "Memory utilisation", "/aws/sagemaker/Endpoints", "MemoryUtilization", "Average"
            ),
        ]
    widgets.append(
        {
            "type": "alarm",
            "width": 24,
            "height": 3,
            "properties": {"title": f"{args.model_name}: alarms", "alarms": alarm_arns},
        }
    )
    return widgets
