"""publish: put a built artifact in the artifact store and register it in the Model Registry.

The order of the steps is what makes publishing safe to repeat and safe to interrupt:

1. everything that can be checked without writing is checked first: the local bytes against
   the manifest (a tampered artifact is refused), the image for this region, the model's
   package group and the bucket, so a wrong setup uploads nothing;
2. the files go to ``s3://<bucket>/models/<name>/sha256-<digest>/``, the data-quality baseline
   (``baseline/statistics.json`` and ``baseline/constraints.json``) with them, the manifest
   last; objects already there with the same checksum are skipped, so a second publish sends
   zero bytes;
3. only then is a version registered, unless one already exists for the digest; the baseline
   is registered with it as its drift check baseline and data-quality metrics.

A run that dies in step 2 leaves no version and no visible object; a run that dies between 2 and
3 leaves complete objects that the next run reuses. Either way, re-running converges on exactly
one version per digest.

:func:`plan` is the dry run: step 1 in full, then what steps 2 and 3 would do, read from S3 and
the registry (HeadObject per file, the digest's version), with nothing written: no object, no
aborted upload, no version.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.settings.artifacts import artifact_prefix, version_of
from model_packaging.artifact.archive import hash_file
from model_packaging.artifact.manifest import (
    MANIFEST_NAME,
    BaselineRecord,
    LoadedArtifact,
    Manifest,
    check_artifact,
    check_baseline,
    load_artifact,
)
from model_packaging.errors import PackagingError
from model_packaging.progress import progress_bar
from model_packaging.store import aws, registry, upload

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreFile:
    """An object of the artifact in the store."""

    s3_uri: str
    size: int
    stored: bool | None = None
    """In a dry run: whether S3 already holds these bytes, so they would not be sent."""


@dataclass(frozen=True)
class PublishResult:
    version_arn: str
    uploaded_bytes: int
    """Bytes S3 acknowledged in this run: 0 when every object was already there."""
    created: bool
    """False when a version for this digest already existed and was returned instead."""
    s3_uri: str
    """The model data: model.tar.gz, or the ``model/`` prefix of an uncompressed build."""
    baseline: registry.DataQualityBaseline | None = None
    """Where the data-quality baseline went, when the manifest has one."""
    model: str = ""
    digest: str = ""
    """``sha256:<hex>``."""
    bucket: str = ""
    manifest_uri: str = ""
    files: tuple[StoreFile, ...] = ()
    """Every object of the artifact, the manifest last."""
    request: Mapping[str, Any] | None = None
    """The CreateModelPackage arguments, when a version was registered."""

    def as_json(self) -> dict[str, Any]:
        return _as_json(self, dry_run=False, uploaded=self.uploaded_bytes)


@dataclass(frozen=True)
class PublishPlan:
    """What :func:`publish` would do: the result of a dry run."""

    version_arn: str | None
    """The digest's version, if one is registered; None when publish would register one."""
    s3_uri: str
    baseline: registry.DataQualityBaseline | None
    model: str
    digest: str
    bucket: str
    manifest_uri: str
    files: tuple[StoreFile, ...]
    request: Mapping[str, Any] | None
    """The CreateModelPackage arguments publish would send; None when the version exists."""

    @property
    def created(self) -> bool:
        return self.version_arn is None

    @property
    def bytes_to_send(self) -> int:
        return sum(f.size for f in self.files if not f.stored)

    def lines(self) -> list[str]:
        """The plan for people: one line per object, then the registry's part."""
        lines = [
            f"{'keep' if f.stored else 'upload'} {f.s3_uri} ({f.size} bytes"
            f"{', already stored' if f.stored else ''})"
            for f in self.files
        ]
        if self.version_arn is None:
            lines.append(
                f"register a new version of {self.model} ({self.digest}), PendingManualApproval"
            )
        else:
            lines.append(f"keep {self.version_arn}, registered for {self.digest}")
        return lines

    def as_json(self) -> dict[str, Any]:
        return _as_json(self, dry_run=True, uploaded=0)


