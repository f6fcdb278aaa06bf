"""The project is installed into its virtualenv (`make install`), so its commands work from any
folder: ``python -m model_packaging`` and ``python -m infra``, and their console scripts
``mlserve-release`` and ``mlserve-infra``.

Each command runs with the virtualenv's python, in a scratch folder outside the checkout, with
no PYTHONPATH: only the installation can make the packages importable there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from importlib.metadata import distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

COMMANDS = {
    "mlserve-release": [str(BIN / "mlserve-release")],
    "python -m model_packaging": [sys.executable, "-m", "model_packaging"],
    "mlserve-infra": [str(BIN / "mlserve-infra")],
    "python -m infra": [sys.executable, "-m", "infra"],
}


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    # Editable and of this checkout: its code is what runs, not a copy made at install time.
    # (Building it leaves mlserve.egg-info in the checkout, which has no direct_url.json.)
    origins = [
        json.loads(dist.read_text("direct_url.json") or "{}")
        for dist in distributions(name=PROJECT["name"])
    ]
    if not any(
        o.get("dir_info", {}).get("editable") and o.get("url") == ROOT.as_uri() for o in origins
    ):
        pytest.fail(
            f"{PROJECT['name']} is not installed editable from {ROOT} in {sys.prefix}:"
            " run make install"
        )


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_console_scripts_are_the_documented_ones() -> None:
    assert PROJECT["scripts"] == {
        "mlserve-release": "model_packaging.cli:main",
        "mlserve-infra": "infra.__main__:main",
    }


@pytest.mark.parametrize("name", COMMANDS)
def test_version_from_any_folder(name: str, tmp_path: Path) -> None:
    result = run([*COMMANDS[name], "--version"], tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"mlserve {PROJECT['version']}\n",
        "",
    )


@pytest.mark.parametrize("name", COMMANDS)
def test_help_from_any_folder(name: str, tmp_path: Path) -> None:
    result = run([*COMMANDS[name], "--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


@pytest.mark.parametrize("name", ["mlserve-infra", "python -m infra"])
def test_the_plan_reads_the_checkouts_stack_files_from_any_folder(
    name: str, tmp_path: Path
) -> None:
    result = run([*COMMANDS[name], "plan", "shared", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert '"stack": "shared"' in result.stdout


def test_a_relative_config_file_is_read_from_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text((ROOT / "stacks" / "Pulumi.shared.yaml").read_text())
    result = run(
        [*COMMANDS["mlserve-infra"], "plan", "shared", "--config-file", "mine.yaml"], tmp_path
    )
    assert result.returncode == 0, result.stderr
    missing = run(
        [*COMMANDS["mlserve-infra"], "plan", "shared", "--config-file", "no.yaml"], tmp_path
    )
    assert missing.returncode == 2
    assert (
        missing.stderr.strip()
        .splitlines()[-1]
        .endswith("argument --config-file: no such file, got 'no.yaml'")
    )


@pytest.mark.parametrize("name", ["mlserve-release", "python -m model_packaging"])
def test_the_release_tool_reads_stack_files_from_the_working_directory(
    name: str, tmp_path: Path
) -> None:
    # Its stack files are the working directory's (a clone, or the demo's scratch copy), so
    # outside one it says how to name them.
    result = run([*COMMANDS[name], "status"], tmp_path)
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "argument --stacks: no such folder, got 'stacks'"
            " (run from the repository root, or pass --stacks DIR)"
        )
    )
