"""Upload files to S3 so that a key either holds the complete, checksummed bytes or nothing.

Why it is done by hand rather than with boto3's managed transfer:

- Every object carries an S3-computed SHA-256 checksum (the whole file for a single PUT, the
  checksum of the part checksums for a multipart upload). We send the checksums we computed
  while hashing the file, so S3 rejects bytes that changed after they were checked, and a later
  run can prove an object is already there from ``head_object`` alone, without downloading it.
- Knowing the part size lets us compute the multipart checksum locally for that proof.
- We decide what happens to an incomplete multipart upload: it is aborted when a part fails,
  and, because an abort cannot reach a dead endpoint, stale ones under the same prefix are
  aborted by the next run (the bucket's AbortIncompleteMultipartUpload lifecycle rule is the
  last line of defence).
- ``uploaded_bytes`` counts exactly the bytes of the objects and parts S3 acknowledged.

Objects become visible only when a PUT or a CompleteMultipartUpload succeeds, so a cut
connection leaves nothing under the final keys. The caller's last file (the manifest) is sent
only after every other file is complete, which makes its presence mean "the upload finished".
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from model_packaging.errors import PackagingError
from model_packaging.progress import Bar, progress_bar
from model_packaging.store.aws import describe, error_code, http_status, reporting

MiB = 1024 * 1024
# S3 requires parts of at least 5 MiB (except the last) and at most 10,000 of them. 8 MiB is the
# AWS CLI's default; files above 80 GB get bigger parts rather than failing.
PART_SIZE = 8 * MiB
MAX_PARTS = 10_000
# Parallel requests: enough to fill a typical uplink, few enough to keep memory at
# WORKERS * part size.
WORKERS = 4

T = TypeVar("T")
log = logging.getLogger(__name__)


def part_size_for(size: int) -> int:
    """The part size used for a file of ``size`` bytes: PART_SIZE unless that needs too many."""
    needed = -(-size // MAX_PARTS)
    return max(PART_SIZE, -(-needed // MiB) * MiB)


@dataclass(frozen=True)
class LocalFile:
    """A file to upload, the key it goes to, and the digests S3 must agree with."""

    path: Path
    key: str
    size: int
    sha256: str
    """Hex SHA-256 of the whole file, as the manifest records it."""
    part_size: int
    part_digests: tuple[bytes, ...]
    """Raw SHA-256 of each part; a single entry when the file fits one PUT."""

    @property
    def multipart(self) -> bool:
        return len(self.part_digests) > 1

    @property
    def s3_checksum(self) -> str:
        """The ``ChecksumSHA256`` S3 reports for this object, without any ``-<parts>`` suffix."""
        if self.multipart:
            return _b64(hashlib.sha256(b"".join(self.part_digests)).digest())
        return _b64(bytes.fromhex(self.sha256))


def local_file(path: Path, key: str, size: int, sha256: str) -> LocalFile:
    """Describe a file whose size and SHA-256 were already checked against the manifest.

    A file that fits one PUT needs no further reading: its S3 checksum is its SHA-256. A larger
    one is read once more for the part checksums, and its whole SHA-256 is compared again, so
    the parts S3 accepts are the bytes that were checked.
    """
    part_size = part_size_for(size)
    if size <= part_size:
        return LocalFile(path, key, size, sha256, part_size, (bytes.fromhex(sha256),))
    whole = hashlib.sha256()
    parts: list[bytes] = []
    try:
        with path.open("rb") as fh:
            while block := fh.read(part_size):
                whole.update(block)
                parts.append(hashlib.sha256(block).digest())
    except OSError as exc:
        raise PackagingError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if whole.hexdigest() != sha256:
        raise PackagingError(f"{path} changed after it was checked against the manifest")
    return LocalFile(path, key, size, sha256, part_size, tuple(parts))


def upload(
    s3: Any,
    bucket: str,
    prefix: str,
    files: Sequence[LocalFile],
    *,
    kms_key: str,
    progress: bool,
) -> int:
    """Upload the files S3 does not already hold; return the number of bytes sent.

    ``files`` all live under ``prefix``; the last one is sent only after all others are complete.
    Files already present with the same size, checksum and KMS encryption are skipped, so a
    repeated publish sends nothing.
    """
    if not files:
        return 0
    if any(not f.key.startswith(prefix) for f in files):
        raise ValueError(f"every key must start with {prefix!r}")
    _abort_incomplete(s3, bucket, prefix)
    with reporting(f"cannot check existing objects under s3://{bucket}/{prefix}"):
        todo = [f for f in files if not _present(s3, bucket, f)]
    for f in files:
        if f not in todo:
            log.info("s3://%s/%s already holds these %d bytes", bucket, f.key, f.size)
    if not todo:
        return 0
    body = [f for f in todo if f is not files[-1]]
    with (
        progress_bar(sum(f.size for f in todo), f"upload s3://{bucket}/{prefix}", progress) as bar,
        ThreadPoolExecutor(WORKERS, thread_name_prefix="upload") as pool,
    ):
        transfer = _Transfer(s3, bucket, kms_key, bar, pool)
        transfer.put_all([f for f in body if not f.multipart])
        for f in body:
            if f.multipart:
                transfer.multipart(f)
        transfer.put_all([f for f in todo if f is files[-1]])
    return transfer.sent


def require_bucket(s3: Any, bucket: str) -> None:
    """Fail early, naming the bucket, when it is missing, forbidden or unreachable.

    ``head_object`` answers a bare 404 for a missing bucket and a missing key alike, so without
    this check a typo in the bucket name would surface as a confusing failure halfway through.
    """
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        status = http_status(exc)
        if status == 404:
            raise PackagingError(f"bucket {bucket!r} does not exist") from exc
        if status == 403:
            raise PackagingError(
                f"access denied to bucket {bucket!r}: docs/publishing.md lists the permissions"
                " publish needs"
            ) from exc
        if status == 301:
            region = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            where = region.get("x-amz-bucket-region", "another region")
            raise PackagingError(f"bucket {bucket!r} is in {where}, not in this region") from exc
        raise PackagingError(f"cannot check bucket {bucket!r}: {describe(exc)}") from exc
    except BotoCoreError as exc:
        raise PackagingError(f"cannot reach S3 for bucket {bucket!r}: {describe(exc)}") from exc


def bucket_kms_key(s3: Any, bucket: str) -> str:
    """The KMS key the bucket encrypts with by default, to name it in every upload.

    An upload that says ``aws:kms`` without a key gets the account's AWS managed key (aws/s3),
    not the bucket's default key, and other accounts can never decrypt with that one: endpoints
    in the environment accounts would fail to load the model. So the key is always explicit.
    """
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ]
    except ClientError as exc:
        if error_code(exc) != "ServerSideEncryptionConfigurationNotFoundError":
            raise PackagingError(
                f"cannot read the default encryption of bucket {bucket!r} ({describe(exc)});"
                " pass --kms-key with the artifact store's key"
            ) from exc
        rules = []
    except BotoCoreError as exc:
        raise PackagingError(f"cannot reach S3 for bucket {bucket!r}: {describe(exc)}") from exc
    for rule in rules:
        default = rule.get("ApplyServerSideEncryptionByDefault", {})
        if default.get("SSEAlgorithm") == "aws:kms" and default.get("KMSMasterKeyID"):
            return str(default["KMSMasterKeyID"])
    raise PackagingError(
        f"bucket {bucket!r} has no default KMS key; pass --kms-key with the artifact store's key"
    )


def stored_differently(s3: Any, bucket: str, files: Sequence[LocalFile]) -> list[LocalFile]:
    """The files whose key already holds an object with other bytes (absent keys do not count).

    Meant for single-PUT files: a multipart object written with another part size would count
    as different.
    """
    with reporting(f"cannot check existing objects in s3://{bucket}"):
        heads = [(f, _head(s3, bucket, f)) for f in files]
    return [f for f, head in heads if head is not None and not _same_bytes(head, f)]


def _present(s3: Any, bucket: str, f: LocalFile) -> bool:
    """True when ``f.key`` already holds exactly these bytes, encrypted with KMS.

    S3 computed the stored checksum itself when the object was written, so matching size and
    checksum prove the content. An object written with another part size has another multipart
    checksum and is uploaded again: safe, only not free.
    """
    head = _head(s3, bucket, f)
    return (
        head is not None and _same_bytes(head, f) and head.get("ServerSideEncryption") == "aws:kms"
    )


def _head(s3: Any, bucket: str, f: LocalFile) -> dict[str, Any] | None:
    """HeadObject with checksums, or None when the key holds nothing."""
    try:
        return dict(s3.head_object(Bucket=bucket, Key=f.key, ChecksumMode="ENABLED"))
    except ClientError as exc:
        if http_status(exc) == 404:
            return None
        raise


def _same_bytes(head: dict[str, Any], f: LocalFile) -> bool:
    stored = str(head.get("ChecksumSHA256") or "").split("-")[0]
    return head.get("ContentLength") == f.size and stored == f.s3_checksum


def _abort_incomplete(s3: Any, bucket: str, prefix: str) -> None:
    """Abort multipart uploads under ``prefix`` left by a run whose connection died.

    Their parts are invisible but billed. A publisher of the same digest running at this very
    moment would lose its upload and fail with a clear error; its re-run then finds the objects.
    Credentials without s3:ListBucketMultipartUploads or s3:AbortMultipartUpload can still
    publish: the cleanup is skipped with a warning and the lifecycle rule does it later.
    """
    try:
        pages = s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for stale in page.get("Uploads", []):
                s3.abort_multipart_upload(
                    Bucket=bucket, Key=stale["Key"], UploadId=stale["UploadId"]
                )
                log.info("aborted incomplete upload of s3://%s/%s", bucket, stale["Key"])
    except ClientError as exc:
        if http_status(exc) != 403:
            raise PackagingError(
                f"cannot clean up incomplete uploads under s3://{bucket}/{prefix}: {describe(exc)}"
            ) from exc
        log.warning("not allowed to clean up incomplete uploads under s3://%s/%s", bucket, prefix)
    except BotoCoreError as exc:
        raise PackagingError(
            f"cannot clean up incomplete uploads under s3://{bucket}/{prefix}: {describe(exc)}"
        ) from exc


class _Transfer:
    """Sends files and parts from a thread pool and counts what S3 acknowledged."""

    def __init__(
        self, s3: Any, bucket: str, kms_key: str, bar: Bar, pool: ThreadPoolExecutor
    ) -> None:
        self.sent = 0
        self._s3 = s3
        self._bucket = bucket
        self._bar = bar
        self._pool = pool
        self._lock = threading.Lock()
        self._encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key}

    def put_all(self, files: Sequence[LocalFile]) -> None:
        """Send small files with one PUT each, in parallel."""
        _first_error_wins([self._pool.submit(self._put, f) for f in files])

    def multipart(self, f: LocalFile) -> None:
        """Send one large file as parts in parallel; abort the upload if anything fails."""
        where = f"s3://{self._bucket}/{f.key}"
        with reporting(f"cannot start upload of {where}"):
            upload_id = self._s3.create_multipart_upload(
                Bucket=self._bucket, Key=f.key, ChecksumAlgorithm="SHA256", **self._encryption
            )["UploadId"]
        try:
            parts = _first_error_wins(
                [
                    self._pool.submit(self._part, f, upload_id, number)
                    for number in range(1, len(f.part_digests) + 1)
                ]
            )
            with reporting(f"cannot complete upload of {where}"):
                self._s3.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=f.key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
            log.info("sent %s: %d bytes in %d parts", where, f.size, len(parts))
        except BaseException as exc:
            cleanup = self._abort(f.key, upload_id)
            if isinstance(exc, PackagingError) and cleanup:
                raise PackagingError(f"{exc}; {cleanup}") from exc
            raise

    def _put(self, f: LocalFile) -> None:
        with reporting(f"upload of s3://{self._bucket}/{f.key} failed"):
            self._s3.put_object(
                Bucket=self._bucket,
                Key=f.key,
                Body=_read(f, 1),
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=f.s3_checksum,
                **self._encryption,
            )
        log.info("sent s3://%s/%s: %d bytes", self._bucket, f.key, f.size)
        self._count(f.size)

    def _part(self, f: LocalFile, upload_id: str, number: int) -> dict[str, Any]:
        body = _read(f, number)
        checksum = _b64(f.part_digests[number - 1])
        with reporting(f"upload of s3://{self._bucket}/{f.key} failed at part {number}"):
            response = self._s3.upload_part(
                Bucket=self._bucket,
                Key=f.key,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
            )
        self._count(len(body))
        return {"PartNumber": number, "ETag": response["ETag"], "ChecksumSHA256": checksum}

    def _abort(self, key: str, upload_id: str) -> str:
        """Abort an upload after a failure; return what the user must know if that failed too."""
        try:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
        except (BotoCoreError, ClientError):
            return (
                "its incomplete multipart upload could not be aborted: the next publish aborts"
                " it, as does the bucket's AbortIncompleteMultipartUpload lifecycle rule"
            )
        return ""

    def _count(self, n: int) -> None:
        with self._lock:
            self.sent += n
            self._bar.update(n)


def _read(f: LocalFile, number: int) -> bytes:
    """Read part ``number`` (1-based) of ``f``; a single-PUT file is its own part 1."""
    try:
        with f.path.open("rb") as fh:
            fh.seek((number - 1) * f.part_size)
            data = fh.read(f.part_size if f.multipart else f.size)
    except OSError as exc:
        raise PackagingError(f"cannot read {f.path}: {exc.strerror or exc}") from exc
    expected = min(f.part_size, f.size - (number - 1) * f.part_size) if f.multipart else f.size
    if len(data) != expected:
        raise PackagingError(f"{f.path} changed while it was being uploaded")
    return data


def _first_error_wins(futures: Sequence[Future[T]]) -> list[T]:
    """Wait for all futures; on the first failure cancel the rest and raise that failure.

    Tasks already running are waited for, so no part lands after the caller aborts the upload.
    """
    done, pending = wait(futures, return_when=FIRST_EXCEPTION)
    failed = next((f for f in futures if f in done and f.exception() is not None), None)
    if failed is None:
        return [f.result() for f in futures]
    for f in pending:
        f.cancel()
    wait(pending)
    exc = failed.exception()
    assert exc is not None
    raise exc


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")