@dataclass(frozen=True)
class _Prepared:
    """Everything step 1 checked and derived, before anything is written."""

    clients: aws.Clients
    manifest: Manifest
    bucket: str
    prefix: str
    files: list[upload.LocalFile]
    kms_key: str
    baseline: registry.DataQualityBaseline | None
    model_data: str
    manifest_uri: str
    spec: registry.VersionSpec
    existing: registry.Version | None

    def result(self, arn: str, sent: int, *, request: Mapping[str, Any] | None) -> PublishResult:
        """What publish returns: a new version comes with the ``request`` that registered it."""
        return PublishResult(
            arn,
            sent,
            created=request is not None,
            s3_uri=self.model_data,
            baseline=self.baseline,
            model=self.manifest.name,
            digest=registry.digest_label(self.manifest.digest),
            bucket=self.bucket,
            manifest_uri=self.manifest_uri,
            files=self.store_files(),
            request=request,
        )

    def store_files(self, stored: list[bool] | None = None) -> tuple[StoreFile, ...]:
        return tuple(
            StoreFile(f"s3://{self.bucket}/{f.key}", f.size, None if stored is None else stored[i])
            for i, f in enumerate(self.files)
        )


def publish(
    artifact: Path, *, bucket: str, kms_key: str | None = None, progress: bool = True
) -> PublishResult:
    """Upload ``artifact`` to ``bucket`` with SSE-KMS and register a version awaiting approval.

    ``artifact`` is a build output folder or its manifest.json. ``kms_key`` (id, ARN or alias)
    selects the key; by default it is the bucket's default KMS key, named explicitly.
    """
    prepared = _prepare(artifact, bucket, kms_key, progress)
    clients, manifest, prefix = prepared.clients, prepared.manifest, prepared.prefix
    baseline = prepared.baseline

    sent = upload.upload(
        clients.s3, bucket, prefix, prepared.files, kms_key=prepared.kms_key, progress=progress
    )
    log.info("sent %d bytes to s3://%s/%s", sent, bucket, prefix)

    existing = registry.find_version(clients.sagemaker, manifest.name, manifest.digest)
    if existing is not None:
        # Registered by someone else while this run uploaded: it may name another bucket too.
        _require_same_bucket(clients.sagemaker, existing, manifest, bucket)
        log.info("version %s already holds sha256:%s", existing.arn, manifest.digest)
        wanted = baseline.request() if baseline is not None else None
        if _baseline_uris(existing.data_quality) != _baseline_uris(wanted):
            # CreateModelPackage is the only call that sets a version's drift check baseline.
            log.warning(
                "version %s holds this digest %s; the registry cannot change a version's"
                " baseline (UpdateModelPackage has no DriftCheckBaselines)",
                existing.arn,
                "without a data-quality baseline, so this one is stored but not registered"
                if existing.data_quality is None
                else "with a data-quality baseline other than this manifest's",
            )
        return prepared.result(existing.arn, sent, request=None)

    version = registry.create_version(clients.sagemaker, prepared.spec)
    log.info("registered %s", version.arn)
    return prepared.result(version.arn, sent, request=registry.version_request(prepared.spec))


def plan(
    artifact: Path, *, bucket: str, kms_key: str | None = None, progress: bool = True
) -> PublishPlan:
    """What :func:`publish` would upload and register, with every check it makes first;
    nothing is written."""
    prepared = _prepare(artifact, bucket, kms_key, progress)
    s3 = prepared.clients.s3
    with aws.reporting(f"cannot check existing objects under s3://{bucket}/{prepared.prefix}"):
        # The test upload() applies to skip a file, so the plan says what it would send.
        stored = [upload._present(s3, bucket, f) for f in prepared.files]
    existing = prepared.existing
    return PublishPlan(
        version_arn=existing.arn if existing else None,
        s3_uri=prepared.model_data,
        baseline=prepared.baseline,
        model=prepared.manifest.name,
        digest=registry.digest_label(prepared.manifest.digest),
        bucket=bucket,
        manifest_uri=prepared.manifest_uri,
        files=prepared.store_files(stored),
        request=None if existing else registry.version_request(prepared.spec),
    )


