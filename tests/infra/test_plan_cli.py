"""``python -m infra plan``: exit statuses, problem reports, and both output formats."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import yaml
from plan_checks import THREE_PROBLEMS, three_problems

from infra.plan import ROOT


def plan_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra", "plan", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def prod_json() -> list[dict]:
    result = plan_cli("prod", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_bad_config_file_exits_2_with_every_problem(stack_configs, tmp_path):
    config = copy.deepcopy(stack_configs["prod"])
    three_problems(config)
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump({"config": config}))

    result = plan_cli("prod", "--config-file", str(path))

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: {path} has 3 problem(s):",
        *(f"  {problem}" for problem in THREE_PROBLEMS),
    ]


def test_missing_stack_file_exits_2(tmp_path):
    path = tmp_path / "nowhere.yaml"
    result = plan_cli("prod", "--config-file", str(path))
    assert (result.returncode, result.stderr) == (2, f"error: {path}: no such stack file\n")


def test_json_lists_every_resource_the_program_registers(plans, prod_json):
    assert prod_json and all(
        set(entry) == {"type", "name", "parent", "inputs"} for entry in prod_json
    )
    listed = {(e["type"], e["name"], e["parent"]) for e in prod_json}
    planned = {(r.type, r.name, r.parent): r.urn for r in plans["prod"].resources}
    assert len(listed) == len(prod_json), "the JSON lists a resource twice"
    missing = [urn for key, urn in planned.items() if key not in listed]
    assert not missing, f"not in the JSON: {missing}"
    assert listed <= set(planned), f"not in the plan: {sorted(listed - set(planned))}"


def test_table_lists_every_resource_by_name(plans):
    result = plan_cli("prod")
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("\nOutputs:")[0].splitlines()[2:]
    names = {line.split()[1] for line in table}
    missing = [r.urn for r in plans["prod"].resources if r.name not in names]
    assert not missing, f"not in the table: {missing}"
    assert result.stdout.startswith(f"Stack prod: {len(plans['prod'].resources)} resources")
