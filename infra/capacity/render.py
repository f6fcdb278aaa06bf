"""Capacity and cost as ``plan`` and ``plan-diff`` print them: text, markdown and JSON.

Instances are whole numbers but for the scheduled average; money has two decimals, in the price
file's currency. Without prices, one line says how to get them; a type the file lacks is named
with the command that refreshes the file; a file older than 90 days gets a warning.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from infra.capacity.change import CapacityChange, CostChange, TypeChange
from infra.capacity.cost import HOURS_PER_MONTH, Monthly, StackCost, stack_cost
from infra.capacity.fleet import ServerlessCapacity, StackCapacity, TypeCapacity
from infra.capacity.prices import REFRESH_COMMAND, Prices

FIGURES = ("floor", "ceiling", "scheduled")
PEAK_RULE = (
    "update peak: old fleets at their ceiling beside new fleets at their initial count"
    " (blue/green), endpoints updated in parallel"
)


def prices_hint(region: str) -> str:
    command = REFRESH_COMMAND.replace("REGION", region).replace("FILE", "prices.json")
    return (
        f"cost: no prices given; write a price file with `{command}` and pass"
        " --prices prices.json (or set MLSERVE_PRICES)"
    )


def price_warnings(
    prices: Prices, costs: Sequence[StackCost | None], region: str, today: datetime.date
) -> list[str]:
    """The file's age, and each type it has no price for (its cost is unknown)."""
    found = []
    age = prices.age_warning(today)
    if age:
        found.append(age)
    command = REFRESH_COMMAND.replace("REGION", region)
    if not prices.has_region(region):
        found.append(f"warning: {prices.path} has no prices for {region}: run `{command}`")
    missing = sorted({t for cost in costs if cost for t in cost.missing})
    if missing and prices.has_region(region):
        found.append(
            f"warning: cost unknown for {', '.join(missing)}: not in {prices.path} for {region};"
            f" run `{command}`"
        )
    return found


# --- one stack (plan) -----------------------------------------------------------------------


def plan_text(capacity: StackCapacity, prices: Prices | None, today: datetime.date) -> list[str]:
    lines = [f"Capacity of {capacity.stack} ({capacity.region}), instances per type:"]
    types = capacity.by_type()
    if types:
        rows = [
            [
                t.instance_type,
                str(t.floor),
                str(t.ceiling),
                f"{t.scheduled:.2f}",
                str(t.update_peak),
            ]
            for t in types.values()
        ]
        lines += _table(["TYPE", "FLOOR", "CEILING", "SCHEDULED", "UPDATE PEAK"], rows)
        lines.append(f"  {PEAK_RULE}")
    else:
        lines.append("  no instance-backed endpoints")
    lines += [f"  {line}" for line in _schedule_lines(capacity)]
    lines += [f"  {_serverless_text(s)}" for s in capacity.serverless]
    if prices is None:
        return [*lines, prices_hint(capacity.region)]
    cost = stack_cost(capacity, prices)
    lines.append(f"Cost a month ({_basis(prices)}):")
    rows = [[m, *_money_cells(c)] for m, c in cost.models.items()]
    rows.append(["total", *_money_cells(cost.total)])
    lines += _table(["MODEL", "FLOOR", "CEILING", "SCHEDULED"], rows)
    return lines + price_warnings(prices, [cost], capacity.region, today)


def plan_json(
    capacity: StackCapacity, prices: Prices | None, today: datetime.date
) -> dict[str, Any]:
    found: dict[str, Any] = {"capacity": _capacity_json(capacity, capacity.by_type())}
    if prices is None:
        found["cost"] = None
        found["costHint"] = prices_hint(capacity.region)
        return found
    cost = stack_cost(capacity, prices)
    found["cost"] = {
        **_basis_json(prices),
        "models": {m: _monthly_json(c) for m, c in cost.models.items()},
        "total": _monthly_json(cost.total),
        "missing": cost.missing,
        "warnings": price_warnings(prices, [cost], capacity.region, today),
    }
    return found


# --- a change (plan-diff) -------------------------------------------------------------------


def change_text(change: CapacityChange) -> list[str]:
    lines = ["Capacity, instances per type (before -> after):"]
    lines += _table(
        ["TYPE", "FLOOR", "CEILING", "SCHEDULED", "PEAK DURING UPDATE"],
        [_type_cells(t, "->") for t in change.types],
    ) or ["  no instance-backed endpoints"]
    lines += [f"  {n}" for n in change.notes]
    lines += [f"  {line}" for line in _serverless_change(change)]
    lines += _quota_lines(change)
    return lines + _cost_text(change)


def _quota_lines(change: CapacityChange) -> list[str]:
    if change.quotas is None:
        return []
    region = _region(change)
    return [f"Quotas in {region}, the peak during this update against each:"] + [
        f"  {c.line(region)}" for c in change.quotas
    ]


