"""An S3 bucket with the platform's guarantees: versioned, SSE-KMS, private, TLS-only."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import iam
from infra.resource_types import SECURE_BUCKET


@dataclass(frozen=True)
class SecureBucketArgs:
    kms_key_arn: pulumi.Input[str]
    tags: dict[str, str]
    # Noncurrent object versions expire after this many days.
    noncurrent_version_days: int = 90
    # Unfinished multipart uploads (a publish cut off midway) are removed after this many days.
    abort_incomplete_multipart_days: int = 1
    # Current objects expire after this many days. Default: never.
    expire_current_days: int | None = None
    # Builds extra bucket policy statements from the bucket's ARN (cross-account grants).
    extra_statements: Callable[[str], list[iam.Document]] | None = None
    # Keep the bucket, its objects and every resource that configures it when Pulumi deletes
    # them (``pulumi destroy``, a removal from the program): a bucket that holds objects is not
    # deleted anyway, the provider's delete gets BucketNotEmpty unless ``force_destroy`` is set
    # (terraform-provider-aws internal/service/s3/bucket.go, resourceBucketDelete). With it, the
    # configurations stay too: deleting one would leave the kept bucket without its public
    # access block, ownership controls, default encryption, TLS-only policy, versioning or
    # expiry.
    retain_on_delete: bool = False


class SecureBucket(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(SECURE_BUCKET, name, None, opts)
        # Set on each child, not on the component: the Python SDK takes only ``protect`` from a
        # parent (pulumi/resource.py, Resource.__init__); the engine would copy
        # ``retainOnDelete`` too (pulumi pkg/resource/deploy/source_eval.go, inheritFromParent),
        # but the offline plan, which has no engine, would not show it.
        child = pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_on_delete)
        self.bucket = aws.s3.Bucket(name, tags=args.tags, opts=child)
        bucket_id = self.bucket.id
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket_id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket_id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket_id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=args.kms_key_arn
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        rule = aws.s3.BucketLifecycleConfigurationRuleArgs
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket_id,
            rules=[
                rule(
                    id="expire-noncurrent-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.noncurrent_version_days
                    ),
                    expiration=(
                        aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                            days=args.expire_current_days
                        )
                        if args.expire_current_days
                        else None
                    ),
                ),
                rule(
                    id="abort-incomplete-multipart-uploads",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=args.abort_incomplete_multipart_days
                    ),
                ),
            ],
            opts=child,
        )
        extra = args.extra_statements or (lambda arn: [])
        policy = self.bucket.arn.apply(
            lambda arn: json.dumps(
                iam.document(
                    iam.tls_only_statement(arn),
                    iam.deny_unencrypted_uploads_statement(arn),
                    *extra(arn),
                )
            )
        )
        # The public access block first: a policy put while it is missing may be refused.
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket_id,
            policy=policy,
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[public_access])
            ),
        )
        self.name = self.bucket.bucket
        self.arn = self.bucket.arn
        self.register_outputs({"name": self.name, "arn": self.arn})
