"""Every argument of ``python -m infra`` is checked before any plan is evaluated.

A bad value is a usage error: exit status 2, and the last line of stderr names the argument and
what is wrong with the value.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import infra.review.plan
import infra.review.plan_diff
from infra import __version__
from infra.__main__ import build_parser, main
from infra.review.plan import STACKS_DIR


@pytest.fixture(autouse=True)
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a plan was evaluated")

    monkeypatch.setattr(infra.review.plan, "evaluate_file", refuse)
    monkeypatch.setattr(infra.review.plan_diff, "plan_diff", refuse)


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2, err
    assert err.startswith("usage: python -m infra"), err
    return err.strip().splitlines()[-1]


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"mlserve {__version__}\n"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "must not be empty"),
        ("pr od", "must not contain spaces"),
        ("../prod", "must be a stack name such as dev, not a path"),
        ("..", "must be a stack name such as dev, not a path"),
    ],
)
@pytest.mark.parametrize("command", [["plan"], ["plan-diff", "dev"]], ids=lambda c: c[0])
def test_stack_names(
    command: list[str], name: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # (Not "stack": tests/infra/conftest.py gives that argument every stack file.)
    argv = [*command, name] + (["--base", "main"] if command[0] == "plan-diff" else [])
    assert usage_error(argv, capsys).endswith(f"argument STACK: {problem}, got {name!r}")


def test_config_file_must_be_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "Pulumi.prod.yaml")
    line = usage_error(["plan", "prod", "--config-file", missing], capsys)
    assert line.endswith(f"argument --config-file: no such file, got {missing!r}")
    line = usage_error(["plan", "prod", "--config-file", str(tmp_path)], capsys)
    assert line.endswith(f"argument --config-file: is a folder, not a file, got {str(tmp_path)!r}")
    line = usage_error(["plan", "prod", "--config-file", " "], capsys)
    assert line.endswith("argument --config-file: must not be empty or blank, got ' '")


@pytest.mark.parametrize(
    ("base", "problem"),
    [
        ("", "must not be empty"),
        ("main branch", "must not contain spaces"),
        ("--output=/tmp/x", "must be a git revision such as main, not an option"),
    ],
)
def test_plan_diff_base_is_a_revision(
    base: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = usage_error(["plan-diff", "prod", f"--base={base}"], capsys)
    assert line.endswith(f"argument --base: {problem}, got {base!r}")


def test_good_values_parse() -> None:
    parser = build_parser()
    args = parser.parse_args(["plan", "prod", "--config-file", str(STACKS_DIR / "Pulumi.dev.yaml")])
    assert (args.stack, args.config_file) == ("prod", str(STACKS_DIR / "Pulumi.dev.yaml"))
    args = parser.parse_args(["plan-diff", "dev", "prod", "--base", "HEAD~1"])
    assert (args.stacks, args.base) == (["dev", "prod"], "HEAD~1")
