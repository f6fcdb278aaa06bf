"""Autoscaling per environment, and what it means for endpoint updates: each update resets an
autoscaled variant to its initial count (terraform-provider-aws #48990), and a scaled variant's
instance type cannot change in place (terraform-provider-aws #14337)."""

from __future__ import annotations

import copy
from collections.abc import Mapping

import pytest

from infra import naming
from infra.resource_types import RANDOM_ID, SCALABLE_TARGET, SCALING_POLICY, SCHEDULED_ACTION
from infra.review.plan import evaluate
from infra.settings import EnvironmentSettings, Settings
from tests.infra.plan_checks import children_of, config_of, endpoint_of, only, resources_of

SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def file_scaling(stack_configs, stack: str, model: str, settings_scaling) -> tuple[int, int]:
    """min and max instances as the stack file writes them; defaults where it is silent."""
    written = stack_configs[stack]["mlserve:models"][model].get("scaling") or {}
    return (
        written.get("min_instances", settings_scaling.min_instances),
        written.get("max_instances", settings_scaling.max_instances),
    )


def test_dev_registers_no_scalable_targets(plans, stack_settings, dev_stack):
    plan, settings = plans[dev_stack], stack_settings[dev_stack]
    for name, model in settings.models.items():
        if model.scaling is not None:
            assert (model.scaling.min_instances, model.scaling.max_instances) == (1, 1), name
    registered = [
        r.urn
        for kind in (SCALABLE_TARGET, SCALING_POLICY, SCHEDULED_ACTION)
        for r in resources_of(plan, kind)
    ]
    assert not registered, f"dev registers autoscaling: {registered}"


def test_scalable_targets_match_the_stack_file(plans, stack_settings, stack_configs, env_stack):
    plan, settings = plans[env_stack], stack_settings[env_stack]
    problems = []
    for name, model in settings.models.items():
        targets = {t.inputs["resourceId"]: t for t in children_of(plan, name, SCALABLE_TARGET)}
        if not model.autoscaled:
            problems += [f"{urn}: {name} is not autoscaled" for urn in targets]
            continue
        low, high = file_scaling(stack_configs, env_stack, name, model.scaling)
        endpoint = endpoint_of(plan, name).inputs["name"]
        expected = {f"endpoint/{endpoint}/variant/{v}" for v in naming.production_variants(model)}
        if set(targets) != expected:
            problems.append(f"{endpoint_of(plan, name).urn}: targets {sorted(targets)}")
        for target in targets.values():
            got = (target.inputs.get("minCapacity"), target.inputs.get("maxCapacity"))
            if got != (low, high):
                problems.append(f"{target.urn}: capacity {got}, stack file says {(low, high)}")
            if target.inputs.get("scalableDimension") != SCALABLE_DIMENSION:
                problems.append(f"{target.urn}: dimension {target.inputs['scalableDimension']}")
            if target.inputs.get("serviceNamespace") != "sagemaker":
                problems.append(f"{target.urn}: namespace {target.inputs['serviceNamespace']}")
    assert not problems, "\n".join(problems)


def test_variants_start_at_the_minimum(plans, stack_settings, env_stack):
    """Every endpoint update resets an autoscaled variant to its initial count
    (terraform-provider-aws #48990)."""
    plan, settings = plans[env_stack], stack_settings[env_stack]
    problems = []
    for name, model in settings.models.items():
        if model.serverless is not None:
            continue
        config = config_of(plan, name)
        for variant in config.inputs["productionVariants"]:
            count = variant.get("initialInstanceCount")
            if count != model.scaling.min_instances:
                problems.append(
                    f"{config.urn}: variant {variant['variantName']} starts at {count}, "
                    f"min_instances is {model.scaling.min_instances}"
                )
    assert not problems, "\n".join(problems)


