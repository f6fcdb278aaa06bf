"""The monthly cost of a stack's instances, from hourly prices (``infra.capacity.prices``).

A month is 730 hours, the convention of AWS's own pricing pages and Pricing Calculator (8,760
hours a year over 12 months). Each variant costs its instances x 730 x its type's hourly
on-demand price in the stack's region: at the floor, at the ceiling, and as scheduled (the
week's average minimum, ``infra.capacity.fleet``). What this leaves out: serverless models
(billed per request and duration), data capture storage, requests, data transfer, the drift
analysis, logs and alarms (docs/cost.md).

A figure that needs a type the price file lacks is unknown (None), and the types are named.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from infra.capacity.fleet import StackCapacity, VariantCapacity
from infra.capacity.prices import Prices

HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class Monthly:
    """Cost a month at the floor, at the ceiling and as scheduled; None where a price is missing."""

    floor: float | None
    ceiling: float | None
    scheduled: float | None

    @classmethod
    def of(cls, variants: Iterable[VariantCapacity], prices: Prices, region: str) -> Monthly:
        floor = ceiling = scheduled = 0.0
        for v in variants:
            hourly = prices.hourly(region, v.instance_type)
            if hourly is None:
                return cls(None, None, None)
            floor += v.floor * HOURS_PER_MONTH * hourly
            ceiling += v.ceiling * HOURS_PER_MONTH * hourly
            scheduled += v.scheduled * HOURS_PER_MONTH * hourly
        return cls(floor, ceiling, scheduled)

    def minus(self, other: Monthly) -> Monthly:
        """``self - other``, figure by figure (unknown if either is)."""

        def less(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else a - b

        return Monthly(
            less(self.floor, other.floor),
            less(self.ceiling, other.ceiling),
            less(self.scheduled, other.scheduled),
        )


ZERO = Monthly(0.0, 0.0, 0.0)


@dataclass(frozen=True)
class StackCost:
    currency: str
    models: dict[str, Monthly]
    total: Monthly
    # Instance types the price file has no price for in the stack's region.
    missing: list[str]


def stack_cost(capacity: StackCapacity, prices: Prices) -> StackCost:
    models = sorted({v.model for v in capacity.variants})
    return StackCost(
        currency=prices.currency,
        models={m: Monthly.of(capacity.of_model(m), prices, capacity.region) for m in models},
        total=Monthly.of(capacity.variants, prices, capacity.region),
        missing=[t for t in capacity.instance_types if prices.hourly(capacity.region, t) is None],
    )
