"""Ctrl-C in a release command: one line, exit status 130, nothing half-written.

``promote`` is stopped while it waits for the stack file's lock, which the test holds: the
moment a user is most likely to give up on it. (The mechanism is ``infra.command_line``'s,
tested on its own in ``tests/test_command_line.py``.)
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.packaging.conftest import ArtifactFactory, Published, Store, register, write_stack


def open_files(pid: int) -> list[str]:
    try:
        return [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return []  # gone meanwhile


def test_ctrl_c_while_promote_waits_for_the_lock(
    server_store: Store, make_artifact: ArtifactFactory, tmp_path: Path
) -> None:
    register(server_store, make_artifact)
    pinned = Published(
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/9", "sha256:" + "0" * 64
    )
    stacks = tmp_path / "stacks"
    path = write_stack(stacks, "dev", {"churn": pinned})
    before = path.read_bytes()
    lock = stacks / f".{path.name}.lock"
    held = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        # A session of its own: the test sends SIGINT to its process group, as a terminal does.
        process = subprocess.Popen(
            [sys.executable, "-m", "model_packaging", "promote", "churn", "--to", "dev"]
            + ["--stacks", str(stacks)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        # The gates passed and it opened the lock file: it is waiting for the test's lock.
        deadline = time.monotonic() + 60
        while str(lock) not in open_files(process.pid):
            if process.poll() is not None:
                pytest.fail(f"promote exited {process.returncode}: {process.communicate()}")
            assert time.monotonic() < deadline, "promote never reached the lock"
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        os.close(held)

    assert (process.returncode, out, err) == (130, "", "error: interrupted\n")
    assert path.read_bytes() == before
    assert sorted(p.name for p in stacks.iterdir()) == [lock.name, path.name]
