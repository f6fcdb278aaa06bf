"""``status --check-quotas ENV``: the update peak of each instance type against the account's
Service Quotas, with the environment's own credentials; Stubber answers in the service's shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from infra.capacity import quotas
from infra.review.plan import ROOT
from model_packaging import cli
from model_packaging.release import live

STACKS = str(ROOT / "stacks")


def quota(instance_type: str, value: float, code: str) -> dict[str, Any]:
    return {
        "ServiceCode": "sagemaker",
        "QuotaCode": code,
        "QuotaName": quotas.quota_name(instance_type),
        "Value": value,
        "Adjustable": True,
    }


@pytest.fixture
def service_quotas(monkeypatch) -> Iterator[tuple[Stubber, list[tuple[str, ...]]]]:
    client = boto3.client(
        "service-quotas",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    asked: list[tuple[str, ...]] = []

    def environment_client(environment: str, region: str, service: str = "sagemaker") -> Any:
        asked.append((environment, region, service))
        return client

    monkeypatch.setattr(live, "environment_client", environment_client)
    stub = Stubber(client)
    stub.activate()
    yield stub, asked
    stub.deactivate()


def answer(
    stub: Stubber, applied: list[dict[str, Any]], defaults: list[dict[str, Any]] | None
) -> None:
    stub.add_response("list_service_quotas", {"Quotas": applied})
    if defaults is not None:
        stub.add_response("list_aws_default_service_quotas", {"Quotas": defaults})


def test_quotas_that_hold_the_peak_pass(service_quotas, capsys):
    stub, asked = service_quotas
    # prod's peaks: 16 ml.m5.xlarge, 14 ml.c5.xlarge (every endpoint updated at once).
    answer(stub, [quota("ml.m5.xlarge", 20, "L-M5"), quota("ml.c5.xlarge", 14, "L-C5")], None)
    assert cli.main(["status", "--check-quotas", "prod", "--stacks", STACKS]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "ok ml.c5.xlarge: needs 14, quota 'ml.c5.xlarge for endpoint usage' (L-C5) is 14 (applied)",
        "ok ml.m5.xlarge: needs 16, quota 'ml.m5.xlarge for endpoint usage' (L-M5) is 20 (applied)",
    ]
    assert asked == [("prod", "us-east-1", "service-quotas")]


def test_a_peak_over_a_default_quota_fails_and_says_how_to_ask_for_more(service_quotas, capsys):
    stub, _ = service_quotas
    answer(stub, [quota("ml.m5.xlarge", 20, "L-M5")], [quota("ml.c5.xlarge", 2, "L-C5")])
    assert cli.main(["status", "--check-quotas", "prod", "--stacks", STACKS]) == 1
    fail = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("FAIL"))
    assert fail.startswith(
        "FAIL ml.c5.xlarge: needs 14, quota 'ml.c5.xlarge for endpoint usage' (L-C5) is 2 (default)"
    )
    assert "--quota-code L-C5 --desired-value 14 --region us-east-1" in fail


def test_serverless_models_are_said_and_json_carries_the_checks(service_quotas, capsys):
    stub, _ = service_quotas
    answer(stub, [quota("ml.t2.medium", 2, "L-T2")], None)
    assert cli.main(["status", "--check-quotas", "dev", "--stacks", STACKS, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True
    assert [(c["instanceType"], c["need"], c["value"]) for c in document["checks"]] == [
        ("ml.t2.medium", 2, 2.0)
    ]
    assert document["serverless"] == ["fraud"]


def test_a_refusal_is_one_line_and_exit_1(service_quotas, capsys):
    stub, _ = service_quotas
    stub.add_client_error("list_service_quotas", "AccessDeniedException", "no", 400)
    assert cli.main(["status", "--check-quotas", "prod", "--stacks", STACKS]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "servicequotas:ListServiceQuotas" in err


def test_a_stack_file_that_cannot_be_used_is_exit_2(tmp_path: Path, capsys):
    (tmp_path / "Pulumi.prod.yaml").write_text("config:\n  aws:region: [\n")
    assert cli.main(["status", "--check-quotas", "prod", "--stacks", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: ")