def test_targets_track_invocations_per_instance(plans, stack_settings, env_stack):
    plan, settings = plans[env_stack], stack_settings[env_stack]
    problems = []
    for name, model in settings.models.items():
        policies = {p.inputs["resourceId"]: p for p in children_of(plan, name, SCALING_POLICY)}
        for target in children_of(plan, name, SCALABLE_TARGET):
            policy = policies.get(target.inputs["resourceId"])
            if policy is None or target.urn not in policy.dependencies:
                problems.append(f"{target.urn}: no scaling policy on this target")
                continue
            tracking = policy.inputs.get("targetTrackingScalingPolicyConfiguration") or {}
            metric = (tracking.get("predefinedMetricSpecification") or {}).get(
                "predefinedMetricType"
            )
            if policy.inputs.get("policyType") != "TargetTrackingScaling":
                problems.append(f"{policy.urn}: policyType {policy.inputs.get('policyType')}")
            if metric != "SageMakerVariantInvocationsPerInstance":
                problems.append(f"{policy.urn}: tracks {metric}")
            if tracking.get("targetValue") != model.scaling.target_invocations_per_instance:
                problems.append(f"{policy.urn}: target value {tracking.get('targetValue')}")
    assert not problems, "\n".join(problems)


def test_scheduled_actions_from_the_stack_file_exist(plans, stack_settings, env_stack):
    plan, settings = plans[env_stack], stack_settings[env_stack]
    problems = []
    for name, model in settings.models.items():
        actions = children_of(plan, name, SCHEDULED_ACTION)
        found = {
            (
                a.inputs["resourceId"],
                a.inputs["schedule"],
                a.inputs.get("timezone"),
                a.inputs["scalableTargetAction"].get("minCapacity"),
                a.inputs["scalableTargetAction"].get("maxCapacity"),
            )
            for a in actions
        }
        expected = set()
        if model.autoscaled:
            endpoint = endpoint_of(plan, name).inputs["name"]
            expected = {
                (
                    f"endpoint/{endpoint}/variant/{variant}",
                    s.schedule,
                    s.timezone,
                    s.min_instances,
                    s.max_instances,
                )
                for s in model.scaling.schedules
                for variant in naming.production_variants(model)
            }
        if found != expected:
            problems.append(
                f"{endpoint_of(plan, name).urn}: scheduled actions {sorted(found)}, "
                f"expected {sorted(expected)}"
            )
    assert not problems, "\n".join(problems)


def test_a_refresh_after_a_schedule_ran_is_not_undone(plans, stack_settings, env_stack):
    """A scheduled action changes its target's min and max capacity; a target with schedules
    ignores changes to them, so `pulumi up` after `pulumi refresh` leaves the schedule's values.
    A target without schedules keeps following the stack file."""
    plan, settings = plans[env_stack], stack_settings[env_stack]
    problems = []
    for name, model in settings.models.items():
        expected = (
            ["maxCapacity", "minCapacity"] if model.scaling and model.scaling.schedules else []
        )
        for target in children_of(plan, name, SCALABLE_TARGET):
            if sorted(target.ignore_changes) != expected:
                problems.append(f"{target.urn}: ignores changes to {target.ignore_changes}")
    assert not problems, "\n".join(problems)


def test_prod_file_schedules_are_registered(plans, stack_configs, prod_stack):
    """The schedules written in the prod file, by name, are in the plan."""
    plan = plans[prod_stack]
    written = {
        (model, schedule["name"])
        for model, spec in stack_configs[prod_stack]["mlserve:models"].items()
        for schedule in (spec.get("scaling") or {}).get("schedules", [])
    }
    assert written, f"stack {prod_stack} has no schedules to check"
    for model, schedule in written:
        names = {a.name for a in children_of(plan, model, SCHEDULED_ACTION)}
        assert f"{model}-{naming.CHAMPION}-{schedule}" in names, (model, schedule, names)


# --- a new instance type must not update a scaled variant in place (terraform-provider-aws
# #14337) ------------------------------------------------------------------------------------


def scaled_model(stack_settings: Mapping[str, Settings], stack: str) -> str:
    settings = stack_settings[stack]
    assert isinstance(settings, EnvironmentSettings)
    autoscaled = [n for n, m in settings.models.items() if m.autoscaled]
    if not autoscaled:
        pytest.skip(f"stack {stack} has no autoscaled model")
    return autoscaled[0]


