"""IAM and resource policy documents, as plain dicts.

Every statement is scoped to the resources it is for. The only ``"Resource": "*"`` statements
are for actions whose API has no resource-level permissions (``GLOBAL_ACTIONS``); tests hold
the program to that list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infra.settings.artifacts import STORE_PREFIX

Document = dict[str, Any]

# Actions that IAM evaluates only against "*": they accept no resource ARN.
GLOBAL_ACTIONS = frozenset(
    {
        "ecr:GetAuthorizationToken",
        "cloudwatch:PutMetricData",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeVpcs",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
    }
)

# Execution roles live under this path, so the artifact store can grant them across accounts
# without knowing each role's generated name.
ROLE_PATH = "/mlserve/"

# CloudWatch Logs authorises each action against one resource type (Service Authorization
# Reference, "Actions, resources, and condition keys for Amazon CloudWatch Logs",
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html):
# logs:CreateLogStream and logs:PutLogEvents against the log-stream,
# arn:...:log-group:<group>:log-stream:<stream>; logs:CreateLogGroup and logs:DescribeLogStreams
# against the log-group. A log group's ARN in an IAM policy carries a trailing ":*" for every
# action but the three tagging ones (botocore logs LogGroup.arn: "Use this version to refer to
# the ARN in IAM policies when specifying permissions for most API actions"); the bare ARN, as
# the provider outputs it (terraform-provider-aws internal/service/logs/arn.go trims the ":*"),
# matches none of them.
LOG_STREAM_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")


def log_group_resource(log_group_arn: str) -> str:
    """The resource that IAM matches a log group's own actions against."""
    return f"{log_group_arn}:*"


def log_streams_resource(log_group_arn: str) -> str:
    """The resource that matches every log stream of a log group."""
    return f"{log_group_arn}:log-stream:*"


def document(*statements: Document) -> Document:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def service_trust(service: str) -> Document:
    return document(
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    )


def execution_role_policy(
    *,
    partition: str,
    region: str,
    account: str,
    artifact_bucket_arn: str,
    artifact_prefixes: list[str],
    artifact_key_arn: str,
    log_group_arn: str,
    capture_bucket_arn: str | None,
    capture_prefix: str | None,
    environment_key_arn: str,
    subnet_ids: list[str],
    security_group_ids: list[str],
    rollback_alarm_arns: Sequence[str] = (),
) -> Document:
    """What a SageMaker endpoint's execution role may do, and nothing more.

    It reads its own model's artifacts only, decrypts with the artifact key only, writes its own
    log group and (when data capture is on) its own capture prefix, and pulls images.
    """
    statements: list[Document] = [
        {
            "Sid": "ReadOwnArtifacts",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": [f"{artifact_bucket_arn}/{prefix}*" for prefix in artifact_prefixes],
        },
        {
            "Sid": "ListOwnArtifacts",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": artifact_bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{p}*" for p in artifact_prefixes]}},
        },
        {
            "Sid": "DecryptArtifacts",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:DescribeKey"],
            "Resource": artifact_key_arn,
        },
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": list(LOG_STREAM_ACTIONS),
            "Resource": log_streams_resource(log_group_arn),
        },
        {
            "Sid": "DescribeOwnLogStreams",
            "Effect": "Allow",
            "Action": "logs:DescribeLogStreams",
            "Resource": log_group_resource(log_group_arn),
        },
        {
            "Sid": "PullImages",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability",
            ],
            "Resource": f"arn:{partition}:ecr:{region}:*:repository/*",
        },
        {
            "Sid": "EcrToken",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",
        },
        {
            "Sid": "EndpointMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*"]}},
        },
    ]
    if capture_bucket_arn is not None and capture_prefix is not None:
        statements += [
            {
                "Sid": "WriteOwnDataCapture",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": f"{capture_bucket_arn}/{capture_prefix}*",
            },
            {
                "Sid": "EncryptDataCapture",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"],
                "Resource": environment_key_arn,
            },
        ]
    if rollback_alarm_arns:
        # SageMaker reads the rollback alarms as the execution role during a blue/green update
        # ("Auto-Rollback Configuration and Monitoring", SageMaker developer guide:
        # https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html).
        # Alarm ARNs scope it: only composite alarms need "*" (botocore cloudwatch
        # DescribeAlarms documentation), and these are metric alarms.
        statements.append(
            {
                "Sid": "ReadRollbackAlarms",
                "Effect": "Allow",
                "Action": "cloudwatch:DescribeAlarms",
                "Resource": list(rollback_alarm_arns),
            }
        )
    if subnet_ids:
        ec2 = f"arn:{partition}:ec2:{region}:{account}"
        statements += [
            {
                "Sid": "VpcInterfaces",
                "Effect": "Allow",
                "Action": "ec2:CreateNetworkInterface",
                "Resource": [
                    f"{ec2}:network-interface/*",
                    *(f"{ec2}:subnet/{s}" for s in subnet_ids),
                    *(f"{ec2}:security-group/{g}" for g in security_group_ids),
                ],
            },
            {
                "Sid": "VpcInterfaceLifecycle",
                "Effect": "Allow",
                "Action": [
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                ],
                "Resource": f"{ec2}:network-interface/*",
            },
            {
                "Sid": "VpcDescribe",
                "Effect": "Allow",
                "Action": [
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                ],
                "Resource": "*",
            },
        ]
    return document(*statements)


