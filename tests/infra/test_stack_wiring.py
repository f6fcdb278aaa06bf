"""How each ModelEndpoint is wired: config naming, role readiness, logs, and stack outputs."""

from __future__ import annotations

import copy
import json
import re

from infra.resource_types import (
    ALARM,
    DASHBOARD,
    ENDPOINT,
    ENDPOINT_CONFIG,
    LOG_GROUP,
    MODEL,
    MODEL_ENDPOINT,
    ROLE,
    ROLE_POLICY,
)
from infra.review.plan import evaluate
from tests.infra.plan_checks import (
    ancestor,
    children_of,
    component,
    component_children,
    config_of,
    endpoint_of,
    only,
    resources_of,
    stack_urn,
)

ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def test_endpoint_configurations_are_auto_named(plans, env_stack):
    """Configurations are immutable: a fixed name would block every change (terraform-provider-aws
    #21811, #40048)."""
    plan = plans[env_stack]
    configs = resources_of(plan, ENDPOINT_CONFIG)
    assert configs, f"stack {env_stack}: no endpoint configuration"
    named = [f"{c.urn}: name {c.inputs['name']!r}" for c in configs if c.inputs.get("name")]
    assert not named, "\n".join(named)


def test_models_wait_for_their_role_policy(plans, env_stack):
    """A role is usable only once its policy is attached: IAM is eventually consistent (IAM user
    guide, "Changes that I make are not always immediately visible")."""
    plan = plans[env_stack]
    models = resources_of(plan, MODEL)
    assert models, f"stack {env_stack}: no SageMaker model"
    problems = []
    for model in models:
        owner = ancestor(plan, model, MODEL_ENDPOINT)
        if owner is None:
            problems.append(f"{model.urn}: outside any ModelEndpoint")
            continue
        role = only(children_of(plan, owner.name, ROLE), f"role in {owner.urn}")
        policy = only(children_of(plan, owner.name, ROLE_POLICY), f"role policy in {owner.urn}")
        if policy.urn not in model.dependencies:
            problems.append(f"{model.urn}: does not depend on {policy.urn}")
        if role.urn not in model.dependencies or role.urn not in policy.dependencies:
            problems.append(f"{model.urn}: not run by {role.urn} and its policy")
    assert not problems, "\n".join(problems)


def test_log_groups_are_named_for_their_endpoint(plans, stack_settings, env_stack):
    plan, settings = plans[env_stack], stack_settings[env_stack]
    problems = []
    for name, model in settings.models.items():
        group = only(children_of(plan, name, LOG_GROUP), f"log group in model {name}")
        expected = f"/aws/sagemaker/Endpoints/{endpoint_of(plan, name).inputs['name']}"
        if group.inputs.get("name") != expected:
            problems.append(f"{group.urn}: named {group.inputs.get('name')!r}, not {expected!r}")
        if group.inputs.get("retentionInDays") != model.log_retention_days:
            problems.append(
                f"{group.urn}: keeps logs {group.inputs.get('retentionInDays')} days, "
                f"settings say {model.log_retention_days}"
            )
    assert not problems, "\n".join(problems)


def test_environment_outputs(plans, stack_configs, env_stack):
    plan = plans[env_stack]
    written = stack_configs[env_stack]["mlserve:models"]
    outputs = plan.outputs
    assert str(outputs.get("alert_topic_arn", "")).startswith("arn:"), stack_urn(plan)
    exported = outputs.get("models") or {}
    assert set(exported) == set(written), f"{stack_urn(plan)}: exports models {sorted(exported)}"
    problems = []
    for name, spec in written.items():
        urn = component(plan, name).urn
        out = exported[name]
        endpoint = endpoint_of(plan, name).inputs["name"]
        alarms = {a.inputs["name"] for a in children_of(plan, name, ALARM)}
        if out.get("endpoint_name") != endpoint:
            problems.append(f"{urn}: endpoint_name {out.get('endpoint_name')!r}")
        if not str(out.get("endpoint_arn", "")).endswith(f":endpoint/{endpoint}"):
            problems.append(f"{urn}: endpoint_arn {out.get('endpoint_arn')!r}")
        if ":role/" not in str(out.get("role_arn", "")):
            problems.append(f"{urn}: role_arn {out.get('role_arn')!r}")
        if not alarms or set(out.get("alarm_names") or []) != alarms:
            problems.append(f"{urn}: alarm_names {out.get('alarm_names')}")
        if not str(out.get("dashboard_url", "")).startswith("https://"):
            problems.append(f"{urn}: dashboard_url {out.get('dashboard_url')!r}")
        version = out.get("version") or {}
        for key in ("package", "digest"):
            if version.get(key) != spec["version"].get(key):
                problems.append(f"{urn}: version.{key} {version.get(key)!r}")
    assert not problems, "\n".join(problems)


