"""versions: every registry version of a model with its decisions, pins and live variants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model_packaging.release import approval
from tests.helpers import release
from tests.packaging.conftest import (
    ACCOUNT,
    REGION,
    ArtifactFactory,
    Published,
    Store,
    deploy,
    register,
    write_stack,
)

MOTO_CALLER = f"arn:aws:sts::{ACCOUNT}:user/moto"
CHALLENGER = """\
      challenger:
        traffic_percent: 10
        version:
          package: {arn}
          digest: {digest}
"""


@pytest.fixture
def history(
    release_store: Store,
    make_artifact: ArtifactFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[list[Published], str]:
    """churn 1 approved then rejected, 2 approved in the console, 3 pending; dev pins and
    serves 2, staging pins 1 with 2 as challenger and has no endpoint, prod cannot be queried."""
    one = register(release_store, make_artifact, approve=False)
    two = register(release_store, make_artifact)
    three = register(release_store, make_artifact, approve=False)
    for command, reason in (("approve", "AUC 0.91, May holdout"), ("reject", "leaks labels")):
        assert release(capsys, command, "churn", "--version", "1", "--reason", reason)[0] == 0
    write_stack(tmp_path, "dev", {"churn": two})
    staging = write_stack(tmp_path, "staging", {"churn": one})
    staging.write_text(staging.read_text() + CHALLENGER.format(arn=two.arn, digest=two.digest))
    write_stack(tmp_path, "prod", {"churn": one})
    deploy(release_store, "churn", "dev", two.arn)
    monkeypatch.setenv("MLSERVE_PROFILE_PROD", "ml-prod-readonly")
    return [one, two, three], str(tmp_path)


def test_versions_shows_decisions_pins_and_what_is_served_as_text_and_json(
    history: tuple[list[Published], str], release_store: Store, capsys
) -> None:
    (one, two, three), stacks = history
    described = [
        release_store.sagemaker.describe_model_package(ModelPackageName=v.arn) for v in history[0]
    ]
    created = [approval.timestamp(d["CreationTime"]) for d in described]
    one_meta = described[0]["CustomerMetadataProperties"]
    first, second = (one_meta[f"decision-{n}"].split(" ")[1] for n in (1, 2))
    console = described[1]["LastModifiedBy"]["UserProfileArn"]
    console_at = approval.timestamp(described[1]["LastModifiedTime"])

    code, out, err = release(capsys, "versions", "churn", "--stacks", stacks)

    assert (code, err) == (0, "")
    prod = (
        "cannot query prod: ProfileNotFound: the AWS profile 'ml-prod-readonly' named by"
        " MLSERVE_PROFILE_PROD does not exist"
    )
    assert out.splitlines() == [
        f"churn: 3 version(s) in model package group churn ({REGION})",
        f"version 1  Rejected  sha256:{one.digest[7:19]}  created {created[0]}",
        "  pinned by: staging champion, prod champion",
        "  served by: -",
        f"  decision 1: Approved at {first} by {MOTO_CALLER}: AUC 0.91, May holdout",
        f"  decision 2: Rejected at {second} by {MOTO_CALLER}: leaks labels",
        f"version 2  Approved  sha256:{two.digest[7:19]}  created {created[1]}",
        "  pinned by: dev champion, staging challenger",
        "  served by: dev champion (churn-dev-1a2b3c4d, InService)",
        "  decision (outside approve/reject; who and when of the last update):"
        f" Approved at {console_at} by {console}",
        f"version 3  PendingManualApproval  sha256:{three.digest[7:19]}  created {created[2]}",
        "  pinned by: -",
        "  served by: -",
        "  no decision",
        "stages:",
        "  dev: endpoint churn-dev-1a2b3c4d (InService)",
        "  staging: no endpoint",
        f"  prod: unreachable: {prod}",
    ]

    code, out, _ = release(capsys, "versions", "churn", "--stacks", stacks, "--json")

    assert code == 0
    shown = json.loads(out)
    assert (shown["model"], shown["region"]) == ("churn", REGION)
    rows = shown["versions"]
    assert [(r["version"], r["arn"], r["approval"], r["digest"]) for r in rows] == [
        (1, one.arn, "Rejected", one.digest),
        (2, two.arn, "Approved", two.digest),
        (3, three.arn, "PendingManualApproval", three.digest),
    ]
    assert [(d["number"], d["status"], d["who"], d["reason"]) for d in rows[0]["decisions"]] == [
        (1, "Approved", MOTO_CALLER, "AUC 0.91, May holdout"),
        (2, "Rejected", MOTO_CALLER, "leaks labels"),
    ]
    assert [d["source"] for d in rows[1]["decisions"]] == ["outside"]
    assert rows[1]["pinned"] == [
        {"stage": "dev", "variant": "champion"},
        {"stage": "staging", "variant": "challenger"},
    ]
    assert rows[1]["serving"] == [
        {
            "stage": "dev",
            "variant": "champion",
            "endpoint": "churn-dev-1a2b3c4d",
            "endpoint_status": "InService",
        }
    ]
    assert all(r["created"].endswith("Z") and r["status"] == "Completed" for r in rows)
    assert [(s["stage"], s["endpoint"], s["unreachable"] is not None) for s in shown["stages"]] == [
        ("dev", "churn-dev-1a2b3c4d", False),
        ("staging", None, False),
        ("prod", None, True),
    ]


def test_versions_without_credentials_for_the_environments_still_lists_the_registry(
    release_store: Store,
    make_artifact: ArtifactFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
) -> None:
    version = register(release_store, make_artifact)
    write_stack(tmp_path, "dev", {"churn": version})
    monkeypatch.setenv("MLSERVE_PROFILE_DEV", "nowhere")

    code, out, err = release(capsys, "versions", "churn", "--stacks", str(tmp_path))

    assert (code, err) == (0, "")
    assert out.splitlines()[-3:] == [
        "  dev: unreachable: cannot query dev: ProfileNotFound: the AWS profile 'nowhere' named"
        " by MLSERVE_PROFILE_DEV does not exist",
        f"  staging: stack file not read: {tmp_path}/Pulumi.staging.yaml: no such stack file",
        f"  prod: stack file not read: {tmp_path}/Pulumi.prod.yaml: no such stack file",
    ]


def test_versions_of_a_model_without_a_package_group(
    release_store: Store, tmp_path: Path, capsys
) -> None:
    code, _, err = release(capsys, "versions", "ranker", "--stacks", str(tmp_path))
    assert code == 1
    assert err == f"error: model package group 'ranker' does not exist in {REGION}\n"
