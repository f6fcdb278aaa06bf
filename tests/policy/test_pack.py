"""The rules as the Pulumi CLI runs them: pulumi_policy policies over what the engine passes.

The engine's properties reach a policy wrapped in pulumi_policy's proxies, with unknown values
as its sentinels; these tests build the same arguments the analyzer server builds
(``_PolicyAnalyzerServicer.Analyze`` and ``AnalyzeStack``) and call each policy's ``validate``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_ARRAY_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy

from infra.resource_types import BUCKET, BUCKET_VERSIONING, ENDPOINT_CONFIG, LOG_GROUP, TOPIC
from policy import configuration, pack, rules

ROOT = Path(__file__).resolve().parents[2]
POLICIES = {policy.name: policy for policy in pack.policies()}
OPTIONS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def validate_resource(
    name: str, type_: str, props: dict[str, Any], config: Any = None
) -> list[tuple[str, str | None]]:
    policy = POLICIES[name]
    assert isinstance(policy, ResourceValidationPolicy)
    reported: list[tuple[str, str | None]] = []
    args = ResourceValidationArgs(
        type_,
        unknown_checking_proxy(props),
        f"urn:pulumi:prod::mlserve::{type_}::r",
        "r",
        OPTIONS,
        None,
        config,
    )
    policy.validate(args, _recorder(reported))
    return reported


def _recorder(reported: list[tuple[str, str | None]]) -> ReportViolation:
    def report(message: str, urn: str | None = None) -> None:
        reported.append((message, urn))

    return report


def policy_resource(type_: str, name: str, props: dict[str, Any]) -> PolicyResource:
    urn = f"urn:pulumi:prod::mlserve::{type_}::{name}"
    return PolicyResource(
        type_, unknown_checking_proxy(props), urn, name, OPTIONS, None, None, [], {}
    )


def test_one_policy_per_rule_with_its_level_and_config_schema() -> None:
    assert list(POLICIES) == [rule.name for rule in rules.RULES]
    for rule in rules.RULES:
        policy = POLICIES[rule.name]
        kind = StackValidationPolicy if rule.stack_check else ResourceValidationPolicy
        assert isinstance(policy, kind)
        assert policy.enforcement_level == EnforcementLevel(rule.enforcement)
        assert policy.description == rule.description
        schema = policy.config_schema.properties if policy.config_schema else {}
        assert {key: value["default"] for key, value in schema.items()} == rule.defaults()


def test_every_description_names_its_controls() -> None:
    for rule in rules.RULES:
        for control in rule.controls:
            assert control in rule.description, (rule.name, control)


def test_a_resource_policy_reports_through_the_engine_callback() -> None:
    reported = validate_resource("customer-kms-keys", TOPIC, {"kmsMasterKeyId": "alias/aws/sns"})
    assert reported == [
        (
            "topic (kmsMasterKeyId) uses the AWS managed key alias/aws/sns, not a customer "
            "managed key",
            None,
        )
    ]


def test_unknown_values_during_a_preview_are_not_violations() -> None:
    """A new environment key's ARN is not known in a preview; reading it must not fail."""
    assert (
        validate_resource("customer-kms-keys", TOPIC, {"kmsMasterKeyId": UNKNOWN_STRING_VALUE})
        == []
    )
    config = {"productionVariants": UNKNOWN_ARRAY_VALUE, "kmsKeyArn": UNKNOWN_STRING_VALUE}
    assert validate_resource("customer-kms-keys", ENDPOINT_CONFIG, config) == []
    tags = {"tags": {"environment": "prod", "owner": UNKNOWN_STRING_VALUE, "cost-center": "cc"}}
    assert validate_resource("required-tags", BUCKET, tags) == []


def test_the_engine_config_reaches_the_rule() -> None:
    props = {"retentionInDays": 30.0}
    assert (
        validate_resource(
            "log-group-retention-minimum", LOG_GROUP, props, {"minimumRetentionDays": 7.0}
        )
        == []
    )
    assert validate_resource("log-group-retention-minimum", LOG_GROUP, props) == [
        ("log group keeps events 30 days, fewer than minimumRetentionDays 365", None)
    ]
    with pytest.raises(
        configuration.PolicyConfigError, match=r"log-group-retention-minimum\.minimumRetentionDays"
    ):
        validate_resource(
            "log-group-retention-minimum", LOG_GROUP, props, {"minimumRetentionDays": "a"}
        )


