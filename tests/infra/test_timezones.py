"""Scheduled actions' time zones: canonical names only, an alias told its canonical name.

Application Auto Scaling takes "the canonical names of the IANA time zones supported by
Joda-Time" (botocore application-autoscaling ``PutScheduledActionRequest.Timezone``); Joda-Time
makes aliases of the links of the tz database's ``backward`` file only (``infra.settings.limits``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest

from infra.settings import SettingsError, limits, load_settings

AT = "models.churn.scaling.schedules[0].timezone"

# A sample of every section of global-tz's ``backward`` file (JodaOrg/global-tz), the file
# Joda-Time compiles into aliases, with the zone each links to.
JODA_ALIASES = {
    "US/Eastern": "America/New_York",
    "Asia/Calcutta": "Asia/Kolkata",
    "GB": "Europe/London",
    "Japan": "Asia/Tokyo",
    "Brazil/East": "America/Sao_Paulo",
    "Etc/UCT": "Etc/UTC",
    "Zulu": "Etc/UTC",
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
    "America/Montreal": "America/Toronto",
    "Europe/Kiev": "Europe/Kyiv",
    "Asia/Saigon": "Asia/Ho_Chi_Minh",
}


def problems(config: Mapping[str, Any], timezone: str) -> list[str]:
    changed = copy.deepcopy(dict(config))
    changed["mlserve:models"]["churn"]["scaling"]["schedules"][0]["timezone"] = timezone
    try:
        load_settings(changed, "prod")
    except SettingsError as exc:
        return exc.problems
    return []


@pytest.mark.parametrize(
    "timezone",
    [
        "UTC",
        "Europe/London",
        "America/Argentina/Buenos_Aires",
        # Merged into another zone by tzdata 2022b and later, canonical to Joda-Time.
        "Europe/Oslo",
        "Atlantic/Reykjavik",
        "Etc/UTC",
        "Etc/GMT+5",
        "Pacific/Tahiti",
    ],
)
def test_canonical_names_are_accepted(stack_configs, timezone):
    assert problems(stack_configs["prod"], timezone) == []


@pytest.mark.parametrize(("alias", "canonical"), sorted(JODA_ALIASES.items()))
def test_a_backward_compatible_alias_is_refused_with_its_canonical_name(
    stack_configs, alias, canonical
):
    assert problems(stack_configs["prod"], alias) == [
        f"{AT}: {alias!r} is a backward-compatible alias; use {canonical!r}"
    ]


@pytest.mark.parametrize("name", ["Factory", "posixrules", "localtime", "Europe/Londn"])
def test_names_that_are_not_zones_are_refused(stack_configs, name):
    assert problems(stack_configs["prod"], name) == [
        f"{AT}: {name!r} is not an IANA time zone name, e.g. Europe/London or UTC"
    ]


def test_every_suggestion_is_accepted():
    canonical = limits.timezones()
    assert {
        alias: target
        for alias, target in limits.timezone_aliases().items()
        if target not in canonical
    } == {}