# Model Monitor's analyzer publishes its per-feature metrics for endpoints to this namespace
# (SageMaker developer guide, "Amazon SageMaker AI metrics in Amazon CloudWatch": data quality,
# aws/sagemaker/Endpoints/data-metrics). The guide's "CloudWatch Metrics" page for the
# built-in container and its page on bring-your-own containers spell it
# /aws/sagemaker/Endpoints/data-metric and /aws/sagemaker/Endpoint/data-metrics; the policy
# admits all three, so a spelling the analyzer may use is never refused.
DRIFT_METRIC_NAMESPACES = (
    "aws/sagemaker/Endpoints/data-metrics",
    "/aws/sagemaker/Endpoints/data-metric",
    "/aws/sagemaker/Endpoint/data-metrics",
)

# Monitoring executions are processing jobs, which log to this group, one stream per job and
# host (SageMaker developer guide, "Log groups and streams that Amazon SageMaker AI sends":
# /aws/sagemaker/ProcessingJobs, [processing-job-name]/[hostname]-[epoch_timestamp]). The group
# is the account's, shared by every processing job, so the program does not own it.
PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"


def monitoring_role_policy(
    *,
    partition: str,
    region: str,
    account: str,
    capture_bucket_arn: str,
    capture_prefix: str,
    reports_prefix: str,
    environment_key_arn: str,
    artifact_bucket_arn: str,
    baseline_prefix: str,
    artifact_key_arn: str,
    analyzer_repository_arn: str,
    volume_key: bool = True,
) -> Document:
    """What a model's data-quality monitoring job may do, and nothing more.

    It reads its model's captured requests and the pinned version's baseline, writes its reports
    under its own prefix, uses the environment key for both (and, with ``volume_key``, for its
    volumes) and the artifact key to read the baseline, pulls the analyzer image, writes to the
    processing jobs' log group and publishes the drift metrics. The statements follow
    "CreateProcessingJob API: Execution Role Permissions" (SageMaker developer guide, "SageMaker
    AI Roles"), scoped to those resources.
    """
    group = f"arn:{partition}:logs:{region}:{account}:log-group:{PROCESSING_LOG_GROUP}"
    # The analysis's volumes are encrypted with the environment key. EBS encryption with a
    # customer key works through a grant the service creates as the role (botocore sagemaker
    # RecommendationJobInputConfig.VolumeKmsKeyId says the role "must have kms:CreateGrant
    # permission"; processing volumes are EBS volumes too). The condition allows only grants an
    # AWS service makes on the role's behalf (AWS KMS developer guide,
    # kms:GrantIsForAWSResource). An instance store takes no key (instances.has_local_storage),
    # so its role gets no grant either.
    volume_grant: list[Document] = [
        {
            "Sid": "EncryptAnalysisVolumes",
            "Effect": "Allow",
            "Action": "kms:CreateGrant",
            "Resource": environment_key_arn,
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        }
    ]
    if not volume_key:
        volume_grant = []
    statements: list[Document] = [
        *_captures_and_reports(
            capture_bucket_arn, capture_prefix, reports_prefix, environment_key_arn
        ),
        *volume_grant,
        *_pinned_baseline(artifact_bucket_arn, baseline_prefix, artifact_key_arn),
        {
            "Sid": "PullAnalyzer",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability",
            ],
            "Resource": analyzer_repository_arn,
        },
        {
            "Sid": "EcrToken",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",
        },
        {
            # On the group's IAM resource (log_group_resource): the bare ARN matches nothing.
            "Sid": "ProcessingLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:DescribeLogStreams"],
            "Resource": log_group_resource(group),
        },
        {
            "Sid": "ProcessingLogStreams",
            "Effect": "Allow",
            "Action": list(LOG_STREAM_ACTIONS),
            "Resource": log_streams_resource(group),
        },
        {
            "Sid": "DriftMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": list(DRIFT_METRIC_NAMESPACES)}},
        },
    ]
    return document(*statements)


def service_trust_from_account(service: str, account: str) -> Document:
    """A trust policy for ``service`` acting for this account only: the confused-deputy guard
    EventBridge Scheduler's guide puts on its execution role (EventBridge Scheduler user guide,
    "Set up the execution role": ``aws:SourceAccount``)."""
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
        }
    )


