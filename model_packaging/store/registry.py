"""The SageMaker Model Registry: find or create the version of a model that holds an artifact.

pulumi-aws has no ModelPackage resource, only ModelPackageGroup, so the shared stack creates one
group per model and this module registers the versions; stacks then pin them by ARN.

A version is tied to its artifact by the ``artifact-digest`` customer metadata property. The
digest is also written into the description because ListModelPackages returns descriptions but
not metadata: finding the version of a digest costs one listing and one describe, however many
versions the group holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from infra.settings import artifacts
from model_packaging.errors import PackagingError
from model_packaging.store.aws import describe, error_code, failure, reporting, setup_problem

DIGEST_KEY = "artifact-digest"
COMMIT_KEY = "git-commit"
DIRTY_KEY = "git-dirty"
S3_URI_KEY = "s3-uri"
MANIFEST_URI_KEY = "manifest-uri"
# Who set the approval status (the STS caller ARN) and when (UTC, ISO 8601), as releases
# before the decision history recorded it (model_packaging.release.approval keeps the history).
APPROVAL_BY_KEY = "approval-by"
APPROVAL_AT_KEY = "approval-at"
APPROVED = "Approved"
REJECTED = "Rejected"

# Versions in these states cannot be deployed, so they do not count as "already registered".
_UNUSABLE = {"Failed", "Deleting"}
_DESCRIPTION_MAX = 1024
# Limits of UpdateModelPackage (botocore's sagemaker service-2.json): ApprovalDescription is at
# most 1024 characters; CustomerMetadataProperties (CustomerMetadataMap) holds at most 50
# entries, whose keys (CustomerMetadataKey) are 1 to 128 and values (CustomerMetadataValue) 1 to
# 256 characters of letters, numbers, spaces and ``_.:/=+-@``.
APPROVAL_DESCRIPTION_MAX = 1024
METADATA_KEY_MAX = 128
METADATA_VALUE_MAX = 256
METADATA_ENTRIES_MAX = 50
_METADATA_VALUE_RE = re.compile(r"[^\w .:/=+\-@]")


# The media type of statistics.json and constraints.json, as a MetricsSource's ContentType.
BASELINE_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class BaselineFile:
    """One baseline document in the artifact store."""

    s3_uri: str
    sha256: str


@dataclass(frozen=True)
class DataQualityBaseline:
    """Model Monitor's data-quality baseline of a version: statistics.json, constraints.json."""

    statistics: BaselineFile
    constraints: BaselineFile

    def request(self) -> dict[str, Any]:
        """``{"Statistics": MetricsSource, "Constraints": MetricsSource}``, the member shape of
        both ``DriftCheckBaselines.ModelDataQuality`` and ``ModelMetrics.ModelDataQuality``
        (botocore sagemaker service-2.json: DriftCheckModelDataQuality and ModelDataQuality).
        MetricsSource requires ContentType and S3Uri; ContentDigest (``sha256:<hex>``) lets
        anyone check the object against what was registered."""
        return {
            name: {
                "ContentType": BASELINE_CONTENT_TYPE,
                "S3Uri": document.s3_uri,
                "ContentDigest": digest_label(document.sha256),
            }
            for name, document in (
                ("Statistics", self.statistics),
                ("Constraints", self.constraints),
            )
        }


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
    data_quality: DataQualityBaseline | None = None
    """Registered as the version's drift check baseline and model metrics, when given."""


@dataclass(frozen=True)
class Version:
    arn: str
    approval_status: str
    data_quality: Mapping[str, Any] | None = None
    """``DriftCheckBaselines.ModelDataQuality`` as registered, if any."""


