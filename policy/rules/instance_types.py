"""The instance types endpoints and monitoring jobs may run on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.resource_types import DATA_QUALITY_JOB, ENDPOINT_CONFIG
from policy.model import STRINGS, Setting, resource_rule
from policy.properties import as_list, value_at


@resource_rule(
    "instance-type-allow-list",
    "Endpoint variants and monitoring jobs use only the instance types of allowedInstanceTypes.",
    "mandatory",
    "MLCOST05-BP03 Right-size the model hosting instance fleet",
    settings={
        "allowedInstanceTypes": Setting(
            STRINGS,
            ["ml.t2.medium", "ml.m5.large", "ml.m5.xlarge", "ml.c5.large", "ml.c5.xlarge"],
            "the instance types endpoints and jobs may use",
        )
    },
)
def instance_type_allow_list(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    allowed = config["allowedInstanceTypes"]
    used: list[tuple[str, Any]] = []
    if type_ == ENDPOINT_CONFIG:
        for kind in ("productionVariants", "shadowProductionVariants"):
            for variant in as_list(props.get(kind)):
                name = value_at(variant, "variantName")
                used.append((f"variant {name}", value_at(variant, "instanceType")))
    elif type_ == DATA_QUALITY_JOB:
        used.append(("job", value_at(props, "jobResources", "clusterConfig", "instanceType")))
    return [
        f"{what} uses {instance}, which is not in allowedInstanceTypes ({', '.join(allowed)})"
        for what, instance in used
        if isinstance(instance, str) and instance not in allowed
    ]
