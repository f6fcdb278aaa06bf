"""Encrypted everywhere, for every stack file: buckets, logs, topics, endpoints, captures, keys.

Where a resource takes a key, the test also checks that the key is one this stack creates (the
resource depends on a ``aws:kms/key:Key`` of the plan), not an AWS managed default.
"""

from __future__ import annotations

import json

from infra import naming
from infra.resource_types import (
    BUCKET,
    BUCKET_ENCRYPTION,
    BUCKET_POLICY,
    BUCKET_PUBLIC_ACCESS,
    ENDPOINT_CONFIG,
    KMS_KEY,
    LOG_GROUP,
    TOPIC,
)
from tests.infra.plan_checks import (
    dependents,
    depends_on_type,
    is_tls_only,
    resources_of,
    statements,
    variants_of,
)

PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)


def test_buckets_use_sse_kms_with_a_stack_key(plans, stack):
    plan = plans[stack]
    problems = []
    for bucket in resources_of(plan, BUCKET):
        configs = dependents(plan, bucket, BUCKET_ENCRYPTION)
        rules = [
            rule.get("applyServerSideEncryptionByDefault") or {}
            for config in configs
            for rule in config.inputs.get("rules") or []
        ]
        if not any(r.get("sseAlgorithm") == "aws:kms" and r.get("kmsMasterKeyId") for r in rules):
            problems.append(f"{bucket.urn}: no SSE-KMS default encryption (rules: {rules})")
        if not all(depends_on_type(plan, config, KMS_KEY) for config in configs):
            problems.append(f"{bucket.urn}: encrypted with a key this stack does not manage")
    assert not problems, "\n".join(problems)


def test_buckets_block_public_access(plans, stack):
    plan = plans[stack]
    problems = []
    for bucket in resources_of(plan, BUCKET):
        blocks = dependents(plan, bucket, BUCKET_PUBLIC_ACCESS)
        if not blocks:
            problems.append(f"{bucket.urn}: no public access block")
        for block in blocks:
            off = [flag for flag in PUBLIC_ACCESS_FLAGS if block.inputs.get(flag) is not True]
            if off:
                problems.append(f"{block.urn}: {off} not true")
    assert not problems, "\n".join(problems)


def test_bucket_policies_deny_requests_without_tls(plans, stack_settings, stack):
    plan = plans[stack]
    partition = naming.partition(stack_settings[stack].region)
    problems = []
    for bucket in resources_of(plan, BUCKET):
        policies = dependents(plan, bucket, BUCKET_POLICY)
        if not policies:
            problems.append(f"{bucket.urn}: no bucket policy")
        for policy in policies:
            arn = f"arn:{partition}:s3:::{policy.inputs['bucket']}"
            document = json.loads(policy.inputs["policy"])
            if not any(is_tls_only(st, arn) for st in statements(document)):
                problems.append(f"{policy.urn}: no statement denies s3:* on {arn} without TLS")
    assert not problems, "\n".join(problems)


def test_log_groups_are_encrypted(plans, stack):
    plan = plans[stack]
    problems = [
        f"{group.urn}: kmsKeyId {group.inputs.get('kmsKeyId')!r}, or not a key of this stack"
        for group in resources_of(plan, LOG_GROUP)
        if not group.inputs.get("kmsKeyId") or not depends_on_type(plan, group, KMS_KEY)
    ]
    assert not problems, "\n".join(problems)


def test_topics_are_encrypted(plans, stack):
    plan = plans[stack]
    problems = [
        f"{topic.urn}: kmsMasterKeyId {topic.inputs.get('kmsMasterKeyId')!r}"
        for topic in resources_of(plan, TOPIC)
        if not topic.inputs.get("kmsMasterKeyId") or not depends_on_type(plan, topic, KMS_KEY)
    ]
    assert not problems, "\n".join(problems)


def test_endpoint_configurations_encrypt_volumes_and_captures(plans, stack):
    plan = plans[stack]
    problems = []
    for config in resources_of(plan, ENDPOINT_CONFIG):
        serverless = all(v.get("serverlessConfig") for v in variants_of(config))
        # SageMaker refuses a volume key when every variant is serverless (no volume).
        if not serverless and not config.inputs.get("kmsKeyArn"):
            problems.append(f"{config.urn}: instance-backed variants without kmsKeyArn")
        capture = config.inputs.get("dataCaptureConfig")
        if capture and not capture.get("kmsKeyId"):
            problems.append(f"{config.urn}: data capture without kmsKeyId")
        if (config.inputs.get("kmsKeyArn") or capture) and not depends_on_type(
            plan, config, KMS_KEY
        ):
            problems.append(f"{config.urn}: encrypted with a key this stack does not manage")
    assert not problems, "\n".join(problems)


def test_kms_keys_rotate(plans, stack):
    plan = plans[stack]
    keys = resources_of(plan, KMS_KEY)
    assert keys, f"stack {stack}: no KMS key"
    problems = [
        f"{key.urn}: enableKeyRotation is {key.inputs.get('enableKeyRotation')!r}"
        for key in keys
        if key.inputs.get("enableKeyRotation") is not True
    ]
    assert not problems, "\n".join(problems)
