"""approve / reject: status, reason, who and when, in one registry update."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from model_packaging.cli import main
from model_packaging.release import approval
from model_packaging.store import registry
from tests.helpers import release, run_cli
from tests.packaging.conftest import (
    ACCOUNT,
    REGION,
    ArtifactFactory,
    Store,
    register,
    write_stack,
)

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

    assert code == 0
    assert "Traceback" not in err
    described = release_store.sagemaker.describe_model_package(ModelPackageName=version.arn)
    assert described["ModelApprovalStatus"] == status
    assert described["ApprovalDescription"] == "AUC 0.91 on the May holdout"
    metadata = described["CustomerMetadataProperties"]
    recorded_status, at, who = metadata.pop("decision-1").split(" ")
    when = datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert start <= when <= datetime.now(UTC) + timedelta(seconds=1)
    assert (recorded_status, who) == (status, MOTO_CALLER)
    assert metadata.pop("decision-1-reason") == "AUC 0.91 on the May holdout"
    # What publish recorded is kept: the digest gate reads it.
    assert metadata == before["CustomerMetadataProperties"]
    assert out == (
        f"churn version 1: PendingManualApproval -> {status} by {MOTO_CALLER} at"
        f" {when:%Y-%m-%dT%H:%M:%SZ}\n"
    )


def test_a_later_decision_is_added_to_the_record(
    release_store: Store, make_artifact: ArtifactFactory, capsys
) -> None:
    version = register(release_store, make_artifact, approve=False)
    assert release(capsys, "approve", "churn", "--version", "1", "--reason", "good")[0] == 0
    code, out, _ = release(capsys, "reject", "churn", "--version", "1", "--reason", "leaks labels")
    assert code == 0
    assert out.startswith("churn version 1: Approved -> Rejected by ")
    assert release(capsys, "approve", "churn", "--version", "1", "--reason", "fixed: v1.1")[0] == 0

    described = release_store.sagemaker.describe_model_package(ModelPackageName=version.arn)
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"] == "fixed: v1.1"
    info = registry.describe_version(release_store.sagemaker, version.arn)
    assert info is not None
    assert [(r.number, r.status, r.who, r.reason) for r in approval.history(info)] == [
        (1, "Approved", MOTO_CALLER, "good"),
        (2, "Rejected", MOTO_CALLER, "leaks labels"),
        (3, "Approved", MOTO_CALLER, "fixed: v1.1"),
    ]


@pytest.mark.parametrize(("command", "status"), [("approve", "Approved"), ("reject", "Rejected")])
def test_asking_again_for_the_same_status_records_nothing(
    release_store: Store, make_artifact: ArtifactFactory, capsys, command: str, status: str
) -> None:
    version = register(release_store, make_artifact, approve=False)
    assert release(capsys, command, "churn", "--version", "1", "--reason", "first look")[0] == 0
    first = release_store.sagemaker.describe_model_package(ModelPackageName=version.arn)
    when = first["CustomerMetadataProperties"]["decision-1"].split(" ")[1]

    code, out, err = release(capsys, command, "churn", "--version", "1", "--reason", "second")

    assert code == 0
    assert out == (
        f"churn version 1 is already {status} (decision 1 by {MOTO_CALLER} at {when}):"
        " nothing changed\n"
    )
    again = release_store.sagemaker.describe_model_package(ModelPackageName=version.arn)
    for field in ("ApprovalDescription", "CustomerMetadataProperties", "LastModifiedTime"):
        assert again[field] == first[field], field


def test_the_decision_of_an_earlier_release_is_kept(
    release_store: Store, make_artifact: ArtifactFactory, capsys
) -> None:
    """A version approved when approval-by and approval-at held the only decision."""
    version = register(release_store, make_artifact, approve=False)
    sagemaker = release_store.sagemaker
    metadata = sagemaker.describe_model_package(ModelPackageName=version.arn)[
        "CustomerMetadataProperties"
    ]
    legacy = {"approval-by": "arn:aws:sts::123456789012:assumed-role/Release/ana"}
    legacy["approval-at"] = "2024-06-03T09:12:44Z"
    sagemaker.update_model_package(
        ModelPackageArn=version.arn,
        ModelApprovalStatus="Approved",
        ApprovalDescription="AUC 0.91, May holdout",
        CustomerMetadataProperties={**metadata, **legacy},
    )

    assert release(capsys, "reject", "churn", "--version", "1", "--reason", "leaks labels")[0] == 0

    after = sagemaker.describe_model_package(ModelPackageName=version.arn)
    written = after["CustomerMetadataProperties"]
    assert "approval-by" not in written and "approval-at" not in written
    assert written["decision-1"] == f"Approved 2024-06-03T09:12:44Z {legacy['approval-by']}"
    assert approval.unescape(written["decision-1-reason"]) == "AUC 0.91, May holdout"
    assert written["decision-2"].startswith("Rejected ")
    assert written["decision-2-reason"] == "leaks labels"


def test_a_status_set_outside_the_tool_is_recorded_before_the_next_decision(
    release_store: Store, make_artifact: ArtifactFactory, capsys
) -> None:
    """Approved in the console: no reason, who and when only from the last update."""
    version = register(release_store, make_artifact)  # approved by UpdateModelPackage alone
    sagemaker = release_store.sagemaker
    before = sagemaker.describe_model_package(ModelPackageName=version.arn)
    info = registry.describe_version(sagemaker, version.arn)
    assert info is not None
    [standing] = approval.history(info)
    assert (standing.source, standing.number, standing.status) == ("outside", None, "Approved")
    assert standing.who == before["LastModifiedBy"]["UserProfileArn"]
    assert standing.when == approval.timestamp(before["LastModifiedTime"])

    assert release(capsys, "reject", "churn", "--version", "1", "--reason", "drifted")[0] == 0

    written = sagemaker.describe_model_package(ModelPackageName=version.arn)[
        "CustomerMetadataProperties"
    ]
    assert written["decision-1"] == f"Approved {standing.when} {standing.who}"
    assert "decision-1-reason" not in written
    assert written["decision-2"].startswith("Rejected ")


def test_reasons_are_kept_exactly_within_the_registry_limits() -> None:
    reasons = [
        "AUC 0.91 (May holdout), p=0.03; see #42 & ticket ML-7",
        "Modell geprüft: Genauigkeit 91 %, 模型已批准",
        "," * 1024,
        "a" * 1024,
        "line one\nline two = ok",
    ]
    for number, reason in enumerate(reasons, start=1):
        record = approval.Record(
            "Rejected", "2024-06-03T09:12:44Z", "arn:aws:sts::1:user/x", reason
        )
        entries = record.entries(number)
        for key, value in entries.items():
            assert 1 <= len(key) <= registry.METADATA_KEY_MAX, key
            assert 1 <= len(value.encode("utf-16-le")) // 2 <= registry.METADATA_VALUE_MAX, key
            assert all(_allowed(ch) for ch in key + value), (key, value)
        [back] = approval.recorded(entries)
        assert (back.number, back.status, back.reason) == (number, "Rejected", reason)
    # 85 escapes of 3 characters to an entry of at most 256: 13 entries, and the decision's own.
    assert len(approval.Record("Approved", "t", "w", "," * 1024).entries(1)) == 1 + 13


def test_a_long_caller_arn_is_cut_to_fit_the_value() -> None:
    who = "arn:aws:iam::123456789012:user/" + "p/" * 200 + "ana"
    [entry] = approval.Record("Approved", "2024-06-03T09:12:44Z", who, "").entries(7).values()
    assert len(entry) == registry.METADATA_VALUE_MAX
    assert entry.startswith("Approved 2024-06-03T09:12:44Z arn:aws:iam::123456789012:user/p/p/")


def test_a_decision_that_does_not_fit_the_metadata_is_refused_and_nothing_written(
    release_store: Store, make_artifact: ArtifactFactory, capsys
) -> None:
    version = register(release_store, make_artifact, approve=False)
    sagemaker = release_store.sagemaker
    metadata = sagemaker.describe_model_package(ModelPackageName=version.arn)[
        "CustomerMetadataProperties"
    ]
    filler = {f"note-{i}": "x" for i in range(registry.METADATA_ENTRIES_MAX - len(metadata) - 3)}
    sagemaker.update_model_package(
        ModelPackageArn=version.arn, CustomerMetadataProperties={**metadata, **filler}
    )
    before = _stored(sagemaker, version.arn)

    code, _, err = release(capsys, "approve", "churn", "--version", "1", "--reason", "," * 300)

    assert code == 1
    assert err == (
        "error: cannot record the decision: churn version 1 has 3 of the registry's 50 metadata"
        " entries free (CustomerMetadataMap) and it needs 5; shorten the reason (an entry holds"
        " 256 characters)\n"
    )
    assert _stored(sagemaker, version.arn) == before
    # A reason that fits is recorded.
    assert release(capsys, "approve", "churn", "--version", "1", "--reason", "ok")[0] == 0


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


def _allowed(ch: str) -> bool:
    """A character botocore's CustomerMetadataKey and CustomerMetadataValue patterns allow:
    ``[\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]``."""
    return ch in "_.:/=+-@" or unicodedata.category(ch)[0] in "LZN"


def _stored(sagemaker: Any, arn: str) -> dict[str, Any]:
    """A version as the registry holds it, without the response's own metadata."""
    described = dict(sagemaker.describe_model_package(ModelPackageName=arn))
    described.pop("ResponseMetadata")
    return described


