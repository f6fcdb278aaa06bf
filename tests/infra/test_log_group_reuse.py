"""A retained log group never blocks a later endpoint: A -> B -> A, and destroy then up.

Log groups are kept when their endpoint goes (``retain_on_delete``), so their names stay taken
in the account; CreateLogGroup then refuses the same name (``ResourceAlreadyExistsException``,
CloudWatch Logs API reference). SageMaker dictates the name, ``/aws/sagemaker/Endpoints/<endpoint
name>``, so each endpoint the program creates must have a name never used before.

The program makes that so with the endpoint name's random suffix (a ``RandomId`` whose keepers
are everything that replaces the endpoint). The mocks answer a RandomId deterministically, so
the sequence of ``pulumi up`` runs is simulated here from what the plans register and from the
provider's rule for RandomId (a change of keepers replaces it, and a replacement draws new bytes:
``infra/review/replacement.py``).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from infra import naming
from infra.resource_types import ENDPOINT, LOG_GROUP, RANDOM_ID
from infra.review.plan import Plan, PlannedResource, evaluate
from infra.review.replacement import replaced_properties

Draw = Callable[[PlannedResource, "tuple[dict[str, Any], str] | None"], str]


class Account:
    """What a sequence of deployments leaves in an account, and the stack's state.

    ``draw`` decides the suffix of a model's endpoint name from its RandomId and the state kept
    from the last deployment (keepers, value).
    """

    def __init__(self, draw: Draw) -> None:
        self.draw = draw
        self.log_groups: set[str] = set()  # every group ever created: retained on delete
        self.live: set[str] = set()  # the groups of the deployed endpoints
        self.state: dict[str, tuple[dict[str, Any], str]] = {}  # RandomId urn -> keepers, value

    def up(self, plan: Plan) -> dict[str, str]:
        """Deploy ``plan``; returns model -> endpoint name. Fails as CreateLogGroup would."""
        names = {}
        for suffix in _of_type(plan, RANDOM_ID):
            model = suffix.name.removesuffix("-endpoint-id")
            value = self.draw(suffix, self.state.get(suffix.urn))
            self.state[suffix.urn] = (suffix.inputs["keepers"], value)
            names[model] = _renamed(plan, model, suffix, value)
        groups = {naming.LOG_GROUP_PREFIX + endpoint for endpoint in names.values()}
        for group in sorted(groups - self.live):
            if group in self.log_groups:
                raise AssertionError(f"ResourceAlreadyExistsException: {group}")
            self.log_groups.add(group)
        self.live = groups
        return names

    def destroy(self) -> None:
        self.state.clear()
        self.live.clear()  # the groups stay in the account: they are retained on delete


def random_id(counter: Iterator[int]) -> Draw:
    """The provider's rule: the same keepers keep the value, a replacement draws new bytes."""

    def draw(suffix: PlannedResource, kept: tuple[dict[str, Any], str] | None) -> str:
        if kept is not None and not replaced_properties(
            RANDOM_ID, {**suffix.inputs, "keepers": kept[0]}, suffix.inputs
        ):
            return kept[1]
        return f"{next(counter):08x}"

    return draw


def layout_hash(suffix: PlannedResource, kept: tuple[dict[str, Any], str] | None) -> str:
    """A suffix that is a function of the layout, as a hash of the settings would be."""
    return hashlib.sha256(repr(sorted(suffix.inputs["keepers"].items())).encode()).hexdigest()[:8]


def _of_type(plan: Plan, type_: str) -> list[PlannedResource]:
    return [r for r in plan.resources if r.type == type_]


def _renamed(plan: Plan, model: str, suffix: PlannedResource, value: str) -> str:
    """The endpoint's name with ``value`` as its suffix, once the plan shows that both the
    endpoint's and its log group's names come from the RandomId."""
    prefix = naming.endpoint_name_prefix(model, plan.stack)
    endpoint = next(r for r in _of_type(plan, ENDPOINT) if r.name == f"{model}-endpoint")
    group = next(r for r in _of_type(plan, LOG_GROUP) if r.name == f"{model}-logs")
    drawn = endpoint.inputs["name"].removeprefix(prefix)
    assert endpoint.inputs["name"] == prefix + drawn, endpoint.urn
    assert len(drawn) == 2 * suffix.inputs["byteLength"], endpoint.urn
    assert group.inputs["name"] == naming.LOG_GROUP_PREFIX + endpoint.inputs["name"], group.urn
    assert group.retain_on_delete, group.urn
    return prefix + value


@pytest.fixture(scope="module")
def layouts(stack_configs) -> tuple[Plan, Plan]:
    """prod's churn on its instance type (A), then on another (B): a new scaled layout."""
    a = copy.deepcopy(stack_configs["prod"])
    b = copy.deepcopy(a)
    b["mlserve:models"]["churn"]["instance_type"] = "ml.m5.2xlarge"
    return evaluate(a, "prod"), evaluate(b, "prod")


def test_back_to_an_earlier_layout_gets_a_new_log_group(layouts):
    a, b = layouts
    account = Account(random_id(itertools.count(1)))
    first, second = account.up(a), account.up(b)
    third = account.up(a)  # raises if a retained group's name came back
    assert len({first["churn"], second["churn"], third["churn"]}) == 3
    # An unchanged model keeps its endpoint, and its group, throughout.
    assert first["fraud"] == second["fraud"] == third["fraud"]


def test_destroy_then_up_gets_new_log_groups(layouts):
    a, _ = layouts
    account = Account(random_id(itertools.count(1)))
    before = account.up(a)
    account.destroy()
    after = account.up(a)
    assert set(before.values()).isdisjoint(after.values())


def test_a_name_that_follows_the_layout_would_collide(layouts):
    """Control: a suffix that comes back with the layout fails on A -> B -> A."""
    a, b = layouts
    account = Account(layout_hash)
    account.up(a)
    account.up(b)
    with pytest.raises(AssertionError, match="ResourceAlreadyExistsException"):
        account.up(a)
