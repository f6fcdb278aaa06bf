"""What real AWS needs beyond a plan that merely looks right: cross-account deploys, groups that
survive a description edit, a store that no update can delete, prefix models read across
accounts, rollback alarms the execution role can read, and alert functions SNS may invoke.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from infra import iam, naming
from infra.resource_types import (
    ALERTING,
    ARTIFACT_STORE,
    BUCKET,
    KMS_KEY,
    LAMBDA_PERMISSION,
    MODEL_PACKAGE_GROUP,
    MODEL_PACKAGE_GROUP_POLICY,
    TOPIC_SUBSCRIPTION,
)
from infra.review.plan import Plan, PlannedResource, evaluate_file, stack_file
from infra.settings import SECRET
from tests.infra.plan_checks import (
    account,
    ancestors,
    artifact_bucket,
    as_list,
    dependents,
    grants_to_readers,
    only,
    parent_of,
    principals,
    resources_of,
    statements,
)


def write_stack(tmp_path: Path, stack: str, edit: Any) -> Path:
    """A copy of ``stacks/Pulumi.<stack>.yaml`` with ``edit(config)`` applied."""
    document = yaml.safe_load(stack_file(stack).read_text())
    edit(document["config"])
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def allows(statement: dict[str, Any], action: str) -> bool:
    return statement.get("Effect") == "Allow" and action in as_list(statement.get("Action"))


# --- 1. deploying a registry version from an environment account --------------------------


def test_environment_accounts_may_create_models_from_group_versions(
    plans, stack_settings, shared_stack
):
    # CreateModel from a version ARN in another account is authorised by the group's resource
    # policy ("Deploy a Model Version from a Different Account", SageMaker developer guide).
    plan, settings = plans[shared_stack], stack_settings[shared_stack]
    partition = naming.partition(settings.region)
    roots = {f"arn:{partition}:iam::{a}:root" for a in settings.artifact_store.reader_accounts}
    base = f"arn:{partition}:sagemaker:{settings.region}:{account(plan)}"
    problems = []
    for group in resources_of(plan, MODEL_PACKAGE_GROUP):
        name = group.inputs["modelPackageGroupName"]
        policy = only(dependents(plan, group, MODEL_PACKAGE_GROUP_POLICY), f"policy of {name}")
        found = statements(json.loads(policy.inputs["resourcePolicy"]))
        creates = [st for st in found if allows(st, "sagemaker:CreateModel")]
        if [as_list(st["Resource"]) for st in creates] != [[f"{base}:model-package/{name}/*"]]:
            problems.append(f"{policy.urn}: CreateModel granted as {creates}")
        elif set(principals(creates[0])) != roots:
            problems.append(f"{policy.urn}: CreateModel granted to {principals(creates[0])}")
        for st in found:
            if "*" in principals(st) or "*" in as_list(st.get("Resource")):
                problems.append(f"{policy.urn}: statement {st.get('Sid')} grants to '*'")
            if allows(st, "sagemaker:UpdateModelPackage"):
                problems.append(f"{policy.urn}: environment accounts may approve versions")
    assert not problems, "\n".join(problems)


def test_group_policy_grants_exactly_what_a_deploy_reads() -> None:
    document = iam.model_package_group_policy(
        "aws", "eu-west-1", "111111111111", "churn", ["222222222222"]
    )
    granted = {
        (action, resource)
        for st in statements(document)
        for action in as_list(st["Action"])
        for resource in as_list(st["Resource"])
    }
    base = "arn:aws:sagemaker:eu-west-1:111111111111"
    versions = f"{base}:model-package/churn/*"
    assert granted == {
        ("sagemaker:DescribeModelPackageGroup", f"{base}:model-package-group/churn"),
        ("sagemaker:DescribeModelPackage", versions),
        ("sagemaker:ListModelPackages", versions),
        ("sagemaker:CreateModel", versions),
    }


# --- 2. groups and the store survive edits -------------------------------------------------


def test_group_description_changes_are_ignored_not_replaced(tmp_path, plans, shared_stack):
    # A description forces a replacement (terraform-provider-aws model_package_group.go,
    # ForceNew) of a group whose name is fixed and which holds the versions.
    def reworded(config: dict[str, Any]) -> None:
        for model in config["mlserve:models"].values():
            model["description"] = "Reworded after the group was created"

    edited = evaluate_file(write_stack(tmp_path, shared_stack, reworded), shared_stack)
    before = {g.name: g for g in resources_of(plans[shared_stack], MODEL_PACKAGE_GROUP)}
    problems = []
    for group in resources_of(edited, MODEL_PACKAGE_GROUP):
        described = group.inputs.get("modelPackageGroupDescription")
        assert described == "Reworded after the group was created", group.urn
        assert described != before[group.name].inputs.get("modelPackageGroupDescription")
        ignored = set(group.ignore_changes)
        # The engine compares inputs by these names: a misspelt one would ignore nothing.
        if "modelPackageGroupDescription" not in ignored or not ignored <= set(group.inputs):
            problems.append(f"{group.urn}: ignore_changes {sorted(ignored)}")
        if not group.protect:
            problems.append(f"{group.urn}: not protected")
    assert before and not problems, "\n".join(problems)


def store_resources(plan: Plan) -> list[PlannedResource]:
    return [r for r in plan.resources if any(a.type == ARTIFACT_STORE for a in ancestors(plan, r))]


def test_artifact_store_key_bucket_and_groups_are_protected(plans, shared_stack):
    plan = plans[shared_stack]
    bucket, policy = artifact_bucket(plan)
    key = only(resources_of(plan, KMS_KEY), "artifact key")
    guarded = {bucket.urn, policy.urn, key.urn}
    # Everything under the bucket's component (versioning, encryption, public access block,
    # ownership, lifecycle, policy) and under the key's (its alias), and every group.
    for resource in (bucket, key):
        owner = parent_of(plan, resource)
        assert owner is not None, resource.urn
        guarded |= {
            r.urn for r in plan.resources if owner.urn in {a.urn for a in ancestors(plan, r)}
        }
    guarded |= {g.urn for g in resources_of(plan, MODEL_PACKAGE_GROUP)}
    unguarded = sorted(r.urn for r in store_resources(plan) if r.urn in guarded and not r.protect)
    assert len(guarded) >= 10 and not unguarded, "\n".join(unguarded)

    # A group policy goes away with the last reader account: it must stay deletable.
    group_policies = resources_of(plan, MODEL_PACKAGE_GROUP_POLICY)
    assert group_policies and not any(p.protect for p in group_policies)


def test_environment_capture_buckets_stay_deletable(plans, env_stack):
    # Protection belongs to the shared store; capture data expires and its bucket may go.
    plan = plans[env_stack]
    protected = [b.urn for b in resources_of(plan, BUCKET) if b.protect]
    assert not protected, protected


# --- 3. uncompressed (S3Prefix) models across accounts -------------------------------------


def test_reader_roles_may_list_model_prefixes(plans, stack_settings, shared_stack):
    # SageMaker lists an S3Prefix model's objects: s3:ListBucket on the bucket, which a
    # cross-account caller needs from the bucket policy too.
    plan, settings = plans[shared_stack], stack_settings[shared_stack]
    _, policy = artifact_bucket(plan)
    arn = plan.outputs["artifact_bucket_arn"]
    found = statements(json.loads(policy.inputs["policy"]))
    lists = [st for st in found if allows(st, "s3:ListBucket")]
    assert len(lists) == 1, f"{policy.urn}: ListBucket statements {lists}"
    (listing,) = lists
    assert grants_to_readers(listing, settings), f"{policy.urn}: {listing}"
    assert as_list(listing["Resource"]) == [arn], policy.urn
    prefixes = listing["Condition"].get("StringLike", {}).get("s3:prefix")
    assert as_list(prefixes) == ["models/*"], f"{policy.urn}: s3:prefix {prefixes}"

    # The same principals, limited to the same roles, as the object read grant.
    (reading,) = [st for st in found if allows(st, "s3:GetObject")]
    assert listing["Principal"] == reading["Principal"], policy.urn
    assert listing["Condition"]["ArnLike"] == reading["Condition"]["ArnLike"], policy.urn


# --- 4. rollback alarms --------------------------------------------------------------------


def execution_policy(**extra: Any) -> dict[str, Any]:
    return iam.execution_role_policy(
        partition="aws",
        region="us-east-1",
        account="444444444444",
        artifact_bucket_arn="arn:aws:s3:::artifacts",
        artifact_prefixes=["models/churn/"],
        artifact_key_arn="arn:aws:kms:us-east-1:111111111111:key/k",
        log_group_arn="arn:aws:logs:us-east-1:444444444444:log-group:/aws/sagemaker/x",
        capture_bucket_arn=None,
        capture_prefix=None,
        environment_key_arn="arn:aws:kms:us-east-1:444444444444:key/e",
        subnet_ids=[],
        security_group_ids=[],
        **extra,
    )


def test_execution_role_may_describe_exactly_its_rollback_alarms() -> None:
    # "Auto-Rollback Configuration and Monitoring" (SageMaker developer guide): the execution
    # role needs cloudwatch:DescribeAlarms on the rollback alarms.
    alarms = [
        "arn:aws:cloudwatch:us-east-1:444444444444:alarm:churn-prod-5xx",
        "arn:aws:cloudwatch:us-east-1:444444444444:alarm:churn-prod-latency",
    ]
    found = statements(execution_policy(rollback_alarm_arns=alarms))
    describing = [st for st in found if allows(st, "cloudwatch:DescribeAlarms")]
    assert describing == [
        {
            "Sid": "ReadRollbackAlarms",
            "Effect": "Allow",
            "Action": "cloudwatch:DescribeAlarms",
            "Resource": alarms,
        }
    ]


def test_execution_role_without_rollback_alarms_describes_none() -> None:
    found = statements(execution_policy())
    assert not [st for st in found if allows(st, "cloudwatch:DescribeAlarms")]
    assert "ReadRollbackAlarms" not in [st.get("Sid") for st in found]


# --- 5. alert subscriptions that deliver ---------------------------------------------------

FUNCTION_ARN = "arn:aws:lambda:us-east-1:{account}:function:alerts-to-chat"


def test_lambda_subscriptions_let_sns_invoke_the_function(tmp_path, dev_stack):
    function = FUNCTION_ARN.format(account="222222222222")

    def with_lambda(config: dict[str, Any]) -> None:
        subscriptions = config["mlserve:alerts"]["subscriptions"]
        subscriptions.append({"protocol": "lambda", "endpoint": function})

    plan = evaluate_file(write_stack(tmp_path, dev_stack, with_lambda), dev_stack)
    topic_arn = plan.outputs["alert_topic_arn"]
    permission = only(resources_of(plan, LAMBDA_PERMISSION), "lambda permission")
    assert {k: permission.inputs.get(k) for k in ("action", "principal", "sourceArn")} == {
        "action": "lambda:InvokeFunction",
        "principal": "sns.amazonaws.com",
        "sourceArn": topic_arn,
    }, permission.urn
    # The function ARN is the subscription's endpoint: as secret here as there.
    assert permission.inputs["function"] == SECRET, permission.urn
    alerting = parent_of(plan, permission)
    assert alerting is not None and alerting.type == ALERTING, permission.urn

    subscriptions = {s.inputs["protocol"]: s for s in resources_of(plan, TOPIC_SUBSCRIPTION)}
    assert set(subscriptions) == {"email", "lambda"}
    lambda_subscription = subscriptions["lambda"]
    assert lambda_subscription.inputs["endpoint"] == SECRET
    assert permission.urn in lambda_subscription.dependencies, lambda_subscription.urn
    # Other protocols need no function policy.
    assert permission.urn not in subscriptions["email"].dependencies


def test_stacks_without_lambda_subscriptions_add_no_permissions(plans, stack):
    assert not resources_of(plans[stack], LAMBDA_PERMISSION)
