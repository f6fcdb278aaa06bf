"""``build``: a model folder in, an immutable artifact and its manifest out.

Output files appear under their final names only when complete: each is written under a
temporary name in the output folder and moved into place with ``os.replace``; on any error
the temporary files are removed and earlier outputs stay as they were. The artifact is
replaced before the manifest, so a crash in between leaves a manifest that verify rejects
rather than one that vouches for the wrong bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from infra.settings.artifacts import BASELINE_FOLDER, CONSTRAINTS_NAME, STATISTICS_NAME
from model_packaging.artifact.archive import (
    SourceFile,
    WrittenArtifact,
    copy_tree,
    hash_file,
    listing_digest,
    write_tar_gz,
)
from model_packaging.artifact.container import serving_environment
from model_packaging.artifact.descriptor import DESCRIPTOR_NAME, Descriptor, load_descriptor
from model_packaging.artifact.images import Images, resolve_images
from model_packaging.artifact.manifest import (
    ARTIFACT_PATHS,
    MANIFEST_NAME,
    MANIFEST_VERSION,
    BaselineRecord,
    GitInfo,
    Manifest,
    SampleRecord,
)
from model_packaging.artifact.paths import CODE_DIR
from model_packaging.artifact.sources import collect
from model_packaging.drift.baseline import Baseline, compute
from model_packaging.drift.baseline import write as write_baseline
from model_packaging.errors import PackagingError
from model_packaging.progress import progress_bar

T = TypeVar("T")


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

    A refused folder leaves nothing behind: the checks that only read model.yaml and the folder
    run first, and the image lookup and the baseline, which run beside the compression, must
    succeed before any output is moved into place. The artifact's bytes depend only on the
    folder's file names, contents and executable bits (see archive.py), never on times, owners,
    umask or ``threads`` (how many threads compress; one per CPU by default).
    """
    if compression not in ARTIFACT_PATHS:
        raise PackagingError(f"compression {compression!r}: must be one of gzip, none")
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    if not model_dir.is_dir():
        raise PackagingError(f"{model_dir}: no such folder")
    descriptor = load_descriptor(model_dir)
    files = collect(model_dir, allow)
    entry_point = f"{CODE_DIR}/{descriptor.entry_point}"
    if entry_point not in {file.path for file in files}:
        raise PackagingError(
            f"{model_dir / entry_point}: entry point not found "
            f"(model.yaml entry_point: {descriptor.entry_point}; inference code lives in "
            f"{CODE_DIR}/)"
        )
    if out_dir.resolve().is_relative_to(model_dir.resolve()):
        raise PackagingError(f"{out_dir}: the output folder must not be inside {model_dir}")
    samples = [
        SampleRecord.with_body(
            s.name, s.content_type, s.accept, s.request_bytes(model_dir), s.expected
        )
        for s in descriptor.samples
    ]

    artifact_path = out_dir / ARTIFACT_PATHS[compression].rstrip("/")
    manifest_path = out_dir / MANIFEST_NAME
    created = not out_dir.exists()
    # The image lookup (the sagemaker SDK's import when the cache lacks an answer) and the
    # baseline (its readers' import and a pass over the dataset) mostly hold the GIL, the
    # compression mostly does not: run beside it, they cost little more than nothing. So do
    # git's processes, which the manifest needs only at the end.
    with ThreadPoolExecutor(3, thread_name_prefix="build") as beside:
        images_job = beside.submit(
            resolve_images,
            descriptor.framework,
            descriptor.image_regions,
            model_dir / DESCRIPTOR_NAME,
        )
        baseline_job = beside.submit(_compute_baseline, descriptor, model_dir)
        git_job = beside.submit(git_state, model_dir)

        def ready() -> None:
            images_job.result()
            baseline_job.result()

        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            with progress_bar(
                sum(f.size for f in files), f"build {descriptor.name}", progress
            ) as bar:
                if compression == "gzip":
                    written = _write_tarball(files, artifact_path, bar.update, threads, ready)
                else:
                    written = _write_tree(files, artifact_path, bar.update, ready)
        except OSError as exc:  # a full disk or an unwritable folder is the user's to fix
            _remove_new_folder(out_dir, created)
            raise PackagingError(f"{exc.filename or out_dir}: {exc.strerror or exc}") from None
        except BaseException:
            _remove_new_folder(out_dir, created)
            raise
    images, baseline, git = images_job.result(), baseline_job.result(), git_job.result()
    try:
        if baseline is not None:
            write_baseline(baseline.documents, out_dir / BASELINE_FOLDER)
        manifest = _manifest(descriptor, compression, written, images, samples, git, baseline)
        _write_file(manifest_path, lambda out: out.write(manifest.to_json().encode("utf-8")))
        other = out_dir / ARTIFACT_PATHS["none" if compression == "gzip" else "gzip"].rstrip("/")
        _remove(other)  # a stale artifact of the other kind next to this manifest only confuses
        if baseline is None:
            _remove(out_dir / BASELINE_FOLDER)
    except OSError as exc:  # a full disk or an unwritable folder is the user's to fix
        raise PackagingError(f"{exc.filename or out_dir}: {exc.strerror or exc}") from None
    return BuildResult(artifact_path, manifest_path, manifest.digest, manifest)


