"""Stack files as the release tool reads and edits them: a model's pin, changed in place.

A pin is ``config: mlserve:models: <model>: version: {package: <version ARN>, digest: ...}`` in
``stacks/Pulumi.<env>.yaml``. Promotion changes those two scalars and nothing else, so the edit
is a round trip through ruamel.yaml that must reproduce every other byte of the file (comments,
key order, quoting, indentation); a file it cannot reproduce is refused rather than reformatted.

Every edited document is validated by ``infra.settings`` exactly as the stack will read it
(``load_stack_file`` on the bytes about to be written) before it replaces the file. The write
is atomic (a temporary file in the same folder, fsync, ``os.replace``) and serialised with other
writers by an exclusive ``flock`` on ``.Pulumi.<env>.yaml.lock`` beside it, plus a
compare-and-swap on the content: two promotions into one file at the same moment both land.
"""

from __future__ import annotations

import difflib
import fcntl
import io
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import ScalarString

from infra.settings import PROJECT, EnvironmentSettings, SettingsError, artifacts, load_stack_file
from model_packaging.errors import PackagingError

STAGES = ("dev", "staging", "prod")
MODELS_KEY = f"{PROJECT}:models"

# How many times a write starts over when another writer changed the file between the read and
# the lock; each retry re-reads the file, so only a file rewritten continuously exhausts them.
_ATTEMPTS = 5
# Layouts tried for the round trip (mapping indent, sequence indent, dash offset), the project's
# own first. ruamel.yaml does not detect a file's indentation, so the one that reproduces the
# file byte for byte is the one used.
_INDENTS = [(2, 4, 2), (2, 2, 0), (4, 4, 2), (4, 4, 0), (4, 6, 4)] + [
    (m, s, o) for m in (2, 3, 4) for s in range(2, 7) for o in range(0, s - 1)
]


@dataclass(frozen=True)
class Pin:
    """A registry version pinned in a stack file."""

    package: str
    digest: str

    @property
    def number(self) -> int:
        return artifacts.version_of(self.package)

    @property
    def short_digest(self) -> str:
        return artifacts.short_digest(self.digest)

    def describe(self) -> str:
        return f"version {self.number} (sha256:{self.short_digest})"


@dataclass(frozen=True)
class Edit:
    """A stack file before and after a pin change; equal texts mean nothing changed."""

    path: Path
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                fromfile=str(self.path),
                tofile=str(self.path),
            )
        )


def stack_path(stacks: Path, environment: str) -> Path:
    return Path(stacks) / f"Pulumi.{environment}.yaml"


def load(path: Path, environment: str) -> EnvironmentSettings:
    """The validated settings of an environment's stack file, or a one-line error."""
    if not path.is_file():
        raise PackagingError(f"{path}: no such stack file")
    try:
        settings = load_stack_file(path, stack=environment)
    except SettingsError as exc:
        raise PackagingError(f"{path} has problems: {'; '.join(exc.problems)}") from exc
    except OSError as exc:
        raise PackagingError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not isinstance(settings, EnvironmentSettings):
        raise PackagingError(f"{path} is not an environment stack")
    return settings


def pin_of(settings: EnvironmentSettings, model: str, path: Path) -> Pin:
    """The registry pin of ``model``; promotion only changes pins, so the model must be there."""
    if model not in settings.models:
        raise PackagingError(
            f"{path} does not configure model {model!r}: add it under {MODELS_KEY} (promotion"
            " changes pins, never infrastructure settings)"
        )
    version = settings.models[model].version
    if version.package is None:
        raise PackagingError(
            f"{path} pins {model} by artifact_uri and image, not by a registry version;"
            " promotion changes only registry pins"
        )
    return Pin(version.package, version.digest)


