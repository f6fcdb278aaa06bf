"""Tags that attribute cost and ownership, on every resource that takes tags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.resource_types import (
    ALARM,
    BUCKET,
    DATA_QUALITY_JOB,
    ENDPOINT,
    ENDPOINT_CONFIG,
    IAM_POLICY,
    KMS_KEY,
    LAMBDA_FUNCTION,
    LOG_GROUP,
    MODEL,
    MODEL_PACKAGE_GROUP,
    MONITORING_SCHEDULE,
    QUEUE,
    ROLE,
    SCALABLE_TARGET,
    TOPIC,
)
from policy.model import STRINGS, UNKNOWN, Setting, resource_rule

# Resource types whose provider arguments include ``tags`` (pulumi_aws's Args classes;
# tests/policy checks this table against the installed SDK for every type the stacks use).
TAGGABLE_TYPES = frozenset(
    {
        BUCKET,
        ENDPOINT,
        ENDPOINT_CONFIG,
        MODEL,
        DATA_QUALITY_JOB,
        MODEL_PACKAGE_GROUP,
        MONITORING_SCHEDULE,
        TOPIC,
        LOG_GROUP,
        ALARM,
        KMS_KEY,
        ROLE,
        IAM_POLICY,
        SCALABLE_TARGET,
        LAMBDA_FUNCTION,
        QUEUE,
    }
)


@resource_rule(
    "required-tags",
    "Every taggable resource carries the required tags (cost and ownership by ML activity).",
    "mandatory",
    "MLCOST06-BP01 Monitor usage and cost by ML activity",
    settings={
        "requiredTags": Setting(
            STRINGS, ["environment", "owner", "cost-center"], "tag keys every resource has"
        )
    },
)
def required_tags(type_: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    if type_ not in TAGGABLE_TYPES:
        return []
    tags = props.get("tags")
    if tags is UNKNOWN:
        return []
    tags = tags if isinstance(tags, Mapping) else {}
    missing = [
        key
        for key in config["requiredTags"]
        if not (tags.get(key) is UNKNOWN or (isinstance(tags.get(key), str) and tags.get(key)))
    ]
    return [f"missing required tags: {', '.join(missing)}"] if missing else []