def other_instance_type(current: str) -> str:
    return "ml.m5.2xlarge" if current != "ml.m5.2xlarge" else "ml.c5.2xlarge"


def test_endpoint_name_follows_the_scaled_layout(plans, stack_settings, env_stack):
    """A new instance type draws a new endpoint name; a new version, or autoscaling turned on
    or off, does not."""
    plan, settings = plans[env_stack], stack_settings[env_stack]
    problems = []
    for name, model in settings.models.items():
        if model.serverless is not None:
            continue
        identity = naming.endpoint_identity(model)
        suffix = only(children_of(plan, name, RANDOM_ID), f"endpoint name suffix of {name}")
        if suffix.inputs.get("keepers") != identity:
            problems.append(f"{suffix.urn}: keepers {suffix.inputs.get('keepers')}")
        endpoint = endpoint_of(plan, name)
        if not endpoint.inputs["name"].startswith(
            naming.endpoint_name_prefix(name, settings.environment)
        ):
            problems.append(f"{endpoint.urn}: name {endpoint.inputs['name']}")
        resized = model.model_copy(
            update={"instance_type": other_instance_type(model.instance_type)}
        )
        if naming.endpoint_identity(resized) == identity:
            problems.append(f"{endpoint.urn}: a new instance type keeps the endpoint's name")
        assert model.scaling is not None
        toggled = model.model_copy(
            update={
                "scaling": model.scaling.model_copy(
                    update={"max_instances": model.scaling.min_instances}
                    if model.autoscaled
                    else {"max_instances": model.scaling.min_instances + 1}
                )
            }
        )
        assert toggled.autoscaled != model.autoscaled
        if naming.endpoint_identity(toggled) != identity:
            problems.append(f"{endpoint.urn}: autoscaling on or off renames the endpoint")
        promoted = model.model_copy(
            update={"version": model.version.model_copy(update={"digest": "sha256:" + "f" * 64})}
        )
        if naming.endpoint_identity(promoted) != identity:
            problems.append(f"{endpoint.urn}: a new version renames the endpoint")
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def prod_variants(stack_configs, stack_settings):
    """Prod's first scaled model with a new instance type, and with only a new version."""
    stack = "prod"
    name = scaled_model(stack_settings, stack)
    base = stack_configs[stack]

    resized = copy.deepcopy(base)
    model = resized["mlserve:models"][name]
    model["instance_type"] = other_instance_type(stack_settings[stack].models[name].instance_type)

    promoted = copy.deepcopy(base)
    model = promoted["mlserve:models"][name]
    package = model["version"]["package"]
    number = int(package.rsplit("/", 1)[1])
    model["version"] = {
        "package": f"{package.rsplit('/', 1)[0]}/{number + 7}",
        "digest": "sha256:" + "e" * 64,
    }
    return name, evaluate(resized, stack), evaluate(promoted, stack)


def scaling_ids(plan, name: str) -> dict[str, str]:
    return {t.urn: t.inputs["resourceId"] for t in children_of(plan, name, SCALABLE_TARGET)}


def test_new_instance_type_replaces_endpoint_and_targets(plans, prod_variants):
    name, resized, _ = prod_variants
    before, after = plans["prod"], resized
    assert endpoint_of(after, name).inputs["name"] != endpoint_of(before, name).inputs["name"], (
        endpoint_of(after, name).urn
    )
    old, new = scaling_ids(before, name), scaling_ids(after, name)
    assert old.keys() == new.keys()
    # resourceId is immutable: a new value replaces the target along with the endpoint.
    unchanged = [urn for urn in old if old[urn] == new[urn]]
    assert not unchanged, f"targets kept across an instance type change: {unchanged}"


def test_new_version_keeps_endpoint_and_targets(plans, prod_variants):
    name, _, promoted = prod_variants
    before, after = plans["prod"], promoted
    assert endpoint_of(after, name).inputs["name"] == endpoint_of(before, name).inputs["name"], (
        endpoint_of(after, name).urn
    )
    assert scaling_ids(after, name) == scaling_ids(before, name)
