"""publish and the registry against moto in-process: keys, encryption, checksums, versions."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
from moto.core.authorization import enable_iam_authentication

from infra.settings.artifacts import artifact_prefix
from model_packaging.errors import PackagingError
from model_packaging.store import registry, upload
from model_packaging.store.publish import publish
from tests.packaging.conftest import (
    BUCKET,
    GROUP,
    IMAGE,
    REGION,
    ArtifactFactory,
    Store,
    keys,
    manifest_of,
)


def versions(sagemaker: Any, group: str = GROUP) -> list[dict[str, Any]]:
    listed = sagemaker.list_model_packages(ModelPackageGroupName=group)
    return cast(list[dict[str, Any]], listed["ModelPackageSummaryList"])


def test_publish_uploads_with_kms_and_checksums_and_registers_a_pending_version(
    aws: Store, make_artifact: ArtifactFactory
) -> None:
    artifact = make_artifact()
    manifest = manifest_of(artifact)
    digest = manifest["digest"]
    prefix = artifact_prefix("churn", digest)

    result = publish(artifact, bucket=BUCKET, kms_key=aws.key_arn, progress=False)

    s3 = aws.s3
    assert keys(s3) == [f"{prefix}manifest.json", f"{prefix}model.tar.gz"]
    head = s3.head_object(Bucket=BUCKET, Key=f"{prefix}model.tar.gz", ChecksumMode="ENABLED")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == aws.key_arn
    assert head["ChecksumSHA256"] == base64.b64encode(bytes.fromhex(digest)).decode()
    head = s3.head_object(Bucket=BUCKET, Key=f"{prefix}manifest.json", ChecksumMode="ENABLED")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["ChecksumSHA256"]

    assert result.created is True
    assert result.s3_uri == f"s3://{BUCKET}/{prefix}model.tar.gz"
    assert result.uploaded_bytes == manifest["artifact"]["size"] + len(
        (artifact / "manifest.json").read_bytes()
    )
    version = aws.sagemaker.describe_model_package(ModelPackageName=result.version_arn)
    assert version["ModelPackageGroupName"] == GROUP
    assert version["ModelApprovalStatus"] == "PendingManualApproval"
    assert f"sha256:{digest}" in version["ModelPackageDescription"]
    assert version["CustomerMetadataProperties"] == {
        "artifact-digest": f"sha256:{digest}",
        "s3-uri": result.s3_uri,
        "manifest-uri": f"s3://{BUCKET}/{prefix}manifest.json",
        "git-commit": manifest["git"]["commit"],
        "git-dirty": "false",
    }
    spec = version["InferenceSpecification"]
    assert spec["Containers"] == [
        {
            "Image": IMAGE,
            "ModelDataUrl": result.s3_uri,
            "Environment": manifest["environment"],
        }
    ]
    assert spec["SupportedContentTypes"] == ["text/csv"]
    assert spec["SupportedResponseMIMETypes"] == ["application/json"]


def test_second_publish_sends_nothing_and_returns_the_same_version(
    aws: Store, make_artifact: ArtifactFactory
) -> None:
    artifact = make_artifact()
    first = publish(artifact, bucket=BUCKET, progress=False)
    second = publish(artifact / "manifest.json", bucket=BUCKET, progress=False)

    assert second.version_arn == first.version_arn
    assert second.uploaded_bytes == 0
    assert second.created is False
    assert len(versions(aws.sagemaker)) == 1


def test_rerun_after_a_death_between_upload_and_registration_registers_without_uploading(
    aws: Store, make_artifact: ArtifactFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    artifact = make_artifact()

    def die(*_: Any, **__: Any) -> Any:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(registry, "create_version", die)
        with pytest.raises(KeyboardInterrupt):
            publish(artifact, bucket=BUCKET, progress=False)
    assert len(keys(aws.s3)) == 2
    assert versions(aws.sagemaker) == []

    result = publish(artifact, bucket=BUCKET, progress=False)

    assert result.uploaded_bytes == 0
    assert result.created is True
    assert len(versions(aws.sagemaker)) == 1


def test_a_different_digest_gets_its_own_version(
    aws: Store, make_artifact: ArtifactFactory
) -> None:
    first = publish(make_artifact(), bucket=BUCKET, progress=False)
    second = publish(make_artifact(), bucket=BUCKET, progress=False)

    assert second.created is True
    assert second.version_arn != first.version_arn
    assert len(versions(aws.sagemaker)) == 2


def test_uncompressed_build_uploads_each_file_and_registers_an_s3_prefix(
    aws: Store, make_artifact: ArtifactFactory
) -> None:
    artifact = make_artifact(compression="none", commit=None)
    manifest = manifest_of(artifact)
    prefix = artifact_prefix("churn", manifest["digest"])

    result = publish(artifact, bucket=BUCKET, progress=False)

    assert keys(aws.s3) == [
        f"{prefix}manifest.json",
        f"{prefix}model/code/inference.py",
        f"{prefix}model/model.joblib",
    ]
    assert result.s3_uri == f"s3://{BUCKET}/{prefix}model/"
    version = aws.sagemaker.describe_model_package(ModelPackageName=result.version_arn)
    (container,) = version["InferenceSpecification"]["Containers"]
    assert "ModelDataUrl" not in container
    assert container["ModelDataSource"] == {
        "S3DataSource": {
            "S3Uri": result.s3_uri,
            "S3DataType": "S3Prefix",
            "CompressionType": "None",
        }
    }
    assert "git-commit" not in version["CustomerMetadataProperties"]
    assert publish(artifact, bucket=BUCKET, progress=False).uploaded_bytes == 0


def test_large_file_goes_multipart_with_a_composite_checksum(
    aws: Store, make_artifact: ArtifactFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upload, "PART_SIZE", 5 * upload.MiB)  # S3's minimum, to keep it small
    artifact = make_artifact(size=11 * upload.MiB)
    payload = (artifact / "model.tar.gz").read_bytes()
    parts = [payload[i : i + 5 * upload.MiB] for i in range(0, len(payload), 5 * upload.MiB)]
    composite = hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest()

    result = publish(artifact, bucket=BUCKET, progress=False)

    key = result.s3_uri.removeprefix(f"s3://{BUCKET}/")
    head = aws.s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(payload)
    assert head["ETag"].endswith('-3"')
    assert head["ChecksumSHA256"].split("-")[0] == base64.b64encode(composite).decode()
    assert head["ServerSideEncryption"] == "aws:kms"
    assert aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == payload
    assert publish(artifact, bucket=BUCKET, progress=False).uploaded_bytes == 0


def test_without_kms_key_the_bucket_default_key_is_named_explicitly(
    aws: Store, make_artifact: ArtifactFactory
) -> None:
    result = publish(make_artifact(), bucket=BUCKET, progress=False)

    key = result.s3_uri.removeprefix(f"s3://{BUCKET}/")
    head = aws.s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == aws.key_arn


def test_bucket_without_a_default_kms_key_needs_kms_key(
    aws: Store, make_artifact: ArtifactFactory
) -> None:
    aws.s3.create_bucket(Bucket="plain-bucket")
    artifact = make_artifact()

    with pytest.raises(
        PackagingError, match=r"^bucket 'plain-bucket' has no default KMS key; pass"
    ):
        publish(artifact, bucket="plain-bucket", progress=False)

    result = publish(artifact, bucket="plain-bucket", kms_key=aws.key_arn, progress=False)
    assert result.created is True


def test_stale_multipart_uploads_under_the_prefix_are_aborted(
    aws: Store, make_artifact: ArtifactFactory
) -> None:
    artifact = make_artifact()
    prefix = artifact_prefix("churn", manifest_of(artifact)["digest"])
    aws.s3.create_multipart_upload(Bucket=BUCKET, Key=f"{prefix}model.tar.gz")
    aws.s3.create_multipart_upload(Bucket=BUCKET, Key="models/other/keep-me")

    publish(artifact, bucket=BUCKET, progress=False)

    left = aws.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    assert [u["Key"] for u in left] == ["models/other/keep-me"]


def test_missing_group_is_named_and_nothing_is_uploaded(
    aws: Store, make_artifact: ArtifactFactory
) -> None:
    artifact = make_artifact(name="fraud")

    with pytest.raises(PackagingError) as raised:
        publish(artifact, bucket=BUCKET, progress=False)

    message = str(raised.value)
    assert "model package group 'fraud' does not exist in us-east-1" in message
    assert "\n" not in message
    assert keys(aws.s3) == []


def test_tampered_artifact_is_refused_before_upload(
    aws: Store, make_artifact: ArtifactFactory
) -> None:
    artifact = make_artifact()
    with (artifact / "model.tar.gz").open("r+b") as fh:
        fh.write(b"\0")

    with pytest.raises(PackagingError, match=r"model.tar.gz: sha256 \w+ does not match") as raised:
        publish(artifact, bucket=BUCKET, progress=False)

    assert "\n" not in str(raised.value)
    assert keys(aws.s3) == []


def test_tampered_file_of_an_uncompressed_build_is_refused(
    aws: Store, make_artifact: ArtifactFactory
) -> None:
    artifact = make_artifact(compression="none")
    (artifact / "model" / "code" / "inference.py").write_text("import os; os.system('boom')\n")

    with pytest.raises(PackagingError, match=r"model: code/inference.py has sha256"):
        publish(artifact, bucket=BUCKET, progress=False)
    assert keys(aws.s3) == []


def test_region_without_an_image_is_refused(aws: Store, make_artifact: ArtifactFactory) -> None:
    artifact = make_artifact(regions=("eu-west-1", "us-west-2"))

    with pytest.raises(PackagingError, match=r"no image for region us-east-1 \(it has: eu-west-1"):
        publish(artifact, bucket=BUCKET, progress=False)
    assert keys(aws.s3) == []


def test_missing_bucket_is_named(aws: Store, make_artifact: ArtifactFactory) -> None:
    with pytest.raises(PackagingError, match=r"^bucket 'no-such-bucket' does not exist$"):
        publish(make_artifact(), bucket="no-such-bucket", progress=False)
    assert versions(aws.sagemaker) == []


def use_credentials_allowed_to(
    monkeypatch: pytest.MonkeyPatch, *statements: dict[str, Any]
) -> None:
    """Switch this process's credentials to a moto IAM user with exactly these statements."""
    iam = boto3.session.Session().client("iam")
    iam.create_user(UserName="data-scientist")
    iam.put_user_policy(
        UserName="data-scientist",
        PolicyName="publish",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
    )
    key = iam.create_access_key(UserName="data-scientist")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])