def _cost_text(change: CapacityChange) -> list[str]:
    region = _region(change)
    if change.prices is None or change.cost is None:
        return [prices_hint(region)]
    lines = [f"Cost a month ({_basis(change.prices)}), before -> after:"]
    lines += _table(["MODEL", "FLOOR", "CEILING", "SCHEDULED"], _cost_rows(change.cost, "->"))
    return lines + _change_warnings(change)


def change_markdown(change: CapacityChange) -> list[str]:
    out = ["", "#### Capacity and cost", ""]
    if change.types:
        out += [
            "| Instance type | Floor | Ceiling | Scheduled | Peak during update |",
            "|---|---:|---:|---:|---:|",
        ]
        out += ["| " + " | ".join(_type_cells(t, "→")) + " |" for t in change.types]
        out.append("")
    else:
        out.append("No instance-backed endpoints.")
    out += [f"_{line}_  " for line in [*change.notes, *_serverless_change(change)]]
    quota_lines = _quota_lines(change)
    if quota_lines:
        caution = ["> [!CAUTION]"] if change.over_quota else []
        out += ["", *caution, *(f"> {_plain(line.strip())}  " for line in quota_lines)]
    if change.prices is None or change.cost is None:
        return [*out, "", f"_{prices_hint(_region(change))}_"]
    rows = _cost_rows(change.cost, "→")
    rows[-1][0] = "**total**"
    out += [
        "",
        f"Cost a month ({_basis(change.prices)}):",
        "",
        "| Model | Floor | Ceiling | Scheduled |",
        "|---|---:|---:|---:|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
    warnings = _change_warnings(change)
    return out + [""] + [f"> {w}  " for w in warnings] if warnings else out


def _cost_rows(cost: CostChange, arrow: str) -> list[list[str]]:
    """A row per model and one for the stack: each figure before -> after (change)."""
    rows = [
        [m, *_money_change(_model(cost.before, m), _model(cost.after, m), d, arrow)]
        for m, d in cost.models.items()
    ]
    return rows + [
        ["total", *_money_change(_total(cost.before), _total(cost.after), cost.total, arrow)]
    ]


def _change_warnings(change: CapacityChange) -> list[str]:
    assert change.prices is not None and change.cost is not None
    costs = [change.cost.before, change.cost.after]
    return price_warnings(change.prices, costs, _region(change), change.today)


def change_json(change: CapacityChange) -> dict[str, Any]:
    found: dict[str, Any] = {
        "capacity": {
            "types": {
                t.instance_type: {
                    "before": _type_json(t.before),
                    "after": _type_json(t.after),
                    "peakDuringUpdate": t.peak,
                }
                for t in change.types
            },
            "serverless": {
                "before": [_serverless_json(s) for s in _serverless_of(change.before)],
                "after": [_serverless_json(s) for s in _serverless_of(change.after)],
            },
            "updatedModels": sorted(change.updated),
            "notes": change.notes,
        }
    }
    if change.quotas is not None:
        found["quotas"] = [c.as_json() for c in change.quotas]
    if change.prices is None or change.cost is None:
        found["cost"] = None
        found["costHint"] = prices_hint(_region(change))
        return found
    cost = change.cost
    found["cost"] = {
        **_basis_json(change.prices),
        "before": _cost_json(cost.before),
        "after": _cost_json(cost.after),
        "monthly_delta": {
            "models": {m: _monthly_json(d) for m, d in cost.models.items()},
            "total": _monthly_json(cost.total),
        },
        "warnings": _change_warnings(change),
    }
    return found


# --- pieces ---------------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return []
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  " + "  ".join([first, *rest])

    return [line(header), *(line(r) for r in rows)]


def _basis(prices: Prices) -> str:
    return (
        f"{prices.currency}, {HOURS_PER_MONTH} h, on-demand prices from {prices.path},"
        f" fetched {prices.fetched.isoformat()}"
    )


def _basis_json(prices: Prices) -> dict[str, Any]:
    return {
        "currency": prices.currency,
        "hoursPerMonth": HOURS_PER_MONTH,
        "prices": {
            "path": prices.path,
            "source": prices.source,
            "fetched": prices.fetched.isoformat(),
        },
    }


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.2f}"


def _money_cells(cost: Monthly) -> list[str]:
    return [_money(getattr(cost, f)) for f in FIGURES]


def _signed(value: float) -> str:
    return f"{value:+,.2f}"


def _money_change(
    before: Monthly | None, after: Monthly | None, delta: Monthly, arrow: str = "->"
) -> list[str]:
    cells = []
    for f in FIGURES:
        old = getattr(before, f) if before else 0.0
        new = getattr(after, f) if after else 0.0
        change = getattr(delta, f)
        if old == new or (change is not None and round(change, 2) == 0):
            cells.append(_money(new))
        elif change is None:
            cells.append(f"{_money(old)} {arrow} {_money(new)}")
        else:
            cells.append(f"{_money(old)} {arrow} {_money(new)} ({_signed(change)})")
    return cells


