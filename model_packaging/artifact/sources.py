"""Which files of a model folder go into its artifact, and which inputs are refused.

The folder maps 1:1 onto the artifact, minus noise that no two machines agree on (caches,
VCS metadata, desktop files). Everything is decided from names and file types alone, so the
same folder gives the same file set on every machine.

Symlinks: a symlink to a regular file inside the folder is packaged as a copy of that file
(S3 and SageMaker have no symlinks, and both compressions must hold the same bytes). A symlink
that leaves the folder, dangles, or points to a folder is refused.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from model_packaging.artifact.archive import SourceFile
from model_packaging.artifact.paths import relative_path_problem
from model_packaging.errors import PackagingError

IGNORED_DIRS = frozenset(
    {
        "__pycache__",
        ".git",
        ".hg",
        ".svn",
        ".ipynb_checkpoints",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
    }
)
IGNORED_FILES = (".git", ".DS_Store", "Thumbs.db", "desktop.ini", "._*", "*.pyc", "*.pyo", "*~")
# Matched case-insensitively against file names. Shipping a key inside a model artifact
# spreads it to every account the artifact is promoted to, so these need an explicit --allow.
CREDENTIAL_FILES = (
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "credentials",
    "credentials.*",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    ".pgpass",
    ".pypirc",
    ".npmrc",
)

_SPECIAL_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def looks_like_credential(name: str) -> bool:
    return _matches(name.lower(), CREDENTIAL_FILES)


def is_ignored(name: str, is_dir: bool) -> bool:
    return name in IGNORED_DIRS if is_dir else _matches(name, IGNORED_FILES)


def collect(model_dir: Path, allow: Iterable[str] = ()) -> list[SourceFile]:
    """The files of ``model_dir`` to package, sorted by path; refuses anything unsafe.

    ``allow`` lists relative paths of credential-looking files that are meant to ship.
    """
    root = Path(os.path.realpath(model_dir))
    if not root.is_dir():
        raise PackagingError(f"{model_dir}: not a folder")
    allowed = set()
    for path in allow:
        problem = relative_path_problem(path)
        if problem:
            raise PackagingError(f"--allow {path}: {problem}")
        allowed.add(path)
    files: list[SourceFile] = []
    try:
        _walk(model_dir, root, "", allowed, files)
    except OSError as exc:
        raise PackagingError(
            f"{exc.filename or model_dir}: cannot be read: {exc.strerror}"
        ) from None
    unused = sorted(allowed - {f.path for f in files})
    if unused:
        raise PackagingError(f"--allow {unused[0]}: no such file in {model_dir}")
    return sorted(files, key=lambda f: f.path)


@dataclass(frozen=True)
class Listing:
    """What :func:`collect` found, or its refusal, kept to be raised in its turn: a build lists
    the folder before it reads model.yaml, whose problems are reported first."""

    files: list[SourceFile]
    refusal: PackagingError | None = None

    def checked(self) -> list[SourceFile]:
        if self.refusal is not None:
            raise self.refusal
        return self.files


def listing(model_dir: Path, allow: Iterable[str] = ()) -> Listing:
    """:func:`collect`, its refusal held in the result rather than raised."""
    try:
        return Listing(collect(model_dir, allow))
    except PackagingError as exc:
        return Listing([], exc)


def _walk(
    model_dir: Path, root: Path, prefix: str, allowed: set[str], out: list[SourceFile]
) -> None:
    with os.scandir(root / prefix if prefix else root) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            rel = prefix + entry.name
            shown = model_dir / rel
            info = entry.stat(follow_symlinks=False)
            is_dir = stat.S_ISDIR(info.st_mode)
            if is_ignored(entry.name, is_dir):
                continue
            try:
                entry.name.encode("utf-8")
            except UnicodeEncodeError:
                raise PackagingError(f"{shown}: file name is not valid UTF-8") from None
            problem = relative_path_problem(rel)
            if problem:
                raise PackagingError(f"{shown}: file name {problem}")
            if is_dir:
                _walk(model_dir, root, rel + "/", allowed, out)
                continue
            source = Path(entry.path)
            if stat.S_ISLNK(info.st_mode):
                source, info = _resolve_link(shown, root, source)
            if not stat.S_ISREG(info.st_mode):
                kind = _SPECIAL_KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
                raise PackagingError(
                    f"{shown}: is {kind}; only regular files and folders can be packaged"
                )
            if rel not in allowed and (
                looks_like_credential(entry.name) or looks_like_credential(source.name)
            ):
                raise PackagingError(
                    f"{shown}: looks like a credential file; remove it, or pass --allow {rel} "
                    "if it is meant to ship"
                )
            out.append(SourceFile(rel, source, bool(info.st_mode & 0o111), info.st_size))


def _resolve_link(shown: Path, root: Path, link: Path) -> tuple[Path, os.stat_result]:
    target = Path(os.path.realpath(link))
    if not target.is_relative_to(root):
        raise PackagingError(f"{shown}: symlink points outside the model folder (to {target})")
    try:
        info = target.stat()
    except OSError as exc:
        raise PackagingError(f"{shown}: symlink cannot be followed: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise PackagingError(f"{shown}: symlink to a folder; only symlinks to files are followed")
    return target, info