@dataclass(frozen=True)
class VersionInfo:
    """What the release commands read of a registered version."""

    arn: str
    group: str
    number: int
    approval_status: str
    status: str
    """ModelPackageStatus: Pending, InProgress, Completed, Failed or Deleting."""
    metadata: Mapping[str, str]
    model_data_uri: str | None
    """What SageMaker deploys: the container's ModelDataUrl or ModelDataSource S3Uri."""
    created: Any
    """CreationTime, as boto3 returns it (an aware datetime)."""
    approval_description: str = ""
    """ApprovalDescription: the reason given with the current approval status."""
    modified: Any = None
    """LastModifiedTime, as boto3 returns it, if the version was ever updated."""
    modified_by: str | None = None
    """Who last updated the version (LastModifiedBy: its IAM identity, or Studio user profile)."""

    @property
    def digest(self) -> str | None:
        """The recorded ``sha256:<hex>``, if publish recorded one."""
        return self.metadata.get(DIGEST_KEY)


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
        # Only a network failure means SageMaker could not be reached; a wrong set-up never
        # sent the request.
        action = (
            f"cannot reach SageMaker for model package group {group!r}"
            if setup_problem(exc) is None
            else f"cannot read model package group {group!r}"
        )
        raise PackagingError(failure(action, exc)) from exc
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
                return Version(
                    described["ModelPackageArn"],
                    described["ModelApprovalStatus"],
                    described.get("DriftCheckBaselines", {}).get("ModelDataQuality"),
                )
    return None


def create_version(sagemaker: Any, spec: VersionSpec) -> Version:
    """Register a new version awaiting manual approval; promotion to prod requires approval."""
    with reporting(f"cannot register a version in model package group {spec.group!r}"):
        arn = sagemaker.create_model_package(**version_request(spec))["ModelPackageArn"]
    return Version(arn, "PendingManualApproval")


def version_arn(sagemaker: Any, group: str, number: int) -> str:
    """The ARN of version ``number`` of ``group``: the group's ARN says partition and account."""
    group_arn = _group_arn(sagemaker, group)
    return group_arn.replace(":model-package-group/", ":model-package/", 1) + f"/{number}"


def list_versions(sagemaker: Any, group: str) -> list[VersionInfo]:
    """Every version of ``group``, oldest first, whatever its status; the group must exist.

    ListModelPackages returns neither the customer metadata nor the approval's description, so
    each version is described too: one request per version.
    """
    _group_arn(sagemaker, group)
    with reporting(f"cannot list versions of model package group {group!r}"):
        pages = sagemaker.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Ascending"
        )
        arns = [
            str(summary["ModelPackageArn"])
            for page in pages
            for summary in page.get("ModelPackageSummaryList", [])
        ]
    found = [describe_version(sagemaker, arn) for arn in arns]
    return sorted((info for info in found if info is not None), key=lambda info: info.number)


def describe_version(sagemaker: Any, arn: str) -> VersionInfo | None:
    """The version at ``arn``, or None when the registry has no such version."""
    with reporting(f"cannot read model package {arn}"):
        try:
            described = sagemaker.describe_model_package(ModelPackageName=arn)
        except ClientError as exc:
            if _is_missing(exc) or _is_not_found(exc):
                return None
            raise
    return _version_info(described)


def latest_approved(sagemaker: Any, group: str) -> VersionInfo | None:
    """The newest Approved, usable version of ``group``, if any."""
    with reporting(f"cannot list versions of model package group {group!r}"):
        pages = sagemaker.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=group,
            ModelApprovalStatus=APPROVED,
            SortBy="CreationTime",
            SortOrder="Descending",
        )
        for page in pages:
            for summary in page.get("ModelPackageSummaryList", []):
                if summary.get("ModelPackageStatus") in _UNUSABLE:
                    continue
                return describe_version(sagemaker, summary["ModelPackageArn"])
    return None


def approval_request(
    arn: str, status: str, reason: str, metadata: Mapping[str, str], remove: Sequence[str] = ()
) -> dict[str, Any]:
    """The UpdateModelPackage arguments that set ``status`` with ``reason`` and ``metadata``.

    One call carries them all (the operation accepts ModelApprovalStatus, ApprovalDescription,
    CustomerMetadataProperties and CustomerMetadataPropertiesToRemove together), so the record
    can never name another decision than the status. ``metadata`` is the whole map, existing
    entries included: the result is the same whether the service merges the map or replaces it;
    ``remove`` names keys to delete, which are not in ``metadata``.
    """
    if len(reason) > APPROVAL_DESCRIPTION_MAX:
        raise PackagingError(f"the reason is longer than {APPROVAL_DESCRIPTION_MAX} characters")
    if len(metadata) > METADATA_ENTRIES_MAX:
        raise PackagingError(
            f"{arn}: {len(metadata)} metadata properties exceed the registry's limit of"
            f" {METADATA_ENTRIES_MAX}"
        )
    request: dict[str, Any] = {
        "ModelPackageArn": arn,
        "ModelApprovalStatus": status,
        "ApprovalDescription": reason,
        "CustomerMetadataProperties": dict(metadata),
    }
    if remove:
        request["CustomerMetadataPropertiesToRemove"] = list(remove)
    return request


