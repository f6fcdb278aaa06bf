"""Capacity and cost of a stack's endpoints: cron runs, scheduled hours, fleets, the update peak,
and the monthly cost, each against figures worked out by hand."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest
import yaml

from infra.capacity import render
from infra.capacity.change import CapacityChange
from infra.capacity.cost import HOURS_PER_MONTH, stack_cost
from infra.capacity.cron import Cron, CronError
from infra.capacity.fleet import stack_capacity
from infra.capacity.prices import Prices, parse
from infra.capacity.schedule_hours import schedule_hours
from infra.review.plan import ROOT
from infra.settings import EnvironmentSettings, load_settings
from infra.settings.schema import Scaling, ScheduledScaling

TODAY = datetime.date(2026, 12, 2)
M5, C5 = 0.23, 0.204


def prices(**regions: dict[str, float]) -> Prices:
    document = {
        "currency": "USD",
        "source": "test prices",
        "fetched": "2026-11-30",
        "regions": regions or {"us-east-1": {"ml.m5.xlarge": M5, "ml.c5.xlarge": C5}},
    }
    return parse(document, "prices.json", today=TODAY)


def stack_config(stack: str) -> dict[str, Any]:
    path = ROOT / "stacks" / f"Pulumi.{stack}.yaml"
    return dict(yaml.safe_load(path.read_text())["config"])


def settings_of(config: dict[str, Any], stack: str = "prod") -> EnvironmentSettings:
    loaded = load_settings(config, stack)
    assert isinstance(loaded, EnvironmentSettings)
    return loaded


def edited(stack: str, edit: Any) -> EnvironmentSettings:
    config = copy.deepcopy(stack_config(stack))
    edit(config["mlserve:models"])
    return settings_of(config, stack)


# --- cron -------------------------------------------------------------------------------------


def times(expression: str, day: datetime.date) -> list[str]:
    return [t.strftime("%H:%M") for t in Cron.parse(expression).moments(day)]


MONDAY = datetime.date(2026, 11, 30)
SATURDAY = datetime.date(2026, 12, 5)


def test_weekday_ranges_lists_and_increments():
    assert times("cron(0 7 ? * MON-FRI *)", MONDAY) == ["07:00"]
    assert times("cron(0 7 ? * MON-FRI *)", SATURDAY) == []
    assert times("cron(0,30 8-9 ? * 2 *)", MONDAY) == ["08:00", "08:30", "09:00", "09:30"]
    assert times("cron(*/20 0 ? * * *)", SATURDAY) == ["00:00", "00:20", "00:40"]
    # A range that wraps past Saturday, as EventBridge reads FRI-MON.
    assert times("cron(0 0 ? * FRI-MON *)", SATURDAY) == ["00:00"]
    assert times("cron(0 0 ? * FRI-MON *)", MONDAY + datetime.timedelta(days=1)) == []


def test_month_days_last_nearest_weekday_and_nth_weekday():
    assert times("cron(0 6 L * ? *)", datetime.date(2026, 2, 28)) == ["06:00"]
    assert times("cron(0 6 L * ? *)", datetime.date(2026, 2, 27)) == []
    # 2026-08-15 is a Saturday: 15W is Friday the 14th.
    assert times("cron(0 6 15W * ? *)", datetime.date(2026, 8, 14)) == ["06:00"]
    assert times("cron(0 6 15W * ? *)", datetime.date(2026, 8, 15)) == []
    # The first Monday of December 2026 is the 7th; the last Friday of it the 25th.
    assert times("cron(0 6 ? * MON#1 *)", datetime.date(2026, 12, 7)) == ["06:00"]
    assert times("cron(0 6 ? * MON#1 *)", datetime.date(2026, 12, 14)) == []
    assert times("cron(0 6 ? * 6L *)", datetime.date(2026, 12, 25)) == ["06:00"]
    assert times("cron(0 6 ? * 6L *)", datetime.date(2026, 12, 18)) == []
    assert times("cron(0 6 1 JAN,JUL ? *)", datetime.date(2026, 7, 1)) == ["06:00"]
    assert times("cron(0 6 1 JAN,JUL ? *)", datetime.date(2026, 6, 1)) == []


@pytest.mark.parametrize(
    "expression", ["cron(61 7 ? * * *)", "cron(0 7 ? * FUNDAY *)", "cron(0 7 ? *)"]
)
def test_a_field_it_cannot_read_is_an_error_naming_it(expression):
    with pytest.raises(CronError):
        Cron.parse(expression)


# --- scheduled hours ---------------------------------------------------------------------------


def scaling(*schedules: ScheduledScaling, low: int = 2, high: int = 6) -> Scaling:
    return Scaling(min_instances=low, max_instances=high, schedules=list(schedules))


def action(name: str, expression: str, low: int, high: int, zone: str = "UTC") -> ScheduledScaling:
    return ScheduledScaling(
        name=name, schedule=expression, timezone=zone, min_instances=low, max_instances=high
    )


def test_business_hours_in_london_hold_65_hours_a_week():
    # 07:00 to 20:00 London time, Monday to Friday: 13 h x 5; the night range the other 103 h,
    # summer time or not (both runs move with the zone).
    held = schedule_hours(
        scaling(
            action("day", "cron(0 7 ? * MON-FRI *)", 3, 6, "Europe/London"),
            action("night", "cron(0 20 ? * * *)", 2, 4, "Europe/London"),
        )
    )
    assert held.hours_per_week == {(3, 6): 65.0, (2, 4): 103.0}
    assert held.mean_min == pytest.approx((65 * 3 + 103 * 2) / 168)
    assert held.notes == []


def test_runs_in_different_zones_meet_in_utc():
    # Up at 09:00 New York (14:00 UTC, 13:00 in summer), down at 17:00 UTC every day: 3 h a
    # day in winter, 4 h in summer, weighted over the reference year's weeks.
    held = schedule_hours(
        scaling(
            action("up", "cron(0 9 * * ? *)", 4, 6, "America/New_York"),
            action("down", "cron(0 17 * * ? *)", 2, 6),
        )
    )
    summer_days = (datetime.date(2025, 11, 2) - datetime.date(2025, 3, 9)).days
    hours_up = (summer_days * 4 + (364 - summer_days) * 3) / 52
    assert held.hours_per_week[(4, 6)] == pytest.approx(hours_up)
    assert held.hours_per_week[(2, 6)] == pytest.approx(168 - hours_up)


def test_one_time_and_rate_actions_are_said():
    held = schedule_hours(
        scaling(
            action("once", "at(2026-12-24T00:00:00)", 5, 6),
            action("daily", "rate(1 day)", 3, 6),
        )
    )
    assert held.hours_per_week == {(3, 6): 168.0}
    assert any("one-time" in n for n in held.notes)
    assert any("rate(1 day)" in n for n in held.notes)


def test_without_schedules_the_range_holds_all_week():
    assert schedule_hours(scaling()).hours_per_week == {(2, 6): 168.0}


# --- fleets ------------------------------------------------------------------------------------


def test_prod_fleets_per_type():
    capacity = stack_capacity("prod", settings_of(stack_config("prod")))
    by_type = capacity.by_type()
    # churn: champion and challenger, each 2..6 with business hours at 3..6 65 h a week.
    churn = by_type["ml.m5.xlarge"]
    assert (churn.floor, churn.ceiling) == (4, 12)
    assert churn.scheduled == pytest.approx(2 * (65 * 3 + 103 * 2) / 168)
    # Every endpoint updated: old fleets at the ceiling, new ones at the initial count.
    assert churn.update_peak == 12 + 4
    # fraud: champion 2..8 and a shadow that stays at its initial count, 2.
    fraud = by_type["ml.c5.xlarge"]
    assert (fraud.floor, fraud.ceiling, fraud.scheduled) == (4, 10, 4.0)
    assert fraud.update_peak == 10 + 4
    assert capacity.serverless == ()


def test_serverless_models_are_apart_and_fixed_fleets_ignore_schedules():
    dev = stack_capacity("dev", settings_of(stack_config("dev"), "dev"))
    assert dev.instance_types == ["ml.t2.medium"]
    assert [(s.model, s.memory_mb, s.max_concurrency) for s in dev.serverless] == [
        ("fraud", 2048, 5)
    ]
    assert dev.by_type()["ml.t2.medium"].update_peak == 2


# --- cost --------------------------------------------------------------------------------------


def test_an_instance_count_change_costs_its_hours():
    config = copy.deepcopy(stack_config("staging"))
    config["mlserve:models"].pop("fraud")
    config["mlserve:models"]["churn"]["instance_type"] = "ml.m5.xlarge"
    before = settings_of(config, "staging")
    config["mlserve:models"]["churn"]["scaling"]["min_instances"] = 3
    after = settings_of(config, "staging")
    change = CapacityChange(
        stack_capacity("staging", before), stack_capacity("staging", after), frozenset(), prices()
    )
    assert change.cost is not None
    total = change.cost.total
    assert total.floor == pytest.approx((3 - 2) * HOURS_PER_MONTH * M5)
    assert total.scheduled == pytest.approx((3 - 2) * HOURS_PER_MONTH * M5)
    assert total.ceiling == 0


def test_a_type_change_costs_the_new_price_less_the_old():
    before = settings_of(stack_config("prod"))

    def to_m5(models: dict[str, Any]) -> None:
        models["fraud"]["instance_type"] = "ml.m5.xlarge"

    after = edited("prod", to_m5)
    change = CapacityChange(
        stack_capacity("prod", before), stack_capacity("prod", after), frozenset(), prices()
    )
    assert change.cost is not None
    models, total = change.cost.models, change.cost.total
    # fraud: champion 2..8 plus a shadow of 2, so 4 at the floor and 10 at the ceiling.
    assert models["fraud"].floor == pytest.approx(4 * HOURS_PER_MONTH * (M5 - C5))
    assert models["fraud"].ceiling == pytest.approx(10 * HOURS_PER_MONTH * (M5 - C5))
    assert models["churn"].floor == 0
    assert total.floor == pytest.approx(models["fraud"].floor)


def test_a_schedule_costs_its_weekly_average_and_a_shadow_its_instances():
    cost = stack_cost(stack_capacity("prod", settings_of(stack_config("prod"))), prices())
    churn_mean = 2 * (65 * 3 + 103 * 2) / 168
    assert cost.models["churn"].scheduled == pytest.approx(churn_mean * HOURS_PER_MONTH * M5)
    assert cost.models["churn"].floor == pytest.approx(4 * HOURS_PER_MONTH * M5)
    assert cost.models["churn"].ceiling == pytest.approx(12 * HOURS_PER_MONTH * M5)
    # The shadow (2 instances) costs like the champion's floor.
    assert cost.models["fraud"].floor == pytest.approx((2 + 2) * HOURS_PER_MONTH * C5)
    assert cost.total.floor == pytest.approx((4 * M5 + 4 * C5) * HOURS_PER_MONTH)


def test_serverless_is_left_out_and_a_missing_type_is_unknown_and_named():
    dev = stack_capacity("dev", settings_of(stack_config("dev"), "dev"))
    cost = stack_cost(dev, prices(**{"us-east-1": {"ml.t2.medium": 0.056}}))
    assert list(cost.models) == ["churn"]
    assert cost.total.floor == pytest.approx(HOURS_PER_MONTH * 0.056)
    unknown = stack_cost(dev, prices())
    assert unknown.models["churn"].floor is None and unknown.total.floor is None
    assert unknown.missing == ["ml.t2.medium"]
    lines = render.plan_text(dev, prices(), TODAY)
    assert any(
        "cost unknown for ml.t2.medium" in line and "prices refresh" in line for line in lines
    )


def test_without_prices_one_line_says_how_to_get_them():
    dev = stack_capacity("dev", settings_of(stack_config("dev"), "dev"))
    lines = render.plan_text(dev, None, TODAY)
    assert lines[-1].startswith("cost: no prices given")
    assert "python -m infra prices refresh --region us-east-1" in lines[-1]
    assert render.plan_json(dev, None, TODAY)["cost"] is None


def test_an_old_price_file_is_warned_about():
    dev = stack_capacity("dev", settings_of(stack_config("dev"), "dev"))
    stale = render.plan_text(dev, prices(), TODAY + datetime.timedelta(days=91))
    assert any(line.startswith("warning:") and "days" in line for line in stale)
    fresh = render.plan_text(dev, prices(), TODAY)
    assert not any("days ago" in line for line in fresh)


def test_a_region_missing_from_the_file_is_named():
    dev = stack_capacity("dev", settings_of(stack_config("dev"), "dev"))
    lines = render.plan_text(dev, prices(**{"eu-west-1": {"ml.t2.medium": 0.06}}), TODAY)
    assert any("no prices for us-east-1" in line for line in lines)


# --- the peak of a change ----------------------------------------------------------------------


def test_the_peak_counts_updated_models_twice_and_others_once():
    before = stack_capacity("prod", settings_of(stack_config("prod")))

    def bigger(models: dict[str, Any]) -> None:
        models["fraud"]["scaling"]["min_instances"] = 3

    after = stack_capacity("prod", edited("prod", bigger))
    change = CapacityChange(before, after, frozenset({"fraud"}))
    peak = change.peak()
    # fraud updated: old champion 8 + shadow 2 beside new champion 3 + shadow 3.
    assert peak["ml.c5.xlarge"] == 8 + 2 + 3 + 3
    # churn untouched: its ceiling, 6 per variant.
    assert peak["ml.m5.xlarge"] == 12
    unchanged = CapacityChange(before, after, frozenset())
    assert unchanged.peak()["ml.c5.xlarge"] == 8 + 3


def test_a_type_change_peaks_in_both_types():
    before = stack_capacity("prod", settings_of(stack_config("prod")))

    def to_m5(models: dict[str, Any]) -> None:
        models["fraud"]["instance_type"] = "ml.m5.xlarge"

    after = stack_capacity("prod", edited("prod", to_m5))
    peak = CapacityChange(before, after, frozenset({"fraud"})).peak()
    assert peak["ml.c5.xlarge"] == 10  # the old endpoint until it is deleted
    assert peak["ml.m5.xlarge"] == 12 + 10  # churn's ceiling and fraud's new ceiling


def test_a_removed_model_counts_until_it_is_deleted():
    before = stack_capacity("prod", settings_of(stack_config("prod")))

    def drop(models: dict[str, Any]) -> None:
        models.pop("fraud")

    after = stack_capacity("prod", edited("prod", drop))
    change = CapacityChange(before, after, frozenset())
    assert change.peak()["ml.c5.xlarge"] == 10
    types = {t.instance_type: t for t in change.types}
    assert types["ml.c5.xlarge"].after is None


def test_markdown_and_json_carry_the_same_delta():
    config = copy.deepcopy(stack_config("prod"))
    config["mlserve:models"]["fraud"].pop("shadow")
    before = settings_of(config)
    config["mlserve:models"]["fraud"]["scaling"]["min_instances"] = 3
    after = settings_of(config)
    change = CapacityChange(
        stack_capacity("prod", before),
        stack_capacity("prod", after),
        frozenset({"fraud"}),
        prices(),
        today=TODAY,
    )
    expected = round((3 - 2) * HOURS_PER_MONTH * C5, 2)
    document = render.change_json(change)
    assert document["cost"]["monthly_delta"]["total"]["floor"] == expected
    assert document["capacity"]["types"]["ml.c5.xlarge"]["before"]["floor"] == 2
    assert document["capacity"]["types"]["ml.c5.xlarge"]["after"]["floor"] == 3
    markdown = "\n".join(render.change_markdown(change))
    assert f"(+{expected:,.2f})" in markdown
    assert "| ml.c5.xlarge | 2 → 3 (+1) |" in markdown
