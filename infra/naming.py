"""Physical names and tags that several components agree on."""

from __future__ import annotations

import hashlib

from infra.settings import ModelSettings, ModelVersion

CHAMPION = "champion"
CHALLENGER = "challenger"
SHADOW = "shadow"


def production_variants(model: ModelSettings) -> list[str]:
    return [CHAMPION] + ([CHALLENGER] if model.challenger is not None else [])


def endpoint_name(model_name: str, environment: str, model: ModelSettings) -> str:
    """The endpoint's name: stable across releases, new when its scaled layout changes.

    AWS refuses an endpoint update that changes the instance type of, or removes, a variant
    registered with Application Auto Scaling (terraform-provider-aws #14337). The suffix is a
    hash of the autoscaled variants and their instance type, so such a change creates a new
    endpoint beside the old one (with its own scalable targets), then deletes the old one,
    instead of failing half way. Promotions, weights and every other change keep the name.
    """
    layout = ""
    if model.autoscaled:
        layout = ",".join(f"{v}={model.instance_type}" for v in production_variants(model))
    suffix = hashlib.sha256(layout.encode()).hexdigest()[:6]
    return f"{model_name}-{environment}-{suffix}"


def partition(region: str) -> str:
    """The ARN partition of a region, so policies need no lookup at deploy time."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def log_group_name(endpoint: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint}"


def version_label(version: ModelVersion) -> str:
    """The ``model-version`` tag: the registry version number, or the short digest."""
    if version.package is not None:
        return version.package.rsplit("/", 1)[1]
    return version.digest.removeprefix("sha256:")[:12]


def base_tags(environment: str, owner: str, cost_center: str) -> dict[str, str]:
    return {"environment": environment, "owner": owner, "cost-center": cost_center}


def model_tags(base: dict[str, str], model_name: str, version: ModelVersion) -> dict[str, str]:
    return {**base, "model": model_name, "model-version": version_label(version)}
