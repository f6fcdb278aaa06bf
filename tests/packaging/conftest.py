"""Fixtures for the release tool's AWS code: fake credentials, moto in-process and as a server.

Credentials are faked by an autouse fixture so that no test can ever reach a real account, even
on a machine with an AWS profile: every boto3 client in these tests is created after it ran.
"""

from __future__ import annotations

import hashlib
import os
import socket
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from model_packaging.archive import FileRecord, listing_digest
from model_packaging.manifest import Manifest

REGION = "us-east-1"
BUCKET = "artifact-store"
GROUP = "churn"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Fake credentials and region, and no way to pick up the machine's real AWS setup."""
    for var in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_MAX_ATTEMPTS",
        "AWS_RETRY_MODE",
    ):
        monkeypatch.delenv(var, raising=False)
    nowhere = tmp_path_factory.getbasetemp() / "no-aws-config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(nowhere))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # Instance metadata lookups would add seconds of timeouts on a machine outside EC2.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One moto server for the whole run, on a free local port; yields its URL."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The server, emptied, with ``AWS_ENDPOINT_URL`` pointing this process's clients at it."""
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


@dataclass(frozen=True)
class Store:
    s3: Any
    sagemaker: Any
    key_arn: str


def create_store(bucket: str, group: str) -> Store:
    """What the shared stack provides: a bucket encrypted by default with its own KMS key, and
    the model's package group.

    Uses the default session like the product code, so it seeds moto in-process or a moto server
    alike. Returns clients for the assertions, and the key's ARN.
    """
    session = boto3.session.Session()
    s3, sagemaker = session.client("s3"), session.client("sagemaker")
    s3.create_bucket(Bucket=bucket)
    key_arn = str(session.client("kms").create_key()["KeyMetadata"]["Arn"])
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key_arn,
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    return Store(s3, sagemaker, key_arn)


@pytest.fixture
def server_store(moto_endpoint: str) -> Store:
    """The shared stack's resources in the emptied moto server; its clients talk to it directly."""
    return create_store(BUCKET, GROUP)


ArtifactFactory = Callable[..., Path]


@pytest.fixture
def make_artifact(tmp_path: Path) -> ArtifactFactory:
    """Write a build output folder with a valid manifest and random bytes for the model.

    publish never looks inside the tarball, so random bytes of a chosen size are enough and
    much faster than a real build; the end-to-end tests use the real one.
    """
    counter = iter(range(1_000_000))

    def make(
        *,
        name: str = "churn",
        compression: str = "gzip",
        size: int = 4096,
        regions: tuple[str, ...] = (REGION,),
        commit: str | None = "0123456789abcdef0123456789abcdef01234567",
    ) -> Path:

        out = tmp_path / f"artifact-{next(counter)}"
        out.mkdir()
        payload = os.urandom(size)
        files = [
            ("code/inference.py", b"def model_fn(model_dir):\n    return None\n"),
            ("model.joblib", payload),
        ]
        entries = [
            FileRecord(path, len(data), hashlib.sha256(data).hexdigest()) for path, data in files
        ]
        if compression == "none":
            for path, data in files:
                (out / "model" / path).parent.mkdir(parents=True, exist_ok=True)
                (out / "model" / path).write_bytes(data)
            digest = listing_digest(entries)
            artifact = {"path": "model/", "size": sum(len(d) for _, d in files), "sha256": digest}
        else:
            (out / "model.tar.gz").write_bytes(payload)
            digest = hashlib.sha256(payload).hexdigest()
            artifact = {"path": "model.tar.gz", "size": size, "sha256": digest}
        manifest = {
            "manifest_version": 1,
            "name": name,
            "digest": digest,
            "compression": compression,
            "artifact": artifact,
            "files": [asdict(entry) for entry in entries],
            "framework": {"name": "sklearn", "version": "1.2-1", "python_version": "py3"},
            "entry_point": "inference.py",
            "environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            },
            "content_types": {"request": ["text/csv"], "response": ["application/json"]},
            "images": {region: IMAGE.replace(REGION, region) for region in regions},
            "git": {"commit": commit, "dirty": False} if commit else None,
            "samples": [],
        }
        (out / "manifest.json").write_text(Manifest.model_validate(manifest).to_json())
        return out

    return make
