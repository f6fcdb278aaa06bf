"""The rules as the Pulumi CLI runs them: pulumi_policy policies over what the engine passes.

The engine's properties reach a policy wrapped in pulumi_policy's proxies, with unknown values
as its sentinels; these tests build the same arguments the analyzer server builds
(``_PolicyAnalyzerServicer.Analyze`` and ``AnalyzeStack``) and call each policy's ``validate``.
"""

from __future__ import annotations

import json
import select
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


# Seconds the started pack has to print its port, and each call to answer.
TIMEOUT = 60


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The pack started as the CLI starts it: ``python -m pulumi.policy <engine> .`` in policy/,
    with the interpreter PulumiPolicy.yaml names; it prints the port of its gRPC server."""
    import grpc
    from pulumi.runtime.proto import analyzer_pb2_grpc

    python = ROOT / "venv" / "bin" / "python"
    # A file, not a pipe: a pack that logs much cannot block on a full pipe nobody reads.
    stderr_path = tmp_path_factory.mktemp("pack") / "stderr"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [str(python), "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."],
            cwd=ROOT / "policy",
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], TIMEOUT)
        port = process.stdout.readline().strip() if ready else ""
        if not port:
            pytest.fail(f"the policy pack did not start: {stderr_path.read_text()}")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=TIMEOUT)
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.kill()
        process.wait(timeout=TIMEOUT)


def analyze_diagnostics(analyzer: Any, type_: str, props: dict[str, Any]) -> list[Any]:
    from google.protobuf import struct_pb2
    from pulumi.runtime.proto import analyzer_pb2

    properties = struct_pb2.Struct()
    properties.update(props)
    request = analyzer_pb2.AnalyzeRequest(
        type=type_, properties=properties, urn=f"urn:pulumi:prod::mlserve::{type_}::r", name="r"
    )
    return list(analyzer.Analyze(request, timeout=TIMEOUT).diagnostics)


def analyze(analyzer: Any, type_: str, props: dict[str, Any]) -> list[tuple[str, str]]:
    diagnostics = analyze_diagnostics(analyzer, type_, props)
    return [(d.policyName, d.message.splitlines()[-1]) for d in diagnostics]


def test_the_started_pack_serves_every_rule(analyzer: Any) -> None:
    from google.protobuf import empty_pb2

    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=TIMEOUT)
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


def cli_configure_request(analyzer: Any, document: dict[str, Any]) -> Any:
    """The ``Configure`` request the CLI sends for a policy config file holding ``document``.

    As pulumi/pulumi builds it (pkg/resource/analyzer/config.go: ``parsePolicyPackConfig``,
    ``ReconcilePolicyPackConfig``, ``applyConfig``): every policy of ``GetAnalyzerInfo`` with its
    level and its schema's defaults; then an ``all`` level over every policy; then each key of
    the file, known policy or not, its level over the one before and its properties merged.
    """
    from google.protobuf import empty_pb2, json_format
    from pulumi.runtime.proto import analyzer_pb2

    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=TIMEOUT)
    config: dict[str, tuple[int, dict[str, Any]]] = {}
    for policy in info.policies:
        schema = json_format.MessageToDict(policy.configSchema.properties)
        defaults = {key: value["default"] for key, value in schema.items() if "default" in value}
        config[policy.name] = (policy.enforcementLevel, defaults)
    given = {
        name: {"enforcementLevel": entry} if isinstance(entry, str) else dict(entry)
        for name, entry in document.items()
    }
    levels: dict[str, int] = {
        name: analyzer_pb2.EnforcementLevel.Value(entry.pop("enforcementLevel").upper())
        for name, entry in given.items()
        if "enforcementLevel" in entry
    }
    if "all" in levels:
        config = {name: (levels["all"], props) for name, (_, props) in config.items()}
    for name, entry in given.items():
        level, props = config.get(name, (levels.get(name, 0), {}))
        config[name] = (levels.get(name, level), {**props, **entry})
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, (level, props) in config.items():
        request.policyConfig[name].enforcementLevel = level
        request.policyConfig[name].properties.update(props)
    return request


@pytest.fixture
def configured(analyzer: Any) -> Iterator[Any]:
    """The started pack; its config is the CLI's for no config file again afterwards."""
    yield analyzer
    analyzer.Configure(cli_configure_request(analyzer, {}), timeout=TIMEOUT)


def configure(analyzer: Any, document: dict[str, Any]) -> None:
    analyzer.Configure(cli_configure_request(analyzer, document), timeout=TIMEOUT)


