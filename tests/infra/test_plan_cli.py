"""``python -m infra plan``: exit statuses, problem reports, and both output formats; every
``python -m infra`` command the Makefile and CI run parses."""

from __future__ import annotations

import copy
import json
import re
import shlex
import subprocess
import sys
from typing import Any, cast

import pytest
import yaml

from infra.__main__ import build_parser
from infra.review.plan import ROOT
from tests.infra.plan_checks import THREE_PROBLEMS, three_problems


def plan_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra", "plan", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def prod_json() -> list[dict[str, Any]]:
    result = plan_cli("prod", "--json")
    assert result.returncode == 0, result.stderr
    return cast(list[dict[str, Any]], json.loads(result.stdout)["resources"])


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


def test_missing_stack_file_exits_2():
    # A missing --config-file is a usage error (tests/infra/test_cli_args.py).
    path = ROOT / "stacks" / "Pulumi.nowhere.yaml"
    result = plan_cli("nowhere")
    assert (result.returncode, result.stderr) == (2, f"error: {path}: no such stack file\n")


def test_json_lists_every_resource_the_program_registers(plans, prod_json):
    assert prod_json and all(
        set(entry) == {"type", "name", "parent", "urn", "inputs", "options"} for entry in prod_json
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
    # Rows start at the left margin; a row's further key inputs are indented beneath it.
    table = result.stdout.split("\nOutputs:")[0].splitlines()[2:]
    names = {line.split()[1] for line in table if not line[:1].isspace()}
    missing = [r.urn for r in plans["prod"].resources if r.name not in names]
    assert not missing, f"not in the table: {missing}"
    assert result.stdout.startswith(f"Stack prod: {len(plans['prod'].resources)} resources")


# Where CI and the Makefile run ``python -m infra``; a file that does not exist is skipped.
COMMAND_SOURCES = ("Makefile", ".ci", ".github/workflows")


def infra_commands() -> list[tuple[str, list[str]]]:
    """Each ``python -m infra ...`` command line in COMMAND_SOURCES, as arguments.

    The command ends where the shell line does, at a redirection or pipe; shell, make and
    workflow expressions (``$base``, ``"${stacks[@]}"``, ``$(cat f)``, ``${{ x }}``) stand for
    a stack name or a revision and become ``prod``.
    """
    found = []
    for source in COMMAND_SOURCES:
        path = ROOT / source
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if not file.is_file():
                continue
            for line in file.read_text().splitlines():
                for match in COMMAND.finditer(line):
                    words = EXPRESSION.sub("prod", match[1])
                    where = f"{file.relative_to(ROOT)}: {match[0].strip()}"
                    found.append((where, shlex.split(words)))
    return found


COMMAND = re.compile(r"-m infra(?![\w.])([^;&|<>\n]*)")
EXPRESSION = re.compile(r"\$\{\{.*?\}\}|\$\$?\{[^}]*\}|\$\$?\([^)]*\)|\$\$?\w+")


def test_every_command_ci_runs_parses():
    commands = infra_commands()
    assert any(args[:1] == ["plan"] for _, args in commands), "make plan's command is not found"
    parser = build_parser()
    for where, args in commands:
        try:
            parser.parse_args(args)
        except SystemExit:
            pytest.fail(f"{where}: python -m infra {shlex.join(args)} does not parse")


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "prod"],
        ["plan", "prod", "--json", "--config-file", str(ROOT / "stacks" / "Pulumi.prod.yaml")],
        ["plan-diff", "prod", "--base", "main"],
        ["plan-diff", "dev", "prod", "--base", "HEAD~1", "--format", "markdown"],
    ],
)
def test_documented_commands_parse(args):
    build_parser().parse_args(args)


def test_plan_diff_needs_a_base(capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["plan-diff", "prod"])
    assert exit_.value.code == 2
    assert "--base" in capsys.readouterr().err
