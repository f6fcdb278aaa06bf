"""What a change does to a stack's capacity and cost: before and after, and the peak it causes.

The peak of a change counts, per instance type, every model the change updates (its endpoint
updated or replaced) at its old fleet's ceiling plus its new fleet's initial count, or at its new
ceiling if that is more; every other model at its ceiling; a removed model at its old ceiling
until ``pulumi up`` deletes it, which it does after the creates and updates
(``infra.capacity.fleet`` gives the blue/green rule and its sources).
"""

from __future__ import annotations

import datetime
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cached_property

from infra.capacity.cost import ZERO, Monthly, StackCost, stack_cost
from infra.capacity.fleet import StackCapacity, TypeCapacity, VariantCapacity
from infra.capacity.prices import Prices
from infra.capacity.quotas import QuotaCheck


@dataclass(frozen=True)
class TypeChange:
    instance_type: str
    before: TypeCapacity | None
    after: TypeCapacity | None
    # Instances while this change's updates run.
    peak: int


@dataclass(frozen=True)
class CostChange:
    """A stack's monthly cost before and after a change (None where the stack is absent), and
    after minus before per model and for the stack (a missing side costs nothing)."""

    before: StackCost | None
    after: StackCost | None
    models: dict[str, Monthly]
    total: Monthly


@dataclass(frozen=True)
class CapacityChange:
    before: StackCapacity | None
    after: StackCapacity | None
    # Models whose endpoint this change updates or replaces.
    updated: frozenset[str]
    prices: Prices | None = None
    notes: list[str] = field(default_factory=list)
    # The day the price file's age is measured against.
    today: datetime.date = field(default_factory=datetime.date.today)
    # The peak against the account's quotas, when plan-diff was asked to check them.
    quotas: list[QuotaCheck] | None = None

    @property
    def over_quota(self) -> list[QuotaCheck]:
        return [c for c in self.quotas or [] if not c.ok]

    @cached_property
    def types(self) -> list[TypeChange]:
        old = self.before.by_type() if self.before else {}
        new = self.after.by_type() if self.after else {}
        peaks = self.peak()
        return [
            TypeChange(t, old.get(t), new.get(t), peaks.get(t, 0))
            for t in sorted(old.keys() | new.keys())
        ]

    def peak(self) -> dict[str, int]:
        """Instances per type while ``pulumi up`` applies this change."""
        old = self.before.variants if self.before else ()
        new = self.after.variants if self.after else ()
        found: dict[str, int] = {}
        for model in sorted({v.model for v in (*old, *new)}):
            was = [v for v in old if v.model == model]
            now = [v for v in new if v.model == model]
            if not now:
                counts = _sum(was, "ceiling")
            elif model in self.updated:
                during = _add(_sum(was, "ceiling"), _sum(now, "initial"))
                counts = _most(during, _sum(now, "ceiling"))
            else:
                counts = _sum(now, "ceiling")
            for instance_type, count in counts.items():
                found[instance_type] = found.get(instance_type, 0) + count
        return found

    @cached_property
    def cost(self) -> CostChange | None:
        """The monthly cost before and after, and the change; None without prices."""
        if self.prices is None:
            return None
        before = stack_cost(self.before, self.prices) if self.before else None
        after = stack_cost(self.after, self.prices) if self.after else None
        old = before.models if before else {}
        new = after.models if after else {}
        return CostChange(
            before,
            after,
            models={
                m: new.get(m, ZERO).minus(old.get(m, ZERO)) for m in sorted(old.keys() | new.keys())
            },
            total=(after.total if after else ZERO).minus(before.total if before else ZERO),
        )


def _sum(variants: Collection[VariantCapacity], figure: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for v in variants:
        found[v.instance_type] = found.get(v.instance_type, 0) + int(getattr(v, figure))
    return found


def _add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {t: a.get(t, 0) + b.get(t, 0) for t in a.keys() | b.keys()}


def _most(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {t: max(a.get(t, 0), b.get(t, 0)) for t in a.keys() | b.keys()}
