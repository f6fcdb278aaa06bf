"""rollback: the previous pin from the stack file's git history, behind the registry gates."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from model_packaging.release.stackfile import pin_in_text
from tests.helpers import git, release
from tests.packaging.conftest import ArtifactFactory, Published, Store, register, write_stack


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "stacks")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def prod_pin(stacks: Path, model: str = "churn") -> Published:
    pin = pin_in_text((stacks / "Pulumi.prod.yaml").read_text(), model)
    assert pin is not None
    return Published(pin.package, pin.digest)


@pytest.fixture
def history(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path
) -> tuple[Path, list[str], list[Published]]:
    """A repository whose prod stack pinned churn 1, then 2, then changed only fraud's pin."""
    repo = tmp_path / "repo"
    stacks = repo / "stacks"
    repo.mkdir()
    git(repo, "init", "-q")
    churn = [register(release_store, make_artifact), register(release_store, make_artifact)]
    fraud = [
        register(release_store, make_artifact, name="fraud"),
        register(release_store, make_artifact, name="fraud"),
    ]
    commits = []
    write_stack(stacks, "prod", {"churn": churn[0], "fraud": fraud[0]})
    commits.append(commit(repo, "prod: churn 1"))
    write_stack(stacks, "prod", {"churn": churn[1], "fraud": fraud[0]})
    commits.append(commit(repo, "prod: churn 2"))
    write_stack(stacks, "prod", {"churn": churn[1], "fraud": fraud[1]})
    commits.append(commit(repo, "prod: fraud 2"))
    return stacks, commits, churn


def test_rollback_restores_the_pin_before_the_current_one(
    history: tuple[Path, list[str], list[Published]], capsys
) -> None:
    stacks, commits, churn = history
    before = (stacks / "Pulumi.prod.yaml").read_text()

    code, out, err = release(capsys, "rollback", "churn", "--env", "prod", "--stacks", str(stacks))

    assert code == 0, err
    # The newest revision with another pin is the first commit: the third changed only fraud.
    assert err == f"restoring the pin of commit {commits[0]}\n"
    assert out == (
        f"{stacks}/Pulumi.prod.yaml: churn version 2 (sha256:{churn[1].digest[7:19]}) ->"
        f" version 1 (sha256:{churn[0].digest[7:19]})\n"
    )
    assert prod_pin(stacks) == churn[0]
    after = (stacks / "Pulumi.prod.yaml").read_text()
    changed = [
        (a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b
    ]
    assert changed == [
        (
            f'        package: "{churn[1].arn}" # quoted on purpose',
            f'        package: "{churn[0].arn}" # quoted on purpose',
        ),
        (f"        digest: {churn[1].digest}", f"        digest: {churn[0].digest}"),
    ]
    # Neither the stage below nor a live endpoint is consulted: there are none here.
    assert not (stacks / "Pulumi.staging.yaml").exists()


def test_a_second_rollback_goes_back_to_where_the_first_started(
    history: tuple[Path, list[str], list[Published]], capsys
) -> None:
    stacks, _, churn = history
    assert release(capsys, "rollback", "churn", "--env", "prod", "--stacks", str(stacks))[0] == 0
    commit(stacks.parent, "prod: roll churn back to 1")

    code, _, err = release(capsys, "rollback", "churn", "--env", "prod", "--stacks", str(stacks))

    assert code == 0, err
    assert prod_pin(stacks) == churn[1]


def test_rollback_dry_run_writes_nothing(
    history: tuple[Path, list[str], list[Published]], capsys
) -> None:
    stacks, _, churn = history
    before = (stacks / "Pulumi.prod.yaml").read_bytes()

    code, out, _ = release(
        capsys, "rollback", "churn", "--env", "prod", "--stacks", str(stacks), "--dry-run"
    )

    assert code == 0
    assert (stacks / "Pulumi.prod.yaml").read_bytes() == before
    assert f'+        package: "{churn[0].arn}" # quoted on purpose\n' in out


def test_a_shallow_clone_says_so_instead_of_guessing(
    history: tuple[Path, list[str], list[Published]], tmp_path: Path, capsys
) -> None:
    stacks, commits, _ = history
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{stacks.parent}", str(clone)],
        check=True,
        capture_output=True,
    )
    cloned = clone / "stacks"
    before = (cloned / "Pulumi.prod.yaml").read_bytes()

    code, out, err = release(capsys, "rollback", "churn", "--env", "prod", "--stacks", str(cloned))

    assert (code, out) == (1, "")
    assert err == (
        f"error: no earlier pin of churn found: the history of {cloned}/Pulumi.prod.yaml is"
        f" shallow (starts at {commits[2]}): run git fetch --unshallow\n"
    )
    assert (cloned / "Pulumi.prod.yaml").read_bytes() == before


def test_outside_a_git_repository_is_a_clear_error(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    stacks = tmp_path / "loose"
    write_stack(stacks, "prod", {"churn": register(release_store, make_artifact)})

    code, _, err = release(capsys, "rollback", "churn", "--env", "prod", "--stacks", str(stacks))

    assert code == 1
    assert err == (
        f"error: cannot roll back: {stacks}/Pulumi.prod.yaml is not in a git repository, and"
        " its git history is where the previous pin is read from\n"
    )


def test_a_history_without_another_pin_has_nothing_to_roll_back_to(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    write_stack(repo / "stacks", "prod", {"churn": register(release_store, make_artifact)})
    commit(repo, "prod: churn 1")

    code, _, err = release(
        capsys, "rollback", "churn", "--env", "prod", "--stacks", str(repo / "stacks")
    )

    assert code == 1
    assert err == (
        f"error: no earlier pin of churn in the git history of {repo}/stacks/Pulumi.prod.yaml:"
        " nothing to roll back to\n"
    )


def test_the_previous_version_must_still_be_approved(
    history: tuple[Path, list[str], list[Published]], release_store: Store, capsys
) -> None:
    stacks, _, churn = history
    release_store.sagemaker.update_model_package(
        ModelPackageArn=churn[0].arn,
        ModelApprovalStatus="Rejected",
        CustomerMetadataProperties=release_store.sagemaker.describe_model_package(
            ModelPackageName=churn[0].arn
        )["CustomerMetadataProperties"],
    )
    before = (stacks / "Pulumi.prod.yaml").read_bytes()

    code, _, err = release(capsys, "rollback", "churn", "--env", "prod", "--stacks", str(stacks))

    assert code == 1
    assert err == "error: rollback refused by gate 'approved': churn version 1 is Rejected\n"
    assert (stacks / "Pulumi.prod.yaml").read_bytes() == before


def test_the_previous_version_must_still_exist(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    current = register(release_store, make_artifact)
    gone = Published(current.arn.replace("/churn/1", "/churn/9"), "sha256:" + "9" * 64)
    write_stack(repo / "stacks", "prod", {"churn": gone})
    commit(repo, "prod: churn 9")
    write_stack(repo / "stacks", "prod", {"churn": current})
    commit(repo, "prod: churn 1")

    code, _, err = release(
        capsys, "rollback", "churn", "--env", "prod", "--stacks", str(repo / "stacks")
    )

    assert code == 1
    assert err == (
        f"error: rollback refused by gate 'registered': churn version 9 does not exist"
        f" ({gone.arn})\n"
    )