def test_shared_outputs(plans, stack_configs, shared_stack):
    plan = plans[shared_stack]
    outputs = plan.outputs
    urn = stack_urn(plan)
    for key in ("artifact_bucket_name", "artifact_bucket_arn", "artifact_key_arn"):
        assert outputs.get(key), f"{urn}: no {key} output"
    assert outputs["artifact_bucket_arn"].endswith(f":::{outputs['artifact_bucket_name']}"), urn
    assert ":kms:" in outputs["artifact_key_arn"], urn
    groups = outputs.get("model_package_groups") or {}
    written = stack_configs[shared_stack]["mlserve:models"]
    assert set(groups) == set(written), f"{urn}: model_package_groups {sorted(groups)}"
    for name, arn in groups.items():
        assert arn.endswith(f":model-package-group/{name}"), f"{urn}: {name} -> {arn}"


def test_endpoint_names_are_valid_for_sagemaker(plans, env_stack):
    plan = plans[env_stack]
    bad = [
        f"{e.urn}: {e.inputs.get('name')!r}"
        for e in resources_of(plan, ENDPOINT)
        if not ENDPOINT_NAME.match(str(e.inputs.get("name")))
    ]
    assert not bad, "\n".join(bad)


def test_serverless_endpoints_use_only_what_serverless_supports(plans, stack_settings, env_stack):
    """No data capture, one production variant, no shadow, no VPC, no network isolation."""
    plan, settings = plans[env_stack], stack_settings[env_stack]
    problems = []
    for name, model in settings.models.items():
        if model.serverless is None:
            continue
        config = config_of(plan, name)
        variants = config.inputs["productionVariants"]
        if config.inputs.get("dataCaptureConfig"):
            problems.append(f"{config.urn}: captures data")
        if len(variants) != 1 or config.inputs.get("shadowProductionVariants"):
            problems.append(f"{config.urn}: more than one variant")
        if not all(v.get("serverlessConfig") and not v.get("instanceType") for v in variants):
            problems.append(f"{config.urn}: variants not all serverless: {variants}")
        for sm_model in children_of(plan, name, MODEL):
            if sm_model.inputs.get("vpcConfig") or sm_model.inputs.get("enableNetworkIsolation"):
                problems.append(f"{sm_model.urn}: VPC or network isolation")
    assert not problems, "\n".join(problems)


def test_a_serverless_model_outside_dev_captures_nothing(stack_configs, stack_settings):
    """Staging and prod capture data by default; a serverless model there must not."""
    config = copy.deepcopy(stack_configs["staging"])
    fraud = config["mlserve:models"]["fraud"]
    fraud.pop("instance_type", None)
    fraud.pop("scaling", None)
    fraud["serverless"] = {"memory_mb": 2048}
    plan = evaluate(config, "staging")
    assert stack_settings["staging"].models["churn"].data_capture.enabled
    assert config_of(plan, "churn").inputs.get("dataCaptureConfig")
    fraud_config = config_of(plan, "fraud")
    assert not fraud_config.inputs.get("dataCaptureConfig"), fraud_config.urn
    assert fraud_config.inputs["productionVariants"][0].get("serverlessConfig"), fraud_config.urn


def test_the_environment_dashboard_has_a_section_per_model(plans, stack_settings, env_stack):
    plan, settings = plans[env_stack], stack_settings[env_stack]
    dashboard = only(resources_of(plan, DASHBOARD), "environment dashboard")
    assert dashboard.inputs["dashboardName"] == f"mlserve-{settings.environment}", dashboard.urn
    widgets = json.loads(dashboard.inputs["dashboardBody"])["widgets"]
    headings = [w["properties"]["markdown"] for w in widgets if w["type"] == "text"]
    assert [h.splitlines()[0] for h in headings] == [f"## {m}" for m in sorted(settings.models)]
    for name in settings.models:
        endpoint = endpoint_of(plan, name).inputs["name"]
        metrics = [
            line
            for w in widgets
            if w["type"] == "metric" and w["properties"]["title"].startswith(f"{name}: ")
            for line in w["properties"]["metrics"]
        ]
        assert metrics, f"{dashboard.urn}: no metric widgets for {name}"
        # Every line names both dimensions, or CloudWatch draws nothing.
        for line in metrics:
            assert line[2:4] == ["EndpointName", endpoint] and line[4] == "VariantName", (
                f"{dashboard.urn}: {name} widget line {line}"
            )
        alarms = {r.inputs["name"] for r in component_children(plan, name) if r.type == ALARM}
        shown = {
            arn.rsplit(":alarm:", 1)[1]
            for w in widgets
            if w["type"] == "alarm" and w["properties"]["title"] == f"{name}: alarms"
            for arn in w["properties"]["alarms"]
        }
        assert shown == alarms, f"{dashboard.urn}: alarms shown for {name}"
