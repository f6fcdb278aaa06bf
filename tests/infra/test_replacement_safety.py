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
from infra.resource_types import ENDPOINT, SCALABLE_TARGET
from infra.review import endpoint_updates
from infra.review.plan import Plan, PlannedResource, evaluate, plan_document
from infra.review.replacement import FIXED_NAMES, collision, replaced_properties

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


def add_churn_challenger(config: Config) -> None:
    churn = _models(config)["churn"]
    churn["challenger"] = {"version": copy.deepcopy(churn["version"]), "traffic_percent": 10}
    churn["challenger"]["version"]["package"] = churn["version"]["package"][:-1] + "9"


def end_ab_test(config: Config) -> None:
    del _models(config)["fraud"]["challenger"]


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


def remove_shadow(config: Config) -> None:
    """staging's churn with a shadow on both sides, then without it."""
    del _models(config)["churn"]["shadow"]


def autoscaling_on(config: Config) -> None:
    """staging's fraud (two fixed instances) made to scale from two to four."""
    _models(config)["fraud"]["scaling"]["max_instances"] = 4


def autoscaling_off(config: Config) -> None:
    _models(config)["churn"]["scaling"]["max_instances"] = _models(config)["churn"]["scaling"][
        "min_instances"
    ]


def resize_fixed_variant(config: Config) -> None:
    _models(config)["fraud"]["instance_type"] = "ml.m5.2xlarge"


def slower_canary(config: Config) -> None:
    _models(config)["churn"]["deployment"]["wait_seconds"] = 900


def enable_drift(config: Config) -> None:
    """dev's churn with data capture and drift monitoring on: a new DriftMonitor, a new
    endpoint configuration (data capture), a capture bucket."""
    churn = _models(config)["churn"]
    churn["data_capture"] = {"enabled": True}
    churn["drift"] = {"enabled": True, "alarms": {"tenure_months": 0.3}}


def daily_drift(config: Config) -> None:
    _models(config)["churn"]["drift"]["schedule"] = "daily"


def bigger_drift_job(config: Config) -> None:
    _models(config)["fraud"]["drift"] = {
        "engine": "model-monitor",
        "instance_type": "ml.m5.2xlarge",
    }


def model_monitor_drift(config: Config) -> None:
    """prod's models analysed by SageMaker Model Monitor instead of the mlserve engine."""
    for model in _models(config).values():
        model.setdefault("drift", {})["engine"] = "model-monitor"


def mlserve_drift(config: Config) -> None:
    for model in _models(config).values():
        model.setdefault("drift", {})["engine"] = "mlserve"


def bigger_drift_function(config: Config) -> None:
    _models(config)["churn"]["drift"].update({"memory_mb": 3008, "timeout_seconds": 900})


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
    "remove a shadow variant": ("staging", add_shadow, remove_shadow),
    "add a challenger to an autoscaled endpoint": ("prod", remove_challenger, add_churn_challenger),
    "remove the challenger from a fixed-size endpoint": ("staging", add_challenger, end_ab_test),
    "turn autoscaling on": ("staging", fixed_size, autoscaling_on),
    "turn autoscaling off": ("prod", None, autoscaling_off),
    "new instance type of a fixed-size variant": ("staging", fixed_size, resize_fixed_variant),
    "enable drift": ("dev", None, enable_drift),
    "daily drift analysis": ("prod", None, daily_drift),
    "bigger drift analysis instances": ("prod", model_monitor_drift, bigger_drift_job),
    "drift engine mlserve to model-monitor": ("prod", None, model_monitor_drift),
    "drift engine model-monitor to mlserve": ("prod", model_monitor_drift, mlserve_drift),
    "more memory for the drift function": ("prod", None, bigger_drift_function),
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
    """Resources added, removed or with other inputs."""
    old = {r.urn: r.inputs for r in before.resources}
    new = {r.urn: r.inputs for r in after.resources}
    return sorted(urn for urn in old.keys() | new.keys() if old.get(urn) != new.get(urn))


def pair(
    stack_configs, stack: str, setup: Edit | None, edit: Edit, base_plan: Plan | None = None
) -> tuple[Plan, Plan]:
    base = copy.deepcopy(stack_configs[stack])
    if setup is not None:
        setup(base)
    edited = copy.deepcopy(base)
    edit(edited)
    return base_plan or evaluate(base, stack), evaluate(edited, stack)


_PAIRS: dict[str, tuple[Plan, Plan]] = {}
# The plan before the edit, per stack and setup: several cases share one.
_BASES: dict[tuple[str, Edit | None], Plan] = {}


def case_pair(stack_configs, case: str) -> tuple[Plan, Plan]:
    """``pair`` for one of CASES, evaluated once per test process: several tests read each
    case's plans. The control tests, which patch the program, call ``pair`` itself."""
    if case not in _PAIRS:
        stack, setup, edit = CASES[case]
        before, after = pair(stack_configs, stack, setup, edit, _BASES.get((stack, setup)))
        _BASES[(stack, setup)] = before
        _PAIRS[case] = before, after
    return _PAIRS[case]


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_fixed_name_is_replaced_in_place(stack_configs, case):
    before, after = case_pair(stack_configs, case)
    assert changed(before, after), f"{case}: the edit changed nothing, the check would pass"
    problems = collisions(before, after)
    assert not problems, f"{case}:\n" + "\n".join(problems)


def _endpoint(plan: Plan, model: str) -> PlannedResource:
    return next(r for r in plan.resources if r.type == ENDPOINT and r.name == f"{model}-endpoint")


