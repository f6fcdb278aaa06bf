"""The artifact contract: how a published model version is named, addressed and laid out.

Both wings depend on it and on nothing else of each other: the program (endpoint models, drift
monitoring, the store's grants) and the release tool (build, publish, promote, status,
drift-check). No pulumi, no AWS SDK: plain names and strings.

A version lives in the artifact store under ``models/<model>/sha256-<hex digest>/`` (its
*artifact prefix*), addressed by content so that it is never overwritten; its data-quality
baseline lies in the ``baseline/`` folder below that. The registry names the version by a
model package ARN whose last path element is its version number.
"""

from __future__ import annotations

import re
from typing import Any

# A model package version's ARN (botocore sagemaker ModelPackageArn pattern, narrowed to a
# versioned package: ``model-package/<group>/<version>``). The group is the model's name.
PACKAGE_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"model-package/(?P<group>[A-Za-z0-9-]+)/(?P<version>\d+)$"
)
DIGEST_PREFIX = "sha256:"
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
SHORT_DIGEST_LENGTH = 12

# Every artifact of every model sits below this prefix of the store: the readers' grants (the
# bucket policy, the execution roles) are scoped to it.
STORE_PREFIX = "models/"

# The baseline's folder, beside manifest.json in a build's output and below the artifact
# prefix in the store, and its two documents: the names SageMaker Model Monitor's data-quality
# job reads (SageMaker developer guide, "Schema for Statistics" and "Schema for Constraints").
BASELINE_FOLDER = "baseline"
STATISTICS_NAME = "statistics.json"
CONSTRAINTS_NAME = "constraints.json"
BASELINE_FILES = (STATISTICS_NAME, CONSTRAINTS_NAME)

# The monitoring_config a baseline's constraints.json carries, and what a check assumes for a
# key that a constraints.json leaves out: the "Default" column of the Monitoring Constraints
# table ("Schema for Constraints"). comparison_method has no documented default; Robust is the
# SageMaker Python SDK's (DataQualityDistributionConstraints.default_comparison_method).
MONITORING_DEFAULTS: dict[str, Any] = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 0.1,
    "domain_content_threshold": 0.1,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    },
}


def version_of(arn: str) -> int:
    """The version number of a model package ARN; ``ValueError`` names an ARN without one."""
    match = PACKAGE_ARN_RE.match(arn)
    if match is None:
        raise ValueError(f"{arn!r} is not a versioned model package ARN")
    return int(match["version"])


def version_or_none(arn: str | None) -> int | None:
    """The version number of ``arn``, or None for no ARN or one that names no version."""
    if not arn:
        return None
    try:
        return version_of(arn)
    except ValueError:
        return None


def version_arn(partition: str, region: str, account: str, group: str, version: int) -> str:
    """The ARN of version ``version`` of model package group ``group``."""
    return f"arn:{partition}:sagemaker:{region}:{account}:model-package/{group}/{version}"


def hex_digest(digest: str) -> str:
    """A digest's hexadecimal part, with or without its ``sha256:`` prefix."""
    return digest.removeprefix(DIGEST_PREFIX)


def short_digest(digest: str) -> str:
    """The first 12 hexadecimal digits: how tags, tables and messages show a digest."""
    return hex_digest(digest)[:SHORT_DIGEST_LENGTH]


def model_prefix(model: str) -> str:
    """The store prefix of every version of ``model``: ``models/<model>/``."""
    return f"{STORE_PREFIX}{model}/"


def artifact_prefix(model: str, digest: str) -> str:
    """The store prefix of one version: ``models/<model>/sha256-<hex>/``.

    ``digest`` may carry its ``sha256:`` prefix or not. Addressed by content, so never
    overwritten.
    """
    return f"{model_prefix(model)}sha256-{hex_digest(digest)}/"


def baseline_prefix(model: str, digest: str) -> str:
    """The store prefix of a version's baseline documents."""
    return f"{artifact_prefix(model, digest)}{BASELINE_FOLDER}/"
