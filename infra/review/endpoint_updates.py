"""Endpoint updates that SageMaker refuses, or whose outcome its documentation does not give.

An endpoint that keeps its name is updated in place: the provider calls ``UpdateEndpoint`` with
the endpoint configuration and deployment configuration of the new plan
(terraform-provider-aws ``internal/service/sagemaker/endpoint.go``, ``resourceEndpointUpdate``:
on a change to ``endpoint_config_name`` or ``deployment_config``). SageMaker checks that update
against the endpoint as it is, which the replacement table cannot see. Compared here, from the
plans before and after a change:

- ``VARIANT_NAMES``: SageMaker updates every endpoint blue/green (SageMaker developer guide,
  "Blue/Green Deployments"), and a blue/green update's new endpoint configuration "must have the
  same variant name as the old endpoint configuration" (same guide, deployment guardrails,
  "Exclusions"). Shadow variants count: they are variants of the configuration.
- ``SCALED_VARIANT``: "If the update would change the instance type for any model that is a
  target for auto scaling, the update fails", and a variant registered for auto scaling must
  be deregistered before an update removes it (same guide, "Update endpoints that use auto
  scaling").
- ``SAME_CONFIGURATION``: a change to the deployment settings alone makes the provider call
  ``UpdateEndpoint`` with the configuration the endpoint already runs. The API reference says
  "To update an endpoint, you must create a new EndpointConfig" and that an update deploys the
  configuration "to a new fleet of instances"; what SageMaker does with the same configuration
  (a refusal, or a redeployment of every instance under the new policy) it does not say. Not
  knowing, the diff says so rather than call the update safe.

Pure Python over plans as ``python -m infra plan --json`` prints them (``resources``: type,
name, parent, inputs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.resource_types import ENDPOINT, ENDPOINT_CONFIG, SCALABLE_TARGET

VARIANT_NAMES = "variant-names"
SCALED_VARIANT = "scaled-variant"
SAME_CONFIGURATION = "same-configuration"


@dataclass(frozen=True)
class UpdateProblem:
    """What is wrong with an in-place update of the endpoint named ``endpoint``."""

    rule: str
    # The name of the component the endpoint belongs to (its ``parent`` in the plan).
    parent: str | None
    endpoint: str
    message: str

    @property
    def refused(self) -> bool:
        """SageMaker refuses the update (rather than: its outcome is not documented)."""
        return self.rule != SAME_CONFIGURATION


Resource = Mapping[str, Any]


def _variants(config: Resource | None) -> dict[str, str | None]:
    """Variant name -> instance type (None when serverless), shadow variants included."""
    if config is None:
        return {}
    inputs = config.get("inputs") or {}
    found: dict[str, str | None] = {}
    for key in ("productionVariants", "shadowProductionVariants"):
        for variant in inputs.get(key) or []:
            found[variant.get("variantName")] = variant.get("instanceType")
    return found


def _by_parent(resources: Iterable[Resource], type_token: str) -> dict[Any, Resource]:
    """A component's one resource of a type, by the component (each ModelEndpoint has one
    endpoint and one endpoint configuration)."""
    return {r.get("parent"): r for r in resources if r["type"] == type_token}


def _scaled_variants(resources: Iterable[Resource], endpoint: str) -> list[str]:
    """The variants of ``endpoint`` registered with Application Auto Scaling (their targets'
    resource id is ``endpoint/<name>/variant/<variant>``, botocore application-autoscaling
    ``RegisterScalableTargetRequest.ResourceId``)."""
    prefix = f"endpoint/{endpoint}/variant/"
    found = []
    for r in resources:
        if r["type"] != SCALABLE_TARGET:
            continue
        resource_id = (r.get("inputs") or {}).get("resourceId")
        if isinstance(resource_id, str) and resource_id.startswith(prefix):
            found.append(resource_id[len(prefix) :])
    return sorted(found)


def update_problems(
    old_resources: Sequence[Resource], new_resources: Sequence[Resource]
) -> list[UpdateProblem]:
    """The problems of every endpoint that both plans have under the same name and that the
    new plan updates."""
    old_endpoints = _by_parent(old_resources, ENDPOINT)
    old_configs = _by_parent(old_resources, ENDPOINT_CONFIG)
    new_configs = _by_parent(new_resources, ENDPOINT_CONFIG)
    problems: list[UpdateProblem] = []
    for parent, endpoint in _by_parent(new_resources, ENDPOINT).items():
        previous = old_endpoints.get(parent)
        if previous is None:
            continue
        old, new = previous.get("inputs") or {}, endpoint.get("inputs") or {}
        name = new.get("name")
        if not isinstance(name, str) or old.get("name") != name:
            continue  # a new endpoint: created, not updated
        same_config = old.get("endpointConfigName") == new.get("endpointConfigName")
        if same_config:
            if old.get("deploymentConfig") != new.get("deploymentConfig"):
                problems.append(_same_configuration(parent, name))
            continue
        before, after = _variants(old_configs.get(parent)), _variants(new_configs.get(parent))
        if sorted(before) != sorted(after):
            problems.append(
                UpdateProblem(
                    VARIANT_NAMES,
                    parent,
                    name,
                    f"endpoint {name}: the update changes its variants from "
                    f"{', '.join(sorted(before)) or '(none)'} to "
                    f"{', '.join(sorted(after)) or '(none)'}; SageMaker updates endpoints "
                    "blue/green and refuses a new configuration whose variant names differ "
                    "(SageMaker developer guide, deployment guardrails, Exclusions)",
                )
            )
        for variant in _scaled_variants(old_resources, name):
            if variant not in after or after[variant] != before.get(variant):
                change = "removes it" if variant not in after else "changes its instance type"
                problems.append(
                    UpdateProblem(
                        SCALED_VARIANT,
                        parent,
                        name,
                        f"endpoint {name}: variant {variant} is registered for auto scaling and "
                        f"the update {change}, which SageMaker refuses (SageMaker developer "
                        "guide, Update endpoints that use auto scaling)",
                    )
                )
    return problems


def _same_configuration(parent: str | None, name: str) -> UpdateProblem:
    return UpdateProblem(
        SAME_CONFIGURATION,
        parent,
        name,
        f"endpoint {name}: only its deployment settings change, so the provider calls "
        "UpdateEndpoint with the configuration it already runs; SageMaker documents updates to a "
        "new configuration only (UpdateEndpoint API reference), and may refuse this one or "
        "redeploy every instance. Ship deployment settings with a change that gives the endpoint "
        "a new configuration, such as a promotion",
    )