def pin_in_text(text: str, model: str) -> Pin | None:
    """The pin of ``model`` in any revision of a stack file, valid today or not; None if absent.

    Old revisions are read for their pins only: a schema that has moved on since must not hide
    the version a stage ran.
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    version = _get(document, "config", MODELS_KEY, model, "version")
    if not isinstance(version, dict):
        return None
    package, digest = version.get("package"), version.get("digest")
    if not isinstance(package, str) or not isinstance(digest, str):
        return None
    # The same ARN rule as settings: a pin the program would refuse was never deployed.
    if artifacts.PACKAGE_ARN_RE.match(package) is None:
        return None
    return Pin(package, digest)


def set_pin(text: str, model: str, pin: Pin, source: Path) -> str:
    """``text`` with the pin of ``model`` replaced by ``pin``; every other byte unchanged."""
    loader, document = _round_trip(text, source)
    version = _get(document, "config", MODELS_KEY, model, "version")
    if not isinstance(version, CommentedMap) or "package" not in version or "digest" not in version:
        raise PackagingError(
            f"{source}: {MODELS_KEY}.{model}.version must hold package and digest to be promoted"
        )
    lines = {version.lc.value("package")[0], version.lc.value("digest")[0]}
    version["package"] = _like(version["package"], pin.package)
    version["digest"] = _like(version["digest"], pin.digest)
    edited = _dump(loader, document)
    before, after = text.splitlines(), edited.splitlines()
    if len(before) != len(after) or any(
        old != new and number not in lines
        for number, (old, new) in enumerate(zip(before, after, strict=True))
    ):
        raise PackagingError(
            f"{source}: changing the pin would change other lines; edit it by hand"
        )
    return edited


def write_pin(path: Path, environment: str, model: str, pin: Pin, *, dry_run: bool = False) -> Edit:
    """Pin ``model`` to ``pin`` in ``path``: validated, atomic, and safe against other writers.

    With ``dry_run`` the edited text is validated and returned, and nothing is written.
    """
    for _ in range(_ATTEMPTS):
        before = _read(path)
        edit = Edit(path, before, set_pin(before, model, pin, path))
        if not edit.changed:
            return edit
        if dry_run:
            with tempfile.TemporaryDirectory() as scratch:
                _validated(Path(scratch), edit, environment)
            return edit
        with _locked(path):
            if _read(path) != before:
                continue  # another writer got there first: start over from its result
            _replace(edit, environment)
            return edit
    raise PackagingError(
        f"{path} changed {_ATTEMPTS} times while the pin was being written; run the command again"
    )


# --- internals ----------------------------------------------------------------------------


def _get(node: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _like(old: Any, value: str) -> Any:
    """``value`` in the quoting style of the scalar it replaces."""
    if isinstance(old, ScalarString):
        return type(old)(value)
    return value


def _yaml(mapping: int, sequence: int, offset: int, explicit_start: bool) -> YAML:
    loader = YAML(typ="rt")
    loader.preserve_quotes = True
    loader.width = 4096  # never re-wrap a long comment or value
    loader.indent(mapping=mapping, sequence=sequence, offset=offset)
    loader.explicit_start = explicit_start
    return loader


def _dump(loader: YAML, document: Any) -> str:
    out = io.StringIO()
    loader.dump(document, out)
    return out.getvalue()


def _round_trip(text: str, source: Path) -> tuple[YAML, Any]:
    """A loader and the document it read, such that dumping it again gives back ``text``."""
    explicit_start = re.match(r"(\s*(#[^\n]*)?\n)*---", text) is not None
    for mapping, sequence, offset in _INDENTS:
        loader = _yaml(mapping, sequence, offset, explicit_start)
        try:
            document = loader.load(text)
        except YAMLError as exc:
            raise PackagingError(f"{source}: not valid YAML: {' '.join(str(exc).split())}") from exc
        if _dump(loader, document) == text:
            return loader, document
    raise PackagingError(
        f"{source}: its layout cannot be reproduced by a YAML round trip, so it cannot be edited"
        " without reformatting it; change the pin by hand"
    )


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise PackagingError(f"{path}: no such stack file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PackagingError(f"cannot read {path}: {exc}") from exc


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``.<name>.lock`` beside ``path``.

    The lock file is never deleted: removing it while another writer waits on it would let a
    third writer lock a new file and run at the same time.
    """
    lock = path.parent / f".{path.name}.lock"
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise PackagingError(f"cannot create lock file {lock}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _validated(directory: Path, edit: Edit, environment: str) -> Path:
    """Write the edited text to a temporary file in ``directory`` and load it as the stack would.

    Returns the temporary file, fsynced; it is removed if the text does not load.
    """
    fd, name = tempfile.mkstemp(dir=directory, prefix=f".{edit.path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(edit.after.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            load_stack_file(temporary, stack=environment)
        except SettingsError as exc:
            raise PackagingError(
                f"{edit.path}: the edited file would not load ({'; '.join(exc.problems)});"
                " nothing written"
            ) from exc
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _replace(edit: Edit, environment: str) -> None:
    """Replace the file with the edited text: all of it or nothing, and durable once done."""
    directory = edit.path.parent
    temporary = _validated(directory, edit, environment)
    try:
        os.chmod(temporary, stat.S_IMODE(os.stat(edit.path).st_mode))
        os.replace(temporary, edit.path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise PackagingError(f"cannot write {edit.path}: {exc.strerror or exc}") from exc
    # The rename is durable only once the folder's entry is on disk.
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