def _prepare(artifact: Path, bucket: str, kms_key: str | None, progress: bool) -> _Prepared:
    """Step 1: every check that needs no write, and what the next steps use."""
    loaded = load_artifact(artifact)
    manifest = loaded.manifest
    prefix = artifact_prefix(manifest.name, manifest.digest)
    clients = aws.connect()
    image = _image(manifest, clients.region)
    files = _checked_files(loaded, prefix, progress)
    registry.require_group(clients.sagemaker, manifest.name)
    existing = registry.find_version(clients.sagemaker, manifest.name, manifest.digest)
    _require_same_bucket(clients.sagemaker, existing, manifest, bucket)
    upload.require_bucket(clients.s3, bucket)
    key = kms_key or upload.bucket_kms_key(clients.s3, bucket)
    baseline = _baseline(manifest.baseline, bucket, prefix)
    if manifest.baseline is not None:
        _require_same_baseline(clients.s3, bucket, prefix, manifest.baseline, files)
    model_data = f"s3://{bucket}/{prefix}{manifest.artifact.path}"
    manifest_uri = f"s3://{bucket}/{prefix}{MANIFEST_NAME}"
    git = manifest.git
    spec = registry.VersionSpec(
        group=manifest.name,
        digest=manifest.digest,
        image=image,
        model_data_uri=model_data,
        compressed=manifest.compression == "gzip",
        manifest_uri=manifest_uri,
        environment=manifest.environment,
        request_types=manifest.content_types.request,
        response_types=manifest.content_types.response,
        git_commit=git.commit if git else None,
        git_dirty=bool(git and git.dirty),
        summary=_summary(manifest),
        data_quality=baseline,
    )
    return _Prepared(
        clients,
        manifest,
        bucket,
        prefix,
        files,
        key,
        baseline,
        model_data,
        manifest_uri,
        spec,
        existing,
    )


def _as_json(
    result: PublishResult | PublishPlan, *, dry_run: bool, uploaded: int
) -> dict[str, Any]:
    """The fields ``publish --json`` prints, the same with and without ``--dry-run``."""
    baseline = result.baseline
    return {
        "model": result.model,
        "digest": result.digest,
        "bucket": result.bucket,
        "version_arn": result.version_arn,
        "version": None if result.version_arn is None else version_of(result.version_arn),
        "created": result.created,
        "dry_run": dry_run,
        "uploaded_bytes": uploaded,
        "s3_uri": result.s3_uri,
        "manifest_uri": result.manifest_uri,
        "baseline": (
            None
            if baseline is None
            else {
                "statistics": baseline.statistics.s3_uri,
                "constraints": baseline.constraints.s3_uri,
            }
        ),
        "files": [{"s3_uri": f.s3_uri, "size": f.size, "stored": f.stored} for f in result.files],
        "request": dict(result.request) if result.request is not None else None,
    }


def _checked_files(loaded: LoadedArtifact, prefix: str, progress: bool) -> list[upload.LocalFile]:
    """The files to upload, checked against the manifest first; the manifest itself comes last.

    Refusing here, before any network call, means a tampered or half-copied artifact never
    reaches the store under a digest that does not describe it.
    """
    manifest = loaded.manifest
    total = sum(record.size for record in manifest.files)
    if manifest.compression == "gzip":
        total = manifest.artifact.size
    with progress_bar(total, f"check {loaded.artifact_path}", progress) as bar:
        check_artifact(loaded, bar.update)
    if manifest.compression == "gzip":
        files = [
            upload.local_file(
                loaded.artifact_path,
                prefix + manifest.artifact.path,
                manifest.artifact.size,
                manifest.digest,
            )
        ]
    else:
        files = [
            upload.local_file(
                loaded.artifact_path / record.path,
                f"{prefix}{manifest.artifact.path}{record.path}",
                record.size,
                record.sha256,
            )
            for record in manifest.files
        ]
    files += _checked_baseline_files(loaded, prefix)
    manifest_path = loaded.directory / MANIFEST_NAME
    sha256, size = hash_file(manifest_path)
    return [*files, upload.local_file(manifest_path, prefix + MANIFEST_NAME, size, sha256)]


