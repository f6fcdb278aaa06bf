"""The pins a stack file held before, read from its git history.

Every promotion is a reviewed commit to ``stacks/Pulumi.<env>.yaml``, so the file's history is
the record of what each stage ran. The pins of a model, oldest first, are read from the file's
first-parent history (the states the branch held one after the other; a merged pull request
counts once, as its merge) and end with the working tree's pin. Read as a stack:

- a pin that is not on the stack is put on top (a promotion);
- a pin that is already on it takes everything above it off (a rollback, or a promotion back
  to a version the stage still has below), and stays on top.

The current pin is on top; below it is the pin that stood before the current one was first
promoted, and so on back. A rollback re-pins the one below the top, so it never returns to a
version a rollback left: that version is off the stack until a promotion puts it back. Commits
that do not change the model's pin (another model, another setting) change nothing. Pins are
compared whole, registry ARN (``package``) and digest, as the file states them.

A shallow clone may not reach far enough back, and a stack read from part of the history may be
wrong: when the history of the file starts at a shallow boundary, ``rollback`` refuses (never a
guess). ``rollback --version N`` only needs N to appear in the history that is there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from model_packaging.errors import PackagingError
from model_packaging.release import gitrepo
from model_packaging.release.stackfile import Pin, pin_in_text

_PURPOSE = "roll back"


@dataclass(frozen=True)
class PreviousPin:
    pin: Pin
    commit: str | None
    """The newest commit whose revision of the file held ``pin``; None for the working tree."""


@dataclass(frozen=True)
class History:
    """The revisions of a stack file that pin a model, oldest first."""

    path: Path
    revisions: list[PreviousPin]
    shallow_start: str | None
    """The commit the file's history starts at when a shallow clone cut it there."""


def read(path: Path, model: str) -> History:
    """Every committed pin of ``model`` in ``path``, oldest first (one ``git log`` and one
    ``git cat-file --batch``)."""
    tracked = gitrepo.locate(path, _PURPOSE)
    if tracked is None:
        raise PackagingError(
            f"cannot roll back: {path} is not in a git repository, and its git history is where"
            " the previous pin is read from"
        )
    folder = tracked.folder
    if gitrepo.run_or_none(folder, _PURPOSE, "rev-parse", "--verify", "--quiet", "HEAD") is None:
        return History(path, [], None)  # a repository without a commit has no history
    log = gitrepo.run(folder, _PURPOSE, "log", "--first-parent", "--format=%H", "--", tracked.name)
    commits = log.split()[::-1]
    texts = gitrepo.blobs(folder, _PURPOSE, [f"{c}:{tracked.repo_path}" for c in commits])
    revisions = []
    for commit, text in zip(commits, texts, strict=True):
        pin = pin_in_text(text, model) if text is not None else None
        if pin is not None:
            revisions.append(PreviousPin(pin, commit))
    return History(path, revisions, _shallow_start(folder, commits))


def standing(sequence: Iterable[PreviousPin]) -> list[PreviousPin]:
    """The stack the module docstring describes, bottom first, from pins oldest first."""
    stack: list[PreviousPin] = []
    for entry in sequence:
        for index, held in enumerate(stack):
            if held.pin == entry.pin:
                del stack[index:]
                break
        stack.append(entry)
    return stack


def previous_pin(path: Path, model: str, current: Pin) -> PreviousPin:
    """The pin of ``model`` that stood before ``current`` was first promoted."""
    history = read(path, model)
    if history.shallow_start is not None:
        raise _shallow(history, model)
    stack = standing([*history.revisions, PreviousPin(current, None)])
    if len(stack) >= 2:
        return stack[-2]
    others = sorted({r.pin.number for r in history.revisions if r.pin != current})
    if not others:
        raise PackagingError(
            f"no earlier pin of {model} in the git history of {path}: nothing to roll back to"
        )
    raise PackagingError(
        f"nothing to roll back to: {model} {current.describe()} is the oldest pin left in the git"
        f" history of {path}; the versions pinned after it ({_numbers(others)}) were left when"
        " the stage went back to it (rollback --version N re-pins one of them)"
    )


def pinned_before(path: Path, model: str, current: Pin, number: int) -> PreviousPin:
    """The newest revision of ``path`` that pinned ``model`` version ``number``."""
    if current.number == number:
        raise PackagingError(
            f"{path} pins {model} {current.describe()} already: nothing to roll back"
        )
    history = read(path, model)
    for revision in reversed(history.revisions):
        if revision.pin.number == number:
            return revision
    if history.shallow_start is not None:
        raise _shallow(history, model)
    numbers = sorted({r.pin.number for r in history.revisions} - {current.number})
    pinned = f"it pinned versions {_numbers(numbers)}" if numbers else "it pinned no other version"
    raise PackagingError(
        f"{model} version {number} was never pinned in the git history of {path} ({pinned}):"
        " rollback --version names a version this stage ran"
    )


def _numbers(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers)


def _shallow(history: History, model: str) -> PackagingError:
    return PackagingError(
        f"cannot read the earlier pins of {model}: the history of {history.path} is shallow"
        f" (starts at {history.shallow_start}): run git fetch --unshallow"
    )


def _shallow_start(folder: Path, commits: list[str]) -> str | None:
    """The oldest of ``commits`` when a shallow clone cut the history there, else None."""
    if not commits:
        return None
    if gitrepo.run(folder, _PURPOSE, "rev-parse", "--is-shallow-repository") != "true":
        return None
    # .git/shallow lists the commits whose parents the clone does not have (gitrepository-
    # layout, "shallow"); a file whose oldest commit is one of them may have older revisions.
    shallow = folder / gitrepo.run(folder, _PURPOSE, "rev-parse", "--git-path", "shallow")
    try:
        boundary = set(shallow.read_text().split())
    except OSError:
        return commits[0]  # it cannot be read: the history may be cut, and a guess is refused
    return commits[0] if commits[0] in boundary else None
