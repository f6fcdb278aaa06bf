"""The pins a stack file held before, read from its git history.

Every promotion is a reviewed commit to ``stacks/Pulumi.<env>.yaml``, so the file's history is
the record of what each stage ran. The previous pin of a model is found by walking ``git log``
of the file from newest to oldest and taking the first revision whose pin differs from the
current one (the working tree's). A shallow clone may simply not reach that far back: when no
differing pin is found and the history is shallow, that is an error, never a guess.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from model_packaging.errors import PackagingError
from model_packaging.release.stackfile import Pin, pin_in_text


@dataclass(frozen=True)
class PreviousPin:
    pin: Pin
    commit: str
    """The newest commit whose revision of the file held ``pin``."""


def previous_pin(path: Path, model: str, current: Pin) -> PreviousPin:
    """The pin of ``model`` in ``path`` before ``current``, from the file's git history."""
    folder = path.resolve().parent
    if _git_or_none(folder, "rev-parse", "--is-inside-work-tree") != "true":
        raise PackagingError(
            f"cannot roll back: {path} is not in a git repository, and its git history is where"
            " the previous pin is read from"
        )
    name = f"./{path.name}"  # <commit>:./<name> is relative to the folder git runs in
    for commit in _git(folder, "log", "--format=%H", "--", path.name).split():
        text = _git_or_none(folder, "show", f"{commit}:{name}")
        pin = pin_in_text(text, model) if text is not None else None
        if pin is not None and pin != current:
            return PreviousPin(pin, commit)
    if _git(folder, "rev-parse", "--is-shallow-repository") == "true":
        start = _git(folder, "rev-list", "--max-parents=0", "HEAD").split()
        raise PackagingError(
            f"no earlier pin of {model} found: the history of {path} is shallow"
            f" (starts at {start[-1] if start else 'an unknown commit'}): run git fetch --unshallow"
        )
    raise PackagingError(
        f"no earlier pin of {model} in the git history of {path}: nothing to roll back to"
    )


def _git(folder: Path, *args: str) -> str:
    result = _run(folder, args)
    if result.returncode != 0:
        message = " ".join(result.stderr.split()) or f"exit status {result.returncode}"
        raise PackagingError(f"git {' '.join(args)} failed in {folder}: {message}")
    return result.stdout.strip()


def _git_or_none(folder: Path, *args: str) -> str | None:
    """The output, or None when git fails (not a repository, no such revision of the file)."""
    result = _run(folder, args)
    return result.stdout.strip() if result.returncode == 0 else None


def _run(folder: Path, args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, timeout=60
        )
    except FileNotFoundError:
        raise PackagingError("cannot roll back: git is not installed") from None
    except subprocess.TimeoutExpired:
        raise PackagingError(f"git {args[0]} in {folder} took longer than 60 s") from None
