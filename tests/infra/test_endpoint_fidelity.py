"""What real SageMaker, CloudWatch and the provider need of an endpoint, beyond what mocks check."""

from __future__ import annotations

import json

import botocore.session
import pytest

from infra import instances, metrics
from infra.resource_types import ALARM, ENDPOINT_CONFIG, MODEL, ROLE_POLICY
from infra.review.mocks import ACCOUNTS
from tests.infra.plan_checks import (
    children_of,
    endpoint_of,
    only,
    rollback_alarms,
    statements,
    watched_metrics,
)


def test_superseded_models_and_configurations_are_kept(plans, env_stack):
    """A rollback the provider reports as a success (terraform-provider-aws #48997, #46663)
    leaves the endpoint on the previous configuration and models: Pulumi must not delete them."""
    plan = plans[env_stack]
    kept = [r for r in plan.resources if r.type in (MODEL, ENDPOINT_CONFIG)]
    assert kept, f"stack {env_stack}: no models or configurations"
    problems = [f"{r.urn}: deleted when superseded" for r in kept if not r.retain_on_delete]
    assert not problems, "\n".join(problems)


def test_execution_role_reads_exactly_its_rollback_alarms(plans, stack_settings, env_stack):
    """Deployment guardrails read the rollback alarms as the execution role (SageMaker developer
    guide, "Auto-Rollback Configuration and Monitoring"): DescribeAlarms on those alarms only."""
    plan, settings = plans[env_stack], stack_settings[env_stack]
    region, account = settings.region, ACCOUNTS[env_stack]
    problems = []
    for name in settings.models:
        policy = only(children_of(plan, name, ROLE_POLICY), f"role policy of {name}")
        granted = [
            s
            for s in statements(json.loads(policy.inputs["policy"]))
            if "cloudwatch:DescribeAlarms"
            in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        ]
        deployment = endpoint_of(plan, name).inputs.get("deploymentConfig") or {}
        rollback = (deployment.get("autoRollbackConfiguration") or {}).get("alarms") or []
        expected = sorted(
            f"arn:aws:cloudwatch:{region}:{account}:alarm:{a['alarmName']}" for a in rollback
        )
        resources = sorted(
            r
            for s in granted
            for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        )
        if resources != expected:
            problems.append(f"{policy.urn}: DescribeAlarms on {resources}, expected {expected}")
    assert not problems, "\n".join(problems)


def test_rollback_alarms_exist_only_with_auto_rollback(plans, stack_settings, env_stack):
    plan, settings = plans[env_stack], stack_settings[env_stack]
    for name, model in settings.models.items():
        deployment = endpoint_of(plan, name).inputs.get("deploymentConfig") or {}
        rollback = deployment.get("autoRollbackConfiguration")
        wanted = model.deployment.auto_rollback and model.serverless is None
        assert bool(rollback) == wanted, endpoint_of(plan, name).urn
        if rollback:
            assert sorted(a["alarmName"] for a in rollback["alarms"]) == sorted(
                rollback_alarms(plan, name)
            )


def test_cpu_alarm_threshold_scales_with_the_vcpus(plans, stack_settings, env_stack):
    """CPUUtilization is summed over vCPUs (0-400% on four): a share of the instance times its
    vCPU count (SageMaker developer guide, endpoint instance metrics)."""
    plan, settings = plans[env_stack], stack_settings[env_stack]
    checked = 0
    for name, model in settings.models.items():
        cpu = [
            a
            for a in children_of(plan, name, ALARM)
            if any(metric == "CPUUtilization" for metric, _ in watched_metrics(a))
        ]
        if model.serverless is not None:
            assert not cpu, f"{name}: serverless variants report no CPUUtilization"
            continue
        vcpus = instances.vcpus(model.instance_type)
        for alarm in cpu:
            checked += 1
            expected = model.alarms.cpu_utilization_percent * vcpus
            assert alarm.inputs["threshold"] == expected, alarm.urn
            assert f"of {vcpus} vCPUs ({expected} percent" in alarm.inputs["alarmDescription"]
    assert checked, f"stack {env_stack}: no CPU alarm checked"


def test_latency_threshold_is_in_microseconds(plans, stack_settings, env_stack):
    plan, settings = plans[env_stack], stack_settings[env_stack]
    for name, model in settings.models.items():
        latency = rollback_alarms(plan, name).get(
            endpoint_of(plan, name).inputs["name"] + "-latency"
        )
        assert latency is not None, name
        assert latency.inputs["threshold"] == model.alarms.p99_latency_ms * 1000
        assert "microseconds" in latency.inputs["alarmDescription"]


@pytest.mark.parametrize(
    "instance_type,count",
    [
        ("ml.t2.medium", 2),
        ("ml.m8g.medium", 1),
        ("ml.c5.large", 2),
        ("ml.m5.xlarge", 4),
        ("ml.c5.9xlarge", 36),
        ("ml.p4d.24xlarge", 96),
        ("ml.g5.48xlarge", 192),
    ],
)
def test_vcpus_of_known_instance_types(instance_type, count):
    assert instances.vcpus(instance_type) == count


def test_every_hosting_instance_type_has_a_vcpu_count():
    model = botocore.session.get_session().get_service_model("sagemaker")
    types = model.shape_for("ProductionVariantInstanceType").enum
    assert all(instances.vcpus(t) >= 1 for t in types)
    with pytest.raises(ValueError, match="unknown instance size 'huge'"):
        instances.vcpus("ml.m5.huge")


def test_metrics_table_drives_the_rollback_kinds():
    assert [m.key for m in metrics.rollback_metrics(serverless=False)] == ["5xx", "latency"]
    assert all(not m.instance_only for m in metrics.rollback_metrics(serverless=True))
    assert {m.key for m in metrics.metrics_for(serverless=True)} == {
        m.key for m in metrics.METRICS if not m.instance_only
    }
