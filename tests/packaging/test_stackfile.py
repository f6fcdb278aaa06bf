"""Editing stack files: only the two pin scalars change, bad edits write nothing, no update lost."""

from __future__ import annotations

import fcntl
import inspect
import multiprocessing
import os
import shutil
import socket
import threading
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
    tmp_path.mkdir(parents=True, exist_ok=True)
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


def test_an_interrupt_before_the_rename_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = repo_stack(tmp_path, "dev")
    before = path.read_bytes()

    def interrupted(*args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        stackfile.write_pin(path, "dev", "churn", NEW)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")) == []


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


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("CRLF", lambda text: text.replace("\n", "\r\n")),
        ("a byte order mark", lambda text: "\ufeff" + text),
        ("both", lambda text: "\ufeff" + text.replace("\n", "\r\n")),
        ("CRLF on some lines", lambda text: text.replace("\n", "\r\n", 7)),
        ("CR", lambda text: text.replace("\n", "\r")),
    ],
)
def test_line_endings_and_a_byte_order_mark_are_kept(
    tmp_path: Path, name: str, encode: Any
) -> None:
    path = repo_stack(tmp_path, "dev")
    original = path.read_text()
    path.write_bytes(encode(original).encode("utf-8"))
    before = path.read_bytes().decode("utf-8")

    stackfile.write_pin(path, "dev", "churn", NEW)

    after = path.read_bytes().decode("utf-8")
    # Each line keeps its own ending, the mark stays first, and only the pin lines change.
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(old) == len(new)
    changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert [b.rstrip("\r\n") for _, b in changed] == [
        f"        package: {NEW.package}",
        f"        digest: {NEW.digest}",
    ]
    assert all(a[len(a.rstrip("\r\n")) :] == b[len(b.rstrip("\r\n")) :] for a, b in changed)
    assert after.startswith("\ufeff") == before.startswith("\ufeff")
    # Set back, the file is byte for byte what it was.
    pin = stackfile.pin_in_text(original, "churn")
    assert pin is not None
    stackfile.write_pin(path, "dev", "churn", pin)
    assert path.read_bytes().decode("utf-8") == before


def test_a_symbolic_link_is_followed_and_stays_a_link(tmp_path: Path) -> None:
    target = repo_stack(tmp_path / "environments", "dev")
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    link = stacks / "Pulumi.dev.yaml"
    link.symlink_to(Path("..") / "environments" / "Pulumi.dev.yaml")

    edit = stackfile.write_pin(link, "dev", "churn", NEW)

    assert link.is_symlink()
    assert edit.path == link
    assert f"package: {NEW.package}\n" in target.read_text()
    # The lock is taken beside the file written, where every path to it meets.
    assert sorted(p.name for p in stacks.iterdir()) == ["Pulumi.dev.yaml"]
    assert (tmp_path / "environments" / ".Pulumi.dev.yaml.lock").is_file()


def hold_lock(path: Path, note: str) -> int:
    """Take the stack file's lock as another writer would (an open file description of its
    own), with ``note`` as its holder's record; close the returned descriptor to release it."""
    fd = os.open(path.parent / f".{path.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, note.encode())
    return fd


def test_a_writer_waiting_for_the_lock_says_so_then_gives_up(tmp_path: Path) -> None:
    path = repo_stack(tmp_path, "dev")
    before = path.read_bytes()
    heard: list[str] = []
    fd = hold_lock(path, "4242 build-host\n")
    try:
        with pytest.raises(PackagingError) as raised:
            stackfile.write_pin(
                path, "dev", "churn", NEW, warn=heard.append, lock_notice=0.05, lock_timeout=0.3
            )
    finally:
        os.close(fd)

    assert str(raised.value) == (
        f"{path} is locked by another promote or rollback (process 4242 on build-host), still"
        f" after 0.3 s ({tmp_path}/.Pulumi.dev.yaml.lock): let it finish, or stop it, and run"
        " this command again"
    )
    assert heard == [
        "waiting for another promote or rollback (process 4242 on build-host) to finish writing"
        f" {path}; giving up after 0.3 s"
    ]
    assert path.read_bytes() == before


def test_a_writer_goes_on_once_the_lock_is_released(tmp_path: Path) -> None:
    path = repo_stack(tmp_path, "dev")
    heard: list[str] = []
    fd = hold_lock(path, "")
    release = threading.Timer(0.3, os.close, args=(fd,))
    release.start()
    try:
        stackfile.write_pin(
            path, "dev", "churn", NEW, warn=heard.append, lock_notice=0.05, lock_timeout=10
        )
    finally:
        release.join()

    assert f"package: {NEW.package}\n" in path.read_text()
    assert heard == [
        f"waiting for another promote or rollback to finish writing {path}; giving up after 10 s"
    ]
    # The holder's record is this process's, for the next writer that waits.
    lock = (tmp_path / ".Pulumi.dev.yaml.lock").read_text().split()
    assert lock == [str(os.getpid()), socket.gethostname()]


def test_the_lock_waits_one_second_before_saying_so_and_thirty_before_giving_up() -> None:
    from model_packaging.release import promote

    assert (stackfile.LOCK_NOTICE_SECONDS, stackfile.LOCK_TIMEOUT_SECONDS) == (1.0, 30.0)
    defaults = inspect.signature(stackfile.write_pin).parameters
    assert defaults["lock_notice"].default == stackfile.LOCK_NOTICE_SECONDS
    assert defaults["lock_timeout"].default == stackfile.LOCK_TIMEOUT_SECONDS
    for command in (promote.promote, promote.rollback):
        timeout = inspect.signature(command).parameters["lock_timeout"]
        assert timeout.default == stackfile.LOCK_TIMEOUT_SECONDS


def test_the_edit_reports_the_text_it_replaced_after_a_concurrent_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = repo_stack(tmp_path, "dev")
    rolled_back = Pin(NEW.package.replace("/churn/7", "/churn/1"), "sha256:" + "1" * 64)
    real_set_pin = stackfile.set_pin
    calls = []

    def racing_set_pin(text: str, model: str, pin: Pin, source: Path) -> str:
        calls.append(pin)
        edited = real_set_pin(text, model, pin, source)
        if calls == [NEW]:
            # A rollback of the same model lands after this write read the file.
            stackfile.write_pin(path, "dev", "churn", rolled_back)
        return edited

    monkeypatch.setattr(stackfile, "set_pin", racing_set_pin)

    edit = stackfile.write_pin(path, "dev", "churn", NEW)

    assert calls == [NEW, rolled_back, NEW]
    assert stackfile.pin_in_text(edit.before, "churn") == rolled_back
    assert stackfile.pin_in_text(edit.after, "churn") == NEW
    assert stackfile.pin_in_text(path.read_text(), "churn") == NEW
