"""promote and rollback against the stack file as it is: uncommitted edits, another command's
write while the gates ran, and --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model_packaging.release import promote as promote_module
from model_packaging.release import stackfile
from model_packaging.release.stackfile import Pin, pin_in_text
from tests.helpers import git, release
from tests.packaging.conftest import (
    ACCOUNT,
    ArtifactFactory,
    Published,
    Store,
    register,
    write_stack,
)

# Never registered: a refusal for uncommitted edits comes before any AWS call.
UNREGISTERED = [
    Published(
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/churn/{n}", "sha256:" + f"{n}" * 64
    )
    for n in (1, 2)
]


def committed_stack(repo: Path, pins: list[Published]) -> Path:
    """A repository whose dev stack file pinned each of ``pins`` in turn, each committed."""
    repo.mkdir()
    git(repo, "init", "-q")
    for pin in pins:
        path = write_stack(repo / "stacks", "dev", {"churn": pin})
        git(repo, "add", "stacks")
        git(repo, "commit", "-q", "-m", f"dev: churn {pin.number}")
    return path


def unrelated_edit(path: Path) -> None:
    """Change line 4 (the owner) and remove line 13 (a comment): infrastructure edits."""
    lines = path.read_text().splitlines(keepends=True)
    assert lines[3] == "  mlserve:owner: ml-platform\n"
    assert lines[12] == "      # the registry version this stage runs\n"
    lines[3] = "  mlserve:owner: ml-infra\n"
    del lines[12]
    path.write_text("".join(lines))


@pytest.mark.parametrize(
    ("command", "action"),
    [
        (["promote", "churn", "--to", "dev", "--version", "1"], "promote"),
        (["rollback", "churn", "--env", "dev"], "rollback"),
    ],
    ids=["promote", "rollback"],
)
def test_uncommitted_changes_are_refused_naming_their_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], action: str
) -> None:
    path = committed_stack(tmp_path / "repo", UNREGISTERED)
    unrelated_edit(path)
    before = path.read_bytes()

    code, out, err = release(capsys, *command, "--stacks", str(path.parent))

    assert (code, out) == (1, "")
    assert err == (
        f"error: {path} has uncommitted changes (line 4; 1 line removed after line 12): commit or"
        f" revert them first, or pass --allow-dirty to {action} anyway\n"
    )
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["Pulumi.dev.yaml"]


def test_a_stack_file_git_does_not_have_is_uncommitted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "README.md").write_text("a repository\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "start")
    path = write_stack(repo / "stacks", "dev", {"churn": UNREGISTERED[0]})

    code, _, err = release(capsys, "promote", "churn", "--to", "dev", "--stacks", str(path.parent))

    assert code == 1
    assert err == (
        f"error: {path} is not committed (HEAD has no such file): commit it first, or pass"
        " --allow-dirty to promote anyway\n"
    )


def test_allow_dirty_writes_the_pin_and_says_what_goes_with_it(
    release_store: Store,
    make_artifact: ArtifactFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, second = register(release_store, make_artifact), register(release_store, make_artifact)
    path = committed_stack(tmp_path / "repo", [first])
    unrelated_edit(path)
    edited = path.read_text()
    promote = ("promote", "churn", "--to", "dev", "--version", "2", "--stacks", str(path.parent))
    problem = f"{path} has uncommitted changes (line 4; 1 line removed after line 12)"

    # A dry run writes nothing, so it only warns.
    code, out, err = release(capsys, *promote, "--dry-run")
    assert code == 0, err
    assert err.splitlines()[0] == (
        f"warning: {problem}: without --dry-run, promote refuses unless given --allow-dirty"
    )
    assert path.read_text() == edited

    code, out, err = release(capsys, *promote, "--allow-dirty")

    assert code == 0, err
    assert err == f"warning: {problem}: they go into the same commit as this promote\n"
    assert out.endswith(f"-> version 2 (sha256:{second.digest[7:19]})\n")
    after = path.read_text()
    assert "  mlserve:owner: ml-infra\n" in after
    assert pin_in_text(after, "churn") == Pin(second.arn, second.digest)


def test_a_promotion_over_another_commands_write_reports_what_it_replaced(
    release_store: Store,
    make_artifact: ArtifactFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = register(release_store, make_artifact), register(release_store, make_artifact)
    path = write_stack(tmp_path, "dev", {"churn": second})
    promote = ("promote", "churn", "--to", "dev", "--version", "2", "--stacks", str(tmp_path))
    one, two = Pin(first.arn, first.digest), Pin(second.arn, second.digest)
    real_digest = promote_module._digest

    def rollback_lands(*args: object) -> None:
        real_digest(*args)  # type: ignore[arg-type]
        # A rollback to 1 writes the file while this promotion runs its gates.
        stackfile.write_pin(path, "dev", "churn", one)

    monkeypatch.setattr(promote_module, "_digest", rollback_lands)

    code, out, err = release(capsys, *promote)

    assert (code, err) == (0, "")
    assert out == (
        f"{path}: churn {one.describe()} -> {two.describe()} (replacing {one.describe()}, which"
        f" another command wrote while this one ran; it started from {two.describe()})\n"
    )
    assert pin_in_text(path.read_text(), "churn") == two

    code, out, err = release(capsys, *promote, "--json")

    assert (code, err) == (0, "")
    result = json.loads(out)
    assert result["replaced_concurrent_write"] is True
    assert result["before"] == {"version": 1, "package": first.arn, "digest": first.digest}
    assert result["after"] == {"version": 2, "package": second.arn, "digest": second.digest}
    assert result["started_from"] == result["after"]
    assert result["changed"] is True


def test_promote_json_on_a_dry_run(
    release_store: Store,
    make_artifact: ArtifactFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, second = register(release_store, make_artifact), register(release_store, make_artifact)
    path = write_stack(tmp_path, "dev", {"churn": first})
    before = path.read_bytes()

    code, out, err = release(
        capsys, "promote", "churn", "--to", "dev", "--dry-run", "--json", "--stacks", str(tmp_path)
    )

    assert (code, err) == (0, "")
    result = json.loads(out)
    diff = result.pop("diff")
    assert result == {
        "action": "promote",
        "model": "churn",
        "stage": "dev",
        "file": str(path),
        "changed": True,
        "dry_run": True,
        "before": {"version": 1, "package": first.arn, "digest": first.digest},
        "after": {"version": 2, "package": second.arn, "digest": second.digest},
        "started_from": {"version": 1, "package": first.arn, "digest": first.digest},
        "replaced_concurrent_write": False,
        "restored_commit": None,
        "warnings": [],
    }
    assert f'+        package: "{second.arn}" # quoted on purpose\n' in diff
    assert path.read_bytes() == before
