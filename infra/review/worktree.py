"""A git revision of this checkout, checked out beside it, to run that revision's own plan.

``plan-diff`` evaluates the base revision with the base's code and stack files: ``Worktree``
checks the commit out into a temporary ``git worktree`` (removed, and pruned, on exit) and
starts ``python -m infra plan STACK --json`` there. Every git failure is a ``PlanDiffError``
with a one-line message. The removal runs to its end even when Ctrl-C comes meanwhile
(:func:`infra.command_line.uninterrupted`): no worktree is left behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from infra.command_line import uninterrupted
from infra.review.diff_model import PlanDiffError
from infra.review.plan import ROOT, STACKS_DIR

# The offline plan's entry point in a tree: what `python -m infra plan` runs.
PROGRAM = Path("infra") / "__main__.py"


def resolve(rev: str) -> str:
    """The commit ``rev`` names, or a one-line error."""
    found = _git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    if found.returncode != 0:
        raise PlanDiffError(f"error: {rev!r} is not a revision git can resolve in {ROOT}")
    return found.stdout.strip()


def _git(*args: str, cwd: Path = ROOT, own_group: bool = False) -> subprocess.CompletedProcess[str]:
    """``git ARGS``; ``own_group``: in a process group of its own, which the terminal's Ctrl-C
    (sent to the foreground process group) does not reach."""
    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            process_group=0 if own_group else None,
        )
    except FileNotFoundError:
        raise PlanDiffError("error: git is not installed") from None


def _checked_git(*args: str) -> None:
    result = _git(*args)
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()
        raise PlanDiffError(
            f"error: git {args[0]} {args[1]} failed: {detail[-1] if detail else result.returncode}"
        )


class Worktree:
    """The tree of a commit, checked out into a temporary folder, removed on exit."""

    def __init__(self, commit: str) -> None:
        self.commit = commit
        self._folder: Path | None = None

    @property
    def path(self) -> Path:
        """The checked-out tree, inside the ``with`` block."""
        if self._folder is None:
            raise RuntimeError("the worktree exists only inside its with block")
        return self._folder / "tree"

    def __enter__(self) -> Worktree:
        # Made here rather than in __init__, so that no temporary folder exists before the
        # with block that removes it.
        with uninterrupted():
            self._folder = Path(tempfile.mkdtemp(prefix="mlserve-plan-diff-"))
        try:
            _checked_git("worktree", "add", "--detach", "--quiet", str(self.path), self.commit)
        except BaseException:
            self._remove()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._remove()

    def _remove(self) -> None:
        # A Ctrl-C during the removal would leave the worktree registered, or its folder.
        with uninterrupted():
            if self._folder is None:
                return
            if self.path.exists():
                _git("worktree", "remove", "--force", str(self.path), own_group=True)
            shutil.rmtree(self._folder, ignore_errors=True)
            _git("worktree", "prune", own_group=True)
            self._folder = None

    def stack_path(self, stack: str) -> Path:
        """Where the checked-out tree has the stack file of ``stack``."""
        return self.path / STACKS_DIR.relative_to(ROOT) / f"Pulumi.{stack}.yaml"

    def has_stack(self, stack: str) -> bool:
        return self.stack_path(stack).is_file()

    def has_program(self) -> bool:
        """Whether the tree has the offline plan that :meth:`plan` starts (``infra/__main__.py``).

        Checked before starting it: in a tree without it, ``python -m infra`` would fail to
        import, or find this checkout's own module through an editable install.
        """
        return (self.path / PROGRAM).is_file()

    def plan(self, stack: str) -> subprocess.Popen[str]:
        """Start ``python -m infra plan STACK --json`` with the checked-out tree's own code."""
        env = {**os.environ, "PYTHONPATH": str(self.path)}
        env.pop("PYTHONSAFEPATH", None)
        return subprocess.Popen(
            [sys.executable, "-m", "infra", "plan", stack, "--json"],
            cwd=self.path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