def _captures_and_reports(
    capture_bucket_arn: str, capture_prefix: str, reports_prefix: str, environment_key_arn: str
) -> list[Document]:
    """A drift analysis's own data, for either engine: its model's captured requests (read,
    and listed so that a missing object reads as missing: S3 answers 403 instead of 404 to a
    caller without s3:ListBucket, Amazon S3 API Reference, GetObject, "Permissions"), its
    reports (written), and the environment key that encrypts both."""
    return [
        {
            "Sid": "ReadOwnCapturedData",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{capture_bucket_arn}/{capture_prefix}*",
        },
        {
            "Sid": "ListOwnCapturedData",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": capture_bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{capture_prefix}*"]}},
        },
        {
            "Sid": "WriteOwnReports",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": f"{capture_bucket_arn}/{reports_prefix}*",
        },
        {
            # Captures are encrypted with the environment key, and so are the reports: SSE-KMS
            # reads need kms:Decrypt, writes kms:GenerateDataKey (and kms:Decrypt for multipart
            # uploads) (Amazon S3 user guide, "Using server-side encryption with AWS KMS keys").
            "Sid": "EnvironmentKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": environment_key_arn,
        },
    ]


def _pinned_baseline(
    artifact_bucket_arn: str, baseline_prefix: str, artifact_key_arn: str
) -> list[Document]:
    """The pinned version's baseline in the artifact store, read and listed, for either
    engine, and the artifact key to decrypt it."""
    return [
        {
            "Sid": "ReadPinnedBaseline",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{artifact_bucket_arn}/{baseline_prefix}*",
        },
        {
            "Sid": "ListPinnedBaseline",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": artifact_bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{baseline_prefix}*"]}},
        },
        {
            "Sid": "DecryptBaseline",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": artifact_key_arn,
        },
    ]


def drift_function_policy(
    *,
    capture_bucket_arn: str,
    capture_prefix: str,
    reports_prefix: str,
    environment_key_arn: str,
    artifact_bucket_arn: str,
    baseline_prefix: str,
    artifact_key_arn: str,
    log_group_arn: str,
    metric_namespace: str,
) -> Document:
    """What the mlserve drift engine's function may do, and nothing more.

    It reads its model's captured requests and the pinned version's baseline (across accounts:
    the artifact store's bucket and key policies grant the environment accounts' roles under
    ``ROLE_PATH`` the ``models/`` prefix and decryption, ``artifact_read_statement``,
    ``artifact_list_statement`` and ``key_policy``), writes its reports under its own prefix with
    the environment key, writes its own log group's streams and puts metrics in its namespace
    only. Listing is allowed on the two prefixes so that a missing object reads as missing (S3
    answers 403 instead of 404 to a caller without s3:ListBucket: Amazon S3 API Reference,
    GetObject, "Permissions").
    """
    return document(
        *_captures_and_reports(
            capture_bucket_arn, capture_prefix, reports_prefix, environment_key_arn
        ),
        *_pinned_baseline(artifact_bucket_arn, baseline_prefix, artifact_key_arn),
        {
            # The group exists before the function runs (the component creates it with its
            # retention and key), so the function only writes streams in it.
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": list(LOG_STREAM_ACTIONS),
            "Resource": log_streams_resource(log_group_arn),
        },
        {
            "Sid": "DriftMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": metric_namespace}},
        },
    )


def drift_scheduler_policy(
    *, function_arn: str, dead_letter_queue_arn: str, environment_key_arn: str
) -> Document:
    """What EventBridge Scheduler may do as the drift schedule's execution role: invoke the one
    function, and put what it could not deliver on the schedule's dead-letter queue, which the
    environment key encrypts (EventBridge Scheduler user guide, "Set up the execution role" and
    "Configuring a schedule's dead-letter queue"; Amazon SQS developer guide, "Key management":
    a producer to an encrypted queue needs kms:GenerateDataKey and kms:Decrypt)."""
    return document(
        {
            "Sid": "InvokeDriftFunction",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": function_arn,
        },
        {
            "Sid": "DeadLetters",
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": dead_letter_queue_arn,
        },
        {
            "Sid": "EncryptDeadLetters",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": environment_key_arn,
        },
    )


def tls_only_statement(bucket_arn: str) -> Document:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def deny_unencrypted_uploads_statement(bucket_arn: str) -> Document:
    return {
        "Sid": "DenyNonKmsUploads",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"{bucket_arn}/*",
        "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
    }


def reader_principals(partition: str, accounts: list[str]) -> Document:
    return {"AWS": [f"arn:{partition}:iam::{a}:root" for a in accounts]}


def execution_roles_condition(partition: str, accounts: list[str]) -> Document:
    """Limits a cross-account grant to the execution roles under ``ROLE_PATH``."""
    return {
        "ArnLike": {
            "aws:PrincipalArn": [f"arn:{partition}:iam::{a}:role{ROLE_PATH}*" for a in accounts]
        }
    }