def _type_cells(t: TypeChange, arrow: str) -> list[str]:
    cells = [t.instance_type]
    for f in FIGURES:
        old = getattr(t.before, f) if t.before else 0
        new = getattr(t.after, f) if t.after else 0
        text = f"{new:.2f}" if f == "scheduled" else str(new)
        if round(new - old, 2) != 0:
            was = f"{old:.2f}" if f == "scheduled" else str(old)
            delta = f"{new - old:+.2f}" if f == "scheduled" else f"{new - old:+d}"
            text = f"{was} {arrow} {text} ({delta})"
        cells.append(text)
    return [*cells, str(t.peak)]


def _model(cost: StackCost | None, model: str) -> Monthly | None:
    return cost.models.get(model) if cost else None


def _total(cost: StackCost | None) -> Monthly | None:
    return cost.total if cost else None


def _monthly_json(cost: Monthly) -> dict[str, float | None]:
    return {f: None if getattr(cost, f) is None else round(getattr(cost, f), 2) for f in FIGURES}


def _cost_json(cost: StackCost | None) -> dict[str, Any] | None:
    if cost is None:
        return None
    return {
        "models": {m: _monthly_json(c) for m, c in cost.models.items()},
        "total": _monthly_json(cost.total),
        "missing": cost.missing,
    }


def _type_json(t: TypeCapacity | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "floor": t.floor,
        "ceiling": t.ceiling,
        "scheduled": round(t.scheduled, 4),
        "updatePeak": t.update_peak,
    }


def _capacity_json(capacity: StackCapacity, types: dict[str, TypeCapacity]) -> dict[str, Any]:
    return {
        "region": capacity.region,
        "types": {t: _type_json(c) for t, c in types.items()},
        "variants": [
            {
                "model": v.model,
                "variant": v.variant,
                "instanceType": v.instance_type,
                "initial": v.initial,
                "floor": v.floor,
                "ceiling": v.ceiling,
                "scheduled": round(v.scheduled, 4),
                "updatePeak": v.update_peak,
                "scheduleHoursPerWeek": None
                if v.schedule is None
                else [
                    {"min": low, "max": high, "hours": round(h, 2)}
                    for (low, high), h in sorted(v.schedule.hours_per_week.items())
                ],
            }
            for v in capacity.variants
        ],
        "serverless": [_serverless_json(s) for s in capacity.serverless],
    }


def _schedule_lines(capacity: StackCapacity) -> list[str]:
    seen: set[str] = set()
    lines = []
    for v in capacity.variants:
        if v.schedule is None or v.model in seen:
            continue
        seen.add(v.model)
        held = ", ".join(
            f"{low}-{high} instances {h:.1f} h"
            for (low, high), h in sorted(v.schedule.hours_per_week.items())
        )
        lines.append(f"{v.model} schedules, a week: {held}")
        lines += v.schedule.notes
    return lines


def _serverless_text(s: ServerlessCapacity) -> str:
    provisioned = f", {s.provisioned_concurrency} provisioned" if s.provisioned_concurrency else ""
    return (
        f"serverless (no instances): {s.model}, {s.memory_mb} MB,"
        f" max concurrency {s.max_concurrency}{provisioned}"
    )


def _serverless_json(s: ServerlessCapacity) -> dict[str, Any]:
    return {
        "model": s.model,
        "memoryMb": s.memory_mb,
        "maxConcurrency": s.max_concurrency,
        "provisionedConcurrency": s.provisioned_concurrency,
    }


def _serverless_of(capacity: StackCapacity | None) -> tuple[ServerlessCapacity, ...]:
    return capacity.serverless if capacity else ()


def _serverless_change(change: CapacityChange) -> list[str]:
    old = {s.model: s for s in _serverless_of(change.before)}
    new = {s.model: s for s in _serverless_of(change.after)}
    lines = []
    for model in sorted(old.keys() | new.keys()):
        if old.get(model) == new.get(model):
            lines.append(_serverless_text(new[model]))
        elif model not in new:
            lines.append(f"removed: {_serverless_text(old[model])}")
        else:
            was = (
                f" (was {old[model].memory_mb} MB, max concurrency {old[model].max_concurrency})"
                if model in old
                else " (new)"
            )
            lines.append(_serverless_text(new[model]) + was)
    return lines


def _plain(text: str) -> str:
    """Text safe in a markdown quote: no stray markup from names or commands."""
    return text.replace("|", "\\|").replace("_", "\\_")


def _region(change: CapacityChange) -> str:
    capacity = change.after or change.before
    assert capacity is not None
    return capacity.region
