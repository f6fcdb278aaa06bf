"""``python -m infra.touched``: which stacks a change touches, on throwaway git repositories."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.review import touched
from infra.review.touched import main, stacks_touched_by, touched_stacks
from tests.helpers import ROOT, git

ALL = ["shared", "dev", "staging", "prod"]


def write(repo: Path, path: str, text: str = "x\n") -> None:
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A project with the four stack files, code, docs and tests, all committed on main."""
    git(tmp_path, "init", "-q", "-b", "main")
    for stack in ALL:
        write(tmp_path, f"stacks/Pulumi.{stack}.yaml", f"config:\n  mlserve:environment: {stack}\n")
    for path in (
        "Pulumi.yaml",
        "__main__.py",
        "requirements.txt",
        "requirements-dev.txt",
        "infra/program.py",
        "model_packaging/cli.py",
        "docs/ci.md",
        "tests/test_x.py",
        "README.md",
    ):
        write(tmp_path, path)
    commit(tmp_path, "base")
    git(tmp_path, "checkout", "-q", "-b", "change")
    return tmp_path


def change(repo: Path, *paths: str) -> list[str]:
    base = git(repo, "rev-parse", "main")
    for path in paths:
        write(repo, path, "changed\n")
    commit(repo, "change")
    return touched_stacks(repo, base)


def test_a_stack_file_touches_only_its_stack(repo: Path) -> None:
    assert change(repo, "stacks/Pulumi.staging.yaml") == ["staging"]


def test_stack_files_are_listed_in_promotion_order(repo: Path) -> None:
    assert change(repo, "stacks/Pulumi.prod.yaml", "stacks/Pulumi.shared.yaml") == [
        "shared",
        "prod",
    ]


@pytest.mark.parametrize(
    "path",
    ["infra/program.py", "infra/components/new.py", "__main__.py", "Pulumi.yaml"]
    + ["requirements.txt", "requirements-dev.txt", "requirements-release.txt"]
    + ["policy/rules/tags.py", ".pulumi-version"],
)
def test_code_every_stack_runs_touches_all_stacks(repo: Path, path: str) -> None:
    assert change(repo, path) == ALL


@pytest.mark.parametrize(
    "path",
    [
        "docs/ci.md",
        "tests/test_x.py",
        "model_packaging/cli.py",
        "README.md",
        "stacks/README.md",
        "examples/models/churn/requirements.txt",
        "bench/infra/x.py",
    ],
)
def test_docs_tests_and_the_release_tool_touch_no_stack(repo: Path, path: str) -> None:
    assert change(repo, path) == []


def test_a_deleted_stack_file_touches_its_stack(repo: Path) -> None:
    base = git(repo, "rev-parse", "main")
    git(repo, "rm", "-q", "stacks/Pulumi.dev.yaml")
    commit(repo, "drop dev")
    assert touched_stacks(repo, base) == ["dev"]


def test_code_changes_touch_the_stacks_that_still_have_a_file(repo: Path) -> None:
    base = git(repo, "rev-parse", "main")
    git(repo, "rm", "-q", "stacks/Pulumi.dev.yaml")
    write(repo, "infra/program.py", "changed\n")
    commit(repo, "drop dev, change the program")
    assert touched_stacks(repo, base) == ["shared", "dev", "staging", "prod"]
    base = git(repo, "rev-parse", "HEAD")
    write(repo, "infra/program.py", "changed again\n")
    commit(repo, "change the program")
    assert touched_stacks(repo, base) == ["shared", "staging", "prod"]


def test_a_renamed_stack_file_touches_both_names(repo: Path) -> None:
    base = git(repo, "rev-parse", "main")
    git(repo, "mv", "stacks/Pulumi.staging.yaml", "stacks/Pulumi.qa.yaml")
    commit(repo, "rename")
    assert touched_stacks(repo, base) == ["staging", "qa"]