# --- --dry-run, --json ----------------------------------------------------------------------


def test_a_dry_run_shows_what_would_be_recorded_and_writes_nothing(
    release_store: Store, make_artifact: ArtifactFactory, capsys
) -> None:
    version = register(release_store, make_artifact, approve=False)
    before = _stored(release_store.sagemaker, version.arn)

    code, out, err = release(
        capsys, "approve", "churn", "--version", "1", "--reason", "AUC 0.91, May", "--dry-run"
    )

    assert code == 0
    assert _stored(release_store.sagemaker, version.arn) == before
    first, *entries = out.splitlines()
    assert first.startswith(f"churn version 1: PendingManualApproval -> Approved by {MOTO_CALLER}")
    when = first.rsplit(" ", 1)[1]
    assert entries == [
        f"  set decision-1 = Approved {when} {MOTO_CALLER}",
        "  set decision-1-reason = AUC 0.91=2C May",
    ]
    assert err == "dry run: nothing written\n"


def test_json_names_the_decision_and_the_request(
    release_store: Store, make_artifact: ArtifactFactory, capsys
) -> None:
    version = register(release_store, make_artifact, approve=False)

    code, out, _ = release(
        capsys, "approve", "churn", "--version", "1", "--reason", "good", "--json", "--dry-run"
    )

    assert code == 0
    shown = json.loads(out)
    when = shown["decision"]["when"]
    metadata = release_store.sagemaker.describe_model_package(ModelPackageName=version.arn)[
        "CustomerMetadataProperties"
    ]
    assert shown == {
        "model": "churn",
        "version": 1,
        "arn": version.arn,
        "status": "Approved",
        "previous_status": "PendingManualApproval",
        "changed": True,
        "dry_run": True,
        "decision": {
            "number": 1,
            "status": "Approved",
            "when": when,
            "who": MOTO_CALLER,
            "reason": "good",
            "source": "recorded",
        },
        "request": {
            "ModelPackageArn": version.arn,
            "ModelApprovalStatus": "Approved",
            "ApprovalDescription": "good",
            "CustomerMetadataProperties": {
                **metadata,
                "decision-1": f"Approved {when} {MOTO_CALLER}",
                "decision-1-reason": "good",
            },
        },
        "pinned": None,
        "stack_problems": {},
    }
    assert release(capsys, "approve", "churn", "--version", "1", "--reason", "good")[0] == 0
    code, out, _ = release(capsys, "approve", "churn", "--version", "1", "--reason", "x", "--json")
    again = json.loads(out)
    assert (again["changed"], again["request"], again["decision"]["number"]) == (False, None, 1)


