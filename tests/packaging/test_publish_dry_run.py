"""publish --dry-run and --json: the plan, with every check made and nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra.settings.artifacts import artifact_prefix
from model_packaging.store import registry
from tests.helpers import release
from tests.packaging.conftest import BUCKET, GROUP, ArtifactFactory, Store, manifest_of


def state(store: Store) -> dict[str, Any]:
    """Everything publish writes: objects, incomplete uploads, versions."""
    s3 = store.s3
    return {
        "objects": s3.list_object_versions(Bucket=BUCKET).get("Versions", []),
        "uploads": [u["Key"] for u in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])],
        "versions": store.sagemaker.list_model_packages(ModelPackageGroupName=GROUP)[
            "ModelPackageSummaryList"
        ],
    }


def test_a_dry_run_checks_everything_and_writes_nothing(
    aws: Store, make_artifact: ArtifactFactory, capsys
) -> None:
    artifact = make_artifact()
    manifest = manifest_of(artifact)
    prefix = artifact_prefix(GROUP, manifest["digest"])
    # A stale upload that a real publish would abort: a dry run leaves it.
    aws.s3.create_multipart_upload(Bucket=BUCKET, Key=f"{prefix}model.tar.gz")
    before = state(aws)
    where = f"s3://{BUCKET}/{prefix}"
    size = manifest["artifact"]["size"]
    manifest_size = len((artifact / "manifest.json").read_bytes())

    code, out, err = release(capsys, "publish", str(artifact), "--bucket", BUCKET, "--dry-run")

    assert code == 0
    assert state(aws) == before
    assert out.splitlines() == [
        f"upload {where}model.tar.gz ({size} bytes)",
        f"upload {where}manifest.json ({manifest_size} bytes)",
        f"register a new version of churn (sha256:{manifest['digest']}), PendingManualApproval",
    ]
    assert err.splitlines()[-1] == (
        f"dry run: nothing written; would send {size + manifest_size} bytes"
    )

    code, out, _ = release(
        capsys, "publish", str(artifact), "--bucket", BUCKET, "--dry-run", "--json"
    )
    assert code == 0
    assert state(aws) == before
    shown = json.loads(out)
    request = shown.pop("request")
    assert shown == {
        "model": GROUP,
        "digest": f"sha256:{manifest['digest']}",
        "bucket": BUCKET,
        "version_arn": None,
        "version": None,
        "created": True,
        "dry_run": True,
        "uploaded_bytes": 0,
        "s3_uri": f"{where}model.tar.gz",
        "manifest_uri": f"{where}manifest.json",
        "baseline": None,
        "files": [
            {"s3_uri": f"{where}model.tar.gz", "size": size, "stored": False},
            {"s3_uri": f"{where}manifest.json", "size": manifest_size, "stored": False},
        ],
    }
    # What publish then registers is what the dry run said it would.
    assert release(capsys, "publish", str(artifact), "--bucket", BUCKET)[0] == 0
    [summary] = state(aws)["versions"]
    described = aws.sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
    assert (
        described["InferenceSpecification"]["Containers"]
        == (request["InferenceSpecification"]["Containers"])
    )
    assert described["CustomerMetadataProperties"] == request["CustomerMetadataProperties"]
    assert described["ModelPackageDescription"] == request["ModelPackageDescription"]


def test_a_dry_run_after_publishing_keeps_everything(
    aws: Store, make_artifact: ArtifactFactory, capsys
) -> None:
    artifact = make_artifact()
    code, arn, _ = release(capsys, "publish", str(artifact), "--bucket", BUCKET, "--quiet")
    assert code == 0
    before = state(aws)

    code, out, err = release(capsys, "publish", str(artifact), "--bucket", BUCKET, "--dry-run")

    assert code == 0
    assert state(aws) == before
    lines = out.splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["keep", "keep", "keep"]
    assert all(line.endswith("bytes, already stored)") for line in lines[:2])
    digest = manifest_of(artifact)["digest"]
    assert lines[2] == f"keep {arn.strip()}, registered for sha256:{digest}"
    assert err.splitlines()[-1] == "dry run: nothing written; would send 0 bytes"


def test_publish_json_names_the_version_and_what_was_sent(
    aws: Store, make_artifact: ArtifactFactory, capsys
) -> None:
    artifact: Path = make_artifact()

    code, out, err = release(capsys, "publish", str(artifact), "--bucket", BUCKET, "--json")

    assert code == 0
    shown = json.loads(out)
    [summary] = state(aws)["versions"]
    arn = summary["ModelPackageArn"]
    assert (shown["version_arn"], shown["version"], shown["created"]) == (arn, 1, True)
    assert shown["dry_run"] is False
    size = manifest_of(artifact)["artifact"]["size"]
    assert shown["uploaded_bytes"] == size + len((artifact / "manifest.json").read_bytes())
    assert [f["stored"] for f in shown["files"]] == [None, None]
    assert shown["request"]["ModelPackageGroupName"] == GROUP
    assert shown["request"]["CustomerMetadataProperties"][registry.DIGEST_KEY] == shown["digest"]
    assert err.startswith("registered a new version; sent ")

    code, out, _ = release(capsys, "publish", str(artifact), "--bucket", BUCKET, "--json")
    again = json.loads(out)
    assert (again["version_arn"], again["created"], again["uploaded_bytes"]) == (arn, False, 0)
    assert again["request"] is None


def test_a_dry_run_refuses_what_publish_refuses(
    aws: Store, make_artifact: ArtifactFactory, capsys
) -> None:
    artifact = make_artifact(name="fraud")
    before = state(aws)

    code, out, err = release(capsys, "publish", str(artifact), "--bucket", BUCKET, "--dry-run")

    assert (code, out) == (1, "")
    assert err.splitlines()[-1].startswith(
        "error: model package group 'fraud' does not exist in us-east-1"
    )
    assert state(aws) == before
