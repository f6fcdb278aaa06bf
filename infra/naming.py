"""Physical names and tags that several components agree on.

``partition`` (a region's ARN partition) comes from ``infra.partitions``.
"""

from __future__ import annotations

from infra import metrics
from infra.partitions import partition as partition
from infra.settings import ModelSettings, ModelVersion, artifacts

CHAMPION = "champion"
CHALLENGER = "challenger"
SHADOW = "shadow"


def production_variants(model: ModelSettings) -> list[str]:
    return [CHAMPION] + ([CHALLENGER] if model.challenger is not None else [])


def variant_versions(model: ModelSettings) -> dict[str, ModelVersion]:
    """Variant name -> the version the stack file pins for it, shadow included."""
    versions = {CHAMPION: model.version}
    if model.challenger is not None:
        versions[CHALLENGER] = model.challenger.version
    if model.shadow is not None:
        versions[SHADOW] = model.shadow.version
    return versions


def endpoint_name_prefix(model_name: str, environment: str) -> str:
    """What every endpoint name of a model in an environment starts with."""
    return f"{model_name}-{environment}-"


def variant_layout(model: ModelSettings) -> str:
    """The endpoint's variants, shadow included, each with its instance type if it has one:
    ``champion=ml.m5.xlarge,challenger=ml.m5.xlarge``, or ``champion`` when serverless."""
    if model.serverless is not None:
        return ",".join(variant_versions(model))
    return ",".join(f"{v}={model.instance_type}" for v in variant_versions(model))


def endpoint_identity(model: ModelSettings) -> dict[str, str]:
    """Everything that needs a new endpoint, rather than an update of the current one.

    The endpoint's name ends in a random suffix that is drawn again whenever one of these values
    changes (they are the ``keepers`` of its ``RandomId``), so the endpoint is replaced under a
    new name, never under its own. A replacement that kept its name would collide with itself:
    Pulumi creates the new endpoint before it deletes the old one. Promotions, weights, alarm
    thresholds, deployment policy and turning autoscaling on or off change none of these, and
    keep the name.

    - ``scaled_layout``: the variant names, shadow included, and their instance type.
      A blue/green (guarded) update needs the new endpoint configuration to have the old one's
      variant names (SageMaker developer guide, deployment guardrails, "Exclusions"), and
      SageMaker updates every endpoint blue/green (same guide, "Blue/Green Deployments"), so
      adding or removing a challenger or a shadow needs a new endpoint. AWS refuses an update
      that changes the instance type of, or removes, a variant registered with Application
      Auto Scaling (same guide, "Update endpoints that use auto scaling"). Whether a variant
      is registered depends on the stack's previous state, which a pure function of the stack
      file cannot see: a value that kept the name when autoscaling is turned on or off, and
      changed it when a scaled variant's instance type changes, must then change with every
      instance type. So a new instance type gives a new endpoint, scaled or not, and
      autoscaling on or off keeps it. (The key keeps the name it had when it held only the
      scaled variants, so that an autoscaled endpoint without a shadow keeps its value, and
      its name, across that change.)
    - ``capacity``: an instance-backed endpoint cannot be updated to a serverless one (SageMaker
      developer guide, "Update a serverless endpoint").
    - ``rollback_alarms``: the provider replaces the endpoint when
      ``deployment_config.auto_rollback_configuration`` changes (terraform-provider-aws
      ``internal/service/sagemaker/endpoint.go``: ``ForceNew``). The alarms are named after the
      endpoint and watch all its production variants, so the list changes only with the kinds
      of rollback alarm, which this value names.
    """
    serverless = model.serverless is not None
    rollback = ""
    if model.deployment.auto_rollback and not serverless:
        rollback = ",".join(m.key for m in metrics.rollback_metrics(serverless))
    return {
        "scaled_layout": variant_layout(model),
        "capacity": "serverless" if serverless else "instances",
        "rollback_alarms": rollback,
    }


# SageMaker sends an endpoint's container logs to /aws/sagemaker/Endpoints/<endpoint name>
# (SageMaker developer guide, "Log groups and streams that Amazon SageMaker AI sends").
LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"


def version_label(version: ModelVersion) -> str:
    """The ``model-version`` tag: the registry version number, or the short digest."""
    if version.package is not None:
        return str(artifacts.version_of(version.package))
    return artifacts.short_digest(version.digest)


def base_tags(environment: str, owner: str, cost_center: str) -> dict[str, str]:
    return {"environment": environment, "owner": owner, "cost-center": cost_center}


def model_tags(base: dict[str, str], model_name: str) -> dict[str, str]:
    """Tags of every resource of a model's endpoint."""
    return {**base, "model": model_name}


def version_tags(base: dict[str, str], model_name: str, version: ModelVersion) -> dict[str, str]:
    """Tags of the resources that hold a version (its SageMaker Models): a promotion retags only
    what it replaces."""
    return {**model_tags(base, model_name), "model-version": version_label(version)}
