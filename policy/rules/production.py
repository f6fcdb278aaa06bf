"""Guardrails for production endpoints: capacity, guarded updates that roll back on an alarm of
the stack, and data capture.

Which endpoints are production is read from the stack name in the URN (``productionStacks``),
which neither a tag nor a forgotten config file can get wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from infra.resource_types import ALARM, ENDPOINT, ENDPOINT_CONFIG
from policy.model import STRINGS, UNKNOWN, Resource, Setting, Violation, stack_rule
from policy.properties import as_list, known, number, serverless_only, value_at


def _endpoint_configuration(resources: Sequence[Resource], endpoint: Resource) -> Resource | None:
    name = endpoint.props.get("endpointConfigName")
    for r in resources:
        if r.type == ENDPOINT_CONFIG and (
            r.urn in endpoint.dependencies
            or (isinstance(name, str) and name and r.props.get("name") == name)
        ):
            return r
    return None


@stack_rule(
    "prod-endpoints",
    "Production endpoints start every variant with at least minInstances instances "
    "(Security Hub SageMaker.4) unless serverless is allowed, update with CANARY or LINEAR "
    "traffic shifting or a rolling update, roll back on at least one alarm of the stack, "
    "and capture data.",
    "mandatory",
    "MLREL04-BP02 Use an appropriate deployment and testing strategy",
    ("SageMaker.4",),
    settings={
        "productionStacks": Setting(
            STRINGS, ["prod"], "stack names (from the URN) whose endpoints are production"
        ),
        "minInstances": Setting(
            {"type": "integer", "minimum": 1}, 2, "instances each variant starts with"
        ),
        "allowServerless": Setting(
            {"type": "boolean"}, False, "whether a serverless production endpoint passes"
        ),
    },
)
def prod_endpoints(resources: Sequence[Resource], config: Mapping[str, Any]) -> list[Violation]:
    violations = []
    alarm_names = {r.props.get("name") for r in resources if r.type == ALARM}
    for endpoint in resources:
        if endpoint.type != ENDPOINT or endpoint.stack not in config["productionStacks"]:
            continue

        def report(message: str, endpoint: Resource = endpoint) -> None:
            violations.append(Violation(endpoint.urn, message))

        configuration = _endpoint_configuration(resources, endpoint)
        if configuration is None:
            report("endpoint configuration not found in the stack: cannot check capacity")
            continue
        serverless = serverless_only(configuration.props)
        if serverless and not config["allowServerless"]:
            report("serverless endpoint in production: set allowServerless to accept it")
        if serverless:
            # Serverless endpoints have no instance count, update only all at once and capture
            # no data (infra/settings/rules.py, serverless): nothing more to hold them to.
            continue
        minimum = config["minInstances"]
        for variant in as_list(configuration.props.get("productionVariants")):
            count = number(value_at(variant, "initialInstanceCount"))
            if count is not None and count < minimum:
                report(
                    f"variant {value_at(variant, 'variantName')} starts with {count:g} "
                    f"instance(s), fewer than {minimum}"
                )
        deployment = endpoint.props.get("deploymentConfig")
        if deployment is not UNKNOWN:
            shifting = value_at(
                deployment, "blueGreenUpdatePolicy", "trafficRoutingConfiguration", "type"
            )
            rolling = value_at(deployment, "rollingUpdatePolicy")
            if not rolling and shifting not in ("CANARY", "LINEAR", UNKNOWN):
                report(
                    f"updates shift traffic {shifting or 'ALL_AT_ONCE'}: use CANARY or LINEAR "
                    "traffic shifting or a rolling update"
                )
            alarms = value_at(deployment, "autoRollbackConfiguration", "alarms")
            if known(alarms) and not as_list(alarms):
                report("no rollback alarm: set deploymentConfig.autoRollbackConfiguration.alarms")
            for alarm in as_list(alarms):
                name = value_at(alarm, "alarmName")
                if isinstance(name, str) and UNKNOWN not in alarm_names and name not in alarm_names:
                    report(f"rollback alarm {name} is not an alarm of this stack")
        capture = configuration.props.get("dataCaptureConfig")
        enabled = value_at(capture, "enableCapture")
        sampling = number(value_at(capture, "initialSamplingPercentage"))
        if capture is not UNKNOWN and (not capture or enabled is False or sampling == 0):
            report("data capture is off: set dataCaptureConfig with a sampling percentage above 0")
    return violations
