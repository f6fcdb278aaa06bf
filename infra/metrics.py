"""The endpoint metrics the program watches: one table for alarms, dashboards and tests.

Each metric is written once, here, with its namespace, statistic and unit, whether only
instance-backed variants report it, and whether its alarm rolls a deployment back. The alarms of
``ModelEndpoint``, the dashboard sections and the tests' checks all read this table, as
aws-cdk's ``aws-sagemaker-alpha`` does with its ``metric...()`` helpers: every metric is always
addressed with both of its dimensions (``dimensions``), because an alarm on a SageMaker metric
without ``EndpointName`` and ``VariantName`` matches no data and never fires.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.settings import Alarms

INVOCATION_NAMESPACE = "AWS/SageMaker"
# Utilisation metrics of instance-backed variants (SageMaker developer guide, "Monitor Amazon
# SageMaker AI with Amazon CloudWatch": endpoint instance metrics).
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"


@dataclass(frozen=True)
class EndpointMetric:
    key: str
    namespace: str
    metric: str
    # A CloudWatch statistic ("Sum", "Average") or an extended one ("p99").
    stat: str
    title: str
    # The unit CloudWatch reports the metric in, as the plan and alarm descriptions name it.
    unit: str
    # Only instance-backed variants report it (serverless variants report no utilisation).
    instance_only: bool = False
    # Its alarm, over all production variants of the endpoint, rolls a deployment back.
    rolls_back: bool = False
    # The alarm threshold in the metric's unit, from the stack's alarm settings and the number of
    # vCPUs of the instance (None: no alarm on this metric).
    threshold: Callable[[Alarms, int], float] | None = None
    # How the alarm combines production variants (a metric math function over them).
    combine: str = "MAX"

    @property
    def extended(self) -> bool:
        return self.stat.startswith("p")

    def describe(self, alarms: Alarms, vcpus: int) -> str:
        """What the alarm means, with its threshold in the metric's own unit."""
        assert self.threshold is not None
        value = _number(self.threshold(alarms, vcpus))
        if self.key == "latency":
            return f"p99 ModelLatency above {alarms.p99_latency_ms} ms ({value} {self.unit})"
        if self.key == "cpu":
            return (
                f"CPUUtilization above {alarms.cpu_utilization_percent}% of {vcpus} vCPUs "
                f"({value} {self.unit}: the metric is summed over vCPUs)"
            )
        if self.key == "memory":
            return f"MemoryUtilization above {value} {self.unit}"
        return f"{self.metric} above {value} per {alarms.period_seconds} s ({self.stat})"


def dimensions(endpoint: str, variant: str) -> dict[str, str]:
    """A SageMaker endpoint metric's dimensions: without both, nothing matches."""
    return {"EndpointName": endpoint, "VariantName": variant}


def _number(value: float) -> Any:
    return int(value) if float(value).is_integer() else value


METRICS: tuple[EndpointMetric, ...] = (
    EndpointMetric("invocations", INVOCATION_NAMESPACE, "Invocations", "Sum", "Invocations",
                   "count"),
    EndpointMetric(
        "5xx", INVOCATION_NAMESPACE, "Invocation5XXErrors", "Sum", "5XX errors", "count",
        rolls_back=True, threshold=lambda a, _: a.error_5xx_threshold, combine="SUM",
    ),
    EndpointMetric(
        # ModelLatency is reported in microseconds (SageMaker developer guide, "SageMaker AI
        # endpoint invocation metrics"); the stack setting is in milliseconds.
        "latency", INVOCATION_NAMESPACE, "ModelLatency", "p99", "Model latency p99",
        "microseconds", rolls_back=True, threshold=lambda a, _: a.p99_latency_ms * 1000,
    ),
    EndpointMetric("invocations_per_instance", INVOCATION_NAMESPACE, "InvocationsPerInstance",
                   "Sum", "Invocations per instance", "count"),
    EndpointMetric(
        # CPUUtilization is the sum over the instance's vCPUs: 0-400% on a 4-vCPU instance
        # (same page, "endpoint instance metrics"). The setting is a share of the whole
        # instance, so the threshold scales with the vCPU count.
        "cpu", INSTANCE_NAMESPACE, "CPUUtilization", "Average", "CPU utilisation", "percent",
        instance_only=True, threshold=lambda a, vcpus: a.cpu_utilization_percent * vcpus,
    ),
    EndpointMetric(
        "memory", INSTANCE_NAMESPACE, "MemoryUtilization", "Average", "Memory utilisation",
        "percent", instance_only=True, threshold=lambda a, _: a.memory_utilization_percent,
    ),
)  # fmt: skip


def metrics_for(serverless: bool) -> tuple[EndpointMetric, ...]:
    """The metrics a variant reports: serverless variants report no instance metrics."""
    return tuple(m for m in METRICS if not (serverless and m.instance_only))


def rollback_metrics(serverless: bool) -> tuple[EndpointMetric, ...]:
    return tuple(m for m in metrics_for(serverless) if m.rolls_back)


def by_key(key: str) -> EndpointMetric:
    return next(m for m in METRICS if m.key == key)
