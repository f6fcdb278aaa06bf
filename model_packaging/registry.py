"""The SageMaker Model Registry: find or create the version of a model that holds an artifact.

pulumi-aws has no ModelPackage resource, only ModelPackageGroup, so the shared stack creates one
group per model and this module registers the versions; stacks then pin them by ARN.

A version is tied to its artifact by the ``artifact-digest`` customer metadata property. The
digest is also written into the description because ListModelPackages returns descriptions but
not metadata: finding the version of a digest costs one listing and one describe, however many
versions the group holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from model_packaging.aws import describe, error_code, reporting
from model_packaging.errors import PackagingError

DIGEST_KEY = "artifact-digest"
COMMIT_KEY = "git-commit"
DIRTY_KEY = "git-dirty"
S3_URI_KEY = "s3-uri"
MANIFEST_URI_KEY = "manifest-uri"

# Versions in these states cannot be deployed, so they do not count as "already registered".
_UNUSABLE = {"Failed", "Deleting"}
_DESCRIPTION_MAX = 1024


@dataclass(frozen=True)
class VersionSpec:
    """Everything a new model package version records, independent of the manifest format."""

    group: str
    digest: str
    """Hex SHA-256 naming the artifact."""
    image: str
    """Inference image URI for the registry's region."""
    model_data_uri: str
    """``s3://`` URI of model.tar.gz, or of the ``model/`` prefix for an uncompressed build."""
    compressed: bool
    manifest_uri: str
    environment: Mapping[str, str]
    request_types: Sequence[str]
    response_types: Sequence[str]
    git_commit: str | None
    git_dirty: bool
    summary: str
    """Free text for people, appended to the description after the digest."""


@dataclass(frozen=True)
class Version:
    arn: str
    approval_status: str


def digest_label(digest: str) -> str:
    """How a digest is written in the registry: ``sha256:<hex>``, as in container images."""
    return f"sha256:{digest}"


def require_group(sagemaker: Any, group: str) -> None:
    """Fail, naming the group, unless the model's package group exists and is usable.

    Called before anything is uploaded: a model missing from the shared stack must not leave
    orphan objects in the bucket.
    """
    try:
        status = sagemaker.describe_model_package_group(ModelPackageGroupName=group)[
            "ModelPackageGroupStatus"
        ]
    except ClientError as exc:
        if _is_missing(exc):
            raise PackagingError(
                f"model package group {group!r} does not exist in"
                f" {sagemaker.meta.region_name}: the shared stack creates one per model;"
                f" add {group!r} to it and run pulumi up"
            ) from exc
        raise PackagingError(f"cannot read model package group {group!r}: {describe(exc)}") from exc
    except BotoCoreError as exc:
        raise PackagingError(
            f"cannot reach SageMaker for model package group {group!r}: {describe(exc)}"
        ) from exc
    if status != "Completed":
        raise PackagingError(f"model package group {group!r} is {status}, not ready for versions")


def find_version(sagemaker: Any, group: str, digest: str) -> Version | None:
    """The earliest usable version of ``group`` registered for ``digest``, if there is one."""
    label = digest_label(digest)
    with reporting(f"cannot list versions of model package group {group!r}"):
        pages = sagemaker.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Ascending"
        )
        candidates = [
            summary
            for page in pages
            for summary in page.get("ModelPackageSummaryList", [])
            if label in summary.get("ModelPackageDescription", "")
            and summary.get("ModelPackageStatus") not in _UNUSABLE
        ]
        for summary in candidates:
            described = sagemaker.describe_model_package(
                ModelPackageName=summary["ModelPackageArn"]
            )
            if described.get("CustomerMetadataProperties", {}).get(DIGEST_KEY) == label:
                return Version(described["ModelPackageArn"], described["ModelApprovalStatus"])
    return None


def create_version(sagemaker: Any, spec: VersionSpec) -> Version:
    """Register a new version awaiting manual approval; promotion to prod requires approval."""
    with reporting(f"cannot register a version in model package group {spec.group!r}"):
        arn = sagemaker.create_model_package(**version_request(spec))["ModelPackageArn"]
    return Version(arn, "PendingManualApproval")


def version_request(spec: VersionSpec) -> dict[str, Any]:
    """The CreateModelPackage arguments for ``spec`` (field names as in botocore's model)."""
    container: dict[str, Any] = {"Image": spec.image, "Environment": dict(spec.environment)}
    if spec.compressed:
        container["ModelDataUrl"] = spec.model_data_uri
    else:
        # SageMaker copies every object under the prefix to /opt/ml/model, keeping its path.
        container["ModelDataSource"] = {
            "S3DataSource": {
                "S3Uri": spec.model_data_uri,
                "S3DataType": "S3Prefix",
                "CompressionType": "None",
            }
        }
    metadata = {
        DIGEST_KEY: digest_label(spec.digest),
        S3_URI_KEY: spec.model_data_uri,
        MANIFEST_URI_KEY: spec.manifest_uri,
    }
    request: dict[str, Any] = {
        "ModelPackageGroupName": spec.group,
        "ModelPackageDescription": f"{spec.group} {digest_label(spec.digest)}: {spec.summary}"[
            :_DESCRIPTION_MAX
        ],
        "ModelApprovalStatus": "PendingManualApproval",
        "InferenceSpecification": {
            "Containers": [container],
            "SupportedContentTypes": list(spec.request_types),
            "SupportedResponseMIMETypes": list(spec.response_types),
        },
        "CustomerMetadataProperties": metadata,
    }
    if spec.git_commit:
        metadata[COMMIT_KEY] = spec.git_commit
        metadata[DIRTY_KEY] = str(spec.git_dirty).lower()
        request["MetadataProperties"] = {"CommitId": spec.git_commit}
    return request


def _is_missing(exc: ClientError) -> bool:
    """SageMaker reports a missing group as a ValidationException saying it does not exist."""
    code = error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message", ""))
    return code == "ResourceNotFound" or (
        code == "ValidationException" and "does not exist" in message
    )
