"""publish with a data-quality baseline, against moto in-process: the two documents go to the
artifact store beside the artifact and are registered with the version.

moto stores and returns DriftCheckBaselines and ModelMetrics as they were sent, so the tests
read them back; that the request also fits the real API is checked against botocore's shapes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from infra.settings.artifacts import artifact_prefix
from model_packaging.errors import PackagingError
from model_packaging.store import registry, upload
from model_packaging.store.publish import publish
from tests.packaging.conftest import (
    BUCKET,
    GROUP,
    ArtifactFactory,
    Store,
    keys,
    manifest_of,
)


@pytest.fixture
def artifact(built: Path, tmp_path: Path) -> Path:
    """A copy of the build that a test may damage."""
    return Path(shutil.copytree(built, tmp_path / "churn"))


def expected_documents(artifact: Path, prefix: str) -> dict[str, Any]:
    """What the agreed layout says: ``s3://<bucket>/models/<model>/sha256-<hex>/baseline/...``,
    each with the sha256 of the file beside the artifact."""
    return {
        name: {
            "ContentType": "application/json",
            "S3Uri": f"s3://{BUCKET}/{prefix}baseline/{file}",
            "ContentDigest": "sha256:"
            + hashlib.sha256((artifact / "baseline" / file).read_bytes()).hexdigest(),
        }
        for name, file in (("Statistics", "statistics.json"), ("Constraints", "constraints.json"))
    }


def test_the_build_of_the_example_has_a_baseline(built: Path) -> None:
    baseline = manifest_of(built)["baseline"]
    assert baseline["statistics"]["path"] == "baseline/statistics.json"
    assert baseline["constraints"]["path"] == "baseline/constraints.json"


def test_publish_uploads_the_baseline_and_registers_it_with_the_version(
    aws: Store, artifact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent_order: list[str] = []
    real_upload = upload.upload

    def spy(s3: Any, bucket: str, prefix: str, files: Any, **kwargs: Any) -> int:
        sent_order.extend(f.key for f in files)
        return real_upload(s3, bucket, prefix, files, **kwargs)

    monkeypatch.setattr(upload, "upload", spy)
    digest = manifest_of(artifact)["digest"]
    prefix = artifact_prefix("churn", digest)

    result = publish(artifact, bucket=BUCKET, kms_key=aws.key_arn, progress=False)

    assert keys(aws.s3) == [
        f"{prefix}baseline/constraints.json",
        f"{prefix}baseline/statistics.json",
        f"{prefix}manifest.json",
        f"{prefix}model.tar.gz",
    ]
    assert sent_order[-1] == f"{prefix}manifest.json"  # its presence means the upload finished
    for name in ("statistics.json", "constraints.json"):
        key = f"{prefix}baseline/{name}"
        stored = aws.s3.get_object(Bucket=BUCKET, Key=key)
        assert stored["Body"].read() == (artifact / "baseline" / name).read_bytes()
        assert stored["ServerSideEncryption"] == "aws:kms"
        assert stored["SSEKMSKeyId"] == aws.key_arn

    documents = expected_documents(artifact, prefix)
    version = aws.sagemaker.describe_model_package(ModelPackageName=result.version_arn)
    assert version["DriftCheckBaselines"] == {"ModelDataQuality": documents}
    assert version["ModelMetrics"] == {"ModelDataQuality": documents}
    assert result.baseline is not None
    assert result.baseline.request() == documents


def test_the_registration_request_fits_botocores_create_model_package_shape() -> None:
    data_quality = registry.DataQualityBaseline(
        registry.BaselineFile("s3://b/models/churn/sha256-x/baseline/statistics.json", "a" * 64),
        registry.BaselineFile("s3://b/models/churn/sha256-x/baseline/constraints.json", "b" * 64),
    )
    spec = registry.VersionSpec(
        group=GROUP,
        digest="c" * 64,
        image="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3",
        model_data_uri="s3://b/models/churn/sha256-x/model.tar.gz",
        compressed=True,
        manifest_uri="s3://b/models/churn/sha256-x/manifest.json",
        environment={},
        request_types=["text/csv"],
        response_types=["application/json"],
        git_commit=None,
        git_dirty=False,
        summary="sklearn 1.9-0",
        data_quality=data_quality,
    )
    request = registry.version_request(spec)
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateModelPackage").input_shape
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    digest_pattern = model.shape_for("MetricsSource").members["ContentDigest"].metadata["pattern"]
    assert digest_pattern == "[Ss][Hh][Aa]256:[0-9a-fA-F]{64}"
    assert request["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["ContentDigest"] == (
        "sha256:" + "a" * 64
    )


def test_a_second_publish_sends_nothing_and_keeps_the_version(
    aws: Store, artifact: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = publish(artifact, bucket=BUCKET, progress=False)
    with caplog.at_level(logging.WARNING):
        second = publish(artifact, bucket=BUCKET, progress=False)
    assert (second.version_arn, second.uploaded_bytes, second.created) == (
        first.version_arn,
        0,
        False,
    )
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("name", ["statistics.json", "constraints.json"])
def test_a_baseline_changed_after_the_build_is_refused_before_anything_is_sent(
    aws: Store, artifact: Path, name: str
) -> None:
    path = artifact / "baseline" / name
    path.write_bytes(path.read_bytes().replace(b'"version"', b'"Version"'))
    with pytest.raises(PackagingError, match=rf"{name}: sha256 \w+ does not match the manifest"):
        publish(artifact, bucket=BUCKET, progress=False)
    assert keys(aws.s3) == []
    assert (
        aws.sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
        == []
    )


def test_a_missing_baseline_file_is_named(aws: Store, artifact: Path) -> None:
    (artifact / "baseline" / "constraints.json").unlink()
    with pytest.raises(PackagingError, match=r"constraints.json: missing; the manifest's baseline"):
        publish(artifact, bucket=BUCKET, progress=False)
    assert keys(aws.s3) == []


def test_another_baseline_already_stored_for_the_digest_is_not_replaced(
    aws: Store, artifact: Path
) -> None:
    digest = manifest_of(artifact)["digest"]
    key = f"{artifact_prefix('churn', digest)}baseline/statistics.json"
    other = b'{"version": 0, "dataset": {"item_count": 1}, "features": []}\n'
    aws.s3.put_object(
        Bucket=BUCKET,
        Key=key,
        Body=other,
        ChecksumAlgorithm="SHA256",
        ServerSideEncryption="aws:kms",
    )
    with pytest.raises(
        PackagingError, match=rf"s3://{BUCKET}/{key} already holds another baseline"
    ):
        publish(artifact, bucket=BUCKET, progress=False)
    assert keys(aws.s3) == [key]
    assert aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == other


def test_without_a_baseline_nothing_is_registered_for_drift(
    aws: Store, make_artifact: ArtifactFactory
) -> None:
    artifact = make_artifact()
    result = publish(artifact, bucket=BUCKET, progress=False)
    version = aws.sagemaker.describe_model_package(ModelPackageName=result.version_arn)
    assert "DriftCheckBaselines" not in version
    assert "ModelMetrics" not in version
    assert result.baseline is None
    assert not [k for k in keys(aws.s3) if "/baseline/" in k]


def test_a_version_registered_without_the_baseline_is_returned_with_a_warning(
    aws: Store, artifact: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The same model bytes published earlier without a baseline: the registry cannot add one
    to that version (UpdateModelPackage has no DriftCheckBaselines), so publish says so."""
    bare = Path(shutil.copytree(artifact, tmp_path / "bare"))
    manifest = manifest_of(bare)
    del manifest["baseline"]
    (bare / "manifest.json").write_text(json.dumps(manifest, sort_keys=True, indent=2) + "\n")
    shutil.rmtree(bare / "baseline")
    first = publish(bare, bucket=BUCKET, progress=False)

    with caplog.at_level(logging.WARNING):
        second = publish(artifact, bucket=BUCKET, progress=False)

    assert second.version_arn == first.version_arn and not second.created
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"version {first.version_arn} holds this digest without a data-quality baseline, so"
        " this one is stored but not registered; the registry cannot change a version's"
        " baseline (UpdateModelPackage has no DriftCheckBaselines)"
    ]
