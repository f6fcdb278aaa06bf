"""``build``: a model folder in, an immutable artifact and its manifest out.

Output files appear under their final names only when complete: each is written under a
temporary name in the output folder and moved into place with ``os.replace``
(:mod:`model_packaging.replace_file`, which also says why they are not fsynced); on any error
the temporary files are removed and earlier outputs stay as they were. The artifact is
replaced before the manifest, so a build stopped in between leaves a manifest that verify
rejects rather than one that vouches for the wrong bytes.

The artifact is written from the start, while model.yaml is read and checked and the work
beside it runs (:mod:`model_packaging.artifact.assembly`): importing what those need takes
longer than compressing a small folder, and compressing a large one takes longer than them, so
neither waits for the other. It is moved into place only once all of that has passed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from infra.settings.artifacts import BASELINE_FOLDER
from model_packaging.artifact.archive import (
    SourceFile,
    WrittenArtifact,
    copy_tree,
    listing_digest,
    write_tar_gz,
)
from model_packaging.artifact.paths import ARTIFACT_PATHS, MANIFEST_NAME, output_problem
from model_packaging.artifact.sources import listing
from model_packaging.errors import PackagingError
from model_packaging.progress import Bar, progress_bar
from model_packaging.replace_file import replace_file

if TYPE_CHECKING:
    from model_packaging.artifact.manifest import Manifest


@dataclass(frozen=True)
class BuildResult:
    artifact_path: Path
    manifest_path: Path
    digest: str
    manifest: Manifest


def build(
    model_dir: Path,
    out_dir: Path,
    *,
    compression: str = "gzip",
    allow: tuple[str, ...] = (),
    progress: bool = True,
    threads: int | None = None,
) -> BuildResult:
    """Package ``model_dir`` into ``out_dir``: model.tar.gz (or model/) and manifest.json.

    A refused folder leaves nothing behind: a problem in model.yaml or the folder stops the
    artifact being written and removes what was, and the image lookup and the baseline must
    succeed before any output is moved into place. Problems are reported in the order of the
    checks: model.yaml, the folder's files, the entry point, the output folder. The artifact's
    bytes depend only on the folder's file names, contents and executable bits (see
    archive.py), never on times, owners, umask or ``threads`` (how many threads compress; one
    per CPU by default).
    """
    if compression not in ARTIFACT_PATHS:
        raise PackagingError(f"compression {compression!r}: must be one of gzip, none")
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    if not model_dir.is_dir():
        raise PackagingError(f"{model_dir}: no such folder")
    found = listing(model_dir, allow)
    artifact_path = out_dir / ARTIFACT_PATHS[compression].rstrip("/")
    created = not out_dir.exists()
    with ThreadPoolExecutor(4, thread_name_prefix="build") as beside:
        writer = None
        if found.refusal is None and output_problem(out_dir, model_dir) is None:
            writer = _Writer(beside, found.files, artifact_path, compression, threads)
        try:
            # pydantic, the baseline's readers, the image cache: imported while the writer runs.
            from model_packaging.artifact import assembly

            plan = assembly.plan(model_dir, found, out_dir, beside)
            assert writer is not None  # plan raises whatever kept the writer from starting
            total = sum(f.size for f in found.files)
            with progress_bar(total, f"build {plan.descriptor.name}", progress) as bar:
                written = writer.finish(plan.ready, bar)
        except BaseException as exc:
            if writer is not None:
                writer.abandon()
            _remove_new_folder(out_dir, created)
            if isinstance(exc, OSError):  # a full disk or an unwritable folder is the user's
                raise PackagingError(f"{exc.filename or out_dir}: {exc.strerror or exc}") from None
            raise
    baseline = plan.baseline.result()
    try:
        if baseline is not None:
            baseline.write(out_dir / BASELINE_FOLDER)
        manifest = assembly.manifest(plan, compression, written, baseline)
        manifest_path = out_dir / MANIFEST_NAME
        replace_file(manifest_path, lambda out: out.write(manifest.to_json().encode("utf-8")))
        other = out_dir / ARTIFACT_PATHS["none" if compression == "gzip" else "gzip"].rstrip("/")
        _remove(other)  # a stale artifact of the other kind next to this manifest only confuses
        if baseline is None:
            _remove(out_dir / BASELINE_FOLDER)
    except OSError as exc:  # a full disk or an unwritable folder is the user's to fix
        raise PackagingError(f"{exc.filename or out_dir}: {exc.strerror or exc}") from None
    return BuildResult(artifact_path, manifest_path, manifest.digest, manifest)


class _Stopped(Exception):
    """The artifact is no longer wanted: a check refused the folder, or the build was stopped."""


class _Writer:
    """Writes the artifact on a thread from the start of a build, while model.yaml is read
    and checked: it names the artifact only once :meth:`finish` says the checks passed and the
    work beside has succeeded, and :meth:`abandon` stops it, removing what it wrote.

    Its progress waits for the bar, which model.yaml names.
    """

    def __init__(
        self,
        beside: ThreadPoolExecutor,
        files: Sequence[SourceFile],
        path: Path,
        compression: str,
        threads: int | None,
    ) -> None:
        self._lock = threading.Lock()
        self._bar: Bar | None = None
        self._early = 0
        self._stopped = threading.Event()
        self._checked: Future[Callable[[], None]] = Future()
        self._job = beside.submit(
            _write_artifact, files, path, compression, self._progress, threads, self._ready
        )

    def finish(self, ready: Callable[[], None], bar: Bar) -> WrittenArtifact:
        """Name the artifact once ``ready`` returns; what was written. Progress goes to
        ``bar``."""
        with self._lock:
            self._bar = bar
            bar.update(self._early)
        self._checked.set_result(ready)
        return self._job.result()

    def abandon(self) -> None:
        """Stop writing and wait until what was written is removed."""
        self._stopped.set()
        if not self._checked.done():
            self._checked.set_exception(_Stopped())
        wait([self._job])

    def _progress(self, count: int) -> None:
        if self._stopped.is_set():
            raise _Stopped
        with self._lock:
            if self._bar is None:
                self._early += count
            else:
                self._bar.update(count)

    def _ready(self) -> None:
        self._checked.result()()
        if self._stopped.is_set():
            raise _Stopped


def _write_artifact(
    files: Sequence[SourceFile],
    path: Path,
    compression: str,
    progress: Callable[[int], object],
    threads: int | None,
    ready: Callable[[], object],
) -> WrittenArtifact:
    path.parent.mkdir(parents=True, exist_ok=True)
    if compression == "gzip":
        return _write_tarball(files, path, progress, threads, ready)
    return _write_tree(files, path, progress, ready)


def _write_tarball(
    files: Sequence[SourceFile],
    path: Path,
    progress: Callable[[int], object],
    threads: int | None,
    ready: Callable[[], object],
) -> WrittenArtifact:
    # None leaves the choice to write_tar_gz: one thread per CPU.
    options = {} if threads is None else {"threads": threads}
    return replace_file(path, lambda out: write_tar_gz(files, out, progress, **options), ready)


def _write_tree(
    files: Sequence[SourceFile],
    path: Path,
    progress: Callable[[int], object],
    ready: Callable[[], object],
) -> WrittenArtifact:
    """Copy into a temporary folder, then swap it in; the old folder is removed afterwards.

    ``ready`` runs just before the swap; if it raises, the previous folder stays.
    """
    temp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial"))
    try:
        records = copy_tree(files, temp, progress)
        temp.chmod(0o755)
        ready()
        if path.exists():
            retired = temp.with_name(temp.name.replace(".partial", ".old"))
            os.replace(path, retired)
            os.replace(temp, path)
            shutil.rmtree(retired)
        else:
            os.replace(temp, path)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return WrittenArtifact(records, listing_digest(records), sum(r.size for r in records))


def _remove_new_folder(folder: Path, created: bool) -> None:
    """Remove the output folder this build created, if nothing was moved into it."""
    if created:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