def refused_updates(before: Plan, after: Plan) -> list[str]:
    """In-place endpoint updates that SageMaker refuses (infra/review/endpoint_updates.py)."""
    old, new = plan_document(before)["resources"], plan_document(after)["resources"]
    return [p.message for p in endpoint_updates.update_problems(old, new) if p.refused]


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_endpoint_update_is_one_aws_refuses(stack_configs, case):
    before, after = case_pair(stack_configs, case)
    problems = refused_updates(before, after)
    assert not problems, f"{case}:\n" + "\n".join(problems)


# (case, model): edits that need a new endpoint, each for its own reason.
NEW_ENDPOINT = [
    ("toggle auto-rollback", "churn"),
    ("instances to serverless", "churn"),
    ("new instance type of an autoscaled variant", "churn"),
    ("new instance type of a fixed-size variant", "fraud"),
    ("add a shadow variant", "churn"),
    ("remove a shadow variant", "churn"),
    ("add a challenger to a fixed-size endpoint", "fraud"),
    ("remove the challenger from a fixed-size endpoint", "fraud"),
    ("add a challenger to an autoscaled endpoint", "churn"),
    ("remove the challenger", "churn"),
]


@pytest.mark.parametrize(("case", "model"), NEW_ENDPOINT)
def test_an_endpoint_that_must_be_replaced_gets_a_new_name(stack_configs, case, model):
    before, after = case_pair(stack_configs, case)
    old, new = _endpoint(before, model), _endpoint(after, model)
    assert replaced_properties(old.type, old.inputs, new.inputs), f"{case}: not a replacement"
    assert new.inputs["name"] != old.inputs["name"], new.urn


@pytest.mark.parametrize(
    ("case", "model"),
    [
        ("daily drift analysis", "churn"),
        ("drift engine mlserve to model-monitor", "churn"),
        ("drift engine mlserve to model-monitor", "fraud"),
        ("drift engine model-monitor to mlserve", "churn"),
        ("more memory for the drift function", "churn"),
        ("promote a version", "churn"),
        ("turn autoscaling on", "fraud"),
        ("turn autoscaling off", "churn"),
        ("higher max_instances", "churn"),
    ],
)
def test_an_endpoint_that_can_be_updated_keeps_its_name(stack_configs, case, model):
    before, after = case_pair(stack_configs, case)
    old, new = _endpoint(before, model), _endpoint(after, model)
    assert not replaced_properties(old.type, old.inputs, new.inputs), new.urn
    assert new.inputs["name"] == old.inputs["name"], new.urn


def test_autoscaling_on_and_off_registers_and_removes_the_targets(stack_configs):
    before, after = pair(stack_configs, "staging", fixed_size, autoscaling_on)
    targets = [r.name for r in after.resources if r.type == SCALABLE_TARGET and "fraud" in r.name]
    assert targets == ["fraud-champion-scaling"]
    assert not [r for r in before.resources if r.type == SCALABLE_TARGET and "fraud" in r.name]


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


@pytest.mark.parametrize(
    ("drop", "case", "rule"),
    [
        ("shadow", "add a shadow variant", endpoint_updates.VARIANT_NAMES),
        (
            "instance type",
            "new instance type of an autoscaled variant",
            endpoint_updates.SCALED_VARIANT,
        ),
    ],
)
def test_the_check_catches_an_update_aws_refuses(stack_configs, monkeypatch, drop, case, rule):
    """Control: with a name that ignores the shadow, or the instance type, the edit updates
    the endpoint in place, and the check names the rule SageMaker refuses it by."""
    layout = naming.variant_layout

    def blind(model):
        found = layout(model)
        if drop == "shadow":
            return ",".join(v for v in found.split(",") if not v.startswith(naming.SHADOW))
        return ",".join(v.split("=")[0] for v in found.split(","))

    monkeypatch.setattr(naming, "variant_layout", blind)
    stack, setup, edit = CASES[case]
    before, after = pair(stack_configs, stack, setup, edit)
    old, new = plan_document(before)["resources"], plan_document(after)["resources"]
    rules = {p.rule for p in endpoint_updates.update_problems(old, new) if p.refused}
    assert rule in rules, rules


def _physical_names(plan: Plan) -> dict[tuple[str, str], str]:
    """(type, physical name) -> URN of every resource that sets its name."""
    names = {}
    for resource in plan.resources:
        keys = FIXED_NAMES.get(resource.type, ())
        identity = tuple(resource.inputs.get(key) for key in keys)
        # Only names the program sets: an auto-name is drawn anew for each URN.
        if resource.custom and keys and all(isinstance(v, str) for v in identity):
            names[(resource.type, "/".join(map(str, identity)))] = resource.urn
    return names


@pytest.mark.parametrize(
    "case", ["drift engine mlserve to model-monitor", "drift engine model-monitor to mlserve"]
)
def test_switching_the_drift_engine_reuses_no_name(stack_configs, case):
    """A resource of one engine is deleted and one of the other created: Pulumi creates first,
    so two resources under different URNs must never share a physical name (an alarm's create
    would overwrite the old one, whose delete would then remove it)."""
    before, after = case_pair(stack_configs, case)
    old, new = _physical_names(before), _physical_names(after)
    assert changed(before, after), f"{case}: the edit changed nothing, the check would pass"
    reused = sorted(
        f"{name}: {old[(type_, name)]} -> {new[(type_, name)]}"
        for type_, name in old.keys() & new.keys()
        if old[(type_, name)] != new[(type_, name)]
    )
    assert reused == []
