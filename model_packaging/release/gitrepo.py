"""git, as the release commands ask it about a stack file: read-only questions, one line errors.

Every command runs with ``--no-optional-locks``, so a question never rewrites the index (a
plain ``git diff`` may refresh and write it): a refused promotion leaves the repository as it
was, ``.git`` included.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from model_packaging.errors import PackagingError

GIT_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Tracked:
    """A file inside a git work tree: the folder git runs in and the file's names there."""

    folder: Path
    name: str
    """The file's name in ``folder``."""
    prefix: str
    """``folder`` relative to the repository's root: ``stacks/``, or empty at the root."""

    @property
    def repo_path(self) -> str:
        """The file's path from the repository's root, as ``<commit>:<path>`` names it."""
        return f"{self.prefix}{self.name}"


def locate(path: Path, purpose: str) -> Tracked | None:
    """The work tree ``path`` is in, or None when it is in none.

    ``path`` is resolved first: a stack file that is a symbolic link is asked about through the
    file it points to, which is the one a promotion edits.
    """
    real = Path(path).resolve()
    folder = real.parent
    if run_or_none(folder, purpose, "rev-parse", "--is-inside-work-tree") != "true":
        return None
    prefix = run(folder, purpose, "rev-parse", "--show-prefix")
    return Tracked(folder, real.name, prefix)


def run(folder: Path, purpose: str, *args: str) -> str:
    """git's output, stripped; a failure is a one-line error naming the command."""
    result = _run(folder, purpose, args)
    if result.returncode != 0:
        raise PackagingError(_failed(folder, args, result))
    return result.stdout.decode("utf-8", "replace").strip()


def run_or_none(folder: Path, purpose: str, *args: str) -> str | None:
    """The output, or None when git fails (not a repository, no such revision of the file)."""
    result = _run(folder, purpose, args)
    return result.stdout.decode("utf-8", "replace").strip() if result.returncode == 0 else None


def blobs(folder: Path, purpose: str, names: list[str]) -> list[str | None]:
    """The text of each ``<revision>:<path>`` in ``names`` (None when missing), read by one
    ``git cat-file --batch``."""
    if not names:
        return []
    args = ("cat-file", "--batch")
    result = _run(folder, purpose, args, "".join(f"{n}\n" for n in names).encode())
    if result.returncode != 0:
        raise PackagingError(_failed(folder, args, result))
    out = result.stdout
    texts: list[str | None] = []
    position = 0
    for _ in names:
        end = out.index(b"\n", position)
        header = out[position:end].split()
        position = end + 1
        # <object> <type> <size>, then the content and a newline; or <name> missing (git
        # cat-file's documentation, BATCH OUTPUT).
        if len(header) == 3 and header[2].isdigit():
            size = int(header[2])
            content = out[position : position + size]
            position += size + 1
            texts.append(content.decode("utf-8", "replace") if header[1] == b"blob" else None)
        else:
            texts.append(None)
    return texts


def uncommitted(path: Path) -> str | None:
    """What is not committed in ``path``, as a clause naming its lines; None when the file is
    as HEAD has it, or is in no git work tree."""
    purpose = "check the stack file"
    try:
        tracked = locate(path, purpose)
    except PackagingError:
        return None  # git is not installed: there is no repository to ask
    if tracked is None:
        return None
    folder = tracked.folder
    folder, purpose = tracked.folder, "check the stack file"
    if run_or_none(folder, purpose, "rev-parse", "--verify", "--quiet", "HEAD") is None:
        return "is not committed (the repository has no commit yet)"
    if run_or_none(folder, purpose, "cat-file", "-e", f"HEAD:{tracked.repo_path}") is None:
        return "is not committed (HEAD has no such file)"
    diff = run(
        folder,
        purpose,
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--unified=0",
        "HEAD",
        "--",
        tracked.name,
    )
    hunks = _HUNK.findall(diff)
    if not hunks:
        return None
    changed: list[str] = []
    removed: list[str] = []
    for _old_start, old_count, new_start, new_count in hunks:
        start, count = int(new_start), 1 if new_count == "" else int(new_count)
        if count == 0:
            # A hunk that only removes lines starts after line <start> of the working file.
            lines = 1 if old_count == "" else int(old_count)
            where = f"after line {start}" if start else "at the top"
            removed.append(f"{lines} line{'s' if lines > 1 else ''} removed {where}")
        else:
            changed.append(str(start) if count == 1 else f"{start}-{start + count - 1}")
    parts = []
    if changed:
        plural = len(changed) > 1 or "-" in changed[0]
        parts.append(f"{'lines' if plural else 'line'} {', '.join(changed)}")
    parts.extend(removed)
    return f"has uncommitted changes ({'; '.join(parts)})"


# A unified diff's hunk header: @@ -<start>[,<count>] +<start>[,<count>] @@ (a count of 1 is
# left out; git diff's documentation, "Combined diff format" and "-U").
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)


def _run(
    folder: Path, purpose: str, args: tuple[str, ...], stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """git in ``folder``, its output as bytes: a file's content is read exactly as stored."""
    try:
        return subprocess.run(
            ["git", "--no-optional-locks", "--literal-pathspecs", *args],
            cwd=folder,
            input=stdin,
            capture_output=True,
            timeout=GIT_TIMEOUT_SECONDS,
        )
    except FileNotFoundError:
        raise PackagingError(f"cannot {purpose}: git is not installed") from None
    except subprocess.TimeoutExpired:
        raise PackagingError(
            f"git {args[0]} in {folder} took longer than {GIT_TIMEOUT_SECONDS:g} s"
        ) from None


def _failed(folder: Path, args: tuple[str, ...], result: subprocess.CompletedProcess[bytes]) -> str:
    message = " ".join(result.stderr.decode("utf-8", "replace").split())
    return (
        f"git {' '.join(args)} failed in {folder}: {message or f'exit status {result.returncode}'}"
    )