def test_a_stack_policy_sees_dependencies_and_reports_each_urn() -> None:
    bucket = policy_resource(BUCKET, "data", {"tags": {}})
    versioning = policy_resource(
        BUCKET_VERSIONING,
        "data-versioning",
        {"bucket": UNKNOWN_STRING_VALUE, "versioningConfiguration": {"status": "Suspended"}},
    )
    versioning.dependencies.append(bucket)
    reported: list[tuple[str, str | None]] = []
    args = StackValidationArgs([bucket, versioning], None)
    policy = POLICIES["s3-buckets"]
    assert isinstance(policy, StackValidationPolicy)
    policy.validate(args, _recorder(reported))
    assert ("bucket versioning is not Enabled (BucketVersioning)", bucket.urn) in reported
    assert all(urn == bucket.urn for _, urn in reported)


def test_only_the_entry_point_constructs_the_policy_pack() -> None:
    """Constructing PolicyPack starts the analyzer server and never returns."""
    constructing = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "policy").rglob("*.py")
        if "PolicyPack(" in path.read_text()
    )
    assert constructing == ["policy/__main__.py"]


def test_pulumi_policy_yaml_runs_the_project_virtualenv() -> None:
    import yaml

    project = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    # The analyzer script resolves the path from the pack's folder.
    venv = (ROOT / "policy" / project["runtime"]["options"]["virtualenv"]).resolve()
    assert venv == (ROOT / "venv").resolve()
    assert json.loads((ROOT / "policy" / "config" / "prod.json").read_text())


@pytest.fixture(scope="module")
def analyzer() -> Iterator[Any]:
    """The pack started as the CLI starts it: ``python -m pulumi.policy <engine> .`` in policy/,
    with the interpreter PulumiPolicy.yaml names; it prints the port of its gRPC server."""
    import grpc
    from pulumi.runtime.proto import analyzer_pb2_grpc

    python = ROOT / "venv" / "bin" / "python"
    process = subprocess.Popen(
        [str(python), "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."],
        cwd=ROOT / "policy",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        if not port:
            process.kill()
            pytest.fail(f"the policy pack did not start: {process.communicate()[1]}")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.kill()
        process.wait()


def analyze(analyzer: Any, type_: str, props: dict[str, Any]) -> list[tuple[str, str]]:
    from google.protobuf import struct_pb2
    from pulumi.runtime.proto import analyzer_pb2

    properties = struct_pb2.Struct()
    properties.update(props)
    request = analyzer_pb2.AnalyzeRequest(
        type=type_, properties=properties, urn=f"urn:pulumi:prod::mlserve::{type_}::r", name="r"
    )
    response = analyzer.Analyze(request)
    return [(d.policyName, d.message.splitlines()[-1]) for d in response.diagnostics]


def test_the_started_pack_serves_every_rule(analyzer: Any) -> None:
    from google.protobuf import empty_pb2

    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == pack.PACK_NAME
    assert sorted(p.name for p in info.policies) == sorted(r.name for r in rules.RULES)


def test_the_started_pack_reports_violations_and_passes_unknowns(analyzer: Any) -> None:
    tags = {"environment": "prod", "owner": "ml-platform", "cost-center": "cc-4200"}
    managed = {"kmsMasterKeyId": "alias/aws/sns", "tags": tags}
    assert analyze(analyzer, TOPIC, managed) == [
        (
            "customer-kms-keys",
            "topic (kmsMasterKeyId) uses the AWS managed key alias/aws/sns, not a customer "
            "managed key",
        )
    ]
    unknown = {"kmsMasterKeyId": UNKNOWN_STRING_VALUE, "tags": tags}
    assert analyze(analyzer, TOPIC, unknown) == []


def test_the_scanners_intents_are_all_covered() -> None:
    """The checkov checks, Security Hub controls and AWS Config rule the pack stands in for."""
    covered = {control for rule in rules.RULES for control in rule.controls}
    checkov = {f"CKV_AWS_{n}" for n in (98, 370, 145, 379, 21, 18, 300, 7, 33, 158, 338, 319, 26)}
    checkov |= {"CKV_AWS_367", "CKV_AWS_368", "CKV_AWS_369"}
    others = {"SageMaker.4", "SageMaker.5", "SNS.1", "sagemaker-model-in-vpc"}
    assert checkov | others <= covered
    assert rules.RULES_BY_NAME["sagemaker-model-in-vpc"].enforcement == "advisory"
