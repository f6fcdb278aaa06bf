"""Alarms that someone hears, on endpoint metrics that name the variant they watch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.resource_types import ALARM
from policy.model import UNKNOWN, resource_rule
from policy.properties import as_list, known, value_at

# The namespaces of endpoint metrics, which SageMaker publishes per EndpointName and VariantName
# (SageMaker developer guide, "Amazon SageMaker AI metrics in Amazon CloudWatch": endpoint
# invocation metrics and endpoint instance metrics).
ENDPOINT_NAMESPACES = frozenset({"AWS/SageMaker", "/aws/sagemaker/Endpoints"})
ENDPOINT_DIMENSIONS = ("EndpointName", "VariantName")


def _alarm_metrics(props: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(label, namespace, dimensions) of every metric an alarm reads."""
    metrics = []
    if props.get("metricName") is not None:
        metrics.append(("metric", props.get("namespace"), props.get("dimensions")))
    for query in as_list(props.get("metricQueries")):
        metric = value_at(query, "metric")
        if isinstance(metric, Mapping):
            label = f"metric query {value_at(query, 'id')}"
            metrics.append((label, metric.get("namespace"), metric.get("dimensions")))
    return metrics


@resource_rule(
    "alarm-actions-and-dimensions",
    "Every alarm has actions enabled and alarm actions (checkov CKV_AWS_319); every "
    "endpoint metric it reads names both EndpointName and VariantName.",
    "mandatory",
    "MLOPS05-BP01 Establish deployment environment metrics",
    ("CKV_AWS_319",),
)
def alarm_actions_and_dimensions(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    if type_ != ALARM:
        return []
    problems = []
    if props.get("actionsEnabled") is False:
        problems.append("alarm actions are disabled (actionsEnabled false)")
    if known(props.get("alarmActions")) and not as_list(props.get("alarmActions")):
        problems.append("alarm has no alarmActions: nobody hears it")
    for label, namespace, dimensions in _alarm_metrics(props):
        if namespace not in ENDPOINT_NAMESPACES or dimensions is UNKNOWN:
            continue
        present = dimensions if isinstance(dimensions, Mapping) else {}
        missing = [d for d in ENDPOINT_DIMENSIONS if d not in present]
        if missing:
            problems.append(f"{label} in {namespace} lacks the dimensions {', '.join(missing)}")
    return problems
