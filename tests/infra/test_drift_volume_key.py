"""The drift job's volume key: set for EBS volumes, left out on instance types with local storage.

SageMaker refuses a ``VolumeKmsKeyId`` for a processing instance type with local (instance
store) storage, which a hardware module on the instance encrypts (botocore sagemaker
``ProcessingClusterConfig.VolumeKmsKeyId``). The data-quality job definition therefore names the
environment key only for types whose volumes are EBS volumes, and the monitoring role may create
a grant on the key only when the job's volumes use it.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from infra import instances
from infra.resource_types import DATA_QUALITY_JOB, DRIFT_MONITOR, ROLE_POLICY
from infra.review.plan import Plan, PlannedResource, evaluate
from infra.settings import EnvironmentSettings, load_settings
from infra.settings.rules import processing_instance_types
from tests.infra.plan_checks import children_of, config_of, only, statements


def _drift_child(plan: Plan, model: str, type_: str) -> PlannedResource:
    found = children_of(plan, f"{model}-drift", type_, DRIFT_MONITOR)
    return only(found, f"{type_} of {model}'s drift monitor")


def _cluster(plan: Plan, model: str) -> dict[str, Any]:
    job = _drift_child(plan, model, DATA_QUALITY_JOB)
    return dict(job.inputs["jobResources"]["clusterConfig"])


def _sids(plan: Plan, model: str) -> list[str]:
    policy = _drift_child(plan, model, ROLE_POLICY)
    return [st["Sid"] for st in statements(json.loads(policy.inputs["policy"]))]


def _environment_key(plan: Plan, model: str) -> str:
    return str(config_of(plan, model).inputs["dataCaptureConfig"]["kmsKeyId"])


def _plan_with_drift_instance(stack_configs: Any, instance_type: str) -> Plan:
    config = copy.deepcopy(stack_configs["prod"])
    config["mlserve:models"]["churn"]["drift"]["engine"] = "model-monitor"
    config["mlserve:models"]["churn"]["drift"]["instance_type"] = instance_type
    return evaluate(config, "prod")


@pytest.mark.parametrize("instance_type", ["ml.g4dn.xlarge", "ml.r5d.large", "ml.g5.xlarge"])
def test_a_local_storage_type_gets_no_volume_key(stack_configs, instance_type):
    plan = _plan_with_drift_instance(stack_configs, instance_type)
    cluster = _cluster(plan, "churn")
    assert cluster["instanceType"] == instance_type
    assert "volumeKmsKeyId" not in cluster, cluster
    # Nothing else loses its key: the reports are still encrypted with the environment key.
    job = _drift_child(plan, "churn", DATA_QUALITY_JOB)
    assert job.inputs["dataQualityJobOutputConfig"]["kmsKeyId"] == _environment_key(plan, "churn")
    # ... and the role has no grant on a key its volumes do not use.
    assert "EncryptAnalysisVolumes" not in _sids(plan, "churn")
    assert "EnvironmentKey" in _sids(plan, "churn")


def test_an_ebs_type_keeps_the_environment_key(monitor_plans, monitor_settings):
    plan = monitor_plans["prod"]
    assert monitor_settings["prod"].models["churn"].drift.instance_type == "ml.m5.xlarge"
    cluster = _cluster(plan, "churn")
    assert cluster["volumeKmsKeyId"] == _environment_key(plan, "churn")
    assert "EncryptAnalysisVolumes" in _sids(plan, "churn")


def test_a_local_storage_type_is_a_valid_drift_setting(stack_configs):
    config = copy.deepcopy(stack_configs["prod"])
    config["mlserve:models"]["churn"]["drift"]["engine"] = "model-monitor"
    config["mlserve:models"]["churn"]["drift"]["instance_type"] = "ml.g4dn.xlarge"
    settings = load_settings(config, "prod")
    assert isinstance(settings, EnvironmentSettings)
    assert settings.models["churn"].drift.instance_type == "ml.g4dn.xlarge"


# --- which instance types have local storage ---------------------------------------------------


@pytest.mark.parametrize(
    ("instance_type", "local"),
    [
        ("ml.g4dn.xlarge", True),
        ("ml.r5d.24xlarge", True),
        ("ml.m5d.large", True),
        ("ml.p3dn.24xlarge", True),
        ("ml.p4d.24xlarge", True),
        ("ml.g5.2xlarge", True),
        ("ml.g6.xlarge", True),
        ("ml.g6e.48xlarge", True),
        ("ml.p5.4xlarge", True),
        ("ml.m5.xlarge", False),
        ("ml.c5.large", False),
        ("ml.r5.large", False),
        ("ml.p3.2xlarge", False),
        ("ml.t3.medium", False),
        ("ml.m7i-flex.large", False),
        ("ml.c8i-flex.xlarge", False),
    ],
)
def test_local_storage_by_instance_type(instance_type, local):
    assert instances.has_local_storage(instance_type) is local


def test_the_processing_types_with_local_storage():
    # Every family of botocore's ProcessingInstanceType with an instance store. A family added
    # to botocore's list is classified by its name (the EC2 "d" option) or as EBS-only: check
    # it against EC2's instance store table when this fails.
    local = {t.split(".")[1] for t in processing_instance_types() if instances.has_local_storage(t)}
    assert local == {"g4dn", "g5", "g6", "g6e", "g7e", "p5", "r5d"}


def test_a_name_that_is_not_an_instance_type_is_refused():
    with pytest.raises(ValueError, match=r"'g4dn.xlarge': not an ml.<family>.<size> instance"):
        instances.has_local_storage("g4dn.xlarge")


def test_the_policy_pack_accepts_a_job_on_local_storage(stack_configs):
    """The pack's mandatory encryption rule asks for a volume key only where SageMaker takes
    one, so a stack with a local-storage drift type still passes it."""
    from policy.model import Resource
    from policy.rules import RULES_BY_NAME
    from tests.policy.conftest import stack_policy_config

    plan = _plan_with_drift_instance(stack_configs, "ml.g4dn.xlarge")
    resources = [Resource(r.type, r.inputs, r.urn, r.dependencies) for r in plan.resources]
    rule = RULES_BY_NAME["data-quality-job-encryption"]
    violations = rule.run(resources, stack_policy_config("prod")[rule.name].settings)
    assert [v.message for v in violations] == []
