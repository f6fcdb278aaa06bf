"""When a scheduled action's cron expression fires: the local moments of a day that it matches.

Application Auto Scaling takes ``cron(Minutes Hours Day-of-month Month Day-of-week Year)``
(botocore application-autoscaling ``PutScheduledActionRequest.Schedule``), read in the action's
time zone, with the syntax of the EventBridge user guide's "Cron expressions reference":

- each field takes ``*``, a value, a range ``a-b``, a list ``a,b`` and an increment ``a/n``,
  ``*/n`` or ``a-b/n``; months take JAN-DEC and days of the week SUN-SAT, numbered 1-7 from
  Sunday;
- ``?`` in day-of-month or day-of-week (exactly one of them: ``infra.settings.schedules``);
- ``L`` (the last day of the month, or ``nL``, the last weekday n of the month), ``W`` (``nW``,
  the weekday nearest day n, within the month; ``LW``, the last weekday of the month) and ``#``
  (``d#k``, the k-th weekday d of the month).

The year field is not read: capacity is computed for a schedule that recurs every year
(``infra.capacity.schedule_hours``).
"""

from __future__ import annotations

import calendar
import datetime
import re
from dataclasses import dataclass

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# EventBridge numbers the days of the week 1-7 from Sunday.
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


class CronError(ValueError):
    """A cron field this reader does not understand; the message names the field."""


def _number(token: str, names: tuple[str, ...], low: int, high: int, field: str) -> int:
    upper = token.upper()
    if upper in names:
        return names.index(upper) + low
    if not token.isdigit():
        raise CronError(f"{field}: {token!r} is not a number or name")
    value = int(token)
    if not low <= value <= high:
        raise CronError(f"{field}: {value} is outside {low}-{high}")
    return value


def _values(text: str, low: int, high: int, field: str, names: tuple[str, ...] = ()) -> set[int]:
    """The values a plain field (no ``?``, ``L``, ``W``, ``#``) matches."""
    found: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise CronError(f"{field}: {part!r} has no positive increment")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start = _number(first, names, low, high, field)
            end = _number(last, names, low, high, field)
        else:
            start = _number(base, names, low, high, field)
            # "a/n": from a, every n, to the end of the range.
            end = high if step_text else start
        if end < start:
            # EventBridge accepts wrapping ranges (FRI-MON) for days of the week.
            found.update(range(start, high + 1, step))
            found.update(range(low, end + 1, step))
        else:
            found.update(range(start, end + 1, step))
    return found


_LAST_WEEKDAY = re.compile(r"^(\w+)L$")
_NTH_WEEKDAY = re.compile(r"^(\w+)#([1-5])$")
_NEAREST_WEEKDAY = re.compile(r"^(\d+)W$")


def _weekday_number(day: datetime.date) -> int:
    """EventBridge's day-of-week number of ``day``: 1 (Sunday) to 7 (Saturday)."""
    return (day.weekday() + 1) % 7 + 1


def _nearest_weekday(day: datetime.date, target: int) -> bool:
    """``nW``: the weekday (Monday to Friday) nearest day ``target``, within the month."""
    last = calendar.monthrange(day.year, day.month)[1]
    if target > last:
        return False
    wanted = day.replace(day=target)
    if wanted.weekday() == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        wanted = wanted - datetime.timedelta(days=1) if target > 1 else wanted.replace(day=3)
    elif wanted.weekday() == 6:  # Sunday: the Monday after, or the Friday before on the last
        wanted = (
            wanted + datetime.timedelta(days=1)
            if target < last
            else wanted - datetime.timedelta(days=2)
        )
    return day == wanted


@dataclass(frozen=True)
class _DayRule:
    """Whether a date matches the day-of-month and day-of-week fields together."""

    day_of_month: str
    day_of_week: str

    def matches(self, day: datetime.date) -> bool:
        if self.day_of_month != "?":
            return self._month_day(day)
        return self._week_day(day)

    def _month_day(self, day: datetime.date) -> bool:
        text = self.day_of_month
        last = calendar.monthrange(day.year, day.month)[1]
        if text == "L":
            return day.day == last
        if text == "LW":
            wanted = day.replace(day=last)
            while wanted.weekday() >= 5:
                wanted -= datetime.timedelta(days=1)
            return day == wanted
        nearest = _NEAREST_WEEKDAY.match(text)
        if nearest:
            return _nearest_weekday(day, int(nearest[1]))
        return day.day in _values(text, 1, 31, "day-of-month")

    def _week_day(self, day: datetime.date) -> bool:
        text = self.day_of_week
        number = _weekday_number(day)
        nth = _NTH_WEEKDAY.match(text)
        if nth:
            wanted = _number(nth[1], WEEKDAYS, 1, 7, "day-of-week")
            return number == wanted and (day.day - 1) // 7 + 1 == int(nth[2])
        last = _LAST_WEEKDAY.match(text)
        if text == "L" or last:
            wanted = 7 if text == "L" else _number(last[1], WEEKDAYS, 1, 7, "day-of-week")  # type: ignore[index]
            days_in_month = calendar.monthrange(day.year, day.month)[1]
            return number == wanted and day.day + 7 > days_in_month
        return number in _values(text, 1, 7, "day-of-week", WEEKDAYS)


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression; :meth:`moments` lists where it fires on a given local day."""

    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    days: _DayRule

    @classmethod
    def parse(cls, expression: str) -> Cron:
        """``cron(...)`` as the settings accept it (six fields); ``CronError`` otherwise."""
        if not (expression.startswith("cron(") and expression.endswith(")")):
            raise CronError(f"{expression!r} is not a cron expression")
        fields = expression[5:-1].split()
        if len(fields) != 6:
            raise CronError(f"{expression!r} has {len(fields)} fields, not 6")
        minutes, hours, day_of_month, month, day_of_week, _year = fields
        # Read each day field once now, so a bad one fails here and not mid-evaluation.
        if day_of_month != "?":
            _DayRule(day_of_month, "?").matches(datetime.date(2025, 1, 31))
        if day_of_week != "?":
            _DayRule("?", day_of_week).matches(datetime.date(2025, 1, 31))
        return cls(
            minutes=frozenset(_values(minutes, 0, 59, "minutes")),
            hours=frozenset(_values(hours, 0, 23, "hours")),
            months=frozenset(_values(month, 1, 12, "month", MONTHS)),
            days=_DayRule(day_of_month, day_of_week),
        )

    def moments(self, day: datetime.date) -> list[datetime.time]:
        """The local times of ``day`` at which the expression fires, in order."""
        if day.month not in self.months or not self.days.matches(day):
            return []
        return [
            datetime.time(hour, minute)
            for hour in sorted(self.hours)
            for minute in sorted(self.minutes)
        ]