def update_approval(sagemaker: Any, request: Mapping[str, Any]) -> None:
    """Send an :func:`approval_request`."""
    with reporting(f"cannot set the approval status of {request['ModelPackageArn']}"):
        sagemaker.update_model_package(**request)


def metadata_value(text: str) -> str:
    """``text`` as a customer metadata value: disallowed characters (e.g. the commas a role
    session name may hold) become ``_``, and it is cut to the maximum length."""
    return _METADATA_VALUE_RE.sub("_", text)[:METADATA_VALUE_MAX]


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
    if spec.data_quality is not None:
        # The drift check baseline is what a monitoring schedule compares against; ModelMetrics
        # records the same documents as the version's data-quality metrics. Only
        # CreateModelPackage sets either: UpdateModelPackage has neither member.
        documents = spec.data_quality.request()
        request["DriftCheckBaselines"] = {"ModelDataQuality": documents}
        request["ModelMetrics"] = {"ModelDataQuality": documents}
    return request


def _group_arn(sagemaker: Any, group: str) -> str:
    """The ARN of ``group``; a missing group is named as such."""
    with reporting(f"cannot read model package group {group!r}"):
        try:
            return str(
                sagemaker.describe_model_package_group(ModelPackageGroupName=group)[
                    "ModelPackageGroupArn"
                ]
            )
        except ClientError as exc:
            if _is_missing(exc):
                raise PackagingError(
                    f"model package group {group!r} does not exist in {sagemaker.meta.region_name}"
                ) from exc
            raise


def _is_missing(exc: ClientError) -> bool:
    """SageMaker reports a missing group as a ValidationException saying it does not exist."""
    code = error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message", ""))
    return code == "ResourceNotFound" or (
        code == "ValidationException" and "does not exist" in message
    )


def _is_not_found(exc: ClientError) -> bool:
    """DescribeModelPackage answers a missing version with a ValidationException ("does not
    exist", or "not found" from some emulators)."""
    message = str(exc.response.get("Error", {}).get("Message", ""))
    return error_code(exc) == "ValidationException" and "not found" in message


def _version_info(described: Mapping[str, Any]) -> VersionInfo:
    arn = str(described["ModelPackageArn"])
    containers = described.get("InferenceSpecification", {}).get("Containers", [])
    data_uri: str | None = None
    if containers:
        first = containers[0]
        data_uri = first.get("ModelDataUrl") or (
            first.get("ModelDataSource", {}).get("S3DataSource", {}).get("S3Uri")
        )
    return VersionInfo(
        arn=arn,
        group=str(described.get("ModelPackageGroupName", "")),
        number=int(described.get("ModelPackageVersion") or artifacts.version_of(arn)),
        approval_status=str(described.get("ModelApprovalStatus", "")),
        status=str(described.get("ModelPackageStatus", "")),
        metadata=dict(described.get("CustomerMetadataProperties", {})),
        model_data_uri=data_uri,
        created=described.get("CreationTime"),
        approval_description=str(described.get("ApprovalDescription") or ""),
        modified=described.get("LastModifiedTime"),
        modified_by=_user(described.get("LastModifiedBy")),
    )


def _user(context: Mapping[str, Any] | None) -> str | None:
    """Who a UserContext names: its IAM identity's ARN, else its Studio user profile."""
    if not context:
        return None
    arn = (context.get("IamIdentity") or {}).get("Arn")
    name = arn or context.get("UserProfileArn") or context.get("UserProfileName")
    return str(name) if name else None