# A topic on the AWS managed key and without tags: customer-kms-keys and required-tags, both
# mandatory.
VIOLATING_TOPIC = {"kmsMasterKeyId": "alias/aws/sns"}
# A log group kept fewer days than log-group-retention-minimum's default (advisory).
SHORT_LOG_GROUP = {
    "retentionInDays": 30,
    "kmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "tags": {"environment": "prod", "owner": "ml-platform", "cost-center": "cc-4200"},
}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"required-tags": "disabled"},
            "required-tags.enforcementLevel: the rule is mandatory; a stack's policy config may "
            "relax advisory rules only",
        ),
        (
            {"required-tags": {"enforcementLevel": "advisory", "requiredTags": ["owner"]}},
            "required-tags.enforcementLevel: the rule is mandatory",
        ),
        (
            {"all": "advisory"},
            "all: one level for every rule is not accepted; name each advisory rule",
        ),
        ({"no-such-rule": "advisory"}, "no-such-rule: no such rule"),
        (
            {"log-group-retention-minimum": {"minimumRetentionDays": 0}},
            "log-group-retention-minimum.minimumRetentionDays: must be at least 1, not 0",
        ),
    ],
)
def test_the_started_pack_refuses_a_bad_config_by_key_path(
    configured: Any, document: dict[str, Any], message: str
) -> None:
    """A mandatory rule lowered, ``all``, an unknown rule or a bad setting: ``Configure`` fails,
    and the CLI stops the preview with the message the pack gives."""
    import grpc

    with pytest.raises(grpc.RpcError) as refused:
        configure(configured, document)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details().startswith(f"{pack.ENGINE_CONFIG}: {message}")
    assert "\n" not in refused.value.details()
    # Nothing of the refused config was applied.
    assert {name for name, _ in analyze(configured, TOPIC, VIOLATING_TOPIC)} == {
        "customer-kms-keys",
        "required-tags",
    }


def test_the_started_pack_accepts_a_config_relaxing_an_advisory_rule(configured: Any) -> None:
    assert [name for name, _ in analyze(configured, LOG_GROUP, SHORT_LOG_GROUP)] == [
        "log-group-retention-minimum"
    ]
    configure(configured, {"log-group-retention-minimum": "disabled"})
    assert analyze(configured, LOG_GROUP, SHORT_LOG_GROUP) == []
    configure(configured, {"log-group-retention-minimum": {"minimumRetentionDays": 7}})
    assert analyze(configured, LOG_GROUP, SHORT_LOG_GROUP) == []


@pytest.mark.parametrize("stack", ["shared", "dev", "staging", "prod"])
def test_each_stack_config_leaves_the_mandatory_rules_mandatory(
    configured: Any, stack: str
) -> None:
    from pulumi.runtime.proto import analyzer_pb2

    document = json.loads((ROOT / "policy" / "config" / f"{stack}.json").read_text())
    configure(configured, document)
    reported = {
        d.policyName: d.enforcementLevel
        for d in analyze_diagnostics(configured, TOPIC, VIOLATING_TOPIC)
    }
    assert reported == {
        "customer-kms-keys": analyzer_pb2.MANDATORY,
        "required-tags": analyzer_pb2.MANDATORY,
    }


def test_the_config_check_is_installed_or_the_pack_does_not_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pulumi_policy.policy

    servicer = pulumi_policy.policy._PolicyAnalyzerServicer
    monkeypatch.setattr(pulumi_policy.policy, "_PolicyAnalyzerServicer", servicer)
    pack.check_config_on_configure()
    assert pulumi_policy.policy._PolicyAnalyzerServicer is pack.ConfigCheckingServicer

    class BuiltOtherwise:
        def __init__(self) -> None:
            self.servicer = object()

    monkeypatch.setattr(pack, "PolicyPack", BuiltOtherwise)
    with pytest.raises(RuntimeError, match="the policy config check cannot be installed"):
        pack.check_config_on_configure()


def test_the_scanners_intents_are_all_covered() -> None:
    """The checkov checks, Security Hub controls and AWS Config rule the pack stands in for."""
    covered = {control for rule in rules.RULES for control in rule.controls}
    checkov = {f"CKV_AWS_{n}" for n in (98, 370, 145, 379, 21, 18, 300, 7, 33, 158, 338, 319, 26)}
    checkov |= {"CKV_AWS_367", "CKV_AWS_368", "CKV_AWS_369"}
    others = {"SageMaker.4", "SageMaker.5", "SNS.1", "sagemaker-model-in-vpc"}
    assert checkov | others <= covered
    assert rules.RULES_BY_NAME["sagemaker-model-in-vpc"].enforcement == "advisory"
