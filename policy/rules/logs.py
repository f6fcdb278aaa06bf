"""Log groups: events that expire, and that are kept long enough."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.resource_types import LOG_GROUP
from policy.model import Setting, resource_rule
from policy.properties import known, number


@resource_rule(
    "log-group-retention",
    "Log groups expire their events (retentionInDays set; never-expiring logs grow without bound).",
    "mandatory",
    "MLOPS06-BP02 Enable model observability and tracking",
)
def log_group_retention(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    if type_ != LOG_GROUP:
        return []
    days = props.get("retentionInDays")
    # 0 or none: the events never expire (CloudWatch Logs PutRetentionPolicy, botocore ``logs``).
    if known(days) and not (number(days) or 0) > 0:
        return ["log group keeps its events forever: set retentionInDays"]
    return []


@resource_rule(
    "log-group-retention-minimum",
    "Log groups keep their events at least minimumRetentionDays (checkov CKV_AWS_338: a year).",
    "advisory",
    "MLOPS06-BP02 Enable model observability and tracking",
    ("CKV_AWS_338",),
    settings={
        "minimumRetentionDays": Setting(
            {"type": "integer", "minimum": 1}, 365, "the shortest retention accepted"
        )
    },
)
def log_group_retention_minimum(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    if type_ != LOG_GROUP:
        return []
    days = number(props.get("retentionInDays"))
    minimum = config["minimumRetentionDays"]
    if days is not None and days < minimum:
        return [f"log group keeps events {days:g} days, fewer than minimumRetentionDays {minimum}"]
    return []
