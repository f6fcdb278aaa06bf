"""No change a user makes to a stack file replaces a resource under its own fixed name.

The provider replaces a resource when a replace-forcing input changes
(``infra/review/replacement.py``, from terraform-provider-aws's schema), and Pulumi creates the
replacement before deleting the original: with the same physical name the two collide and
``pulumi up`` fails half way. Each case below evaluates the real program on a stack file before
and after one kind of edit and checks every resource present in both.

The mocks cannot reproduce that failure; the table can. A control case checks that the test
itself catches a collision when the endpoint's name does not follow its replace-forcing inputs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, cast

import pytest

from infra import naming
from infra.resource_types import ENDPOINT
from infra.review.plan import Plan, PlannedResource, evaluate
from infra.review.replacement import collision, replaced_properties

Config = dict[str, Any]


def _models(config: Config) -> dict[str, Any]:
    return cast(dict[str, Any], config["mlserve:models"])


def promote(config: Config) -> None:
    version = _models(config)["churn"]["version"]
    group, number = version["package"].rsplit("/", 1)
    version["package"] = f"{group}/{int(number) + 1}"
    version["digest"] = "sha256:" + "d" * 64


def remove_challenger(config: Config) -> None:
    del _models(config)["churn"]["challenger"]


def fixed_size(config: Config) -> None:
    """staging's fraud on two instances without autoscaling: the base of the challenger cases."""
    _models(config)["fraud"]["scaling"] = {"min_instances": 2, "max_instances": 2}


def add_challenger(config: Config) -> None:
    fixed_size(config)
    fraud = _models(config)["fraud"]
    fraud["challenger"] = {"version": copy.deepcopy(fraud["version"]), "traffic_percent": 10}
    fraud["challenger"]["version"]["package"] = fraud["version"]["package"][:-1] + "9"


def toggle_auto_rollback(config: Config) -> None:
    deployment = _models(config)["churn"].setdefault("deployment", {})
    deployment["auto_rollback"] = not deployment.get("auto_rollback", True)


def serverless_to_instances(config: Config) -> None:
    fraud = _models(config)["fraud"]
    del fraud["serverless"]
    fraud["instance_type"] = "ml.t2.medium"


def instances_to_serverless(config: Config) -> None:
    churn = _models(config)["churn"]
    churn.pop("instance_type", None)
    churn.pop("scaling", None)
    churn["serverless"] = {"memory_mb": 2048, "max_concurrency": 5}


def resize_scaled_variant(config: Config) -> None:
    _models(config)["churn"]["instance_type"] = "ml.m5.2xlarge"


def tighten_latency_alarm(config: Config) -> None:
    _models(config)["churn"].setdefault("alarms", {})["p99_latency_ms"] = 200


def longer_logs(config: Config) -> None:
    _models(config)["fraud"]["log_retention_days"] = 731


def more_capture(config: Config) -> None:
    _models(config)["churn"].setdefault("data_capture", {})["sampling_percent"] = 40


def no_isolation(config: Config) -> None:
    _models(config)["fraud"]["network"]["isolation"] = False


def scale_further(config: Config) -> None:
    _models(config)["churn"]["scaling"]["max_instances"] += 2


def add_shadow(config: Config) -> None:
    churn = _models(config)["churn"]
    churn["shadow"] = {"version": copy.deepcopy(churn["version"]), "sampling_percent": 20}
    churn["shadow"]["version"]["package"] = churn["version"]["package"][:-1] + "8"


def enable_drift(config: Config) -> None:
    """dev's churn with data capture and drift monitoring on: a new DriftMonitor, a new
    endpoint configuration (data capture), a capture bucket."""
    churn = _models(config)["churn"]
    churn["data_capture"] = {"enabled": True}
    churn["drift"] = {"enabled": True, "alarms": {"tenure_months": 0.3}}


def daily_drift(config: Config) -> None:
    _models(config)["churn"]["drift"]["schedule"] = "daily"


def bigger_drift_job(config: Config) -> None:
    _models(config)["fraud"]["drift"] = {"instance_type": "ml.m5.2xlarge"}


def edit_group_description(config: Config) -> None:
    _models(config)["churn"]["description"] = "Churn propensity, retrained monthly"


def add_reader_account(config: Config) -> None:
    config["mlserve:artifact_store"]["reader_accounts"].append("555555555555")


Edit = Callable[[Config], None]

