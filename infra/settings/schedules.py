"""The shape of an Application Auto Scaling schedule expression, as PutScheduledAction takes it.

botocore application-autoscaling ``PutScheduledActionRequest.Schedule``:
``at(yyyy-mm-ddThh:mm:ss)``, ``rate(value unit)`` with a positive integer value and a unit of
minute(s), hour(s) or day(s), and ``cron(fields)`` with six fields, ``[Minutes] [Hours]
[Day_of_Month] [Month] [Day_of_Week] [Year]``. The Application Auto Scaling user guide
("Schedule recurring scaling actions using cron expressions") defers the finer syntax to the
EventBridge user guide's cron and rate expression reference. Only the shape is checked here;
the values of cron fields are left to AWS.
"""

from __future__ import annotations

import datetime
import re

AT_SHAPE = "at(yyyy-mm-ddThh:mm:ss)"
RATE_SHAPE = "rate(value unit)"
CRON_FIELDS = ("minutes", "hours", "day-of-month", "month", "day-of-week", "year")
CRON_SHAPE = f"cron({' '.join(CRON_FIELDS)})"
SHAPES = f"{AT_SHAPE}, {RATE_SHAPE} or {CRON_SHAPE}"

_AT = re.compile(r"^at\((?P<moment>[^)]*)\)$")
_RATE = re.compile(r"^rate\((?P<value>\d+) (?P<unit>minute|hour|day)(?P<plural>s?)\)$")
_CRON = re.compile(r"^cron\((?P<fields>[^)]*)\)$")
# Digits, names (JAN, MON) and the special characters , - * ? / L W #.
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?,/#-]+$")


def schedule_problem(expression: str) -> str | None:
    """What is wrong with the shape of ``expression``, or None if nothing is."""
    if expression.startswith("at("):
        return _at_problem(expression)
    if expression.startswith("rate("):
        return _rate_problem(expression)
    if expression.startswith("cron("):
        return _cron_problem(expression)
    return f"must be {SHAPES}, got {expression!r}"


def _at_problem(expression: str) -> str | None:
    match = _AT.match(expression)
    moment = match["moment"] if match else ""
    try:
        datetime.datetime.strptime(moment, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return f"must be {AT_SHAPE} with a real date and time, got {expression!r}"
    return None


def _rate_problem(expression: str) -> str | None:
    match = _RATE.match(expression)
    if match is None or int(match["value"]) < 1:
        return (
            f"must be {RATE_SHAPE} with a positive integer value and a unit of minute(s), "
            f"hour(s) or day(s), got {expression!r}"
        )
    # EventBridge's rate expression reference: a value of 1 takes the singular unit, a larger
    # value the plural one (rate(1 hours) and rate(5 hour) are refused).
    value, unit = int(match["value"]), match["unit"]
    if (value == 1) == bool(match["plural"]):
        expected = f"rate(1 {unit})" if value == 1 else f"rate({value} {unit}s)"
        return f"the unit is singular with 1 and plural otherwise: {expected}, not {expression!r}"
    return None


def _cron_problem(expression: str) -> str | None:
    match = _CRON.match(expression)
    fields = match["fields"].split() if match else []
    if len(fields) != len(CRON_FIELDS) or not all(_CRON_FIELD.match(f) for f in fields):
        return f"must be {CRON_SHAPE}, six fields, got {expression!r}"
    # EventBridge's cron reference: day-of-month and day-of-week cannot both be given; a value
    # or * in one of them needs a ? in the other.
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        return (
            f"{expression!r}: exactly one of day-of-month and day-of-week must be ? "
            f"(e.g. cron(0 7 ? * MON-FRI *) or cron(0 7 1 * ? *))"
        )
    return None
