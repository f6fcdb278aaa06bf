"""In-place endpoint updates that SageMaker refuses, or whose outcome it does not document, as the
plan diff reports them (``infra/review/endpoint_updates.py``)."""

from __future__ import annotations

import copy
from typing import Any

from infra.resource_types import ENDPOINT, ENDPOINT_CONFIG, SCALABLE_TARGET
from infra.review import endpoint_updates
from infra.review.diff_model import UPDATED, StackDiff
from infra.review.diff_render import render_json, render_markdown, render_text
from infra.review.plan import evaluate, plan_document
from infra.review.plan_diff import diff_plans, normalised

Resources = list[dict[str, Any]]


def resources(
    name: str = "churn-prod-1", config: str = "churn-config-1", **variants: str
) -> Resources:
    """An endpoint and its configuration with ``variants`` (name -> instance type; ``shadow``
    is a shadow variant)."""
    production = [
        {"variantName": v, "instanceType": t} for v, t in variants.items() if v != "shadow"
    ]
    shadow = [{"variantName": v, "instanceType": t} for v, t in variants.items() if v == "shadow"]
    found: Resources = [
        {
            "type": ENDPOINT,
            "name": "churn-endpoint",
            "parent": "churn",
            "inputs": {
                "name": name,
                "endpointConfigName": config,
                "deploymentConfig": {"blueGreenUpdatePolicy": {"terminationWaitInSeconds": 600}},
            },
        },
        {
            "type": ENDPOINT_CONFIG,
            "name": "churn-config",
            "parent": "churn",
            "inputs": {"productionVariants": production, "shadowProductionVariants": shadow},
        },
    ]
    return found


def scaled(found: Resources, *variants: str, endpoint: str = "churn-prod-1") -> Resources:
    return found + [
        {
            "type": SCALABLE_TARGET,
            "name": f"churn-{v}-scaling",
            "parent": "churn",
            "inputs": {"resourceId": f"endpoint/{endpoint}/variant/{v}"},
        }
        for v in variants
    ]


def rules(old: Resources, new: Resources) -> list[str]:
    return [p.rule for p in endpoint_updates.update_problems(old, new)]


def test_a_new_variant_set_under_the_same_name_is_refused():
    old = resources(champion="ml.m5.large")
    new = resources(config="churn-config-2", champion="ml.m5.large", shadow="ml.m5.large")
    (problem,) = endpoint_updates.update_problems(old, new)
    assert problem.rule == endpoint_updates.VARIANT_NAMES and problem.refused
    assert "from champion to champion, shadow" in problem.message


def test_a_scaled_variant_resized_or_removed_is_refused_an_unscaled_one_is_not():
    old = scaled(resources(champion="ml.m5.large", challenger="ml.m5.large"), "champion")
    resized = resources(config="c2", champion="ml.m5.xlarge", challenger="ml.m5.large")
    assert rules(old, resized) == [endpoint_updates.SCALED_VARIANT]
    other = resources(config="c2", champion="ml.m5.large", challenger="ml.m5.xlarge")
    assert rules(old, other) == []
    removed = resources(config="c2", challenger="ml.m5.large")
    assert endpoint_updates.SCALED_VARIANT in rules(old, removed)


def test_a_new_endpoint_is_created_not_updated():
    old = scaled(resources(champion="ml.m5.large"), "champion")
    new = resources(name="churn-prod-2", config="c2", champion="ml.m5.xlarge", shadow="ml.m5.large")
    assert rules(old, new) == []


def test_deployment_settings_alone_are_flagged_as_undocumented_not_refused():
    old = resources(champion="ml.m5.large")
    new = copy.deepcopy(old)
    new[0]["inputs"]["deploymentConfig"]["blueGreenUpdatePolicy"]["terminationWaitInSeconds"] = 0
    (problem,) = endpoint_updates.update_problems(old, new)
    assert problem.rule == endpoint_updates.SAME_CONFIGURATION and not problem.refused
    assert "such as a promotion" in problem.message


def staging_diff(stack_configs, edit) -> StackDiff:
    base = copy.deepcopy(stack_configs["staging"])
    edited = copy.deepcopy(base)
    edit(edited["mlserve:models"]["churn"])
    old = normalised(plan_document(evaluate(base, "staging")))
    new = normalised(plan_document(evaluate(edited, "staging")))
    return diff_plans("staging", "main", old, new)


def test_the_plan_diff_warns_of_a_change_to_deployment_settings_alone(stack_configs):
    def slower(churn: dict[str, Any]) -> None:
        churn["deployment"]["wait_seconds"] = churn["deployment"]["wait_seconds"] + 60

    diff = staging_diff(stack_configs, slower)
    (endpoint,) = [r for r in diff.resources if r.type == ENDPOINT]
    assert endpoint.kind == UPDATED and endpoint.refusal is None
    assert (
        endpoint.note and "UpdateEndpoint with the configuration it already runs" in endpoint.note
    )
    assert f"?? {endpoint.note}" in render_text([diff])


def test_the_plan_diff_says_an_update_will_fail(stack_configs, monkeypatch):
    """With an endpoint name that ignored the shadow, adding one would be refused: the diff
    says so at the head of the stack, on the endpoint, and in every format."""
    from infra import naming

    layout = naming.variant_layout
    monkeypatch.setattr(
        naming,
        "variant_layout",
        lambda model: ",".join(v for v in layout(model).split(",") if not v.startswith("shadow")),
    )

    def add_shadow(churn: dict[str, Any]) -> None:
        churn["shadow"] = {"version": copy.deepcopy(churn["version"]), "sampling_percent": 20}

    diff = staging_diff(stack_configs, add_shadow)
    (endpoint,) = [r for r in diff.resources if r.type == ENDPOINT]
    assert endpoint.refusal and "variant names differ" in endpoint.refusal
    assert diff.refusals == [endpoint]
    text = render_text([diff])
    assert f"!! UPDATE WILL FAIL: {endpoint.label}" in text
    assert "UPDATE WILL FAIL" in render_markdown([diff])
    assert '"refusal":' in render_json([diff])


def test_the_plan_diff_says_when_ignore_changes_keeps_a_change_from_applying(stack_configs):
    """prod's churn has schedules: its targets ignore min and max capacity, so a new
    max_instances changes the plan but not the live targets, and the diff says so."""
    base = copy.deepcopy(stack_configs["prod"])
    edited = copy.deepcopy(base)
    edited["mlserve:models"]["churn"]["scaling"]["max_instances"] += 2
    old = normalised(plan_document(evaluate(base, "prod")))
    new = normalised(plan_document(evaluate(edited, "prod")))
    diff = diff_plans("prod", "main", old, new)
    targets = [r for r in diff.resources if r.type == SCALABLE_TARGET]
    assert targets and all(r.kind == UPDATED for r in targets)
    for target in targets:
        assert target.note == (
            "ignoreChanges covers maxCapacity: Pulumi leaves the live values as they are"
        )
