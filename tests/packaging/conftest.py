"""Fixtures for the release tool's AWS code: fake credentials and moto in-process (the moto
server is in ``tests/conftest.py``).

Credentials are faked by an autouse fixture so that no test can ever reach a real account, even
on a machine with an AWS profile: every boto3 client in these tests is created after it ran.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from moto import mock_aws

from infra.settings import artifacts
from model_packaging.artifact.archive import FileRecord, listing_digest
from model_packaging.artifact.build import build
from model_packaging.artifact.manifest import Manifest
from model_packaging.store import aws as store_aws
from tests.conftest import free_port as free_port
from tests.helpers import EXAMPLE

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
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


@dataclass(frozen=True)
class Store:
    s3: Any
    sagemaker: Any
    key_arn: str


def create_store(bucket: str, group: str) -> Store:
    """What the shared stack provides: a bucket encrypted by default with its own KMS key, and
    the model's package group.

    Uses the default session as the product code makes it, so it seeds moto in-process or a moto
    server alike. Returns clients for the assertions and the other helpers, and the key's ARN.
    """
    session = store_aws.session()
    s3, sagemaker = store_aws.client(session, "s3"), store_aws.client(session, "sagemaker")
    s3.create_bucket(Bucket=bucket)
    key_arn = str(store_aws.client(session, "kms").create_key()["KeyMetadata"]["Arn"])
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
def aws() -> Iterator[Store]:
    """moto in-process with the shared stack's resources."""
    with mock_aws():
        yield create_store(BUCKET, GROUP)


def manifest_of(artifact: Path) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads((artifact / "manifest.json").read_text()))


def keys(s3: Any) -> list[str]:
    """The keys in the artifact store's bucket, sorted."""
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


@pytest.fixture
def server_store(moto_endpoint: str) -> Store:
    """The shared stack's resources in the emptied moto server; its clients talk to it directly."""
    return create_store(BUCKET, GROUP)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example model, built once for the run: the build is the slow step. Tests that damage
    an artifact work on a copy."""
    out = tmp_path_factory.mktemp("built") / "churn"
    build(EXAMPLE, out, progress=False)
    return out


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


# --- release commands: registry versions, endpoints and stack files -------------------------


@pytest.fixture
def release_store() -> Iterator[Store]:
    """moto in-process with the shared stack's bucket and a package group per model."""
    with mock_aws():
        store = create_store(BUCKET, GROUP)
        store.sagemaker.create_model_package_group(ModelPackageGroupName="fraud")
        yield store


@dataclass(frozen=True)
class Published:
    arn: str
    digest: str
    """``sha256:<hex>``, as stack files pin it."""

    @property
    def number(self) -> int:
        return artifacts.version_of(self.arn)


def register(
    store: Store,
    make_artifact: ArtifactFactory,
    *,
    name: str = GROUP,
    approve: bool = True,
    compression: str = "gzip",
    size: int = 4096,
) -> Published:
    """A version registered by publish itself, then Approved unless ``approve`` is False."""
    from model_packaging.store.publish import publish

    artifact = make_artifact(name=name, compression=compression, size=size)
    result = publish(artifact, bucket=BUCKET, progress=False)
    digest = json.loads((artifact / "manifest.json").read_text())["digest"]
    if approve:
        sagemaker = store.sagemaker
        metadata = sagemaker.describe_model_package(ModelPackageName=result.version_arn)[
            "CustomerMetadataProperties"
        ]
        # moto replaces the metadata map on update, so it is sent again.
        sagemaker.update_model_package(
            ModelPackageArn=result.version_arn,
            ModelApprovalStatus="Approved",
            CustomerMetadataProperties=metadata,
        )
    return Published(result.version_arn, f"sha256:{digest}")


_deployments = itertools.count(1)


def deploy(
    store: Store, model: str, environment: str, package: str, *, suffix: str = "1a2b3c4d"
) -> str:
    """What ``pulumi up`` leaves: a Model of the version, a new endpoint configuration tagged with
    model and environment, and the endpoint ``<model>-<env>-<suffix>`` moved onto it.

    Returns the configuration's name.
    """
    sagemaker = store.sagemaker
    n = next(_deployments)
    model_name = f"{model}-{environment}-champion-{n}"
    sagemaker.create_model(
        ModelName=model_name,
        ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/{model}-{environment}",
        PrimaryContainer={"ModelPackageName": package},
    )
    config = f"{model}-{environment}-config-{n:07x}"
    sagemaker.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {
                "VariantName": "champion",
                "ModelName": model_name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        Tags=[{"Key": "model", "Value": model}, {"Key": "environment", "Value": environment}],
    )
    point_endpoint(store, f"{model}-{environment}-{suffix}", config)
    return config


def point_endpoint(store: Store, endpoint: str, config: str) -> None:
    """Put ``endpoint`` on ``config``; moto has no UpdateEndpoint, so it is created anew."""
    sagemaker = store.sagemaker
    existing = sagemaker.list_endpoints(NameContains=endpoint)["Endpoints"]
    if any(e["EndpointName"] == endpoint for e in existing):
        sagemaker.delete_endpoint(EndpointName=endpoint)
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)


STACK_HEADER = """\
# {env}: comments, order and quoting must survive promotion.
config:
  aws:region: us-east-1
  mlserve:owner: ml-platform
  mlserve:cost_center: 'cc-4200'
  mlserve:shared_stack: acme/mlserve/shared
  mlserve:alerts:
    subscriptions:
      - protocol: email
        endpoint: ml-{env}@example.com
  mlserve:models:
"""
STACK_MODEL = """\
    {name}:
      # the registry version this stage runs
      version:
        package: "{arn}" # quoted on purpose
        digest: {digest}
"""


def write_stack(stacks: Path, env: str, pins: Mapping[str, Published]) -> Path:
    """Write ``stacks/Pulumi.<env>.yaml`` pinning each model to its version."""
    stacks.mkdir(parents=True, exist_ok=True)
    text = STACK_HEADER.format(env=env) + "".join(
        STACK_MODEL.format(name=name, arn=pin.arn, digest=pin.digest) for name, pin in pins.items()
    )
    path = stacks / f"Pulumi.{env}.yaml"
    path.write_text(text)
    return path
