"""What ``python -m infra plan-diff`` finds: the changes to a stack's resources and outputs.

Plain data, built by ``infra.review.plan_diff`` and printed by ``infra.review.diff_render``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from infra.capacity.change import CapacityChange
from infra.capacity.render import change_json

ADDED, REMOVED, UPDATED, REPLACED = "added", "removed", "updated", "replaced"
KINDS = (REPLACED, UPDATED, ADDED, REMOVED)


class PlanDiffError(Exception):
    """A diff that cannot be made; ``status`` is the exit status the CLI gives it."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


class _Absent:
    """A field that one side does not have (``null`` is a value of its own)."""

    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class FieldChange:
    path: str
    old: Any
    new: Any

    def as_text(self) -> str:
        return f"{self.path}: {_value(self.old)} → {_value(self.new)}"

    def as_json(self) -> dict[str, Any]:
        found = {"path": self.path}
        if self.old is not ABSENT:
            found["old"] = self.old
        if self.new is not ABSENT:
            found["new"] = self.new
        return found


@dataclass(frozen=True)
class ResourceChange:
    kind: str
    type: str
    name: str
    parent: str | None
    urn: str | None
    fields: list[FieldChange] = field(default_factory=list)
    # Replace-forcing properties that changed, and why the replacement cannot succeed, if so.
    replaced_properties: list[str] = field(default_factory=list)
    collision: str | None = None
    # Why AWS refuses this in-place update (infra.review.endpoint_updates), if it does.
    refusal: str | None = None
    # What the diff cannot tell about this change.
    note: str | None = None

    @property
    def label(self) -> str:
        where = f" (in {self.parent})" if self.parent else ""
        return f"{self.type} {self.name}{where}"

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "urn": self.urn,
        }
        if self.kind == REPLACED:
            found["replacedProperties"] = self.replaced_properties
            found["collision"] = self.collision
        if self.kind == UPDATED and self.refusal:
            found["refusal"] = self.refusal
        if self.kind in (UPDATED, REPLACED):
            found["changes"] = [f.as_json() for f in self.fields]
        if self.note:
            found["note"] = self.note
        return found


@dataclass(frozen=True)
class StackDiff:
    stack: str
    base: str
    resources: list[ResourceChange]
    # None when the base revision's plan does not list the stack outputs.
    outputs: list[FieldChange] | None
    unchanged: int
    base_has_stack: bool = True
    # The instances and cost of the environment's endpoints, before and after; None for the
    # shared stack, which has none.
    capacity: CapacityChange | None = None

    def of_kind(self, kind: str) -> list[ResourceChange]:
        return [r for r in self.resources if r.kind == kind]

    @property
    def counts(self) -> dict[str, int]:
        return {kind: len(self.of_kind(kind)) for kind in KINDS}

    @property
    def collisions(self) -> list[ResourceChange]:
        return [r for r in self.resources if r.collision]

    @property
    def refusals(self) -> list[ResourceChange]:
        return [r for r in self.resources if r.refusal]

    @property
    def changed(self) -> bool:
        return bool(self.resources or self.outputs)

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "base": self.base,
            "baseHasStack": self.base_has_stack,
            "counts": {**self.counts, "unchanged": self.unchanged},
            **{kind: [r.as_json() for r in self.of_kind(kind)] for kind in KINDS},
            "outputs": None if self.outputs is None else [f.as_json() for f in self.outputs],
            **(change_json(self.capacity) if self.capacity else {}),
        }


def _value(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
