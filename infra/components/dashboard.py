"""An environment's CloudWatch dashboards: one section per model, from its endpoint's widgets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

# CloudWatch holds at most 500 widgets on a dashboard; a model's section has 8 at most.
MODELS_PER_DASHBOARD = 50


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
        super().__init__("mlserve:observability:EnvironmentDashboard", name, None, opts)
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
