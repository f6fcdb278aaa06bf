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


def endpoint_identity(model: ModelSettings) -> dict[str, str]:
    """Everything that needs a new endpoint, rather than an update of the current one.

    The endpoint's name ends in a random suffix that is drawn again whenever one of these values
    changes (they are the ``keepers`` of its ``RandomId``), so the endpoint is replaced under a
    new name, never under its own. A replacement that kept its name would collide with itself:
    Pulumi creates the new endpoint before it deletes the old one. Promotions, weights, alarm
    thresholds and deployment policy change none of these, and keep the name.

    - ``scaled_layout``: AWS refuses an endpoint update that changes the instance type of, or
      removes, a variant registered with Application Auto Scaling (terraform-provider-aws
      #14337); a new endpoint gets new scalable targets instead.
    - ``capacity``: an instance-backed endpoint cannot be updated to a serverless one (SageMaker
      developer guide, "Update a serverless endpoint").
    - ``rollback_alarms``: the provider replaces the endpoint when
      ``deployment_config.auto_rollback_configuration`` changes (terraform-provider-aws
      ``internal/service/sagemaker/endpoint.go``: ``ForceNew``). The alarms are named after the
      endpoint and watch all its production variants, so the list changes only with the kinds
      of rollback alarm, which this value names.
    """
    layout = ""
    if model.autoscaled:
        layout = ",".join(f"{v}={model.instance_type}" for v in production_variants(model))
    serverless = model.serverless is not None
    rollback = ""
    if model.deployment.auto_rollback and not serverless:
        rollback = ",".join(m.key for m in metrics.rollback_metrics(serverless))
    return {
        "scaled_layout": layout,
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
