"""Editing stack files: only the two pin scalars change, bad edits write nothing, no update lost."""

from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path
from typing import Any

import pytest

from infra.settings import load_stack_file
from model_packaging.errors import PackagingError
from model_packaging.release import stackfile
from model_packaging.release.stackfile import Pin
from tests.packaging.conftest import ArtifactFactory, Published, Store, register, write_stack

ROOT = Path(__file__).resolve().parents[2]
NEW = Pin(
    "arn:aws:sagemaker:us-east-1:111111111111:model-package/churn/7",
    "sha256:" + "7" * 64,
)


def repo_stack(tmp_path: Path, env: str) -> Path:
    path = tmp_path / f"Pulumi.{env}.yaml"
    shutil.copyfile(ROOT / "stacks" / f"Pulumi.{env}.yaml", path)
    return path


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    old, new = before.splitlines(), after.splitlines()
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


def test_the_prod_file_changes_in_exactly_the_two_pin_lines(tmp_path: Path) -> None:
    path = repo_stack(tmp_path, "prod")
    before = path.read_text()

    edit = stackfile.write_pin(path, "prod", "churn", NEW)

    after = path.read_text()
    assert edit.before == before and edit.after == after
    assert changed_lines(before, after) == [
        (
            "        package: arn:aws:sagemaker:us-east-1:111111111111:model-package/churn/2",
            f"        package: {NEW.package}",
        ),
        (
            "        digest: sha256:"
            "e4e8ae1c74665fb93aeed5abf2e3882d9987b672871c0b14b72bc576ec25ffde",
            f"        digest: {NEW.digest}",
        ),
    ]
    # The challenger pins the same group; it is not the champion and stays as it was.
    assert "model-package/churn/3" in after
    assert "# A/B test: version 3 takes 10% of live traffic next to version 2." in after
    settings: Any = load_stack_file(path)
    assert settings.models["churn"].version.package == NEW.package
    assert settings.models["churn"].challenger.version.package.endswith("/churn/3")


def test_quotes_and_trailing_comments_survive(tmp_path: Path) -> None:
    old = Published(
        "arn:aws:sagemaker:us-east-1:111111111111:model-package/churn/1", "sha256:" + "1" * 64
    )
    path = write_stack(tmp_path, "dev", {"churn": old})
    before = path.read_text()

    stackfile.write_pin(path, "dev", "churn", NEW)

    assert changed_lines(before, path.read_text()) == [
        (
            f'        package: "{old.arn}" # quoted on purpose',
            f'        package: "{NEW.package}" # quoted on purpose',
        ),
        (f"        digest: {old.digest}", f"        digest: {NEW.digest}"),
    ]
    assert "  mlserve:cost_center: 'cc-4200'\n" in path.read_text()


def test_an_edit_the_schema_refuses_writes_nothing(tmp_path: Path) -> None:
    path = repo_stack(tmp_path, "staging")
    before = path.read_bytes()
    elsewhere = Pin(NEW.package.replace("us-east-1", "eu-west-1"), NEW.digest)

    with pytest.raises(PackagingError) as raised:
        stackfile.write_pin(path, "staging", "churn", elsewhere)

    assert str(raised.value) == (
        f"{path}: the edited file would not load (models.churn.version.package: is in"
        " eu-west-1, the stack is in us-east-1); nothing written"
    )
    assert path.read_bytes() == before
    # No temporary file is left; the lock file stays for the next writer.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".Pulumi.staging.yaml.lock",
        "Pulumi.staging.yaml",
    ]


def test_dry_run_validates_and_writes_nothing(tmp_path: Path) -> None:
    path = repo_stack(tmp_path, "dev")
    before = path.read_bytes()

    fraud = Pin(NEW.package.replace("churn", "fraud"), NEW.digest)

    edit = stackfile.write_pin(path, "dev", "fraud", fraud, dry_run=True)

    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Pulumi.dev.yaml"]
    diff = edit.diff()
    assert diff.startswith(f"--- {path}\n+++ {path}\n@@ ")
    assert (
        "-        package: arn:aws:sagemaker:us-east-1:111111111111:model-package/fraud/2\n" in diff
    )
    assert f"+        package: {fraud.package}\n" in diff


def test_a_layout_the_round_trip_cannot_reproduce_is_refused(tmp_path: Path) -> None:
    path = repo_stack(tmp_path, "dev")
    text = path.read_text().replace(
        "      version:\n        package:", "      version:\n        package:   ", 1
    )
    path.write_text(text)

    with pytest.raises(PackagingError, match="cannot be edited without reformatting it"):
        stackfile.write_pin(path, "dev", "churn", NEW)
    assert path.read_text() == text


def test_a_model_the_file_does_not_configure_is_refused(tmp_path: Path) -> None:
    path = repo_stack(tmp_path, "dev")
    with pytest.raises(PackagingError, match=r"mlserve:models\.ranker\.version must hold package"):
        stackfile.write_pin(path, "dev", "ranker", NEW)


def test_a_write_between_read_and_lock_is_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = repo_stack(tmp_path, "dev")
    fraud = Pin(NEW.package.replace("churn", "fraud"), "sha256:" + "f" * 64)
    real_set_pin = stackfile.set_pin
    calls = []

    def racing_set_pin(text: str, model: str, pin: Pin, source: Path) -> str:
        calls.append(model)
        edited = real_set_pin(text, model, pin, source)
        if calls == ["churn"]:
            # Another promotion lands after this one read the file, before it takes the lock.
            stackfile.write_pin(path, "dev", "fraud", fraud)
        return edited

    monkeypatch.setattr(stackfile, "set_pin", racing_set_pin)

    stackfile.write_pin(path, "dev", "churn", NEW)

    settings: Any = load_stack_file(path)
    assert settings.models["churn"].version.package == NEW.package
    assert settings.models["fraud"].version.package == fraud.package
    assert calls == ["churn", "fraud", "churn"]  # the churn edit was redone on the new content


def test_the_file_keeps_its_mode(tmp_path: Path) -> None:
    path = repo_stack(tmp_path, "dev")
    path.chmod(0o640)
    stackfile.write_pin(path, "dev", "churn", NEW)
    assert path.stat().st_mode & 0o777 == 0o640


def _promote_at_once(barrier: Any, model: str, version: int, stacks: str) -> None:
    from model_packaging.release.promote import promote

    barrier.wait(timeout=60)
    promote(model, "dev", version=version, stacks=Path(stacks))


def test_two_promotions_into_one_file_at_the_same_moment_both_land(
    server_store: Store, make_artifact: ArtifactFactory, tmp_path: Path
) -> None:
    server_store.sagemaker.create_model_package_group(ModelPackageGroupName="fraud")
    old_churn = register(server_store, make_artifact)
    old_fraud = register(server_store, make_artifact, name="fraud")
    new_churn = register(server_store, make_artifact)
    new_fraud = register(server_store, make_artifact, name="fraud")
    path = write_stack(tmp_path, "dev", {"churn": old_churn, "fraud": old_fraud})

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    workers = [
        context.Process(target=_promote_at_once, args=(barrier, model, pin.number, str(tmp_path)))
        for model, pin in (("churn", new_churn), ("fraud", new_fraud))
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]

    settings: Any = load_stack_file(path)
    assert settings.models["churn"].version.package == new_churn.arn
    assert settings.models["churn"].version.digest == new_churn.digest
    assert settings.models["fraud"].version.package == new_fraud.arn
    assert settings.models["fraud"].version.digest == new_fraud.digest
