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
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.settings.artifacts import artifact_prefix
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


def publish(
    artifact: Path, *, bucket: str, kms_key: str | None = None, progress: bool = True
) -> PublishResult:
    """Upload ``artifact`` to ``bucket`` with SSE-KMS and register a version awaiting approval.

    ``artifact`` is a build output folder or its manifest.json. ``kms_key`` (id, ARN or alias)
    selects the key; by default it is the bucket's default KMS key, named explicitly.
    """
    loaded = load_artifact(artifact)
    manifest = loaded.manifest
    prefix = artifact_prefix(manifest.name, manifest.digest)
    clients = aws.connect()
    image = _image(manifest, clients.region)
    files = _checked_files(loaded, prefix, progress)
    registry.require_group(clients.sagemaker, manifest.name)
    _require_same_bucket(
        clients.sagemaker,
        registry.find_version(clients.sagemaker, manifest.name, manifest.digest),
        manifest,
        bucket,
    )
    upload.require_bucket(clients.s3, bucket)
    key = kms_key or upload.bucket_kms_key(clients.s3, bucket)
    baseline = _baseline(manifest.baseline, bucket, prefix)
    if manifest.baseline is not None:
        _require_same_baseline(clients.s3, bucket, prefix, manifest.baseline, files)

    sent = upload.upload(clients.s3, bucket, prefix, files, kms_key=key, progress=progress)
    log.info("sent %d bytes to s3://%s/%s", sent, bucket, prefix)

    model_data = f"s3://{bucket}/{prefix}{manifest.artifact.path}"
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
        return PublishResult(
            existing.arn, sent, created=False, s3_uri=model_data, baseline=baseline
        )

    git = manifest.git
    version = registry.create_version(
        clients.sagemaker,
        registry.VersionSpec(
            group=manifest.name,
            digest=manifest.digest,
            image=image,
            model_data_uri=model_data,
            compressed=manifest.compression == "gzip",
            manifest_uri=f"s3://{bucket}/{prefix}{MANIFEST_NAME}",
            environment=manifest.environment,
            request_types=manifest.content_types.request,
            response_types=manifest.content_types.response,
            git_commit=git.commit if git else None,
            git_dirty=bool(git and git.dirty),
            summary=_summary(manifest),
            data_quality=baseline,
        ),
    )
    log.info("registered %s", version.arn)
    return PublishResult(version.arn, sent, created=True, s3_uri=model_data, baseline=baseline)


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
