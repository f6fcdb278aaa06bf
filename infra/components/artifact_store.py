"""The shared stack's artifact store: bucket, key, Model Package Groups and read grants."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import iam
from infra.components.encryption_key import EncryptionKey, EncryptionKeyArgs
from infra.components.secure_bucket import SecureBucket, SecureBucketArgs
from infra.resource_types import ARTIFACT_STORE


@dataclass(frozen=True)
class ArtifactStoreArgs:
    region: str
    partition: str
    account: pulumi.Input[str]
    # Model name -> description. One Model Package Group each.
    models: dict[str, str]
    tags: dict[str, str]
    # Accounts whose execution roles (under iam.ROLE_PATH) may read artifacts and versions.
    reader_accounts: list[str]
    noncurrent_version_days: int = 90
    abort_incomplete_multipart_days: int = 1


class ArtifactStore(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    group_arns: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: ArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(ARTIFACT_STORE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # The key, the bucket and the groups hold every published version: no update may
        # delete or replace them. Children registered without ``protect`` take their parent's
        # (pulumi/resource.py, Resource.__init__), so the key's alias and every part of the
        # bucket are protected too: deleting its policy, default encryption, versioning or
        # public access block would leave the artifacts unguarded. The group policies are not:
        # they go when the last reader account does.
        kept = pulumi.ResourceOptions(parent=self, protect=True)
        readers = args.reader_accounts

        key = EncryptionKey(
            f"{name}-kms",
            EncryptionKeyArgs(
                description="Encrypts model artifacts in the artifact store",
                alias=f"{name}",
                partition=args.partition,
                account=args.account,
                region=args.region,
                tags=args.tags,
                reader_accounts=readers,
            ),
            opts=kept,
        )
        bucket = SecureBucket(
            name,
            SecureBucketArgs(
                kms_key_arn=key.arn,
                tags=args.tags,
                noncurrent_version_days=args.noncurrent_version_days,
                abort_incomplete_multipart_days=args.abort_incomplete_multipart_days,
                extra_statements=(
                    (
                        lambda arn: [
                            iam.artifact_read_statement(args.partition, arn, readers),
                            iam.artifact_list_statement(args.partition, arn, readers),
                        ]
                    )
                    if readers
                    else None
                ),
            ),
            opts=kept,
        )

        self.group_arns = {}
        for model, description in sorted(args.models.items()):
            group = aws.sagemaker.ModelPackageGroup(
                f"{model}-group",
                model_package_group_name=model,
                model_package_group_description=description or f"Versions of {model}",
                tags={**args.tags, "model": model},
                opts=pulumi.ResourceOptions.merge(
                    kept,
                    pulumi.ResourceOptions(
                        # SageMaker cannot change a group's description (botocore has no
                        # UpdateModelPackageGroup), so the provider replaces the group for it
                        # (terraform-provider-aws internal/service/sagemaker/
                        # model_package_group.go: ForceNew). The group's name is fixed and it
                        # holds the versions: an edited description is never applied.
                        ignore_changes=["modelPackageGroupDescription"]
                    ),
                ),
            )
            if readers:
                aws.sagemaker.ModelPackageGroupPolicy(
                    f"{model}-group-policy",
                    model_package_group_name=group.model_package_group_name,
                    resource_policy=pulumi.Output.from_input(args.account).apply(
                        functools.partial(_group_policy, args, model)
                    ),
                    opts=child,
                )
            self.group_arns[model] = group.arn

        self.bucket_name = bucket.name
        self.bucket_arn = bucket.arn
        self.key_arn = key.arn
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "key_arn": self.key_arn,
                "group_arns": self.group_arns,
            }
        )


def _group_policy(args: ArtifactStoreArgs, model: str, account: str) -> str:
    return json.dumps(
        iam.model_package_group_policy(
            args.partition, args.region, account, model, args.reader_accounts
        )
    )
