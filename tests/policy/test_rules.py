"""The policy pack's rules, without the Pulumi CLI.

- every rule passes over what the real program registers for each stack file, under that
  stack's policy config (policy/config/<stack>.json);
- every rule reports hand-made violating resources, with its message;
- values a preview does not know yet (``UNKNOWN``) never make a rule fail;
- the per-stack configs relax advisory rules only, and bad configs are refused by key path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from infra.resource_types import (
    ALARM,
    BUCKET,
    BUCKET_ENCRYPTION,
    BUCKET_LIFECYCLE,
    BUCKET_POLICY,
    BUCKET_PUBLIC_ACCESS,
    BUCKET_VERSIONING,
    DATA_QUALITY_JOB,
    ENDPOINT,
    ENDPOINT_CONFIG,
    KMS_KEY,
    LAMBDA_FUNCTION,
    LOG_GROUP,
    MODEL,
    MODEL_PACKAGE_GROUP_POLICY,
    QUEUE,
    ROLE,
    ROLE_POLICY,
    ROLE_POLICY_ATTACHMENT,
    SCHEDULE,
    TOPIC,
)
from policy import configuration, rules
from policy.model import UNKNOWN, Resource, Rule
from policy.rules.tags import TAGGABLE_TYPES
from tests.policy.conftest import STACKS, stack_policy_config, stack_resources
from tests.sdk_classes import input_names, sdk_class

PROD = "urn:pulumi:prod::mlserve::"
DEV = "urn:pulumi:dev::mlserve::"


def resource(
    type_: str,
    props: Mapping[str, Any],
    name: str = "r",
    stack: str = PROD,
    deps: tuple[str, ...] = (),
) -> Resource:
    return Resource(type_, props, f"{stack}{type_}::{name}", deps)


def messages(rule_name: str, resources: list[Resource], **settings: Any) -> list[str]:
    rule = rules.RULES_BY_NAME[rule_name]
    return [v.message for v in rule.run(resources, configuration.settings(rule, settings))]


# --- every rule over every stack ------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("rule", rules.RULES, ids=lambda rule: rule.name)
def test_every_stack_passes_every_rule(rule: Rule, stack: str) -> None:
    config = stack_policy_config(stack)[rule.name]
    if config.level == "disabled":
        assert rule.enforcement == "advisory"
        return
    violations = rule.run(stack_resources(stack), config.settings)
    assert [f"{v.urn}: {v.message}" for v in violations] == []


@pytest.mark.parametrize("stack", STACKS)
def test_unknown_values_in_a_preview_add_no_violation(stack: str) -> None:
    """As in a first preview: every string the program computes is not known yet. No rule
    reports more than it does with the values known (which the test above holds to none)."""

    def unknown_strings(value: Any) -> Any:
        if isinstance(value, str):
            return UNKNOWN
        if isinstance(value, Mapping):
            return {key: unknown_strings(item) for key, item in value.items()}
        if isinstance(value, list):
            return [unknown_strings(item) for item in value]
        return value

    previews = {
        "strings": [
            Resource(r.type, unknown_strings(r.props), r.urn, r.dependencies)
            for r in stack_resources(stack)
        ],
        "properties": [
            Resource(r.type, {key: UNKNOWN for key in r.props}, r.urn, r.dependencies)
            for r in stack_resources(stack)
        ],
    }
    for rule in rules.RULES:
        config = stack_policy_config(stack)[rule.name]
        if config.level == "disabled":
            continue
        known = rule.run(stack_resources(stack), config.settings)
        for kind, resources in previews.items():
            added = set(rule.run(resources, config.settings)) - set(known)
            assert added == set(), (kind, rule.name)


# --- hand-made violations -------------------------------------------------------------------

DATA_BUCKET = resource(BUCKET, {"tags": {}}, "data")


def attached(type_: str, props: Mapping[str, Any], name: str) -> Resource:
    return resource(type_, {"bucket": "data-1234", **props}, name, deps=(DATA_BUCKET.urn,))


def secure_bucket(**overrides: Resource | None) -> list[Resource]:
    """A bucket with everything the S3 rule asks for; ``overrides`` replace or drop parts."""
    parts: dict[str, Resource | None] = {
        "encryption": attached(
            BUCKET_ENCRYPTION,
            {
                "rules": [
                    {
                        "applyServerSideEncryptionByDefault": {
                            "sseAlgorithm": "aws:kms",
                            "kmsMasterKeyId": "arn:aws:kms:us-east-1:444444444444:key/k",
                        }
                    }
                ]
            },
            "encryption",
        ),
        "public": attached(
            BUCKET_PUBLIC_ACCESS,
            {
                "blockPublicAcls": True,
                "blockPublicPolicy": True,
                "ignorePublicAcls": True,
                "restrictPublicBuckets": True,
            },
            "public",
        ),
        "policy": attached(
            BUCKET_POLICY,
            {
                "policy": json.dumps(
                    {
                        "Statement": [
                            {
                                "Effect": "Deny",
                                "Principal": "*",
                                "Action": "s3:*",
                                "Resource": ["arn:aws:s3:::data-1234", "arn:aws:s3:::data-1234/*"],
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        ]
                    }
                )
            },
            "policy",
        ),
        "versioning": attached(
            BUCKET_VERSIONING, {"versioningConfiguration": {"status": "Enabled"}}, "ver"
        ),
    }
    parts.update(overrides)
    return [DATA_BUCKET, *(part for part in parts.values() if part is not None)]


def document(*statements: Mapping[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def endpoint_pair(
    variants: list[dict[str, Any]],
    deployment: dict[str, Any] | None,
    capture: dict[str, Any] | None,
    stack: str = PROD,
) -> list[Resource]:
    config = resource(
        ENDPOINT_CONFIG,
        {"productionVariants": variants, **({"dataCaptureConfig": capture} if capture else {})},
        "config",
        stack,
    )
    endpoint = resource(
        ENDPOINT,
        {"endpointConfigName": "cfg", **({"deploymentConfig": deployment} if deployment else {})},
        "endpoint",
        stack,
        deps=(config.urn,),
    )
    return [config, endpoint]


ONE_INSTANCE = [
    {"variantName": "champion", "instanceType": "ml.m5.large", "initialInstanceCount": 1}
]
ALL_AT_ONCE = {"blueGreenUpdatePolicy": {"trafficRoutingConfiguration": {"type": "ALL_AT_ONCE"}}}

# (rule, resources, settings, expected messages: each must be reported)
VIOLATIONS: list[tuple[str, list[Resource], dict[str, Any], list[str]]] = [
    (
        "s3-buckets",
        [DATA_BUCKET],
        {},
        [
            "bucket has no default encryption (BucketServerSideEncryptionConfiguration)",
            "bucket has no public access block (BucketPublicAccessBlock)",
            "bucket policy does not deny requests without TLS (aws:SecureTransport false)",
            "bucket versioning is not Enabled (BucketVersioning)",
        ],
    ),
    (
        "s3-buckets",
        secure_bucket(
            encryption=attached(
                BUCKET_ENCRYPTION,
                {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]},
                "encryption",
            )
        ),
        {},
        ["default encryption is AES256, not SSE-KMS"],
    ),
    (
        "s3-buckets",
        secure_bucket(
            encryption=attached(
                BUCKET_ENCRYPTION,
                {
                    "rules": [
                        {
                            "applyServerSideEncryptionByDefault": {
                                "sseAlgorithm": "aws:kms",
                                "kmsMasterKeyId": "alias/aws/s3",
                            }
                        }
                    ]
                },
                "encryption",
            ),
            public=attached(BUCKET_PUBLIC_ACCESS, {"blockPublicAcls": True}, "public"),
            versioning=attached(
                BUCKET_VERSIONING, {"versioningConfiguration": {"status": "Suspended"}}, "v"
            ),
        ),
        {},
        [
            "default encryption (SSE-KMS) uses the AWS managed key alias/aws/s3, not a customer "
            "managed key",
            "public access block leaves blockPublicPolicy, ignorePublicAcls, "
            "restrictPublicBuckets off",
            "bucket versioning is not Enabled (BucketVersioning)",
        ],
    ),
    (
        "s3-buckets",
        secure_bucket(
            policy=attached(
                BUCKET_POLICY,
                {"policy": document({"Effect": "Deny", "Principal": "*", "Action": "s3:*"})},
                "policy",
            )
        ),
        {},
        ["bucket policy does not deny requests without TLS (aws:SecureTransport false)"],
    ),
    (
        "s3-access-logging",
        secure_bucket(),
        {},
        ["bucket has no server access logging (BucketLogging)"],
    ),
    (
        "s3-lifecycle-abort-multipart",
        [
            resource(
                BUCKET_LIFECYCLE,
                {"rules": [{"id": "expire", "status": "Enabled", "expiration": {"days": 30}}]},
            )
        ],
        {},
        ["no enabled lifecycle rule aborts incomplete multipart uploads"],
    ),
    (
        "customer-kms-keys",
        [
            resource(TOPIC, {}, "topic"),
            resource(TOPIC, {"kmsMasterKeyId": "alias/aws/sns"}, "managed"),
            resource(LOG_GROUP, {"retentionInDays": 7}, "logs"),
            resource(
                ENDPOINT_CONFIG,
                {
                    "productionVariants": ONE_INSTANCE,
                    "dataCaptureConfig": {"enableCapture": True, "kmsKeyId": "alias/aws/s3"},
                },
                "config",
            ),
        ],
        {},
        [
            "topic (kmsMasterKeyId) has no KMS key: name a customer managed key",
            "topic (kmsMasterKeyId) uses the AWS managed key alias/aws/sns, not a customer "
            "managed key",
            "log group (kmsKeyId) has no KMS key: name a customer managed key",
            "ML storage volumes (kmsKeyArn) has no KMS key: name a customer managed key",
            "data capture uses the AWS managed key alias/aws/s3, not a customer managed key",
        ],
    ),
    (
        "log-group-retention",
        [resource(LOG_GROUP, {"kmsKeyId": "k"}), resource(LOG_GROUP, {}, "zero")],
        {},
        ["log group keeps its events forever: set retentionInDays"] * 2,
    ),
    (
        "log-group-retention-minimum",
        [resource(LOG_GROUP, {"retentionInDays": 30.0})],
        {},
        ["log group keeps events 30 days, fewer than minimumRetentionDays 365"],
    ),
    (
        "kms-key-rotation",
        [resource(KMS_KEY, {"enableKeyRotation": False})],
        {},
        ["key rotation is off: set enableKeyRotation"],
    ),
    (
        "data-quality-job-encryption",
        [resource(DATA_QUALITY_JOB, {"networkConfig": {}})],
        {},
        [
            "job results (output kmsKeyId) has no KMS key: name a customer managed key",
            "job volumes (volumeKmsKeyId) has no KMS key: name a customer managed key",
            "traffic between the job's instances is not encrypted: set "
            "networkConfig.enableInterContainerTrafficEncryption",
        ],
    ),
    (
        # An instance store has no volume key to name (SageMaker refuses one): only the rest.
        "data-quality-job-encryption",
        [
            resource(
                DATA_QUALITY_JOB,
                {
                    "networkConfig": {"enableInterContainerTrafficEncryption": True},
                    "jobResources": {"clusterConfig": {"instanceType": "ml.g4dn.xlarge"}},
                },
            )
        ],
        {},
        ["job results (output kmsKeyId) has no KMS key: name a customer managed key"],
    ),
    (
        # A name that is no instance type is held to the volume key.
        "data-quality-job-encryption",
        [
            resource(
                DATA_QUALITY_JOB,
                {
                    "networkConfig": {"enableInterContainerTrafficEncryption": True},
                    "jobResources": {"clusterConfig": {"instanceType": "g4dn"}},
                },
            )
        ],
        {},
        [
            "job results (output kmsKeyId) has no KMS key: name a customer managed key",
            "job volumes (volumeKmsKeyId) has no KMS key: name a customer managed key",
        ],
    ),
    (
        "iam-no-wildcard-action",
        [
            resource(
                ROLE_POLICY,
                {
                    "policy": document(
                        {"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "*"}
                    )
                },
            ),
            resource(
                ROLE,
                {
                    "inlinePolicies": [
                        {
                            "policy": document(
                                {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
                            )
                        }
                    ]
                },
                "role",
            ),
        ],
        {},
        [
            "policy statement All allows the action *",
            "inlinePolicies[0] statement 0 allows everything but NotAction",
        ],
    ),
    (
        "iam-no-full-access-policies",
        [
            resource(
                ROLE_POLICY_ATTACHMENT,
                {"policyArn": "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"},
            ),
            resource(
                ROLE,
                {"managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]},
                "role",
            ),
        ],
        {},
        [
            "attaches the AWS managed policy arn:aws:iam::aws:policy/AmazonSageMakerFullAccess",
            "attaches the AWS managed policy arn:aws:iam::aws:policy/AdministratorAccess",
        ],
    ),
    (
        "iam-resource-scoping",
        [
            resource(
                ROLE_POLICY,
                {
                    "policy": document(
                        {
                            "Sid": "Read",
                            "Effect": "Allow",
                            "Action": "s3:GetObject",
                            "Resource": "*",
                        },
                        {
                            "Sid": "Token",
                            "Effect": "Allow",
                            "Action": "ecr:GetAuthorizationToken",
                            "Resource": "*",
                        },
                    )
                },
            )
        ],
        {},
        ['policy statement Read grants s3:GetObject on "Resource": "*"; name the resources'],
    ),
    (
        "resource-policy-no-wildcard-principal",
        [
            resource(
                MODEL_PACKAGE_GROUP_POLICY,
                {
                    "resourcePolicy": document(
                        {
                            "Sid": "Everyone",
                            "Effect": "Allow",
                            "Principal": {"AWS": "*"},
                            "Action": "sagemaker:DescribeModelPackage",
                        }
                    )
                },
            ),
            resource(
                KMS_KEY,
                {
                    "policy": document(
                        {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt"}
                    )
                },
                "key",
            ),
        ],
        {},
        [
            "resourcePolicy statement Everyone allows the principal *",
            "policy statement 0 allows the principal *",
        ],
    ),
    (
        "required-tags",
        [resource(BUCKET, {"tags": {"environment": "dev", "owner": ""}})],
        {},
        ["missing required tags: owner, cost-center"],
    ),
    (
        "prod-endpoints",
        endpoint_pair(ONE_INSTANCE, ALL_AT_ONCE, None),
        {},
        [
            "variant champion starts with 1 instance(s), fewer than 2",
            "updates shift traffic ALL_AT_ONCE: use CANARY or LINEAR traffic shifting or a "
            "rolling update",
            "no rollback alarm: set deploymentConfig.autoRollbackConfiguration.alarms",
            "data capture is off: set dataCaptureConfig with a sampling percentage above 0",
        ],
    ),
    (
        "prod-endpoints",
        endpoint_pair(
            [{**ONE_INSTANCE[0], "initialInstanceCount": 2}],
            {
                "blueGreenUpdatePolicy": {"trafficRoutingConfiguration": {"type": "CANARY"}},
                "autoRollbackConfiguration": {"alarms": [{"alarmName": "somewhere-else"}]},
            },
            {"enableCapture": True, "initialSamplingPercentage": 0},
        ),
        {},
        [
            "rollback alarm somewhere-else is not an alarm of this stack",
            "data capture is off: set dataCaptureConfig with a sampling percentage above 0",
        ],
    ),
    (
        "prod-endpoints",
        endpoint_pair(
            [{"variantName": "champion", "serverlessConfig": {"memorySizeInMb": 2048}}], None, None
        ),
        {},
        ["serverless endpoint in production: set allowServerless to accept it"],
    ),
    (
        "prod-endpoints",
        [resource(ENDPOINT, {"endpointConfigName": "elsewhere"})],
        {},
        ["endpoint configuration not found in the stack: cannot check capacity"],
    ),
    (
        "alarm-actions-and-dimensions",
        [
            resource(
                ALARM,
                {
                    "actionsEnabled": False,
                    "metricName": "Invocation5XXErrors",
                    "namespace": "AWS/SageMaker",
                    "dimensions": {"EndpointName": "e"},
                },
            ),
            resource(
                ALARM,
                {
                    "alarmActions": ["arn:aws:sns:us-east-1:444444444444:alerts"],
                    "metricQueries": [
                        {"id": "m0", "metric": {"namespace": "/aws/sagemaker/Endpoints"}},
                        {"id": "total", "expression": "SUM([m0])"},
                    ],
                },
                "math",
            ),
        ],
        {},
        [
            "alarm actions are disabled (actionsEnabled false)",
            "alarm has no alarmActions: nobody hears it",
            "metric in AWS/SageMaker lacks the dimensions VariantName",
            "metric query m0 in /aws/sagemaker/Endpoints lacks the dimensions EndpointName, "
            "VariantName",
        ],
    ),
    (
        "instance-type-allow-list",
        [
            resource(
                ENDPOINT_CONFIG,
                {
                    "shadowProductionVariants": [
                        {"variantName": "shadow", "instanceType": "ml.p4d.24xlarge"}
                    ]
                },
            ),
            resource(
                DATA_QUALITY_JOB,
                {"jobResources": {"clusterConfig": {"instanceType": "ml.m5.large"}}},
                "job",
            ),
        ],
        {"allowedInstanceTypes": ["ml.m5.xlarge"]},
        [
            "variant shadow uses ml.p4d.24xlarge, which is not in allowedInstanceTypes "
            "(ml.m5.xlarge)",
            "job uses ml.m5.large, which is not in allowedInstanceTypes (ml.m5.xlarge)",
        ],
    ),
    (
        "sagemaker-model-network-isolation",
        [resource(MODEL, {"enableNetworkIsolation": False, "tags": {"model": "churn"}})],
        {"exemptModels": ["fraud"]},
        ["model container may reach the network: set enableNetworkIsolation"],
    ),
    (
        "sagemaker-model-in-vpc",
        [resource(MODEL, {"vpcConfig": {"subnets": ["subnet-1"]}, "tags": {"model": "churn"}})],
        {},
        ["model does not run in a VPC: set vpcConfig (subnets and security groups)"],
    ),
    (
        "function-log-retention",
        [
            resource(LAMBDA_FUNCTION, {"name": "drift-fn"}, "fn"),
            # A group of another function's name, which depends on nothing of this one.
            resource(LOG_GROUP, {"name": "/aws/lambda/other", "retentionInDays": 7}, "other"),
            resource(LAMBDA_FUNCTION, {"name": "kept-fn"}, "kept"),
            resource(LOG_GROUP, {"name": "/aws/lambda/kept-fn", "retentionInDays": 0}, "kept-logs"),
        ],
        {},
        [
            "function has no log group in the stack: create /aws/lambda/<name> (or the group "
            "loggingConfig.logGroup names) with retentionInDays",
            "function's log group keeps its events forever",
        ],
    ),
    (
        "schedule-dead-letter-encryption",
        [
            resource(SCHEDULE, {"target": {"arn": "fn", "roleArn": "role"}}, "bare"),
            resource(QUEUE, {"kmsMasterKeyId": "alias/aws/sqs"}, "dlq"),
            resource(
                SCHEDULE,
                {"target": {"arn": "fn", "roleArn": "role", "deadLetterConfig": {"arn": "q"}}},
                "with-dlq",
                deps=(f"{PROD}{QUEUE}::dlq",),
            ),
        ],
        {},
        [
            "schedule has no dead-letter queue: set target.deadLetterConfig.arn, or a run that "
            "cannot start leaves no trace",
            "dead-letter queue uses the AWS managed key alias/aws/sqs, not a customer managed key",
        ],
    ),
    (
        "function-role-no-wildcard-actions",
        [
            resource(
                ROLE,
                {
                    "assumeRolePolicy": document(
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    )
                },
                "fn-role",
            ),
            resource(
                ROLE_POLICY,
                {
                    "policy": document(
                        {
                            "Sid": "Reads",
                            "Effect": "Allow",
                            "Action": ["s3:Get*", "s3:ListBucket"],
                            "Resource": "arn:aws:s3:::b/*",
                        }
                    )
                },
                "fn-role-policy",
                deps=(f"{PROD}{ROLE}::fn-role",),
            ),
        ],
        {},
        ["policy statement Reads of a function's role allows s3:Get*: name each action"],
    ),
]


@pytest.mark.parametrize(
    ("rule_name", "resources", "settings", "expected"),
    VIOLATIONS,
    ids=[f"{case[0]}-{i}" for i, case in enumerate(VIOLATIONS)],
)
def test_violation_is_reported_with_its_message(
    rule_name: str, resources: list[Resource], settings: dict[str, Any], expected: list[str]
) -> None:
    assert sorted(messages(rule_name, resources, **settings)) == sorted(expected)


def test_every_rule_has_a_violating_case() -> None:
    assert {case[0] for case in VIOLATIONS} == set(rules.RULES_BY_NAME)


def test_what_the_rules_accept() -> None:
    """Controls of the violations above: the compliant or exempt variant passes."""
    assert messages("s3-buckets", secure_bucket()) == []
    serverless = [{"variantName": "champion", "serverlessConfig": {"memorySizeInMb": 2048}}]
    assert (
        messages(
            "customer-kms-keys",
            [resource(ENDPOINT_CONFIG, {"productionVariants": serverless})],
        )
        == []
    )
    assert (
        messages("prod-endpoints", endpoint_pair(serverless, None, None), allowServerless=True)
        == []
    )
    # The prod rules apply to the stacks of productionStacks, read from the URN.
    assert messages("prod-endpoints", endpoint_pair(ONE_INSTANCE, ALL_AT_ONCE, None, DEV)) == []
    rolling = {
        "rollingUpdatePolicy": {"maximumBatchSize": {"type": "INSTANCE_COUNT", "value": 1}},
        "autoRollbackConfiguration": {"alarms": [{"alarmName": "e-5xx"}]},
    }
    alarm = resource(ALARM, {"name": "e-5xx", "alarmActions": ["topic"]}, "alarm")
    capture = {"enableCapture": True, "initialSamplingPercentage": 20}
    two = [{**ONE_INSTANCE[0], "initialInstanceCount": 2}]
    assert messages("prod-endpoints", [*endpoint_pair(two, rolling, capture), alarm]) == []
    exempt = resource(MODEL, {"enableNetworkIsolation": False, "tags": {"model": "churn"}})
    assert messages("sagemaker-model-network-isolation", [exempt], exemptModels=["churn"]) == []
    asymmetric = resource(KMS_KEY, {"customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"})
    assert messages("kms-key-rotation", [asymmetric]) == []
    # Model Monitor metrics have dimensions of their own; only actions are asked of them.
    drift = resource(
        ALARM,
        {
            "alarmActions": ["topic"],
            "metricName": "feature_baseline_drift_x",
            "namespace": "aws/sagemaker/Endpoints/data-metrics",
            "dimensions": {"Endpoint": "e", "MonitoringSchedule": "s"},
        },
    )
    assert messages("alarm-actions-and-dimensions", [drift]) == []
    # A function whose log group depends on it (its name not known yet) and expires events; a
    # dead-letter queue under a customer key; an endpoint role (SageMaker's) is not a
    # function's, so the stricter action rule leaves it to iam-no-wildcard-action.
    function = resource(LAMBDA_FUNCTION, {"name": UNKNOWN}, "fn")
    logs = resource(
        LOG_GROUP, {"name": UNKNOWN, "retentionInDays": 30}, "logs", deps=(function.urn,)
    )
    assert messages("function-log-retention", [function, logs]) == []
    queue = resource(QUEUE, {"kmsMasterKeyId": "arn:aws:kms:us-east-1:1:key/k"}, "dlq")
    schedule = resource(
        SCHEDULE,
        {"target": {"arn": "fn", "roleArn": "r", "deadLetterConfig": {"arn": UNKNOWN}}},
        deps=(queue.urn,),
    )
    assert messages("schedule-dead-letter-encryption", [schedule, queue]) == []
    sagemaker = resource(
        ROLE,
        {
            "assumeRolePolicy": document(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sagemaker.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            )
        },
        "endpoint-role",
    )
    wide = resource(
        ROLE_POLICY,
        {"policy": document({"Effect": "Allow", "Action": "ecr:Get*", "Resource": "*"})},
        deps=(sagemaker.urn,),
    )
    assert messages("function-role-no-wildcard-actions", [sagemaker, wide]) == []


# --- configuration --------------------------------------------------------------------------


def write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "stack.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"no-such-rule": "advisory"}, "stack.json: no-such-rule: no such rule"),
        (
            {"all": "advisory"},
            "stack.json: all: one level for every rule is not accepted; name each advisory rule",
        ),
        (
            {"required-tags": "advisory"},
            "stack.json: required-tags.enforcementLevel: the rule is mandatory; a stack's policy "
            "config may relax advisory rules only",
        ),
        (
            {"s3-access-logging": "off"},
            "stack.json: s3-access-logging.enforcementLevel: must be one of mandatory, advisory, "
            "disabled",
        ),
        (
            {"instance-type-allow-list": {"allowedInstanceTypes": "ml.m5.large"}},
            "stack.json: instance-type-allow-list.allowedInstanceTypes: must be a list of "
            "strings, not 'ml.m5.large'",
        ),
        (
            {"log-group-retention-minimum": {"minimumRetentionDays": 0}},
            "stack.json: log-group-retention-minimum.minimumRetentionDays: must be at least 1, "
            "not 0",
        ),
        (
            {"prod-endpoints": {"allowServerless": "yes"}},
            "stack.json: prod-endpoints.allowServerless: must be true or false, not 'yes'",
        ),
        (
            {"prod-endpoints": {"minInstance": 2}},
            "stack.json: prod-endpoints.minInstance: unknown setting (settings: "
            "productionStacks, minInstances, allowServerless)",
        ),
        ("{", "stack.json: not a readable JSON document"),
    ],
)
def test_a_bad_policy_config_is_refused_by_key_path(
    tmp_path: Path, content: Any, message: str
) -> None:
    with pytest.raises(configuration.PolicyConfigError) as error:
        configuration.read_policy_config(write(tmp_path, content))
    assert str(error.value).startswith(f"{tmp_path}/{message}")
    assert "\n" not in str(error.value)


def test_engine_config_numbers_arrive_as_floats_and_are_taken_as_integers() -> None:
    rule = rules.RULES_BY_NAME["log-group-retention-minimum"]
    assert configuration.settings(rule, {"minimumRetentionDays": 30.0}) == {
        "minimumRetentionDays": 30
    }
    with pytest.raises(configuration.PolicyConfigError, match="must be an integer, not 30.5"):
        configuration.settings(rule, {"minimumRetentionDays": 30.5})


@pytest.mark.parametrize("stack", STACKS)
def test_stack_configs_relax_only_advisory_rules(stack: str) -> None:
    for name, config in stack_policy_config(stack).items():
        if rules.RULES_BY_NAME[name].enforcement == "mandatory":
            assert config.level == "mandatory"


def test_stack_urn_names_the_stack() -> None:
    assert resource(ENDPOINT, {}, stack=DEV).stack == "dev"
    assert Resource(ENDPOINT, {}, "urn:pulumi:prod::mlserve::a$b::c").stack == "prod"


def test_taggable_types_are_those_whose_provider_arguments_take_tags() -> None:
    """The table against the installed pulumi_aws, for every AWS type the stacks register."""
    types = {r.type for stack in STACKS for r in stack_resources(stack)} | set(TAGGABLE_TYPES)
    for type_ in sorted(t for t in types if t.startswith("aws:")):
        takes_tags = "tags" in input_names(sdk_class(type_))
        assert takes_tags == (type_ in TAGGABLE_TYPES), type_