def _checked_baseline_files(loaded: LoadedArtifact, prefix: str) -> list[upload.LocalFile]:
    """statistics.json and constraints.json, each checked against the manifest."""
    return [
        upload.local_file(
            document.path,
            prefix + document.record.path,
            len(document.data),
            document.record.sha256,
        )
        for document in check_baseline(loaded.manifest, loaded.directory)
    ]


def _baseline(
    record: BaselineRecord | None, bucket: str, prefix: str
) -> registry.DataQualityBaseline | None:
    if record is None:
        return None
    return registry.DataQualityBaseline(
        *(
            registry.BaselineFile(f"s3://{bucket}/{prefix}{document.path}", document.sha256)
            for document in record.files()
        )
    )


def _baseline_uris(documents: Mapping[str, Any] | None) -> dict[str, str]:
    """The S3 URI of each document of a ModelDataQuality, registered or requested.

    Compared by URI alone: the objects behind a digest's URIs are never replaced
    (:func:`_require_same_baseline`), and the URIs do not depend on how the service echoes
    the other fields.
    """
    return {name: str(document.get("S3Uri")) for name, document in (documents or {}).items()}


def _require_same_baseline(
    s3: object, bucket: str, prefix: str, record: BaselineRecord, files: list[upload.LocalFile]
) -> None:
    """Refuse to replace a baseline stored under this digest with different documents.

    The baseline is not part of the artifact's digest (its dataset stays out of the artifact),
    so a rebuild of the same model with other data has the same prefix. The version registered
    for the digest points at these keys, and a monitoring schedule reads them: replacing them
    would change what a deployed model is checked against, behind its registry entry.
    """
    keys = {prefix + document.path for document in record.files()}
    for changed in upload.stored_differently(s3, bucket, [f for f in files if f.key in keys]):
        raise PackagingError(
            f"s3://{bucket}/{changed.key} already holds another baseline for this digest, which"
            " the version registered for the digest points at; a published baseline is never"
            " replaced"
        )


def _require_same_bucket(
    sagemaker: Any, existing: registry.Version | None, manifest: Manifest, bucket: str
) -> None:
    """Refuse when the digest's version deploys from another bucket than ``bucket``.

    Returning that version would report an upload to ``bucket`` that no version uses; a second
    version of the digest would end the one-version-per-digest rule that find_version relies on.
    """
    if existing is None:
        return
    info = registry.describe_version(sagemaker, existing.arn)
    if info is None or info.model_data_uri is None:
        return
    where = info.model_data_uri.removeprefix("s3://").split("/", 1)[0]
    if where == bucket:
        return
    raise PackagingError(
        f"{manifest.name} sha256:{manifest.digest} is already registered as version"
        f" {info.number} with its artifact in {info.model_data_uri}; publish to that"
        f" bucket (--bucket {where}), or delete version {info.number} from the registry"
        f" first to register the artifact anew in {bucket}"
    )


def _image(manifest: Manifest, region: str) -> str:
    if region not in manifest.images:
        raise PackagingError(
            f"the manifest of {manifest.name!r} has no image for region {region}"
            f" (it has: {', '.join(sorted(manifest.images)) or 'none'}); rebuild it for {region}"
        )
    return manifest.images[region]


def _summary(manifest: Manifest) -> str:
    text = f"{manifest.framework.name} {manifest.framework.version}"
    if manifest.git:
        text += f", git {manifest.git.commit[:12]}{' (dirty)' if manifest.git.dirty else ''}"
    return text
