"""rollback: the previous pin from the stack file's git history, behind the registry gates."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from model_packaging.release.history import PreviousPin, standing
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


@pytest.fixture
def three(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path
) -> tuple[Path, list[str], list[Published]]:
    """A repository whose prod stack pinned churn 1, then 2, then 3, each committed."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    churn = [register(release_store, make_artifact) for _ in range(3)]
    commits = []
    for version in churn:
        write_stack(repo / "stacks", "prod", {"churn": version})
        commits.append(commit(repo, f"prod: churn {version.number}"))
    return repo / "stacks", commits, churn


def test_a_second_rollback_goes_further_back_never_to_the_version_it_left(
    three: tuple[Path, list[str], list[Published]], capsys
) -> None:
    stacks, commits, churn = three
    rollback = ("rollback", "churn", "--env", "prod", "--stacks", str(stacks))

    assert release(capsys, *rollback)[0] == 0
    assert prod_pin(stacks) == churn[1]
    commit(stacks.parent, "prod: roll churn back to 2")

    # The pin before 2 was first promoted is 1; 3 was rolled back from and stays left.
    code, out, err = release(capsys, *rollback)

    assert code == 0, err
    assert err == f"restoring the pin of commit {commits[0]}\n"
    assert out == (
        f"{stacks}/Pulumi.prod.yaml: churn version 2 (sha256:{churn[1].digest[7:19]}) ->"
        f" version 1 (sha256:{churn[0].digest[7:19]})\n"
    )
    assert prod_pin(stacks) == churn[0]
    commit(stacks.parent, "prod: roll churn back to 1")

    code, out, err = release(capsys, *rollback)

    assert (code, out) == (1, "")
    assert err == (
        f"error: nothing to roll back to: churn version 1 (sha256:{churn[0].digest[7:19]}) is the"
        f" oldest pin left in the git history of {stacks}/Pulumi.prod.yaml; the versions pinned"
        " after it (2, 3) were left when the stage went back to it (rollback --version N re-pins"
        " one of them)\n"
    )


def test_rollback_version_re_pins_a_version_the_stage_ran(
    three: tuple[Path, list[str], list[Published]], capsys
) -> None:
    stacks, commits, churn = three
    rollback = ("rollback", "churn", "--env", "prod", "--stacks", str(stacks))
    path = stacks / "Pulumi.prod.yaml"
    before = path.read_bytes()

    code, _, err = release(capsys, *rollback, "--version", "7")
    assert (code, path.read_bytes()) == (1, before)
    assert err == (
        f"error: churn version 7 was never pinned in the git history of {path} (it pinned"
        " versions 1, 2): rollback --version names a version this stage ran\n"
    )
    code, _, err = release(capsys, *rollback, "--version", "3")
    assert (code, path.read_bytes()) == (1, before)
    assert err == (
        f"error: {path} pins churn version 3 (sha256:{churn[2].digest[7:19]}) already: nothing"
        " to roll back\n"
    )

    code, out, err = release(capsys, *rollback, "--version", "1", "--json")

    assert (code, err) == (0, "")
    assert prod_pin(stacks) == churn[0]
    result = json.loads(out)
    assert {k: result[k] for k in ("action", "model", "stage", "changed", "dry_run")} == {
        "action": "rollback",
        "model": "churn",
        "stage": "prod",
        "changed": True,
        "dry_run": False,
    }
    assert result["before"] == {"version": 3, "package": churn[2].arn, "digest": churn[2].digest}
    assert result["after"] == {"version": 1, "package": churn[0].arn, "digest": churn[0].digest}
    assert result["started_from"] == result["before"]
    assert result["replaced_concurrent_write"] is False
    assert result["restored_commit"] == commits[0]
    assert result["file"] == str(path)
    assert f'+        package: "{churn[0].arn}" # quoted on purpose\n' in result["diff"]


@pytest.mark.parametrize(
    ("versions", "stack"),
    [
        ([1, 2, 3], [1, 2, 3]),
        ([1, 2, 3, 2], [1, 2]),  # a rollback leaves 3
        ([1, 2, 3, 2, 1], [1]),
        ([1, 2, 1, 3], [1, 3]),  # a promotion after a rollback
        ([1, 2, 1, 3, 2], [1, 3, 2]),  # 2 promoted again: before it stood 3
        ([1, 2, 3, 2, 3], [1, 2, 3]),  # 3 promoted again
        ([1, 1, 2, 2, 2], [1, 2]),  # commits that did not change the pin
    ],
)
def test_the_pins_a_rollback_walks_back(versions: list[int], stack: list[int]) -> None:
    def pin(number: int) -> Pin:
        return Pin(f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/churn/{number}", "d")

    sequence = [PreviousPin(pin(n), f"commit-{i}") for i, n in enumerate(versions)]

    walked = standing(sequence)

    assert [entry.pin.number for entry in walked] == stack
    # Each entry is the newest revision that held it: the commit a rollback restores from.
    newest = {n: f"commit-{i}" for i, n in enumerate(versions)}
    assert [entry.commit for entry in walked] == [newest[n] for n in stack]


def test_a_pin_is_its_package_and_its_digest() -> None:
    def pin(number: int, digest: str) -> PreviousPin:
        arn = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/churn/{number}"
        return PreviousPin(Pin(arn, "sha256:" + digest * 64), f"commit-{number}-{digest}")

    # A placeholder pin of version 2 is not the registered version 2 promoted later.
    walked = standing([pin(2, "a"), pin(1, "b"), pin(2, "c")])

    assert [entry.commit for entry in walked] == ["commit-2-a", "commit-1-b", "commit-2-c"]


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
        f"error: cannot read the earlier pins of churn: the history of {cloned}/Pulumi.prod.yaml"
        f" is shallow (starts at {commits[2]}): run git fetch --unshallow\n"
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
