"""What a build records beside the artifact's bytes: the checked model.yaml, the work that runs
beside the compression (image URIs, the data-quality baseline, git's state) and the manifest
they make.

This is what a build needs pydantic, the baseline's readers and git for. ``build`` imports it
once the artifact is being written, so that importing it costs the compression nothing.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from infra.settings.artifacts import BASELINE_FOLDER, CONSTRAINTS_NAME, STATISTICS_NAME
from model_packaging.artifact.archive import WrittenArtifact, hash_file
from model_packaging.artifact.container import serving_environment
from model_packaging.artifact.descriptor import DESCRIPTOR_NAME, Descriptor, load_descriptor
from model_packaging.artifact.images import Images, resolve_images
from model_packaging.artifact.manifest import (
    ARTIFACT_PATHS,
    MANIFEST_VERSION,
    BaselineRecord,
    GitInfo,
    Manifest,
    SampleRecord,
)
from model_packaging.artifact.paths import CODE_DIR, output_problem
from model_packaging.artifact.sources import Listing
from model_packaging.drift import baseline as data_baseline
from model_packaging.errors import PackagingError


@dataclass(frozen=True)
class ComputedBaseline:
    """A dataset's baseline documents and the manifest's record of them."""

    record: BaselineRecord
    documents: data_baseline.Baseline

    def write(self, folder: Path) -> None:
        data_baseline.write(self.documents, folder)


@dataclass(frozen=True)
class Plan:
    """A model.yaml checked against its folder, and the work started beside the compression."""

    descriptor: Descriptor
    samples: list[SampleRecord]
    images: Future[Images]
    baseline: Future[ComputedBaseline | None]
    git: Future[GitInfo | None]

    def ready(self) -> None:
        """Wait for what must succeed before the artifact is named: images and baseline."""
        self.images.result()
        self.baseline.result()


def plan(model_dir: Path, listing: Listing, out_dir: Path, beside: ThreadPoolExecutor) -> Plan:
    """Check model.yaml against the folder and start the work beside the compression.

    The image lookup (the sagemaker SDK's import when the cache lacks an answer) and the
    baseline (its readers' import and a pass over the dataset) mostly hold the GIL, the
    compression mostly does not: beside it, they cost little more than nothing. So do git's
    processes, which the manifest needs only at the end.
    """
    descriptor = load_descriptor(model_dir)
    files = listing.checked()
    entry_point = f"{CODE_DIR}/{descriptor.entry_point}"
    if entry_point not in {file.path for file in files}:
        raise PackagingError(
            f"{model_dir / entry_point}: entry point not found "
            f"(model.yaml entry_point: {descriptor.entry_point}; inference code lives in "
            f"{CODE_DIR}/)"
        )
    if problem := output_problem(out_dir, model_dir):
        raise PackagingError(problem)
    samples = [
        SampleRecord.with_body(
            s.name, s.content_type, s.accept, s.request_bytes(model_dir), s.expected
        )
        for s in descriptor.samples
    ]
    return Plan(
        descriptor,
        samples,
        beside.submit(
            resolve_images,
            descriptor.framework,
            descriptor.image_regions,
            model_dir / DESCRIPTOR_NAME,
        ),
        beside.submit(_compute_baseline, descriptor, model_dir),
        beside.submit(git_state, model_dir),
    )


def manifest(
    plan: Plan, compression: str, written: WrittenArtifact, baseline: ComputedBaseline | None
) -> Manifest:
    """The manifest of a written artifact, once the work beside it is done."""
    descriptor, images = plan.descriptor, plan.images.result()
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
            "git": plan.git.result(),
            "samples": plan.samples,
            "baseline": baseline.record if baseline is not None else None,
        }
    )


def _compute_baseline(descriptor: Descriptor, model_dir: Path) -> ComputedBaseline | None:
    """The baseline of the dataset model.yaml names; an unreadable dataset fails the build."""
    if descriptor.baseline is None:
        return None
    source = model_dir / descriptor.baseline.path
    sha256, _ = hash_file(source)
    documents = data_baseline.compute(source, descriptor.baseline.data_format)
    record = BaselineRecord.model_validate(
        {
            "dataset": {
                "path": descriptor.baseline.path,
                "sha256": sha256,
                "format": documents.format,
                "rows": documents.rows,
            },
            "statistics": _file_record(STATISTICS_NAME, documents.files[STATISTICS_NAME]),
            "constraints": _file_record(CONSTRAINTS_NAME, documents.files[CONSTRAINTS_NAME]),
        }
    )
    return ComputedBaseline(record, documents)


def _file_record(name: str, data: bytes) -> dict[str, str]:
    return {"path": f"{BASELINE_FOLDER}/{name}", "sha256": hashlib.sha256(data).hexdigest()}


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
