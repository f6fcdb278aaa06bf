"""How long a variant's scheduled actions hold each instance range, over a week.

A scheduled action sets the scalable target's minimum and maximum when it runs, and they hold
until the next action runs (Application Auto Scaling user guide, "Scheduled scaling for
Application Auto Scaling"). So the range in force at any moment is the one set by the latest
action before it. This walks a reference period of 52 whole weeks (from Monday 2025-01-06, UTC)
with every action's runs in its own time zone (summer time included), takes the period as
cyclic (the range at its start is the one its last run set, as in any week of a schedule that
has run for a while), and gives the hours per week each range holds.

What it assumes, said in :attr:`ScheduleHours.notes` where it applies:
- one-time actions (``at(...)``) are left out: they do not recur;
- a ``rate(...)`` action runs from the start of the period: when it was really created is not
  in the stack file;
- the cron year field is not read (``infra.capacity.cron``);
- actions that run at the same moment apply in the stack file's order, the last one holding.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from infra.capacity.cron import Cron, CronError
from infra.settings.schema import Scaling, ScheduledScaling

UTC = datetime.UTC
PERIOD_START = datetime.datetime(2025, 1, 6, tzinfo=UTC)
PERIOD_WEEKS = 52
PERIOD_END = PERIOD_START + datetime.timedelta(weeks=PERIOD_WEEKS)
HOURS_PER_WEEK = 168

_RATE = re.compile(r"^rate\((\d+) (minute|hour|day)s?\)$")
_RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}

Range = tuple[int, int]


@dataclass(frozen=True)
class ScheduleHours:
    """Hours per week that each (min, max) instance range holds; they sum to 168."""

    hours_per_week: dict[Range, float]
    notes: list[str] = field(default_factory=list)

    @property
    def mean_min(self) -> float:
        """The week's average minimum: instance-hours at the floor, per hour."""
        return sum(r[0] * h for r, h in self.hours_per_week.items()) / HOURS_PER_WEEK

    @property
    def mean_max(self) -> float:
        return sum(r[1] * h for r, h in self.hours_per_week.items()) / HOURS_PER_WEEK


def schedule_hours(scaling: Scaling) -> ScheduleHours:
    """The ranges ``scaling``'s schedules hold over a week; without schedules, its own range."""
    base = (scaling.min_instances, scaling.max_instances)
    notes: list[str] = []
    runs: list[tuple[datetime.datetime, int, Range]] = []
    for order, schedule in enumerate(scaling.schedules):
        bounds = (schedule.min_instances, schedule.max_instances)
        try:
            runs += [(moment, order, bounds) for moment in _runs(schedule, notes)]
        except CronError as exc:
            notes.append(f"schedule {schedule.name}: not counted ({exc})")
    if not runs:
        return ScheduleHours({base: float(HOURS_PER_WEEK)}, notes)
    runs.sort()
    held: dict[Range, float] = {}
    current = runs[-1][2]  # cyclic: the last run of the period holds at its start
    since = PERIOD_START
    for moment, _, bounds in runs:
        held[current] = held.get(current, 0.0) + (moment - since).total_seconds()
        current, since = bounds, moment
    held[current] = held.get(current, 0.0) + (PERIOD_END - since).total_seconds()
    per_week = {r: s / 3600 / PERIOD_WEEKS for r, s in held.items() if s > 0}
    return ScheduleHours(per_week, notes)


def _runs(schedule: ScheduledScaling, notes: list[str]) -> Iterator[datetime.datetime]:
    """The moments (UTC) ``schedule`` runs within the reference period."""
    expression = schedule.schedule
    if expression.startswith("at("):
        notes.append(f"schedule {schedule.name}: a one-time action ({expression}), not counted")
        return
    rate = _RATE.match(expression)
    if rate:
        notes.append(
            f"schedule {schedule.name}: {expression} is counted from the start of the week"
        )
        step = datetime.timedelta(seconds=int(rate[1]) * _RATE_UNITS[rate[2]])
        moment = PERIOD_START
        while moment < PERIOD_END:
            yield moment
            moment += step
        return
    cron = Cron.parse(expression)
    zone = ZoneInfo(schedule.timezone)
    # Local days that may hold a run inside the period, whatever the zone's offset.
    day = PERIOD_START.date() - datetime.timedelta(days=1)
    while day <= PERIOD_END.date():
        for local in cron.moments(day):
            moment = datetime.datetime.combine(day, local, tzinfo=zone).astimezone(UTC)
            if PERIOD_START <= moment < PERIOD_END:
                yield moment
        day += datetime.timedelta(days=1)
