"""Alarms that can fire, and updates that roll out (and back) the way each environment needs."""

from __future__ import annotations

from infra.resource_types import (
    ALARM,
    DRIFT_ENGINE,
    DRIFT_MONITOR,
    ENDPOINT,
    MODEL_ENDPOINT,
    TOPIC,
)
from infra.settings import Strategy
from tests.infra.plan_checks import (
    ancestor,
    config_of,
    endpoint_of,
    only,
    resources_of,
    rollback_alarms,
    variants_of,
    watched_metrics,
)


def test_alarms_watch_their_endpoint_and_notify_the_topic(plans, env_stack):
    plan = plans[env_stack]
    topic_arn = plan.outputs["alert_topic_arn"]
    topic = only(resources_of(plan, TOPIC), f"SNS topic in stack {env_stack}")
    alarms = resources_of(plan, ALARM)
    assert alarms, f"stack {env_stack}: no alarms"
    problems = []
    for alarm in alarms:
        if ancestor(plan, alarm, DRIFT_MONITOR) or ancestor(plan, alarm, DRIFT_ENGINE):
            # Drift metrics carry other dimensions: tests/infra/test_drift_monitor.py and
            # tests/infra/test_drift_engine.py.
            continue
        owner = ancestor(plan, alarm, MODEL_ENDPOINT)
        if owner is None:
            problems.append(f"{alarm.urn}: outside any ModelEndpoint")
            continue
        endpoint = endpoint_of(plan, owner.name).inputs["name"]
        variant_names = {v["variantName"] for v in variants_of(config_of(plan, owner.name))}
        watched = watched_metrics(alarm)
        if not watched:
            problems.append(f"{alarm.urn}: reads no metric")
        # Without both dimensions SageMaker's metrics never match and the alarm never fires.
        for metric, dimensions in watched:
            if dimensions.get("EndpointName") != endpoint:
                problems.append(
                    f"{alarm.urn}: {metric} EndpointName {dimensions.get('EndpointName')!r}"
                )
            if dimensions.get("VariantName") not in variant_names:
                problems.append(
                    f"{alarm.urn}: {metric} VariantName {dimensions.get('VariantName')!r}"
                )
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

        alarms = rollback_alarms(plan, name)
        rollback = deployment.get("autoRollbackConfiguration") or {}
        named = [a.get("alarmName") for a in rollback.get("alarms") or []]
        if not alarms or sorted(named) != sorted(alarms):
            problems.append(
                f"{endpoint.urn}: rolls back on {named}, the component's 5xx and latency "
                f"alarms over its production variants are {sorted(alarms)}"
            )
        missing = [a.urn for a in alarms.values() if a.urn not in endpoint.dependencies]
        if missing:
            problems.append(f"{endpoint.urn}: created before its rollback alarms {missing}")
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
        if model.serverless is not None:
            continue  # covered above: no deploymentConfig at all
        deployment = endpoint.inputs["deploymentConfig"]
        routing = deployment["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]
        if routing["type"] != "ALL_AT_ONCE":
            problems.append(f"{endpoint.urn}: dev routes {routing['type']}, not ALL_AT_ONCE")
    assert not problems, "\n".join(problems)


def test_endpoint_declares_no_custom_timeouts(plans, env_stack):
    """The provider's Endpoint declares no timeouts, so Pulumi ignores ``customTimeouts``
    (pulumi-terraform-bridge #2390): setting them would only pretend to extend the 60-minute
    waiter (terraform-provider-aws #39040). Settings bound the rollout instead."""
    plan = plans[env_stack]
    endpoints = resources_of(plan, ENDPOINT)
    assert endpoints, f"stack {env_stack}: no endpoint"
    problems = [
        f"{e.urn}: customTimeouts {e.custom_timeouts}" for e in endpoints if e.custom_timeouts
    ]
    assert not problems, "\n".join(problems)


def test_rollback_alarm_set_does_not_depend_on_the_variants(plans, stack_settings, prod_stack):
    """One alarm per rollback metric over all production variants: adding or removing a
    challenger changes the alarms' metric math, never the endpoint's replace-forcing
    ``auto_rollback_configuration``."""
    plan, settings = plans[prod_stack], stack_settings[prod_stack]
    for name, model in settings.models.items():
        if model.serverless is not None:
            continue
        alarms = rollback_alarms(plan, name)
        endpoint = endpoint_of(plan, name).inputs["name"]
        assert sorted(alarms) == sorted(f"{endpoint}-{k}" for k in ("5xx", "latency")), endpoint_of(
            plan, name
        ).urn