# --- reject names the stages that pin the version ---------------------------------------------

SHADOW = """\
      shadow:
        version:
          package: {arn}
          digest: {digest}
"""
CHALLENGER = """\
      challenger:
        traffic_percent: 10
        version:
          package: {arn}
          digest: {digest}
"""


def test_reject_names_every_stage_and_variant_that_pins_the_version(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    old = register(release_store, make_artifact)
    new = register(release_store, make_artifact)
    write_stack(tmp_path, "dev", {"churn": new})
    for stage, extra in (("staging", CHALLENGER), ("prod", SHADOW)):
        path = write_stack(tmp_path, stage, {"churn": old})
        path.write_text(path.read_text() + extra.format(arn=new.arn, digest=new.digest))

    code, out, err = release(
        capsys,
        "reject",
        "churn",
        "--version",
        "2",
        "--reason",
        "leaks",
        "--json",
        "--stacks",
        str(tmp_path),
    )

    assert code == 0
    shown = json.loads(out)
    assert (shown["previous_status"], shown["status"]) == ("Approved", "Rejected")
    assert shown["pinned"] == [
        {"stage": "dev", "variant": "champion"},
        {"stage": "staging", "variant": "challenger"},
        {"stage": "prod", "variant": "shadow"},
    ]
    assert err == (
        "warning: churn version 2 is Rejected but pinned by dev champion, staging challenger,"
        " prod shadow: promote another version there or roll back (SageMaker deploys only"
        " Approved versions)\n"
    )


def test_reject_says_which_stack_files_it_could_not_read_and_rejects(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    version = register(release_store, make_artifact)
    write_stack(tmp_path, "dev", {"churn": version})
    (tmp_path / "Pulumi.prod.yaml").write_text("config: [\n")

    code, _, err = release(
        capsys, "reject", "churn", "--version", "1", "--reason", "no", "--stacks", str(tmp_path)
    )

    assert code == 0
    lines = err.splitlines()
    assert lines[0] == (
        "warning: cannot tell whether staging pins churn version 1:"
        f" {tmp_path}/Pulumi.staging.yaml: no such stack file"
    )
    assert lines[1].startswith(
        f"warning: cannot tell whether prod pins churn version 1: {tmp_path}"
    )
    assert lines[2].startswith("warning: churn version 1 is Rejected but pinned by dev champion:")
    described = release_store.sagemaker.describe_model_package(ModelPackageName=version.arn)
    assert described["ModelApprovalStatus"] == "Rejected"


def test_reject_outside_a_checkout_says_it_cannot_tell_the_pins(
    release_store: Store,
    make_artifact: ArtifactFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
) -> None:
    register(release_store, make_artifact)
    monkeypatch.chdir(tmp_path)
    code, _, err = release(capsys, "reject", "churn", "--version", "1", "--reason", "no")
    assert code == 0
    assert err == (
        "warning: cannot tell which stages pin churn version 1: no stacks folder in the working"
        " directory (pass --stacks DIR)\n"
    )
