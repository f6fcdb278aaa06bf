"""publish to another bucket than the one an existing version of the digest points to: refused
before anything is uploaded, naming the version and the bucket its artifact is in."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from moto import mock_aws

from infra.settings.artifacts import artifact_prefix
from model_packaging.errors import PackagingError
from model_packaging.store.publish import publish
from tests.packaging.conftest import BUCKET, GROUP, ArtifactFactory, Store, create_store

OTHER = "artifact-store-b"


@pytest.fixture
def two_buckets() -> Iterator[Store]:
    """The shared stack's store, and a second encrypted bucket in the same account."""
    with mock_aws():
        store = create_store(BUCKET, GROUP)
        s3 = store.s3
        s3.create_bucket(Bucket=OTHER)
        s3.put_bucket_encryption(
            Bucket=OTHER,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": store.key_arn,
                        }
                    }
                ]
            },
        )
        yield store


def objects(store: Store, bucket: str) -> list[str]:
    listing = store.s3.list_objects_v2(Bucket=bucket)
    return [o["Key"] for o in listing.get("Contents", [])]


@pytest.mark.parametrize(
    ("compression", "data"), [("gzip", "model.tar.gz"), ("none", "model/")], ids=["gzip", "none"]
)
def test_publishing_a_registered_digest_to_another_bucket_is_refused_before_uploading(
    two_buckets: Store, make_artifact: ArtifactFactory, compression: str, data: str
) -> None:
    artifact = make_artifact(compression=compression)
    digest = json.loads((artifact / "manifest.json").read_text())["digest"]
    first = publish(artifact, bucket=BUCKET, progress=False)

    with pytest.raises(PackagingError) as refused:
        publish(artifact, bucket=OTHER, progress=False)

    existing = f"s3://{BUCKET}/{artifact_prefix(GROUP, digest)}{data}"
    assert str(refused.value) == (
        f"churn sha256:{digest} is already registered as version 1 with its artifact in"
        f" {existing}; publish to that bucket (--bucket {BUCKET}), or delete version 1 from"
        f" the registry first to register the artifact anew in {OTHER}"
    )
    assert objects(two_buckets, OTHER) == []
    listing = two_buckets.sagemaker.list_model_packages(ModelPackageGroupName=GROUP)
    assert [v["ModelPackageArn"] for v in listing["ModelPackageSummaryList"]] == [first.version_arn]


def test_publishing_again_to_the_same_bucket_still_returns_the_version(
    two_buckets: Store, make_artifact: ArtifactFactory
) -> None:
    artifact = make_artifact()
    first = publish(artifact, bucket=BUCKET, progress=False)

    again = publish(artifact, bucket=BUCKET, progress=False)

    assert (again.version_arn, again.created, again.uploaded_bytes) == (first.version_arn, False, 0)
    assert again.s3_uri == first.s3_uri


def test_the_cli_refuses_in_one_line(
    two_buckets: Store, make_artifact: ArtifactFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    from model_packaging.cli import main

    artifact = make_artifact()
    publish(artifact, bucket=BUCKET, progress=False)

    status = main(["publish", str(artifact), "--bucket", OTHER, "--quiet"])

    captured = capsys.readouterr()
    assert status == 1
    assert captured.out == ""
    assert captured.err.startswith("error: churn sha256:")
    assert f"publish to that bucket (--bucket {BUCKET})" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert "sent" not in captured.err