def _manifest(
    descriptor: Descriptor,
    compression: str,
    written: WrittenArtifact,
    images: Images,
    samples: list[SampleRecord],
    git: GitInfo | None,
    baseline: _ComputedBaseline | None = None,
) -> Manifest:
    framework = descriptor.framework
    return Manifest.model_validate(
        {
            "manifest_version": MANIFEST_VERSION,
            "name": descriptor.name,
            "digest": written.sha256,
            "compression": compression,
            "artifact": {
                "path": ARTIFACT_PATHS[compression],
                "size": written.size,
                "sha256": written.sha256,
            },
            "files": written.files,
            "framework": framework.model_dump(include={"name", "version", "python_version"}),
            "entry_point": descriptor.entry_point,
            "environment": serving_environment(
                descriptor.entry_point, descriptor.content_types.response[0]
            ),
            "content_types": descriptor.content_types,
            "images": images.serving,
            "monitor_images": images.monitor,
            "git": git,
            "samples": samples,
            "baseline": baseline.record if baseline is not None else None,
        }
    )


@dataclass(frozen=True)
class _ComputedBaseline:
    record: BaselineRecord
    documents: Baseline


def _compute_baseline(descriptor: Descriptor, model_dir: Path) -> _ComputedBaseline | None:
    """The baseline of the dataset model.yaml names; an unreadable dataset fails the build."""
    if descriptor.baseline is None:
        return None
    source = model_dir / descriptor.baseline.path
    sha256, _ = hash_file(source)
    baseline = compute(source, descriptor.baseline.data_format)
    record = BaselineRecord.model_validate(
        {
            "dataset": {
                "path": descriptor.baseline.path,
                "sha256": sha256,
                "format": baseline.format,
                "rows": baseline.rows,
            },
            "statistics": _file_record(STATISTICS_NAME, baseline.files[STATISTICS_NAME]),
            "constraints": _file_record(CONSTRAINTS_NAME, baseline.files[CONSTRAINTS_NAME]),
        }
    )
    return _ComputedBaseline(record, baseline)


def _file_record(name: str, data: bytes) -> dict[str, str]:
    return {"path": f"{BASELINE_FOLDER}/{name}", "sha256": hashlib.sha256(data).hexdigest()}


def _write_file(
    path: Path, write: Callable[[BinaryIO], T], ready: Callable[[], object] = lambda: None
) -> T:
    """Write ``path`` through a temporary file in the same folder, then move it into place.

    fsync before the rename: without it a crash can leave the final name pointing at a file
    whose data never reached the disk. ``ready`` runs just before the rename; if it raises, the
    previous file stays.
    """
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with open(fd, "wb") as out:
            result = write(out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        ready()
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return result


def _write_tarball(
    files: Sequence[SourceFile],
    path: Path,
    progress: Callable[[int], object],
    threads: int | None,
    ready: Callable[[], object],
) -> WrittenArtifact:
    # None leaves the choice to write_tar_gz: one thread per CPU.
    options = {} if threads is None else {"threads": threads}
    return _write_file(path, lambda out: write_tar_gz(files, out, progress, **options), ready)


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


def git_state(folder: Path) -> GitInfo | None:
    """The commit the folder is at and whether the folder has uncommitted changes.

    None when the folder is not in a git work tree (or git is not installed): the manifest
    then simply has no provenance, which is better than failing a build.
    """

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        ).stdout.strip()

    try:
        if git("rev-parse", "--is-inside-work-tree") != "true":
            return None
        commit = git("rev-parse", "--verify", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=normal", "--", "."))
    except (OSError, subprocess.SubprocessError):
        return None
    return GitInfo(commit=commit, dirty=dirty)
