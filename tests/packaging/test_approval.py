"""approve / reject: status, reason, who and when, in one registry update."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from model_packaging.cli import main
from model_packaging.store import registry
from tests.helpers import release, run_cli
from tests.packaging.conftest import ACCOUNT, REGION, ArtifactFactory, Store, register

MOTO_CALLER = f"arn:aws:sts::{ACCOUNT}:user/moto"


@pytest.mark.parametrize(("command", "status"), [("approve", "Approved"), ("reject", "Rejected")])
def test_the_decision_records_reason_who_and_when(
    release_store: Store, make_artifact: ArtifactFactory, capsys, command: str, status: str
) -> None:
    version = register(release_store, make_artifact, approve=False)
    before = release_store.sagemaker.describe_model_package(ModelPackageName=version.arn)
    start = datetime.now(UTC).replace(microsecond=0)

    code, out, err = release(
        capsys, command, "churn", "--version", "1", "--reason", "  AUC 0.91 on the May holdout "
    )

    assert (code, err) == (0, "")
    described = release_store.sagemaker.describe_model_package(ModelPackageName=version.arn)
    assert described["ModelApprovalStatus"] == status
    assert described["ApprovalDescription"] == "AUC 0.91 on the May holdout"
    metadata = described["CustomerMetadataProperties"]
    when = datetime.strptime(metadata.pop("approval-at"), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert start <= when <= datetime.now(UTC) + timedelta(seconds=1)
    assert metadata.pop("approval-by") == MOTO_CALLER
    # What publish recorded is kept: the digest gate reads it.
    assert metadata == before["CustomerMetadataProperties"]
    assert out == (
        f"churn version 1: PendingManualApproval -> {status} by {MOTO_CALLER} at"
        f" {when:%Y-%m-%dT%H:%M:%SZ}\n"
    )


def test_a_later_decision_replaces_the_record(
    release_store: Store, make_artifact: ArtifactFactory, capsys
) -> None:
    version = register(release_store, make_artifact, approve=False)
    assert release(capsys, "approve", "churn", "--version", "1", "--reason", "good")[0] == 0

    code, out, _ = release(capsys, "reject", "churn", "--version", "1", "--reason", "leaks labels")

    assert code == 0
    assert out.startswith("churn version 1: Approved -> Rejected by ")
    described = release_store.sagemaker.describe_model_package(ModelPackageName=version.arn)
    assert described["ModelApprovalStatus"] == "Rejected"
    assert described["ApprovalDescription"] == "leaks labels"


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_reason_is_required(capsys, reason: str | None) -> None:
    args = ["approve", "churn", "--version", "1"] + ([] if reason is None else ["--reason", reason])
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    if reason is None:
        assert "the following arguments are required: --reason" in err
    else:
        assert "argument --reason: must not be blank: say why" in err


def test_a_reason_longer_than_the_registry_keeps_is_refused(
    release_store: Store, make_artifact: ArtifactFactory, capsys
) -> None:
    version = register(release_store, make_artifact, approve=False)
    code, _, err = release(capsys, "reject", "churn", "--version", "1", "--reason", "x" * 1025)
    assert code == 1
    assert err == "error: the reason is longer than 1024 characters\n"
    described = release_store.sagemaker.describe_model_package(ModelPackageName=version.arn)
    assert described["ModelApprovalStatus"] == "PendingManualApproval"


def test_a_version_that_does_not_exist_is_named(
    release_store: Store, make_artifact: ArtifactFactory, capsys
) -> None:
    register(release_store, make_artifact, approve=False)
    code, _, err = release(capsys, "approve", "churn", "--version", "4", "--reason", "ok")
    assert code == 1
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn/4"
    assert err == f"error: churn has no version 4 ({arn})\n"


def test_a_model_without_a_package_group_is_named(release_store: Store, capsys) -> None:
    code, _, err = release(capsys, "approve", "ranker", "--version", "1", "--reason", "ok")
    assert code == 1
    assert err == f"error: model package group 'ranker' does not exist in {REGION}\n"


def test_metadata_values_keep_only_what_the_registry_accepts() -> None:
    who = "arn:aws:sts::123456789012:assumed-role/Release/ci,run=42"
    assert (
        registry.metadata_value(who) == "arn:aws:sts::123456789012:assumed-role/Release/ci_run=42"
    )
    assert len(registry.metadata_value("a" * 300)) == 256


def test_approve_as_scripts_call_it(server_store: Store, make_artifact: ArtifactFactory) -> None:
    version = register(server_store, make_artifact, approve=False)
    result = run_cli("approve", "churn", "--version", "1", "--reason", "release 2024-06")
    assert result.returncode == 0, result.stderr
    described = server_store.sagemaker.describe_model_package(ModelPackageName=version.arn)
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"] == "release 2024-06"
