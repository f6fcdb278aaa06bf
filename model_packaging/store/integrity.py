"""Does a registered version still point at the bytes it was registered with?

Checked without downloading the model (only manifest.json, a few KB, is read):

1. the version's recorded ``artifact-digest`` is the digest the stack pins;
2. the model data SageMaker deploys (the container's ModelDataUrl or ModelDataSource S3Uri) is
   the ``s3-uri`` publish recorded, under ``models/<model>/sha256-<digest>/``;
3. the ``manifest.json`` beside it (``manifest-uri``) is intact (its bytes match the SHA-256
   checksum S3 stored at upload), names the same model and digest, and puts the artifact at
   that URI; for ``model/`` builds, its file list hashes to the digest;
4. every artifact object (model.tar.gz, or each file under ``model/``) has the manifest's size
   and an S3 SHA-256 checksum (HeadObject, ChecksumMode=ENABLED):
   - uploaded in one PUT, its checksum is the SHA-256 of the whole object, so it must equal the
     manifest's digest: this proves the content;
   - uploaded in parts, S3 stores a checksum of the part checksums, which the manifest's digest
     cannot predict. S3 verified every part against the checksum publish computed from the
     checked file, so the object is proven as of its upload; a later rewrite is caught by its
     LastModified being after the version's creation.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from infra.settings import artifacts
from infra.settings.artifacts import artifact_prefix
from model_packaging.artifact.archive import listing_digest
from model_packaging.artifact.manifest import MANIFEST_NAME, TREE, Manifest
from model_packaging.store import registry
from model_packaging.store.aws import describe, http_status


class Mismatch(Exception):
    """The stored artifact does not match the version; the message says what differs."""


def check_version_artifact(s3: Any, version: registry.VersionInfo, pinned_digest: str) -> None:
    """Raise Mismatch unless ``version``'s artifact in S3 still has ``pinned_digest``."""
    label = f"{version.group} version {version.number}"
    digest, data_uri, manifest_uri = _recorded(version, label, pinned_digest)
    bucket, manifest_key = _split(manifest_uri)
    prefix = manifest_key.removesuffix(MANIFEST_NAME)
    if not manifest_key.endswith(MANIFEST_NAME) or not prefix.endswith(
        artifact_prefix(version.group, digest)
    ):
        raise Mismatch(f"{label}: {manifest_uri} is not the manifest of sha256:{digest}")

    manifest = _manifest(s3, bucket, manifest_key)
    if manifest.name != version.group or manifest.digest != digest:
        raise Mismatch(
            f"{manifest_uri} describes {manifest.name} sha256:{manifest.digest}, not"
            f" {version.group} {pinned_digest}"
        )
    if f"s3://{bucket}/{prefix}{manifest.artifact.path}" != data_uri:
        raise Mismatch(f"{manifest_uri} puts the artifact elsewhere than {data_uri}")

    if manifest.compression == "gzip":
        objects = [(prefix + manifest.artifact.path, manifest.artifact.size, digest)]
    else:
        if listing_digest(manifest.files) != digest:
            raise Mismatch(f"the file list in {manifest_uri} does not hash to sha256:{digest}")
        objects = [(f"{prefix}{TREE}{f.path}", f.size, f.sha256) for f in manifest.files]
    for key, size, sha256 in objects:
        _check_object(s3, bucket, key, size, sha256, version.created)


def _recorded(
    version: registry.VersionInfo, label: str, pinned_digest: str
) -> tuple[str, str, str]:
    """The hex digest, model data URI and manifest URI that publish recorded for ``version``,
    checked against the pin and against what the version deploys."""
    metadata = version.metadata
    recorded = metadata.get(registry.DIGEST_KEY)
    if recorded is None:
        raise Mismatch(
            f"{label} records no {registry.DIGEST_KEY}: it was not registered by publish"
        )
    if recorded != pinned_digest:
        raise Mismatch(f"{label} records {recorded}, the pin says {pinned_digest}")
    data_uri, manifest_uri = (
        metadata.get(registry.S3_URI_KEY),
        metadata.get(registry.MANIFEST_URI_KEY),
    )
    if not data_uri or not manifest_uri:
        raise Mismatch(
            f"{label} does not record {registry.S3_URI_KEY} and {registry.MANIFEST_URI_KEY}"
        )
    if version.model_data_uri != data_uri:
        raise Mismatch(
            f"{label} deploys {version.model_data_uri}, not the recorded artifact {data_uri}"
        )
    return artifacts.hex_digest(recorded), data_uri, manifest_uri


def _split(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path:
        raise Mismatch(f"{uri} is not an s3:// URI")
    return parsed.netloc, parsed.path.lstrip("/")


def _manifest(s3: Any, bucket: str, key: str) -> Manifest:
    where = f"s3://{bucket}/{key}"
    try:
        response = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        body = response["Body"].read()
    except ClientError as exc:
        if http_status(exc) == 404:
            raise Mismatch(f"{where} is missing") from exc
        raise Mismatch(f"cannot read {where}: {describe(exc)}") from exc
    except BotoCoreError as exc:
        raise Mismatch(f"cannot read {where}: {describe(exc)}") from exc
    stored = str(response.get("ChecksumSHA256") or "")
    if not stored or "-" in stored:
        raise Mismatch(f"{where} has no SHA-256 checksum of its whole content")
    if stored != _b64(hashlib.sha256(body).digest()):
        raise Mismatch(f"{where} does not match the SHA-256 checksum S3 stored at upload")
    try:
        return Manifest.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        raise Mismatch(f"{where} is not a valid manifest") from exc


def _check_object(s3: Any, bucket: str, key: str, size: int, sha256: str, registered: Any) -> None:
    where = f"s3://{bucket}/{key}"
    try:
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as exc:
        if http_status(exc) == 404:
            raise Mismatch(f"{where} is missing") from exc
        raise Mismatch(f"cannot check {where}: {describe(exc)}") from exc
    except BotoCoreError as exc:
        raise Mismatch(f"cannot check {where}: {describe(exc)}") from exc
    if head.get("ContentLength") != size:
        raise Mismatch(f"{where} holds {head.get('ContentLength')} bytes, the manifest says {size}")
    stored = str(head.get("ChecksumSHA256") or "")
    if not stored:
        raise Mismatch(f"{where} has no SHA-256 checksum: it was not uploaded by publish")
    # A checksum of part checksums is marked by ChecksumType COMPOSITE (HeadObject in botocore's
    # s3 model) and a -<parts> suffix; a multipart upload's ETag also ends in -<parts> (S3 user
    # guide, "Checking object integrity"). Any one of them is enough to know.
    composite = (
        "-" in stored
        or head.get("ChecksumType") == "COMPOSITE"
        or re.search(r'-\d+"?$', str(head.get("ETag") or "")) is not None
    )
    if not composite:
        if stored != _b64(bytes.fromhex(sha256)):
            raise Mismatch(f"{where} does not have SHA-256 {sha256}")
        return
    modified = head.get("LastModified")
    if registered is not None and modified is not None and modified > registered:
        raise Mismatch(
            f"{where} was rewritten at {modified:%Y-%m-%dT%H:%M:%SZ}, after the version was"
            " registered; its multipart content cannot be proven without downloading it"
        )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
