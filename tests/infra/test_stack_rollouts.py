"""Alarms that can fire, and updates that roll out (and back) the way each environment needs."""

from __future__ import annotations

from plan_checks import (
    ALARM,
    ROLLBACK_METRICS,
    TOPIC,
    ancestor,
    children_of,
    config_of,
    endpoint_of,
    only,
    parse_duration,
    resources_of,
    variants_of,
)

from infra.settings import Strategy

MODEL_ENDPOINT = "mlserve:serving:ModelEndpoint"


def test_alarms_watch_their_endpoint_and_notify_the_topic(plans, env_stack):
    plan = plans[env_stack]
    topic_arn = plan.outputs["alert_topic_arn"]
    topic = only(resources_of(plan, TOPIC), f"SNS topic in stack {env_stack}")
    alarms = resources_of(plan, ALARM)
    assert alarms, f"stack {env_stack}: no alarms"
    problems = []
    for alarm in alarms:
        dimensions = alarm.inputs.get("dimensions") or {}
        owner = ancestor(plan, alarm, MODEL_ENDPOINT)
        if owner is None:
            problems.append(f"{alarm.urn}: outside any ModelEndpoint")
            continue
        # Without both dimensions SageMaker's metrics never match and the alarm never fires.
        endpoint = endpoint_of(plan, owner.name).inputs["name"]
        if dimensions.get("EndpointName") != endpoint:
            problems.append(f"{alarm.urn}: EndpointName {dimensions.get('EndpointName')!r}")
        variant_names = {v["variantName"] for v in variants_of(config_of(plan, owner.name))}
        if dimensions.get("VariantName") not in variant_names:
            problems.append(f"{alarm.urn}: VariantName {dimensions.get('VariantName')!r}")
        if alarm.inputs.get("alarmActions") != [topic_arn]:
            problems.append(f"{alarm.urn}: alarmActions {alarm.inputs.get('alarmActions')}")
        if topic.urn not in alarm.dependencies:
            problems.append(f"{alarm.urn}: does not depend on {topic.urn}")
    assert not problems, "\n".join(problems)


def test_prod_rolls_out_gradually_and_rolls_back_on_real_alarms(plans, stack_settings, prod_stack):
    plan, settings = plans[prod_stack], stack_settings[prod_stack]
    checked = 0
    problems = []
    for name, model in settings.models.items():
        if model.serverless is not None:
            continue
        checked += 1
        endpoint = endpoint_of(plan, name)
        deployment = endpoint.inputs.get("deploymentConfig") or {}
        policy = deployment.get("blueGreenUpdatePolicy") or {}
        routing = policy.get("trafficRoutingConfiguration") or {}
        if routing.get("type") not in ("CANARY", "LINEAR"):
            problems.append(f"{endpoint.urn}: traffic routing {routing.get('type')!r}")

        production = {v["variantName"] for v in config_of(plan, name).inputs["productionVariants"]}
        rollback_alarms = {
            alarm.inputs["name"]: alarm
            for alarm in children_of(plan, name, ALARM)
            if alarm.inputs.get("metricName") in ROLLBACK_METRICS
            and alarm.inputs["dimensions"].get("VariantName") in production
        }
        rollback = deployment.get("autoRollbackConfiguration") or {}
        named = [a.get("alarmName") for a in rollback.get("alarms") or []]
        if not rollback_alarms or sorted(named) != sorted(rollback_alarms):
            problems.append(
                f"{endpoint.urn}: rolls back on {named}, the component's 5xx and latency "
                f"alarms of production variants are {sorted(rollback_alarms)}"
            )
        missing = [a.urn for a in rollback_alarms.values() if a.urn not in endpoint.dependencies]
        if missing:
            problems.append(f"{endpoint.urn}: created before its rollback alarms {missing}")

        # Canary and linear rollouts outlast the provider's default timeouts (pitfall 5).
        floor = policy.get("maximumExecutionTimeoutInSeconds", 0) + policy.get(
            "terminationWaitInSeconds", 0
        )
        for operation in ("create", "update"):
            timeout = endpoint.custom_timeouts.get(operation)
            if timeout is None or parse_duration(timeout) < floor:
                problems.append(
                    f"{endpoint.urn}: {operation} timeout {timeout!r} is under the rollout's "
                    f"{floor:.0f} s"
                )
    assert checked, f"stack {prod_stack}: no instance-backed model to check"
    assert not problems, "\n".join(problems)


def test_traffic_routing_follows_the_stack_file(plans, stack_settings, env_stack):
    plan, settings = plans[env_stack], stack_settings[env_stack]
    problems = []
    for name, model in settings.models.items():
        endpoint = endpoint_of(plan, name)
        deployment = endpoint.inputs.get("deploymentConfig")
        if model.serverless is not None:
            # Blue/green guardrails need instances: serverless endpoints update all at once.
            if deployment:
                problems.append(f"{endpoint.urn}: serverless, but has deploymentConfig")
            continue
        policy = (deployment or {}).get("blueGreenUpdatePolicy") or {}
        routing = policy.get("trafficRoutingConfiguration") or {}
        strategy = model.deployment.strategy
        if routing.get("type") != strategy.value.upper():
            problems.append(f"{endpoint.urn}: routing {routing.get('type')!r}, file: {strategy}")
        if strategy is Strategy.CANARY:
            size = routing.get("canarySize") or {}
            if size != {"type": "CAPACITY_PERCENT", "value": model.deployment.canary_percent}:
                problems.append(f"{endpoint.urn}: canarySize {size}")
        if strategy is Strategy.LINEAR:
            step = routing.get("linearStepSize") or {}
            if step != {"type": "CAPACITY_PERCENT", "value": model.deployment.linear_step_percent}:
                problems.append(f"{endpoint.urn}: linearStepSize {step}")
        if routing.get("waitIntervalInSeconds") != model.deployment.wait_seconds:
            problems.append(f"{endpoint.urn}: wait {routing.get('waitIntervalInSeconds')}")
    assert not problems, "\n".join(problems)


def test_dev_updates_all_at_once(plans, stack_settings, dev_stack):
    plan, settings = plans[dev_stack], stack_settings[dev_stack]
    problems = []
    for name, model in settings.models.items():
        endpoint = endpoint_of(plan, name)
        deployment = endpoint.inputs.get("deploymentConfig")
        if model.serverless is not None:
            continue  # covered above: no deploymentConfig at all
        routing = deployment["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]
        if routing["type"] != "ALL_AT_ONCE":
            problems.append(f"{endpoint.urn}: dev routes {routing['type']}, not ALL_AT_ONCE")
    assert not problems, "\n".join(problems)
