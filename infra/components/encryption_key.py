"""A customer-managed KMS key with rotation, an alias, and a policy that names its users."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra import iam
from infra.resource_types import ENCRYPTION_KEY


@dataclass(frozen=True)
class EncryptionKeyArgs:
    description: str
    alias: str
    partition: pulumi.Input[str]
    account: pulumi.Input[str]
    region: str
    tags: dict[str, str]
    # AWS services that encrypt with the key on the account's behalf (logs, SNS, ...).
    service_principals: list[str] = field(default_factory=list)
    # Other accounts whose execution roles decrypt with it.
    reader_accounts: list[str] = field(default_factory=list)
    # Days a deleted key stays recoverable. Default: 30, the longest AWS allows.
    deletion_window_days: int = 30
    # Keep the key and its alias when Pulumi deletes them (``pulumi destroy``, a replacement):
    # for a key that encrypts data that outlives the stack. Once a key is deleted, "all data
    # that was encrypted under the KMS key is unrecoverable" (botocore kms
    # ``ScheduleKeyDeletion``).
    retain_on_delete: bool = False


class EncryptionKey(pulumi.ComponentResource):
    key: aws.kms.Key
    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: EncryptionKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(ENCRYPTION_KEY, name, None, opts)
        # On each child, as in SecureBucket: the Python SDK does not pass ``retain_on_delete``
        # from a component to its children (pulumi/resource.py, Resource.__init__).
        child = pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_on_delete)
        policy = pulumi.Output.all(args.partition, args.account).apply(
            lambda pa: json.dumps(
                iam.key_policy(
                    partition=pa[0],
                    account=pa[1],
                    region=args.region,
                    service_principals=args.service_principals,
                    reader_accounts=args.reader_accounts,
                )
            )
        )
        self.key = aws.kms.Key(
            f"{name}-key",
            description=args.description,
            enable_key_rotation=True,
            deletion_window_in_days=args.deletion_window_days,
            policy=policy,
            tags=args.tags,
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-alias", name=f"alias/{args.alias}", target_key_id=self.key.id, opts=child
        )
        self.arn = self.key.arn
        self.register_outputs({"arn": self.arn})
