"""manifest.json: what a build produced, and the checks that an artifact still matches it.

The manifest sits next to the artifact (``model.tar.gz`` or ``model/``) in the build output
folder. It names the artifact by its sha256, lists every file with its own sha256, and carries
what the later steps need without the model folder: framework, image URIs (serving and Model
Monitor), environment, and the sample requests with their expected responses.

Every command that takes an ``ARTIFACT`` goes through :func:`load_artifact`, which accepts
the output folder or the manifest.json path. The data-quality baseline beside the artifact is
checked against the manifest by one function, :func:`check_baseline`, wherever it is read:
publish, verify and drift-check.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, NamedTuple

from pydantic import Field, StringConstraints, ValidationError, field_validator, model_validator

from infra.settings.artifacts import BASELINE_FOLDER, CONSTRAINTS_NAME, STATISTICS_NAME
from model_packaging.artifact.archive import (
    FileRecord,
    Progress,
    copy_tree,
    extract_tar_gz,
    hash_file,
    list_tree,
    listing_digest,
)
from model_packaging.artifact.descriptor import (
    ContentTypes,
    Expected,
    FrameworkVersion,
    StrictModel,
    problems_error,
    validation_problems,
)
from model_packaging.artifact.paths import ARTIFACT_PATHS as ARTIFACT_PATHS
from model_packaging.artifact.paths import MANIFEST_NAME as MANIFEST_NAME
from model_packaging.artifact.paths import TREE as TREE
from model_packaging.artifact.paths import relative_path_problem
from model_packaging.errors import PackagingError

MANIFEST_VERSION = 1

Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


def _no_progress(_: int) -> None:
    return None


class ArtifactInfo(StrictModel):
    path: Literal["model.tar.gz", "model/"]
    size: int = Field(ge=0)
    sha256: Sha256Hex


class GitInfo(StrictModel):
    commit: str
    dirty: bool


class SampleRecord(StrictModel):
    """A sample with its request body resolved: text as is, other bytes in base64."""

    name: str
    content_type: str
    accept: str
    body: str | None = None
    body_base64: str | None = None
    expected: Expected

    @model_validator(mode="after")
    def _one_body(self) -> SampleRecord:
        if (self.body is None) == (self.body_base64 is None):
            raise ValueError("needs exactly one of body, body_base64")
        return self

    @classmethod
    def with_body(
        cls, name: str, content_type: str, accept: str, data: bytes, expected: Expected
    ) -> SampleRecord:
        try:
            text: dict[str, str] = {"body": data.decode("utf-8")}
        except UnicodeDecodeError:
            text = {"body_base64": base64.b64encode(data).decode("ascii")}
        return cls(name=name, content_type=content_type, accept=accept, expected=expected, **text)

    def request_bytes(self) -> bytes:
        if self.body is not None:
            return self.body.encode("utf-8")
        return base64.b64decode(self.body_base64 or "")


class BaselineDatasetRecord(StrictModel):
    """The dataset a baseline was computed from: its path in the model folder and digest."""

    path: str
    sha256: Sha256Hex
    format: Literal["csv", "jsonl"]
    rows: int = Field(ge=0)


class BaselineFileRecord(StrictModel):
    path: str
    sha256: Sha256Hex


class BaselineRecord(StrictModel):
    """The data-quality baseline beside the artifact (docs/model-packaging.md, "Baseline")."""

    dataset: BaselineDatasetRecord
    statistics: BaselineFileRecord
    constraints: BaselineFileRecord

    @model_validator(mode="after")
    def _paths(self) -> BaselineRecord:
        for key, name in (("statistics", STATISTICS_NAME), ("constraints", CONSTRAINTS_NAME)):
            if getattr(self, key).path != f"{BASELINE_FOLDER}/{name}":
                raise ValueError(f"{key}.path must be '{BASELINE_FOLDER}/{name}'")
        return self

    def files(self) -> list[BaselineFileRecord]:
        return [self.statistics, self.constraints]


class Manifest(StrictModel):
    manifest_version: Literal[1]
    name: str
    digest: Sha256Hex
    compression: Literal["gzip", "none"]
    artifact: ArtifactInfo
    files: list[FileRecord]
    framework: FrameworkVersion
    entry_point: str
    environment: dict[str, str]
    content_types: ContentTypes
    images: dict[str, str]
    # The Model Monitor analyzer image per region (images.py); manifests from before it
    # was recorded have none.
    monitor_images: dict[str, str] = Field(default_factory=dict)
    git: GitInfo | None
    samples: list[SampleRecord]
    baseline: BaselineRecord | None = None

    @field_validator("files")
    @classmethod
    def _files(cls, files: list[FileRecord]) -> list[FileRecord]:
        # Paths become S3 keys and extraction targets: they must be safe and unambiguous.
        for record in files:
            problem = relative_path_problem(record.path)
            if problem:
                raise ValueError(f"path {record.path!r} {problem}")
        paths = [record.path for record in files]
        if paths != sorted(set(paths)):
            raise ValueError("must be sorted by path, without duplicates")
        return files

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        if self.artifact.path != ARTIFACT_PATHS[self.compression]:
            raise ValueError(f"artifact.path must be {ARTIFACT_PATHS[self.compression]!r}")
        if self.artifact.sha256 != self.digest:
            raise ValueError("artifact.sha256 must equal digest")
        return self

    def to_json(self) -> str:
        """Sorted keys, two-space indent, trailing newline: stable bytes for stable diffs."""
        data = self.model_dump(mode="json")
        if self.baseline is None:  # absent rather than null: such manifests read as before
            del data["baseline"]
        return json.dumps(data, sort_keys=True, indent=2) + "\n"


class LoadedArtifact(NamedTuple):
    """A manifest and the folder it was found in (the build output folder)."""

    manifest: Manifest
    directory: Path

    @property
    def artifact_path(self) -> Path:
        """``<folder>/model.tar.gz`` or ``<folder>/model`` (the prefix to upload as is)."""
        return self.directory / self.manifest.artifact.path.rstrip("/")


def load_artifact(path: Path) -> LoadedArtifact:
    """Read the manifest of a build output, given the folder or its manifest.json path.

    Checks the manifest's format and that the artifact it names exists; it does not hash
    anything (see :func:`check_artifact` and :func:`unpack`).
    """
    path = Path(path)
    manifest_path = path / MANIFEST_NAME if path.is_dir() else path
    if not manifest_path.is_file():
        raise PackagingError(
            f"{path}: no {MANIFEST_NAME} found; pass a build output folder or its {MANIFEST_NAME}"
        )
    loaded = LoadedArtifact(read_manifest(manifest_path), manifest_path.parent)
    if not loaded.artifact_path.exists():
        raise PackagingError(f"{loaded.artifact_path}: missing; the manifest names it")
    return loaded


def read_manifest(manifest_path: Path) -> Manifest:
    """A manifest.json, parsed and validated; every problem named with its key path."""
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise PackagingError(f"{manifest_path}: not valid JSON: {exc}") from None
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise problems_error(manifest_path, validation_problems(exc)) from None


def check_artifact(loaded: LoadedArtifact, progress: Progress = _no_progress) -> None:
    """Check the artifact's bytes against the manifest without unpacking it (e.g. before upload).

    For model.tar.gz that is one sha256 over the file (the per-file digests were taken from the
    same stream at build). For model/ every file is hashed and the file set compared.
    """
    manifest, path = loaded.manifest, loaded.artifact_path
    if manifest.compression == "gzip":
        sha256, size = hash_file(path, progress)
        if (sha256, size) != (manifest.digest, manifest.artifact.size):
            raise _changed(path, sha256, manifest.digest)
    else:
        _check_files(path, manifest.files, copy_tree(list_tree(path), None, progress))
        _check_listing(loaded)


@dataclass(frozen=True)
class BaselineDocument:
    """A baseline file of a build as read and checked: its record, where it is, its bytes."""

    record: BaselineFileRecord
    path: Path
    data: bytes


def check_baseline(manifest: Manifest, directory: Path) -> list[BaselineDocument]:
    """The baseline documents the manifest records (statistics, then constraints), each read
    once from ``directory`` (the build output folder) and checked against its recorded sha256.

    Empty when the manifest records no baseline. The bytes returned are the bytes checked, so a
    caller that parses or uploads them uses exactly what matched. The baseline is not part of
    the artifact's digest, so this is the only check that it is what the build wrote.
    """
    if manifest.baseline is None:
        return []
    documents = []
    for record in manifest.baseline.files():
        path = directory / record.path
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise PackagingError(f"{path}: missing; the manifest's baseline names it") from None
        except OSError as exc:
            raise PackagingError(f"{path}: cannot read: {exc.strerror}") from None
        sha256 = hashlib.sha256(data).hexdigest()
        if sha256 != record.sha256:
            raise PackagingError(
                f"{path}: sha256 {sha256} does not match the manifest ({record.sha256});"
                " the baseline was modified after it was built"
            )
        documents.append(BaselineDocument(record, path, data))
    return documents


def unpack(loaded: LoadedArtifact, dest: Path, progress: Progress = _no_progress) -> None:
    """Extract the artifact into the empty folder ``dest``, checking every digest on the way."""
    manifest, path = loaded.manifest, loaded.artifact_path
    if manifest.compression == "gzip":
        result = extract_tar_gz(path, dest, progress)
        if (result.sha256, result.size) != (manifest.digest, manifest.artifact.size):
            expected = {record.path: record for record in manifest.files}
            changed = [r.path for r in result.files if expected.get(r.path) != r]
            raise _changed(path, result.sha256, manifest.digest, changed, result.error)
        if result.error:
            raise PackagingError(f"{path}: cannot be unpacked: {result.error}")
        _check_files(path, manifest.files, result.files)
    else:
        _check_files(path, manifest.files, copy_tree(list_tree(path), dest, progress))
        _check_listing(loaded)


def _check_listing(loaded: LoadedArtifact) -> None:
    """An uncompressed artifact is named by the digest of its file list: tie the two together."""
    if listing_digest(loaded.manifest.files) != loaded.manifest.digest:
        raise PackagingError(
            f"{loaded.directory / MANIFEST_NAME}: digest does not match its file list;"
            " the manifest was modified after it was built"
        )


def _changed(
    path: Path,
    actual: str,
    expected: str,
    files: list[str] | None = None,
    error: str | None = None,
) -> PackagingError:
    detail = f", changed files: {', '.join(files)}" if files else ""
    detail += f", unpacking failed: {error}" if error else ""
    return PackagingError(
        f"{path}: sha256 {actual} does not match the manifest ({expected}); "
        f"the artifact was modified after it was built{detail}"
    )


def _check_files(path: Path, expected: list[FileRecord], actual: list[FileRecord]) -> None:
    """Name the first file whose bytes or presence differ from the manifest."""
    want = {record.path: record for record in expected}
    got = {record.path: record for record in actual}
    for name in sorted(want.keys() | got.keys()):
        if name not in got:
            raise PackagingError(f"{path}: {name} is listed in the manifest but missing")
        if name not in want:
            raise PackagingError(f"{path}: {name} is not listed in the manifest")
        if want[name] != got[name]:
            raise PackagingError(
                f"{path}: {name} has sha256 {got[name].sha256} ({got[name].size} bytes), the "
                f"manifest says {want[name].sha256} ({want[name].size} bytes)"
            )
