"""An environment's CloudWatch dashboards: one section per model, from its endpoint's widgets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import metrics
from infra.resource_types import ENVIRONMENT_DASHBOARD

# CloudWatch holds at most 500 widgets on a dashboard (CloudWatch user guide, "CloudWatch
# dashboard quotas"); a model's section has 8 at most.
MODELS_PER_DASHBOARD = 50
PERIOD_SECONDS = 60


def model_section(
    *,
    model_name: str,
    region: str,
    endpoint: str,
    variants: list[str],
    serverless: bool,
    alarm_arns: list[str],
) -> list[dict[str, Any]]:
    """A model's widgets: a heading, one graph per metric it reports, then its alarms.

    The graphs come from the metrics table (infra/metrics.py), one line per variant, each
    addressed with both of its dimensions.
    """
    widgets: list[dict[str, Any]] = [
        {
            "type": "text",
            "width": 24,
            "height": 2,
            # No versions here: a promotion changes the model's resources, not the dashboard.
            "properties": {"markdown": f"## {model_name}\nEndpoint `{endpoint}`"},
        }
    ]
    for metric in metrics.metrics_for(serverless):
        widgets.append(
            {
                "type": "metric",
                "width": 8,
                "height": 6,
                "properties": {
                    "title": f"{model_name}: {metric.title} ({metric.unit})",
                    "region": region,
                    "stat": metric.stat,
                    "period": PERIOD_SECONDS,
                    "metrics": [
                        [metric.namespace, metric.metric, *_flat(metrics.dimensions(endpoint, v))]
                        for v in variants
                    ],
                },
            }
        )
    widgets.append(
        {
            "type": "alarm",
            "width": 24,
            "height": 3,
            "properties": {"title": f"{model_name}: alarms", "alarms": alarm_arns},
        }
    )
    return widgets


def _flat(dimensions: dict[str, str]) -> list[str]:
    return [part for pair in dimensions.items() for part in pair]


@dataclass(frozen=True)
class DashboardArgs:
    region: str
    # Dashboard names: the prefix, then "-2", "-3", ... past MODELS_PER_DASHBOARD models.
    name: str
    # Model name -> that model's widgets, in the order they are shown.
    sections: dict[str, pulumi.Input[list[dict[str, Any]]]]


class EnvironmentDashboard(pulumi.ComponentResource):
    urls: dict[str, str]

    def __init__(
        self, name: str, args: DashboardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(ENVIRONMENT_DASHBOARD, name, None, opts)
        models = sorted(args.sections)
        self.urls = {}
        for page, start in enumerate(range(0, len(models), MODELS_PER_DASHBOARD)):
            chunk = models[start : start + MODELS_PER_DASHBOARD]
            dashboard_name = args.name if page == 0 else f"{args.name}-{page + 1}"
            body = pulumi.Output.all(*(args.sections[m] for m in chunk)).apply(
                lambda sections: json.dumps(
                    {"widgets": [widget for section in sections for widget in section]}
                )
            )
            aws.cloudwatch.Dashboard(
                f"{name}-{page + 1}",
                dashboard_name=dashboard_name,
                dashboard_body=body,
                opts=pulumi.ResourceOptions(parent=self),
            )
            url = (
                f"https://{args.region}.console.aws.amazon.com/cloudwatch/home"
                f"?region={args.region}#dashboards:name={dashboard_name}"
            )
            self.urls.update({model: url for model in chunk})
        self.register_outputs({"urls": self.urls})
