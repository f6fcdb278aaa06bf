"""Encryption at rest and in transit under customer managed KMS keys, and keys that rotate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.instances import has_local_storage
from infra.resource_types import DATA_QUALITY_JOB, ENDPOINT_CONFIG, KMS_KEY, LOG_GROUP, TOPIC
from policy.model import resource_rule
from policy.properties import customer_key, known, serverless_only, value_at


@resource_rule(
    "customer-kms-keys",
    "Endpoint configurations (ML storage volumes, unless every variant is serverless; "
    "checkov CKV_AWS_98), data capture, SNS topics (CKV_AWS_26, Security Hub SNS.1) and "
    "log groups (CKV_AWS_158) are encrypted with a customer managed KMS key, not an AWS "
    "managed alias/aws/* key.",
    "mandatory",
    "MLSEC03-BP02 Secure data and modeling environment",
    ("CKV_AWS_98", "CKV_AWS_26", "SNS.1", "CKV_AWS_158"),
)
def customer_kms_keys(type_: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    if type_ == ENDPOINT_CONFIG:
        problems = []
        # SageMaker refuses a volume key for serverless variants, which have no ML storage
        # volume (CreateEndpointConfig KmsKeyId; infra/components/model_endpoint.py). Variants
        # not known yet may be serverless.
        variants_known = known(props.get("productionVariants"))
        if variants_known and not serverless_only(props):
            problems += customer_key(props.get("kmsKeyArn"), "ML storage volumes (kmsKeyArn)")
        capture = props.get("dataCaptureConfig")
        if isinstance(capture, Mapping) and capture.get("enableCapture") is not False:
            problems += customer_key(capture.get("kmsKeyId"), "data capture")
        return problems
    if type_ == TOPIC:
        return customer_key(props.get("kmsMasterKeyId"), "topic (kmsMasterKeyId)")
    if type_ == LOG_GROUP:
        return customer_key(props.get("kmsKeyId"), "log group (kmsKeyId)")
    return []


@resource_rule(
    "kms-key-rotation",
    "Customer managed symmetric KMS keys rotate their key material (checkov CKV_AWS_7).",
    "mandatory",
    "MLSEC03-BP02 Secure data and modeling environment",
    ("CKV_AWS_7",),
)
def kms_key_rotation(type_: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    if type_ != KMS_KEY:
        return []
    # Automatic rotation exists for symmetric encryption keys only (KMS EnableKeyRotation,
    # botocore ``kms``): other key specs and usages are not asked for it.
    spec = props.get("customerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    usage = props.get("keyUsage") or "ENCRYPT_DECRYPT"
    if spec != "SYMMETRIC_DEFAULT" or usage != "ENCRYPT_DECRYPT":
        return []
    rotation = props.get("enableKeyRotation")
    if known(rotation) and rotation is not True:
        return ["key rotation is off: set enableKeyRotation"]
    return []


def _local_storage(instance_type: Any) -> bool:
    """A known instance type with an instance store; a name that is not one reads as EBS, so
    the rule still asks for a volume key."""
    if not isinstance(instance_type, str):
        return False
    try:
        return has_local_storage(instance_type)
    except ValueError:
        return False


@resource_rule(
    "data-quality-job-encryption",
    "Data quality monitoring jobs encrypt their results (checkov CKV_AWS_367) and volumes "
    "(CKV_AWS_368) with a customer managed KMS key and the traffic between their "
    "instances (CKV_AWS_369).",
    "mandatory",
    "MLSEC03-BP02 Secure data and modeling environment",
    ("CKV_AWS_367", "CKV_AWS_368", "CKV_AWS_369"),
)
def data_quality_job_encryption(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    if type_ != DATA_QUALITY_JOB:
        return []
    problems = customer_key(
        value_at(props, "dataQualityJobOutputConfig", "kmsKeyId"), "job results (output kmsKeyId)"
    )
    # An instance type with local storage has no EBS volume to encrypt: SageMaker refuses a
    # volume key for it and a hardware module on the instance encrypts its instance store
    # (botocore sagemaker ProcessingClusterConfig.VolumeKmsKeyId; infra/instances.py).
    instance_type = value_at(props, "jobResources", "clusterConfig", "instanceType")
    if not _local_storage(instance_type):
        problems += customer_key(
            value_at(props, "jobResources", "clusterConfig", "volumeKmsKeyId"),
            "job volumes (volumeKmsKeyId)",
        )
    traffic = value_at(props, "networkConfig", "enableInterContainerTrafficEncryption")
    if known(traffic) and traffic is not True:
        problems.append(
            "traffic between the job's instances is not encrypted: set "
            "networkConfig.enableInterContainerTrafficEncryption"
        )
    return problems
