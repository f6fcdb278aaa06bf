"""infra/resource_types.py: every type the program registers, each spelled as its SDK spells it,
and nothing that nothing registers without a reason."""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import pytest

from infra import resource_types
from infra.review.plan import Plan
from infra.settings import PROJECT
from tests.sdk_classes import internal_init, sdk_class

TOKENS: dict[str, str] = {
    name: value
    for name, value in vars(resource_types).items()
    if name.isupper() and isinstance(value, str)
}

# Held although no stack file's plan has them, each for its reason.
KEPT = (
    {
        # Registered for a Lambda alert subscription, which no stack file has;
        # tests/infra/test_store_and_grants.py plans one and finds it.
        resource_types.LAMBDA_PERMISSION: "a Lambda alert subscription",
        # The SDK registers every stack's root; the offline plan leaves it out
        # (infra/review/mocks.py).
        resource_types.STACK: "the stack's root",
    }
    | {
        # The Model Monitor drift engine, which no stack file selects (the default is mlserve);
        # tests/infra/test_drift_monitor.py plans the stack files with it.
        token: "the model-monitor drift engine"
        for token in (
            resource_types.DRIFT_MONITOR,
            resource_types.DATA_QUALITY_JOB,
            resource_types.MONITORING_SCHEDULE,
        )
    }
    | {
        token: "judged by the policy pack and the plan checks"
        for token in resource_types.NOT_REGISTERED
    }
)


def registered(plans: Mapping[str, Plan]) -> set[str]:
    return {r.type for stack in plans for r in plans[stack].resources}


def test_every_type_the_stacks_register_is_in_the_module(plans: Mapping[str, Plan]) -> None:
    missing = sorted(registered(plans) - set(TOKENS.values()))
    assert not missing, f"not in infra/resource_types.py: {missing}"


def test_the_module_holds_only_what_the_stacks_register_or_is_kept_for_a_reason(
    plans: Mapping[str, Plan],
) -> None:
    unregistered = set(TOKENS.values()) - registered(plans)
    held_for_nothing = sorted(unregistered - set(KEPT))
    assert not held_for_nothing, (
        f"no stack registers these and no reason keeps them: {held_for_nothing}"
    )
    # A kept token that a stack now registers is kept for a reason that no longer holds.
    assert sorted(set(KEPT) - unregistered) == []


def test_each_token_is_spelled_once() -> None:
    names: dict[str, list[str]] = {}
    for name, token in TOKENS.items():
        names.setdefault(token, []).append(name)
    assert [found for found in names.values() if len(found) > 1] == []


def test_components_are_the_project_tokens() -> None:
    project = {token for token in TOKENS.values() if token.startswith(f"{PROJECT}:")}
    assert project == resource_types.COMPONENTS


def test_the_groups_hold_tokens_of_the_module() -> None:
    groups = (
        resource_types.COMPONENTS,
        resource_types.NOT_REGISTERED,
        resource_types.IDENTITY_POLICY_TYPES,
        resource_types.POLICY_ATTACHMENTS,
    )
    assert {token for group in groups for token in group} <= set(TOKENS.values())


@pytest.mark.parametrize(
    "token", sorted(t for t in TOKENS.values() if t.split(":")[0] in ("aws", "random"))
)
def test_a_provider_token_is_the_one_its_sdk_class_registers(token: str) -> None:
    # pulumi_aws and pulumi_random classes pass their token, quoted, to the resource
    # constructor in _internal_init.
    source = inspect.getsource(internal_init(sdk_class(token)))
    assert f"'{token}'" in source
