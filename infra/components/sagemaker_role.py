"""A role SageMaker assumes, with its one inline policy: endpoints and drift analyses use it."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from infra import iam

SAGEMAKER = "sagemaker.amazonaws.com"


def sagemaker_role(
    name: str,
    *,
    description: str,
    policy: pulumi.Input[str],
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """``<name>-role`` under ``iam.ROLE_PATH`` (so the artifact store's policies can grant it
    across accounts), trusted by SageMaker, and ``<name>-role-policy`` holding ``policy``.

    Resources that act as the role depend on the policy, not only the role: IAM is eventually
    consistent, and a role is usable for what it needs only once its policy is attached.
    """
    role = aws.iam.Role(
        f"{name}-role",
        path=iam.ROLE_PATH,
        description=description,
        assume_role_policy=json.dumps(iam.service_trust(SAGEMAKER)),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    role_policy = aws.iam.RolePolicy(
        f"{name}-role-policy",
        role=role.id,
        policy=policy,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return role, role_policy
