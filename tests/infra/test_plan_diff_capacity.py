"""``plan`` and ``plan-diff`` with capacity, prices and quotas, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from demo.workspace import Workspace
from infra import __main__ as cli
from infra.capacity import quotas
from infra.capacity.change import CapacityChange
from infra.capacity.cost import HOURS_PER_MONTH
from infra.capacity.fleet import stack_capacity
from infra.review import plan_diff
from infra.review.diff_model import StackDiff
from infra.review.plan import ROOT
from infra.settings import EnvironmentSettings, load_stack_file
from tests.infra.test_plan_diff import edit_stack

C5 = 0.204
PRICES = {
    "currency": "USD",
    "source": "test prices",
    "fetched": "2026-11-30",
    "regions": {"us-east-1": {"ml.m5.xlarge": 0.23, "ml.c5.xlarge": C5}},
}


@pytest.fixture
def price_file(tmp_path: Path) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(PRICES))
    return path


def run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_min_instances_change_in_prod_costs_its_hours(tmp_path, price_file):
    repo = Workspace.copy_of(ROOT, tmp_path / "project")
    # fraud alone on its type: the champion without the shadow, which shares its size.
    edit_stack(repo.root, "prod", lambda c: c["mlserve:models"]["fraud"].pop("shadow"))
    repo.git("commit", "--quiet", "-am", "fraud without a shadow")

    def bigger(config: dict[str, Any]) -> None:
        config["mlserve:models"]["fraud"]["scaling"]["min_instances"] = 3

    edit_stack(repo.root, "prod", bigger)
    result = run(
        repo.root,
        "plan-diff",
        "prod",
        "--base",
        "HEAD",
        "--prices",
        str(price_file),
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    [stack] = json.loads(result.stdout)["stacks"]
    expected = round((3 - 2) * HOURS_PER_MONTH * C5, 2)
    assert stack["cost"]["monthly_delta"]["total"]["floor"] == expected
    assert stack["cost"]["monthly_delta"]["models"]["fraud"]["floor"] == expected
    assert stack["cost"]["monthly_delta"]["models"]["churn"]["floor"] == 0
    c5 = stack["capacity"]["types"]["ml.c5.xlarge"]
    assert (c5["before"]["floor"], c5["after"]["floor"]) == (2, 3)
    assert stack["capacity"]["updatedModels"] == ["fraud"]
    # Old fleet at the ceiling, 8, beside the new one at 3.
    assert c5["peakDuringUpdate"] == 8 + 3

    # The markdown comment renders the same change: tests/infra/test_capacity.py.


def test_plan_prints_capacity_and_cost_with_the_environment_variable(
    price_file, monkeypatch, capsys
):
    monkeypatch.setenv("MLSERVE_PRICES", str(price_file))
    assert cli.main(["plan", "prod", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["capacity"]["types"]["ml.c5.xlarge"]["updatePeak"] == 14
    assert document["cost"]["total"]["floor"] == round((4 * 0.23 + 4 * C5) * HOURS_PER_MONTH, 2)


@pytest.mark.parametrize(
    ("content", "problem"),
    [("{", "not JSON"), (json.dumps({**PRICES, "regions": None}), "regions")],
)
def test_a_bad_price_file_is_one_line_and_exit_2(tmp_path, capsys, content, problem):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert cli.main(["plan", "dev", "--prices", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err


def over_quota() -> list[StackDiff]:
    check = quotas.QuotaCheck(
        "ml.c5.xlarge", 11, quotas.Quota("ml.c5.xlarge for endpoint usage", "L-C5", 4, True, True)
    )
    capacity = CapacityChange(None, None, frozenset(), quotas=[check])
    return [StackDiff("prod", "main", [], [], 0, capacity=capacity)]


def test_a_peak_over_the_quota_exits_3(monkeypatch, capsys):
    monkeypatch.setattr(plan_diff, "plan_diff", lambda *a, **k: over_quota())
    monkeypatch.setattr(plan_diff, "RENDERERS", {"text": lambda diffs: "rendered"})
    assert cli.main(["plan-diff", "prod", "--base", "HEAD", "--quotas"]) == cli.CANNOT_SUCCEED


def test_quotas_are_asked_in_the_stacks_region_and_reported(monkeypatch):
    asked: list[str] = []

    class Client:
        def list_service_quotas(self, **request: Any) -> dict[str, Any]:
            assert request["ServiceCode"] == "sagemaker"
            return {
                "Quotas": [
                    {
                        "QuotaName": "ml.m5.large for endpoint usage",
                        "QuotaCode": "L-M5L",
                        "Value": 10.0,
                        "Adjustable": True,
                    },
                    {
                        "QuotaName": "ml.c5.large for endpoint usage",
                        "QuotaCode": "L-C5L",
                        "Value": 1.0,
                        "Adjustable": True,
                    },
                ]
            }

    def factory(region: str) -> Client:
        asked.append(region)
        return Client()

    [diff] = plan_diff.plan_diff(["staging"], "HEAD", None, factory)
    assert asked == ["us-east-1"]
    assert diff.capacity is not None and diff.capacity.quotas is not None
    by_type = {c.instance_type: c for c in diff.capacity.quotas}
    # No change: nothing is updated, so each type's need is its ceiling.
    assert by_type["ml.m5.large"].ok and by_type["ml.m5.large"].need == 3
    assert not by_type["ml.c5.large"].ok and by_type["ml.c5.large"].need == 2
    assert [c.instance_type for c in diff.capacity.over_quota] == ["ml.c5.large"]


def test_a_refused_quota_call_stops_the_diff_with_one_line():
    class Refusing:
        def list_service_quotas(self, **request: Any) -> dict[str, Any]:
            from botocore.exceptions import ClientError

            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "ListServiceQuotas"
            )

    staging = load_stack_file(ROOT / "stacks" / "Pulumi.staging.yaml")
    assert isinstance(staging, EnvironmentSettings)
    capacity = CapacityChange(None, stack_capacity("staging", staging), frozenset())
    with pytest.raises(plan_diff.PlanDiffError) as raised:
        plan_diff._with_quotas(capacity, Refusing())
    assert raised.value.status == 1
    assert "servicequotas:ListServiceQuotas" in str(raised.value)