def allow(*actions: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": list(actions), "Resource": "*"}


def test_access_denied_to_the_bucket_is_named(
    aws: Store, make_artifact: ArtifactFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_credentials_allowed_to(monkeypatch, allow("sagemaker:*"))

    with enable_iam_authentication(), pytest.raises(PackagingError) as raised:
        publish(make_artifact(), bucket=BUCKET, progress=False)

    assert str(raised.value).startswith(f"access denied to bucket '{BUCKET}'")
    assert "\n" not in str(raised.value)


def test_publish_works_without_permission_to_clean_up_incomplete_uploads(
    aws: Store,
    make_artifact: ArtifactFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # AWS authorizes HeadBucket with s3:ListBucket; moto asks for a made-up s3:HeadBucket.
    use_credentials_allowed_to(
        monkeypatch,
        allow("sagemaker:*", "kms:*", "s3:ListBucket", "s3:HeadBucket"),
        allow("s3:GetEncryptionConfiguration"),
        allow("s3:GetObject", "s3:PutObject"),
    )

    with enable_iam_authentication():
        result = publish(make_artifact(), bucket=BUCKET, progress=False)

    assert result.created is True
    assert "not allowed to clean up incomplete uploads" in caplog.text


def test_find_version_matches_the_digest_metadata_not_only_the_description(
    aws: Store,
) -> None:
    digest = "ab" * 32
    spec = registry.VersionSpec(
        group=GROUP,
        digest=digest,
        image=IMAGE,
        model_data_uri="s3://b/m.tar.gz",
        compressed=True,
        manifest_uri="s3://b/manifest.json",
        environment={},
        request_types=["text/csv"],
        response_types=["text/csv"],
        git_commit=None,
        git_dirty=False,
        summary="x",
    )
    sagemaker = aws.sagemaker
    impostor = registry.version_request(spec)
    impostor["CustomerMetadataProperties"] = {"artifact-digest": "sha256:" + "cd" * 32}
    sagemaker.create_model_package(**impostor)
    assert registry.find_version(sagemaker, GROUP, digest) is None

    created = registry.create_version(sagemaker, spec)
    found = registry.find_version(sagemaker, GROUP, digest)

    assert found == registry.Version(created.arn, "PendingManualApproval")
    assert created.arn.startswith(f"arn:aws:sagemaker:{REGION}:")


def test_uncompressed_manifest_whose_digest_was_edited_is_refused(
    aws: Store, make_artifact: ArtifactFactory
) -> None:
    artifact = make_artifact(compression="none")
    manifest = manifest_of(artifact)
    manifest["digest"] = manifest["artifact"]["sha256"] = "0" * 64
    (artifact / "manifest.json").write_text(json.dumps(manifest))

    with pytest.raises(PackagingError, match=r"digest does not match its file list"):
        publish(artifact, bucket=BUCKET, progress=False)
    assert keys(aws.s3) == []


def test_large_file_changed_after_the_check_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upload, "PART_SIZE", 5 * upload.MiB)
    path = tmp_path / "model.tar.gz"
    path.write_bytes(b"x" * (6 * upload.MiB))
    checked = hashlib.sha256(b"y" * (6 * upload.MiB)).hexdigest()

    with pytest.raises(PackagingError, match=r"changed after it was checked against the manifest"):
        upload.local_file(path, "k", 6 * upload.MiB, checked)
