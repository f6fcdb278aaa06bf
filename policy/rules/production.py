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
    alarm_names = {r.props.get("name") for r in resources if r.type == ALARM}
    return [
        Violation(endpoint.urn, message)
        for endpoint in resources
        if endpoint.type == ENDPOINT and endpoint.stack in config["productionStacks"]
        for message in _endpoint_problems(resources, endpoint, config, alarm_names)
    ]


def _endpoint_problems(
    resources: Sequence[Resource],
    endpoint: Resource,
    config: Mapping[str, Any],
    alarm_names: set[Any],
) -> list[str]:
    configuration = _endpoint_configuration(resources, endpoint)
    if configuration is None:
        return ["endpoint configuration not found in the stack: cannot check capacity"]
    if serverless_only(configuration.props):
        # Serverless endpoints have no instance count, update only all at once and capture
        # no data (infra/settings/rules.py, serverless): nothing more to hold them to.
        if config["allowServerless"]:
            return []
        return ["serverless endpoint in production: set allowServerless to accept it"]
    problems = _capacity_problems(configuration, config["minInstances"])
    deployment = endpoint.props.get("deploymentConfig")
    if deployment is not UNKNOWN:
        problems += _traffic_problems(deployment) + _rollback_problems(deployment, alarm_names)
    return problems + _capture_problems(configuration)


def _capacity_problems(configuration: Resource, minimum: int) -> list[str]:
    problems = []
    for variant in as_list(configuration.props.get("productionVariants")):
        count = number(value_at(variant, "initialInstanceCount"))
        if count is not None and count < minimum:
            problems.append(
                f"variant {value_at(variant, 'variantName')} starts with {count:g} "
                f"instance(s), fewer than {minimum}"
            )
    return problems


def _traffic_problems(deployment: Any) -> list[str]:
    shifting = value_at(deployment, "blueGreenUpdatePolicy", "trafficRoutingConfiguration", "type")
    rolling = value_at(deployment, "rollingUpdatePolicy")
    if rolling or shifting in ("CANARY", "LINEAR", UNKNOWN):
        return []
    return [
        f"updates shift traffic {shifting or 'ALL_AT_ONCE'}: use CANARY or LINEAR "
        "traffic shifting or a rolling update"
    ]


def _rollback_problems(deployment: Any, alarm_names: set[Any]) -> list[str]:
    alarms = value_at(deployment, "autoRollbackConfiguration", "alarms")
    problems = []
    if known(alarms) and not as_list(alarms):
        problems.append("no rollback alarm: set deploymentConfig.autoRollbackConfiguration.alarms")
    for alarm in as_list(alarms):
        name = value_at(alarm, "alarmName")
        if isinstance(name, str) and UNKNOWN not in alarm_names and name not in alarm_names:
            problems.append(f"rollback alarm {name} is not an alarm of this stack")
    return problems


def _capture_problems(configuration: Resource) -> list[str]:
    capture = configuration.props.get("dataCaptureConfig")
    enabled = value_at(capture, "enableCapture")
    sampling = number(value_at(capture, "initialSamplingPercentage"))
    if capture is not UNKNOWN and (not capture or enabled is False or sampling == 0):
        return ["data capture is off: set dataCaptureConfig with a sampling percentage above 0"]
    return []
