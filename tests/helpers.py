"""What the test folders share beyond fixtures: running the release tool, in this process or as
a user does, and git in a scratch repository."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from model_packaging.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "models" / "churn"

# A fixed identity, and none of the user's or the system's git settings (signing, hooks, the
# default branch) that could refuse or alter a commit in a test's own repository.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}


def release(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``python -m model_packaging ARGS`` in this process: its status, stdout and stderr."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m model_packaging ARGS`` as a user runs it: a process of its own, from the
    checkout, with ``env`` or else this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "model_packaging", *args],
        cwd=ROOT,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def git(repo: Path, *args: str) -> str:
    """git in ``repo``; its output, stripped. A failure fails the test."""
    result = subprocess.run(
        ["git", *args],
        cwd=repo,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()