def artifact_read_statement(partition: str, bucket_arn: str, accounts: list[str]) -> Document:
    return {
        "Sid": "EnvironmentRolesReadArtifacts",
        "Effect": "Allow",
        "Principal": reader_principals(partition, accounts),
        "Action": ["s3:GetObject", "s3:GetObjectVersion"],
        "Resource": f"{bucket_arn}/{STORE_PREFIX}*",
        "Condition": execution_roles_condition(partition, accounts),
    }


def artifact_list_statement(partition: str, bucket_arn: str, accounts: list[str]) -> Document:
    """Lets the reader accounts' execution roles list what is under ``models/``.

    A version published uncompressed points at a key prefix (``S3DataType: S3Prefix``), and
    SageMaker deploys every object under it (botocore sagemaker ``S3ModelDataSource.S3DataType``),
    so it lists the prefix. Listing is ``s3:ListBucket`` on the bucket ARN (S3 API Reference,
    ListObjectsV2), and ``s3:prefix`` is the condition key that narrows it (Service Authorization
    Reference, "Actions, resources, and condition keys for Amazon S3",
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html).
    Across accounts the bucket policy must allow it as well as the role's own policy.
    """
    condition = execution_roles_condition(partition, accounts)
    condition["StringLike"] = {"s3:prefix": [f"{STORE_PREFIX}*"]}
    return {
        "Sid": "EnvironmentRolesListArtifacts",
        "Effect": "Allow",
        "Principal": reader_principals(partition, accounts),
        "Action": "s3:ListBucket",
        "Resource": bucket_arn,
        "Condition": condition,
    }


def key_policy(
    *,
    partition: str,
    account: str,
    region: str,
    service_principals: list[str],
    reader_accounts: Sequence[str] = (),
) -> Document:
    """A KMS key policy. In a key policy ``"Resource": "*"`` means this key and no other."""
    statements: list[Document] = [
        {
            "Sid": "AccountAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    for service in service_principals:
        statement: Document = {
            "Sid": "Service" + "".join(part.title() for part in service.split(".")[0].split("-")),
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Resource": "*",
        }
        if service.startswith("logs."):
            # CloudWatch Logs encrypts log groups; the encryption context names the group.
            # Only the cryptographic operations: kms:Describe* (in CloudWatch Logs' example key
            # policy) has no kms:EncryptionContext condition key, so under this condition it
            # never matched, and kms:EncryptionContext:${EncryptionContextKey} is a String key,
            # hence StringLike (Service Authorization Reference, "Actions, resources, and
            # condition keys for AWS Key Management Service":
            # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html).
            statement["Action"] = [
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
            ]
            statement["Condition"] = {
                "StringLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{partition}:logs:{region}:{account}:log-group:*"
                    )
                }
            }
        else:
            # Alarms publishing to an encrypted topic: the service needs a data key only.
            statement["Action"] = ["kms:Decrypt", "kms:GenerateDataKey*"]
        statements.append(statement)
    if reader_accounts:
        statements.append(
            {
                "Sid": "EnvironmentRolesDecrypt",
                "Effect": "Allow",
                "Principal": reader_principals(partition, list(reader_accounts)),
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": execution_roles_condition(partition, list(reader_accounts)),
            }
        )
    return document(*statements)


def model_package_group_policy(
    partition: str, region: str, account: str, group: str, accounts: list[str]
) -> Document:
    """Lets the environment accounts deploy this group's versions, and nothing else.

    The statements follow "Deploy a Model Version from a Different Account" (SageMaker
    developer guide, model registry:
    https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-deploy-xaccount.html): the
    group itself is described, its versions are described, listed and made into models
    (``sagemaker:CreateModel`` with a version ARN as the container's ``ModelPackageName``). The
    guide's example also grants ``sagemaker:UpdateModelPackage``; it is left out, because only the
    shared account approves versions.
    """
    base = f"arn:{partition}:sagemaker:{region}:{account}"
    principal = reader_principals(partition, accounts)
    return document(
        {
            "Sid": "EnvironmentAccountsDescribeGroup",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "sagemaker:DescribeModelPackageGroup",
            "Resource": f"{base}:model-package-group/{group}",
        },
        {
            "Sid": "EnvironmentAccountsDeployVersions",
            "Effect": "Allow",
            "Principal": principal,
            "Action": [
                "sagemaker:DescribeModelPackage",
                "sagemaker:ListModelPackages",
                "sagemaker:CreateModel",
            ],
            "Resource": f"{base}:model-package/{group}/*",
        },
    )


def alarm_publish_policy(topic_arn: str, account: str) -> Document:
    return document(
        {
            "Sid": "CloudWatchAlarmsPublish",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
        }
    )
