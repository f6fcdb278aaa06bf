"""Stack files as the release tool reads and edits them: a model's pin, changed in place.

A pin is ``config: mlserve:models: <model>: version: {package: <version ARN>, digest: ...}`` in
``stacks/Pulumi.<env>.yaml``. Promotion changes those two scalars and nothing else, so the edit
is a round trip through ruamel.yaml that must reproduce every other byte of the file (comments,
key order, quoting, indentation); a file it cannot reproduce is refused rather than reformatted.

A byte order mark and CRLF (or CR) line endings are kept as they are: the round trip works on
the text without them, and each line gets its own ending back. YAML allows all of them (YAML
1.2, 5.2 "Character Encodings" and 5.4 "Line Break Characters"), and ``infra.settings`` reads
them.

Every edited document is validated by ``infra.settings`` exactly as the stack will read it
(``load_stack_file`` on the bytes about to be written) before it replaces the file. The write
is atomic (a temporary file in the same folder, fsync, ``os.replace``) and serialised with other
writers by an exclusive ``flock`` on ``.Pulumi.<env>.yaml.lock`` beside it, plus a
compare-and-swap on the content: two promotions into one file at the same moment both land. A
writer that waits for the lock says so after ``LOCK_NOTICE_SECONDS`` and gives up after
``LOCK_TIMEOUT_SECONDS``. A stack file that is a symbolic link is edited where it points: the
link stays a link.
"""

from __future__ import annotations

import difflib
import fcntl
import io
import os
import re
import socket
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
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

# A writer waiting for another's lock says so after LOCK_NOTICE_SECONDS and gives up after
# LOCK_TIMEOUT_SECONDS. A holder keeps the lock for one read, validation and rename (well under a
# second), so a lock held this long belongs to a process that is stuck or stopped.
LOCK_NOTICE_SECONDS = 1.0
LOCK_TIMEOUT_SECONDS = 30.0
_LOCK_POLL_SECONDS = 0.05

Warn = Callable[[str], None]

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
    plain, layout = _plain(text)
    return _restore(_set_plain_pin(plain, model, pin, source), layout, source)


def check_editable(path: Path, model: str, pin: Pin) -> None:
    """Refuse now, before any gate, a file whose pin of ``model`` cannot be edited in place."""
    set_pin(read_text(path), model, pin, path)


def read_text(path: Path) -> str:
    """The stack file's text, exactly (a byte order mark and CR line endings included)."""
    return _read(path)


def _set_plain_pin(text: str, model: str, pin: Pin, source: Path) -> str:
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


def write_pin(
    path: Path,
    environment: str,
    model: str,
    pin: Pin,
    *,
    dry_run: bool = False,
    warn: Warn | None = None,
    lock_notice: float = LOCK_NOTICE_SECONDS,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
) -> Edit:
    """Pin ``model`` to ``pin`` in ``path``: validated, atomic, and safe against other writers.

    With ``dry_run`` the edited text is validated and returned, and nothing is written. The
    returned edit's ``before`` is the text it replaced, read under the lock: another writer's
    result, when one got there first. ``warn`` hears that the lock is being waited for.
    """
    # A symbolic link is followed: its target is read, locked and replaced; the link stays.
    target = Path(os.path.realpath(path))
    for _ in range(_ATTEMPTS):
        before = _read(path)
        edit = Edit(path, before, set_pin(before, model, pin, path))
        if not edit.changed:
            return edit
        if dry_run:
            with tempfile.TemporaryDirectory() as scratch:
                _validated(Path(scratch), edit, environment)
            return edit
        with _locked(target, path, warn=warn, notice=lock_notice, timeout=lock_timeout):
            if _read(target) != before:
                continue  # another writer got there first: start over from its result
            _replace(edit, target, environment)
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


@dataclass(frozen=True)
class _Layout:
    """What the round trip leaves out of a file and gets back: a byte order mark, and each
    line's ending."""

    bom: bool
    endings: tuple[str, ...]


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _plain(text: str) -> tuple[str, _Layout]:
    """``text`` without a byte order mark and with LF line endings, and what was taken out."""
    bom = text.startswith("\ufeff")
    body = text[1:] if bom else text
    endings = tuple(match.group() for match in _LINE_BREAK.finditer(body))
    return _LINE_BREAK.sub("\n", body), _Layout(bom, endings)


def _restore(plain: str, layout: _Layout, source: Path) -> str:
    """``plain`` with the byte order mark and the line endings ``_plain`` took out."""
    lines = plain.split("\n")
    if len(lines) != len(layout.endings) + 1:
        raise PackagingError(
            f"{source}: changing the pin would change other lines; edit it by hand"
        )
    body = "".join(line + end for line, end in zip(lines, layout.endings, strict=False))
    return ("\ufeff" if layout.bom else "") + body + lines[-1]


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
def _locked(
    target: Path, shown: Path, *, warn: Warn | None, notice: float, timeout: float
) -> Iterator[None]:
    """Hold an exclusive lock on ``.<name>.lock`` beside ``target`` (``shown`` is the path the
    user named, for messages).

    The lock file is never deleted: removing it while another writer waits on it would let a
    third writer lock a new file and run at the same time. The holder writes its process id and
    host into it, for the message of a writer that waits.
    """
    lock = target.parent / f".{target.name}.lock"
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise PackagingError(f"cannot create lock file {lock}: {exc.strerror or exc}") from exc
    try:
        start, noticed = time.monotonic(), False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pass  # another writer holds it
            except OSError as exc:
                raise PackagingError(f"cannot lock {lock}: {exc.strerror or exc}") from exc
            waited = time.monotonic() - start
            if waited >= timeout:
                raise PackagingError(
                    f"{shown} is locked by another promote or rollback{_holder(lock)}, still"
                    f" after {timeout:g} s ({lock}): let it finish, or stop it, and run this"
                    " command again"
                )
            if warn is not None and not noticed and waited >= notice:
                warn(
                    f"waiting for another promote or rollback{_holder(lock)} to finish writing"
                    f" {shown}; giving up after {timeout:g} s"
                )
                noticed = True
            time.sleep(max(0.0, min(_LOCK_POLL_SECONDS, timeout - waited)))
        _record_holder(fd)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _record_holder(fd: int) -> None:
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
    except OSError:
        pass  # the note is for messages only; the lock is what counts


def _holder(lock: Path) -> str:
    """`` (process <pid> on <host>)`` as the lock's holder wrote it, or nothing."""
    try:
        words = lock.read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        return ""
    if len(words) == 2 and words[0].isdigit():
        return f" (process {words[0]} on {words[1]})"
    return ""


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


def _replace(edit: Edit, target: Path, environment: str) -> None:
    """Replace ``target`` (the file ``edit.path`` is or points to) with the edited text: all of
    it or nothing, and durable once done."""
    directory = target.parent
    temporary = _validated(directory, edit, environment)
    try:
        os.chmod(temporary, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(temporary, target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise PackagingError(f"cannot write {edit.path}: {exc.strerror or exc}") from exc
    except BaseException:
        # Ctrl-C before the rename: no temporary file is left beside the stack file.
        temporary.unlink(missing_ok=True)
        raise
    # The rename is durable only once the folder's entry is on disk.
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