def test_commits_on_the_base_branch_since_the_fork_do_not_count(repo: Path) -> None:
    write(repo, "stacks/Pulumi.dev.yaml", "changed on the branch\n")
    commit(repo, "branch: dev")
    git(repo, "checkout", "-q", "main")
    write(repo, "infra/program.py", "changed on main\n")
    commit(repo, "main: program")
    git(repo, "checkout", "-q", "change")
    assert touched_stacks(repo, "main") == ["dev"]


def test_uncommitted_changes_do_not_count(repo: Path) -> None:
    write(repo, "infra/program.py", "not committed\n")
    assert touched_stacks(repo, "main") == []


def test_cli_prints_one_stack_a_line(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, "stacks/Pulumi.prod.yaml", "changed\n")
    write(repo, "stacks/Pulumi.dev.yaml", "changed\n")
    commit(repo, "promote")
    (repo / "docs").mkdir(exist_ok=True)
    # The checkout is found from any folder inside it.
    monkeypatch.setattr(touched, "CHECKOUT", repo / "docs")
    assert main(["--base", "main"]) == 0
    assert capsys.readouterr().out == "dev\nprod\n"


def test_cli_prints_nothing_when_no_stack_is_touched(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, "docs/ci.md", "changed\n")
    commit(repo, "docs")
    monkeypatch.setattr(touched, "CHECKOUT", repo)
    assert main(["--base", "main"]) == 0
    assert capsys.readouterr().out == ""


def test_cli_reads_the_checkout_not_the_working_directory(
    repo: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write(repo, "stacks/Pulumi.staging.yaml", "changed\n")
    commit(repo, "staging")
    # Another repository, whose change touches prod, as the working directory.
    other = tmp_path_factory.mktemp("other")
    git(other, "init", "-q", "-b", "main")
    write(other, "stacks/Pulumi.prod.yaml")
    commit(other, "base")
    git(other, "checkout", "-q", "-b", "change")
    write(other, "stacks/Pulumi.prod.yaml", "changed\n")
    commit(other, "prod")
    monkeypatch.chdir(other)
    monkeypatch.setattr(touched, "CHECKOUT", repo)
    assert main(["--base", "main"]) == 0
    assert capsys.readouterr().out == "staging\n"


def test_the_command_runs_from_a_folder_outside_any_repository(tmp_path: Path) -> None:
    # As a user runs it: this checkout's repository, whatever the working directory.
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(tmp_path.parent)}
    env.pop("PYTHONSAFEPATH", None)
    done = subprocess.run(
        [sys.executable, "-m", "infra.touched", "--base", "HEAD"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_cli_names_an_unknown_base(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(touched, "CHECKOUT", repo)
    assert main(["--base", "0123456789abcdef0123456789abcdef01234567"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        "error: --base '0123456789abcdef0123456789abcdef01234567' is not a commit in "
    )
    assert captured.err.count("\n") == 1


def test_cli_outside_a_repository_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(touched, "CHECKOUT", tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert main(["--base", "main"]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path} is not inside a git repository\n"


def test_cli_requires_a_base(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "the following arguments are required: --base" in capsys.readouterr().err


def test_unrelated_history_is_reported(repo: Path) -> None:
    git(repo, "checkout", "-q", "--orphan", "other")
    write(repo, "other.txt")
    commit(repo, "unrelated")
    with pytest.raises(touched.TouchedError, match=r"^git diff main\.\.\.HEAD failed: "):
        touched_stacks(repo, "main")


def test_stack_names_pulumi_does_not_accept_are_not_stacks() -> None:
    # Such a name reaches job names and artifact names in the workflows: it must not be one.
    paths = ["stacks/Pulumi.a b.yaml", "stacks/Pulumi.$(x).yaml", "stacks/sub/Pulumi.dev.yaml"]
    assert stacks_touched_by(paths, ALL) == []
    assert stacks_touched_by(["stacks/Pulumi.eu-west_1.v2.yaml"], ALL) == ["eu-west_1.v2"]
