"""S3 buckets: encrypted, private, TLS only and versioned; logged; no incomplete uploads kept.

A bucket's configuration lives in resources of its own (pulumi-aws 7 splits encryption, public
access block, policy, versioning, logging and lifecycle from ``Bucket``), so the bucket rules
judge the stack as a whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from infra.resource_types import (
    BUCKET,
    BUCKET_ENCRYPTION,
    BUCKET_LIFECYCLE,
    BUCKET_LOGGING,
    BUCKET_POLICY,
    BUCKET_PUBLIC_ACCESS,
    BUCKET_VERSIONING,
)
from policy.model import UNKNOWN, Resource, Violation, resource_rule, stack_rule
from policy.properties import (
    as_list,
    customer_key,
    document,
    known,
    principals,
    statements,
    value_at,
)


def _attached(resources: Sequence[Resource], bucket: Resource, type_: str) -> list[Resource]:
    """The resources of ``type_`` that configure ``bucket``: they depend on it (the engine's
    dependencies), or name it when its name is known."""
    name = bucket.props.get("bucket")
    return [
        r
        for r in resources
        if r.type == type_
        and (
            bucket.urn in r.dependencies
            or (isinstance(name, str) and name and r.props.get("bucket") == name)
        )
    ]


def _denies_insecure_transport(document: Any) -> bool:
    """A Deny of every S3 action to everyone when ``aws:SecureTransport`` is false (S3 user
    guide, "Security best practices for Amazon S3": enforce encryption of data in transit)."""
    for statement in statements(document):
        actions = as_list(statement.get("Action"))
        condition = value_at(statement, "Condition", "Bool", "aws:SecureTransport")
        if (
            statement.get("Effect") == "Deny"
            and "*" in principals(statement)
            and ("s3:*" in actions or "*" in actions)
            and str(condition).lower() == "false"
        ):
            return True
    return False


@stack_rule(
    "s3-buckets",
    "S3 buckets are encrypted by default with SSE-KMS under a customer managed key "
    "(checkov CKV_AWS_145), block all public access, deny requests without TLS "
    "(CKV_AWS_379) and keep object versions (CKV_AWS_21).",
    "mandatory",
    "MLSEC03-BP02 Secure data and modeling environment",
    ("CKV_AWS_145", "CKV_AWS_379", "CKV_AWS_21"),
)
def s3_buckets(resources: Sequence[Resource], config: Mapping[str, Any]) -> list[Violation]:
    checks = (_encryption_problems, _public_access_problems, _tls_problems, _versioning_problems)
    return [
        Violation(bucket.urn, message)
        for bucket in resources
        if bucket.type == BUCKET
        for check in checks
        for message in check(resources, bucket)
    ]


def _encryption_problems(resources: Sequence[Resource], bucket: Resource) -> list[str]:
    encryption = _attached(resources, bucket, BUCKET_ENCRYPTION)
    if not encryption:
        return ["bucket has no default encryption (BucketServerSideEncryptionConfiguration)"]
    return [
        problem
        for config_resource in encryption
        if config_resource.props.get("rules") is not UNKNOWN
        for rule in as_list(config_resource.props.get("rules")) or [None]
        for problem in _default_encryption_problems(rule)
    ]


def _default_encryption_problems(rule: Any) -> list[str]:
    default = value_at(rule, "applyServerSideEncryptionByDefault")
    algorithm = value_at(default, "sseAlgorithm")
    if not known(algorithm):
        return []
    # SSE-KMS is aws:kms, or aws:kms:dsse for dual-layer; the others are AES256,
    # aws:fsx and aws:backup (botocore ``s3`` ServerSideEncryptionByDefault).
    if algorithm not in ("aws:kms", "aws:kms:dsse"):
        return [f"default encryption is {algorithm or 'not set'}, not SSE-KMS"]
    return customer_key(value_at(default, "kmsMasterKeyId"), "default encryption (SSE-KMS)")


_PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)


def _public_access_problems(resources: Sequence[Resource], bucket: Resource) -> list[str]:
    blocks = _attached(resources, bucket, BUCKET_PUBLIC_ACCESS)
    if not blocks:
        return ["bucket has no public access block (BucketPublicAccessBlock)"]
    problems = []
    for block in blocks:
        off = [
            f
            for f in _PUBLIC_ACCESS_FLAGS
            if known(block.props.get(f)) and block.props.get(f) is not True
        ]
        if off:
            problems.append(f"public access block leaves {', '.join(off)} off")
    return problems


def _tls_problems(resources: Sequence[Resource], bucket: Resource) -> list[str]:
    policies = _attached(resources, bucket, BUCKET_POLICY)
    documents = [document(p.props.get("policy")) for p in policies]
    if any(d is UNKNOWN or _denies_insecure_transport(d) for d in documents):
        return []
    return ["bucket policy does not deny requests without TLS (aws:SecureTransport false)"]


def _versioning_problems(resources: Sequence[Resource], bucket: Resource) -> list[str]:
    versioning = _attached(resources, bucket, BUCKET_VERSIONING)
    statuses = [value_at(v.props, "versioningConfiguration", "status") for v in versioning]
    if any(s == "Enabled" or s is UNKNOWN for s in statuses):
        return []
    return ["bucket versioning is not Enabled (BucketVersioning)"]


@stack_rule(
    "s3-access-logging",
    "S3 buckets log server access to a log bucket (checkov CKV_AWS_18).",
    "advisory",
    "MLSEC06-BP02 Monitor human interactions with data for anomalous activity",
    ("CKV_AWS_18",),
)
def s3_access_logging(resources: Sequence[Resource], config: Mapping[str, Any]) -> list[Violation]:
    return [
        Violation(bucket.urn, "bucket has no server access logging (BucketLogging)")
        for bucket in resources
        if bucket.type == BUCKET and not _attached(resources, bucket, BUCKET_LOGGING)
    ]


@resource_rule(
    "s3-lifecycle-abort-multipart",
    "S3 lifecycle configurations abort incomplete multipart uploads (checkov CKV_AWS_300).",
    "advisory",
    "MLSEC03-BP05 Keep only relevant data",
    ("CKV_AWS_300",),
)
def s3_lifecycle_abort_multipart(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    if type_ != BUCKET_LIFECYCLE or not known(props.get("rules")):
        return []
    for rule in as_list(props.get("rules")):
        days = value_at(rule, "abortIncompleteMultipartUpload", "daysAfterInitiation")
        if value_at(rule, "status") in ("Enabled", UNKNOWN) and days is not None:
            return []
    return ["no enabled lifecycle rule aborts incomplete multipart uploads"]