# (stack, edit applied to both sides first, the edit under test)
CASES: dict[str, tuple[str, Edit | None, Edit]] = {
    "promote a version": ("prod", None, promote),
    "remove the challenger": ("prod", None, remove_challenger),
    "add a challenger to a fixed-size endpoint": ("staging", fixed_size, add_challenger),
    "toggle auto-rollback": ("staging", None, toggle_auto_rollback),
    "serverless to instances": ("dev", None, serverless_to_instances),
    "instances to serverless": ("dev", None, instances_to_serverless),
    "new instance type of an autoscaled variant": ("prod", None, resize_scaled_variant),
    "tighter latency alarm": ("prod", None, tighten_latency_alarm),
    "longer log retention": ("prod", None, longer_logs),
    "more data capture": ("prod", None, more_capture),
    "network isolation off": ("prod", None, no_isolation),
    "higher max_instances": ("prod", None, scale_further),
    "add a shadow variant": ("staging", None, add_shadow),
    "enable drift": ("dev", None, enable_drift),
    "daily drift analysis": ("prod", None, daily_drift),
    "bigger drift analysis instances": ("prod", None, bigger_drift_job),
    "edit a group description": ("shared", None, edit_group_description),
    "add a reader account": ("shared", None, add_reader_account),
}


def _effective(resource: PlannedResource) -> dict[str, Any]:
    """The inputs Pulumi diffs: those under ``ignore_changes`` never cause an update."""
    return {k: v for k, v in resource.inputs.items() if k not in resource.ignore_changes}


def collisions(before: Plan, after: Plan) -> list[str]:
    old = {r.urn: r for r in before.resources if r.custom}
    problems = []
    for resource in after.resources:
        previous = old.get(resource.urn)
        # A StackReference reads another stack's outputs: it has no physical name.
        if previous is None or not resource.custom or resource.type.startswith("pulumi:"):
            continue
        reason = collision(resource.type, _effective(previous), _effective(resource))
        if reason:
            problems.append(f"{resource.urn}: {reason}")
    return problems


def changed(before: Plan, after: Plan) -> list[str]:
    old = {r.urn: r.inputs for r in before.resources}
    return [r.urn for r in after.resources if old.get(r.urn) != r.inputs]


def pair(stack_configs, stack: str, setup: Edit | None, edit: Edit) -> tuple[Plan, Plan]:
    base = copy.deepcopy(stack_configs[stack])
    if setup is not None:
        setup(base)
    edited = copy.deepcopy(base)
    edit(edited)
    return evaluate(base, stack), evaluate(edited, stack)


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_fixed_name_is_replaced_in_place(stack_configs, case):
    stack, setup, edit = CASES[case]
    before, after = pair(stack_configs, stack, setup, edit)
    assert changed(before, after), f"{case}: the edit changed nothing, the check would pass"
    problems = collisions(before, after)
    assert not problems, f"{case}:\n" + "\n".join(problems)


def _endpoint(plan: Plan, model: str) -> PlannedResource:
    return next(r for r in plan.resources if r.type == ENDPOINT and r.name == f"{model}-endpoint")


@pytest.mark.parametrize(
    "case",
    [
        "toggle auto-rollback",
        "instances to serverless",
        "new instance type of an autoscaled variant",
    ],
)
def test_an_endpoint_that_must_be_replaced_gets_a_new_name(stack_configs, case):
    stack, setup, edit = CASES[case]
    before, after = pair(stack_configs, stack, setup, edit)
    old, new = _endpoint(before, "churn"), _endpoint(after, "churn")
    assert replaced_properties(old.type, old.inputs, new.inputs), f"{case}: not a replacement"
    assert new.inputs["name"] != old.inputs["name"], new.urn


def test_a_promotion_keeps_the_endpoint(stack_configs):
    before, after = pair(stack_configs, "prod", None, promote)
    old, new = _endpoint(before, "churn"), _endpoint(after, "churn")
    assert not replaced_properties(old.type, old.inputs, new.inputs), new.urn
    assert new.inputs["name"] == old.inputs["name"], new.urn


def test_the_check_catches_an_endpoint_replaced_under_its_name(stack_configs, monkeypatch):
    """Control: with a name that ignores the rollback alarms, toggling them collides."""
    identity = naming.endpoint_identity
    monkeypatch.setattr(
        naming,
        "endpoint_identity",
        lambda model: {**identity(model), "rollback_alarms": "fixed"},
    )
    before, after = pair(stack_configs, "staging", None, toggle_auto_rollback)
    problems = collisions(before, after)
    assert any(ENDPOINT in p and "autoRollbackConfiguration" in p for p in problems), problems
