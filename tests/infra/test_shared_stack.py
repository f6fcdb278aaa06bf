"""The shared artifact store: registry groups, bucket lifecycle, and cross-account read grants."""

from __future__ import annotations

import json
from collections import Counter

from infra.resource_types import (
    BUCKET_LIFECYCLE,
    BUCKET_VERSIONING,
    KMS_KEY,
    MODEL_PACKAGE_GROUP,
    MODEL_PACKAGE_GROUP_POLICY,
)
from tests.infra.plan_checks import (
    artifact_bucket,
    as_list,
    dependents,
    grants_to_readers,
    only,
    principals,
    reader_grants,
    resources_of,
    stack_urn,
    statements,
)


def test_one_model_package_group_per_model(plans, stack_settings, shared_stack):
    plan = plans[shared_stack]
    groups = Counter(
        g.inputs.get("modelPackageGroupName") for g in resources_of(plan, MODEL_PACKAGE_GROUP)
    )
    expected = Counter(list(stack_settings[shared_stack].models))
    assert groups == expected, f"{stack_urn(plan)}: groups {dict(groups)}"


def test_artifact_bucket_is_versioned_with_a_lifecycle(plans, stack_settings, shared_stack):
    plan, store = plans[shared_stack], stack_settings[shared_stack].artifact_store
    bucket, _ = artifact_bucket(plan)
    versioning = only(dependents(plan, bucket, BUCKET_VERSIONING), f"versioning of {bucket.urn}")
    status = versioning.inputs["versioningConfiguration"]["status"]
    assert status == "Enabled", f"{versioning.urn}: {status}"

    lifecycle = only(dependents(plan, bucket, BUCKET_LIFECYCLE), f"lifecycle of {bucket.urn}")
    rules = [r for r in lifecycle.inputs["rules"] if r.get("status") == "Enabled"]
    noncurrent = [
        r["noncurrentVersionExpiration"].get("noncurrentDays")
        for r in rules
        if r.get("noncurrentVersionExpiration")
    ]
    multipart = [
        r["abortIncompleteMultipartUpload"].get("daysAfterInitiation")
        for r in rules
        if r.get("abortIncompleteMultipartUpload")
    ]
    assert noncurrent == [store.noncurrent_version_days], f"{lifecycle.urn}: {noncurrent}"
    assert multipart == [store.abort_incomplete_multipart_days], f"{lifecycle.urn}: {multipart}"


def test_bucket_policy_lets_reader_roles_get_models(plans, stack_settings, shared_stack):
    plan, settings = plans[shared_stack], stack_settings[shared_stack]
    assert settings.artifact_store.reader_accounts, "no reader accounts to check"
    _, policy = artifact_bucket(plan)
    arn = plan.outputs["artifact_bucket_arn"]
    reads = [
        st
        for st in statements(json.loads(policy.inputs["policy"]))
        if grants_to_readers(st, settings) and "s3:GetObject" in as_list(st["Action"])
    ]
    assert len(reads) == 1, f"{policy.urn}: reader object grants {reads}"
    assert as_list(reads[0]["Resource"]) == [f"{arn}/models/*"], policy.urn


def test_artifact_key_lets_reader_roles_decrypt(plans, stack_settings, shared_stack):
    plan, settings = plans[shared_stack], stack_settings[shared_stack]
    key = only(resources_of(plan, KMS_KEY), "artifact key")
    grants = [
        st for st in statements(json.loads(key.inputs["policy"])) if grants_to_readers(st, settings)
    ]
    assert len(grants) == 1 and "kms:Decrypt" in as_list(grants[0]["Action"]), (
        f"{key.urn}: reader grants {grants}"
    )


def test_model_package_groups_let_readers_deploy(plans, stack_settings, shared_stack):
    plan, settings = plans[shared_stack], stack_settings[shared_stack]
    roots, _ = reader_grants(settings)
    policies = resources_of(plan, MODEL_PACKAGE_GROUP_POLICY)
    assert len(policies) == len(settings.models), f"{stack_urn(plan)}: {len(policies)} policies"
    for group in resources_of(plan, MODEL_PACKAGE_GROUP):
        name = group.inputs["modelPackageGroupName"]
        policy = only(dependents(plan, group, MODEL_PACKAGE_GROUP_POLICY), f"policy of {name}")
        allowed = [
            st
            for st in statements(json.loads(policy.inputs["resourcePolicy"]))
            if st.get("Effect") == "Allow" and set(principals(st)) == roots
        ]
        assert allowed, f"{policy.urn}: no grant to {sorted(roots)}"
        for st in allowed:
            resources = as_list(st["Resource"])
            assert all(f"/{name}" in r for r in resources), f"{policy.urn}: {resources}"
        actions = {a for st in allowed for a in as_list(st["Action"])}
        assert "sagemaker:DescribeModelPackage" in actions, policy.urn
