"""The demo's scratch copy of the project, in a git repository of its own.

Promotion is a commit to a stack file, ``rollback`` reads the file's git history and
``plan-diff --base REV`` checks a revision out, so the demo needs a repository whose history it
may write. It copies the project's files as the working tree has them (tracked files, and
untracked ones that are not ignored, as ``plan-diff`` evaluates the working tree), commits them
once, and commits every change the demo makes on top. The project's own files are only read.
"""

from __future__ import annotations

import compileall
import os
import shutil
import subprocess
from pathlib import Path

# A fixed identity, and none of the user's settings that could refuse or alter a commit
# (signing, hooks): the scratch repository is the demo's alone.
_IDENTITY = {
    "GIT_AUTHOR_NAME": "mlserve demo",
    "GIT_AUTHOR_EMAIL": "demo@mlserve.invalid",
    "GIT_COMMITTER_NAME": "mlserve demo",
    "GIT_COMMITTER_EMAIL": "demo@mlserve.invalid",
}
_OPTIONS = ("-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null")
# The project's packages the demo's commands import.
_PACKAGES = ("infra", "model_packaging")


class WorkspaceError(Exception):
    """A git command failed; the message holds the command and git's last line."""


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def copy_of(cls, project: Path, root: Path) -> Workspace:
        """Copy ``project``'s files into ``root`` (created) and commit them."""
        listed = _git(
            project, "ls-files", "-z", "--cached", "--others", "--exclude-standard"
        ).split("\0")
        root.mkdir(parents=True)
        for name in sorted({n for n in listed if n}):
            source = project / name
            if not source.exists() and not source.is_symlink():
                continue  # deleted in the working tree, not yet in the index
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)
        workspace = cls(root)
        workspace.git("init", "--quiet", "--initial-branch=main")
        workspace.git("add", "--all")
        workspace.git("commit", "--quiet", "-m", f"mlserve as in {project}")
        workspace.compile_bytecode()
        return workspace

    def compile_bytecode(self) -> None:
        """Write the copy's bytecode (``__pycache__``, which its .gitignore leaves out).

        Every command the demo runs imports the project from this copy, in a process of its
        own; without bytecode each one compiles the modules it imports from source again, and
        Python writes none back where PYTHONDONTWRITEBYTECODE is set (as ``make install`` does
        for the checkout, the Makefile says why).
        """
        for package in _PACKAGES:
            compileall.compile_dir(self.root / package, quiet=1)

    def git(self, *args: str) -> str:
        return _git(self.root, *args, options=_OPTIONS)

    def head(self) -> str:
        return self.git("rev-parse", "--short", "HEAD").strip()

    def changed(self, *paths: str) -> list[str]:
        """The tracked files under ``paths`` that differ from HEAD.

        Untracked files do not count: promotion leaves a lock file beside each stack file it
        considered (``model_packaging.release.stackfile``), and that is not a change to the stack.
        """
        out = self.git("status", "--porcelain", "--untracked-files=no", "--", *paths)
        return [line[3:] for line in out.splitlines() if line.strip()]


def _git(folder: Path, *args: str, options: tuple[str, ...] = ()) -> str:
    try:
        result = subprocess.run(
            ["git", *options, *args],
            cwd=folder,
            env={**os.environ, **_IDENTITY},
            capture_output=True,
            text=True,
            timeout=120,
        )
    except FileNotFoundError:
        raise WorkspaceError("git is not installed") from None
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()
        raise WorkspaceError(
            f"git {' '.join(args)} failed in {folder}:"
            f" {detail[-1] if detail else f'exit status {result.returncode}'}"
        )
    return result.stdout
