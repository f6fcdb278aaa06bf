"""``python -m infra.touched --base REV``: the stacks a change touches, one a line.

The change is ``git diff REV...HEAD``: what HEAD changed since it forked from REV, so commits
that reached REV's branch in the meantime do not count. A path touches:

- ``stacks/Pulumi.<stack>.yaml``: that stack (also when the file was deleted);
- code that every stack runs under ``pulumi`` (``infra/``, ``__main__.py``, ``Pulumi.yaml``,
  ``requirements*.txt``, the policy pack in ``policy/``, which judges every preview and up, and
  ``.pulumi-version``, the CLI every job installs): every stack that has a file in ``stacks/``;
- anything else (docs, tests, ``model_packaging``, which never runs under ``pulumi``): none.

Stacks are listed in promotion order (shared, dev, staging, prod), then any others by name.

The repository read is the checkout this package is in (:data:`CHECKOUT`), whatever the working
directory, as ``python -m infra plan-diff`` reads it.
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from infra import command_line
from infra.settings.schema import ENVIRONMENTS

# The checkout this package is in: its git repository is the one read, from any working
# directory, as plan-diff reads it (infra.review.plan.ROOT, which imports pulumi).
CHECKOUT = Path(__file__).resolve().parents[2]
STACKS_DIR = "stacks"
# Pulumi stack names: letters, digits, hyphens, underscores and periods (pulumi/pulumi's
# validateStackName, "^[a-zA-Z0-9-_.]{1,100}$", the Pulumi Service's rule). A file named
# otherwise is no stack's, and such a name never reaches the workflows' job and artifact names.
STACK_FILE = re.compile(r"^stacks/Pulumi\.([A-Za-z0-9_.-]+)\.yaml$")
# Paths every stack's program run depends on: the program itself, the project file that names
# its runtime and virtualenv, the packages installed into that virtualenv, the policy pack
# every preview and up runs, and the CLI version every job installs.
SHARED_DIRS = ("infra/", "policy/")
SHARED_FILES = ("__main__.py", "Pulumi.yaml", ".pulumi-version")
SHARED_PATTERNS = ("requirements*.txt",)


class TouchedError(Exception):
    """A change whose stacks cannot be worked out; the message is one line."""


def stack_order(stack: str) -> tuple[int, str]:
    """Sort key: the environments in promotion order, then other stacks by name."""
    if stack in ENVIRONMENTS:
        return ENVIRONMENTS.index(stack), ""
    return len(ENVIRONMENTS), stack


def is_shared_code(path: str) -> bool:
    if path.startswith(SHARED_DIRS) or path in SHARED_FILES:
        return True
    return "/" not in path and any(fnmatch.fnmatchcase(path, p) for p in SHARED_PATTERNS)


def stacks_touched_by(paths: Iterable[str], stacks: Iterable[str]) -> list[str]:
    """The stacks that changed ``paths`` touch, given the stacks that have a file now."""
    existing = set(stacks)
    touched: set[str] = set()
    for path in paths:
        match = STACK_FILE.match(path)
        if match:
            touched.add(match.group(1))
        elif is_shared_code(path):
            touched |= existing
    return sorted(touched, key=stack_order)


def existing_stacks(repo: Path) -> list[str]:
    """The stacks with a file in the working tree's ``stacks/``."""
    found = []
    for path in (repo / STACKS_DIR).glob("Pulumi.*.yaml"):
        match = STACK_FILE.match(f"{STACKS_DIR}/{path.name}")
        if match and path.is_file():
            found.append(match.group(1))
    return sorted(found, key=stack_order)


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, timeout=120, check=False
        )
    except FileNotFoundError:
        raise TouchedError("git is not installed") from None


def changed_paths(repo: Path, base: str) -> list[str]:
    """Paths that HEAD changed since its merge base with ``base``, old and new names of renames."""
    found = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{base}^{{commit}}")
    if found.returncode != 0:
        # actions/checkout fetches one commit unless told otherwise (fetch-depth: 0).
        raise TouchedError(
            f"--base {base!r} is not a commit in {repo} (a shallow clone may not have it yet)"
        )
    diff = _git(repo, "diff", "--name-only", "--no-renames", "-z", f"{base}...HEAD", "--")
    if diff.returncode != 0:
        detail = diff.stderr.strip().splitlines()
        reason = detail[-1] if detail else f"exit status {diff.returncode}"
        raise TouchedError(f"git diff {base}...HEAD failed: {reason}")
    return [p for p in diff.stdout.split("\0") if p]


def touched_stacks(repo: Path, base: str) -> list[str]:
    return stacks_touched_by(changed_paths(repo, base), existing_stacks(repo))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m infra.touched",
        description=(
            "Print the stacks that the commits since REV touch, one a line: a changed stack "
            "file touches its stack, a change to code every stack runs touches all of them. "
            "The git repository read is the checkout this command is in, from any folder."
        ),
    )
    parser.add_argument(
        "--base",
        required=True,
        metavar="REV",
        help="the revision the change is based on, e.g. the pull request's base commit",
    )
    return parser


def _repo_root() -> Path:
    top = _git(CHECKOUT, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise TouchedError(f"{CHECKOUT} is not inside a git repository")
    return Path(top.stdout.strip())


def main(argv: Sequence[str] | None = None) -> int:
    """Print the touched stacks; a Ctrl-C ends it as every command (infra.command_line.run)."""
    return command_line.run(lambda: _run(argv), as_program=argv is None)


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        stacks = touched_stacks(_repo_root(), args.base)
    except TouchedError as exc:
        command_line.stop_if_interrupted()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for stack in stacks:
        print(stack)
    return 0


if __name__ == "__main__":
    sys.exit(main())
