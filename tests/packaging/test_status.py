"""status and status --check-deployed against moto in-process: pins, approvals, live endpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import boto3
import pytest
from botocore.stub import Stubber
from moto.core.authorization import enable_iam_authentication
from moto.sagemaker.models import sagemaker_backends

from infra.settings import artifacts
from model_packaging.release import live
from tests.helpers import release
from tests.packaging.conftest import (
    ACCOUNT,
    REGION,
    ArtifactFactory,
    Published,
    Store,
    deploy,
    point_endpoint,
    register,
    write_stack,
)

ENDPOINT = "churn-{}-1a2b3c4d"


def short(version: Published) -> str:
    return artifacts.short_digest(version.digest)


class Stages(NamedTuple):
    stacks: Path
    old: Published
    new: Published
    fraud: Published


@pytest.fixture
def stages(release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path) -> Stages:
    """dev and staging pin churn 2, prod pins churn 1 (still pending); fraud only in dev."""
    old = register(release_store, make_artifact, approve=False)
    new = register(release_store, make_artifact)
    fraud = register(release_store, make_artifact, name="fraud")
    write_stack(tmp_path, "dev", {"churn": new, "fraud": fraud})
    write_stack(tmp_path, "staging", {"churn": new})
    write_stack(tmp_path, "prod", {"churn": old})
    return Stages(tmp_path, old, new, fraud)


# --- status ------------------------------------------------------------------------------


def test_status_table(
    release_store: Store, stages: Stages, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    stacks, old, new, _ = stages
    deploy(release_store, "churn", "dev", new.arn)
    deploy(release_store, "churn", "staging", old.arn)
    monkeypatch.setenv("MLSERVE_PROFILE_PROD", "ml-prod-readonly")

    code, out, err = release(capsys, "status", "--stacks", str(stacks))

    assert (code, err) == (0, "")
    prod_cause = (
        "cannot query prod: ProfileNotFound: the AWS profile 'ml-prod-readonly' named by"
        " MLSERVE_PROFILE_PROD does not exist"
    )
    assert out.splitlines() == [
        "MODEL  STAGE    VERSION  DIGEST        APPROVAL               LIVE",
        f"churn  dev      2        {short(new)}  Approved               InService, serves version 2"
        f" ({ENDPOINT.format('dev')})",
        f"churn  staging  2        {short(new)}  Approved               InService, serves version 1"
        f" ({ENDPOINT.format('staging')})",
        f"churn  prod     1        {short(old)}  PendingManualApproval  unreachable: {prod_cause}",
        f"fraud  dev      1        {short(stages.fraud)}  Approved               no endpoint",
        "fraud  staging  -        -             -                      -",
        "fraud  prod     -        -             -                      -",
    ]


def test_status_json_for_one_model(
    release_store: Store, stages: Stages, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    stacks, old, new, _ = stages
    deploy(release_store, "churn", "dev", new.arn)
    monkeypatch.setenv("MLSERVE_PROFILE_PROD", "ml-prod-readonly")

    code, out, _ = release(capsys, "status", "churn", "--json", "--stacks", str(stacks))

    assert code == 0
    rows = json.loads(out)
    assert [(r["model"], r["stage"]) for r in rows] == [
        ("churn", "dev"),
        ("churn", "staging"),
        ("churn", "prod"),
    ]
    assert rows[0] == {
        "model": "churn",
        "stage": "dev",
        "version": 2,
        "package": new.arn,
        "digest": new.digest,
        "approval": "Approved",
        "endpoint": ENDPOINT.format("dev"),
        "endpoint_status": "InService",
        "serves": 2,
        "serves_package": new.arn,
        "unreachable": None,
    }
    assert rows[1]["endpoint"] is None and rows[1]["unreachable"] is None
    assert rows[2]["approval"] == "PendingManualApproval"
    assert rows[2]["unreachable"].startswith("cannot query prod: ProfileNotFound: ")


def test_status_of_a_model_no_stage_configures(stages: Stages, capsys) -> None:
    code, _, err = release(capsys, "status", "ranker", "--stacks", str(stages[0]))
    assert code == 1
    assert err == f"error: no stack file in {stages[0]} configures model 'ranker'\n"


def test_status_without_credentials_reports_every_stage_unreachable(
    stages: Stages, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    code, out, err = release(capsys, "status", "churn", "--json", "--stacks", str(stages[0]))

    assert code == 0
    rows = json.loads(out)
    assert {r["unreachable"] for r in rows} == {
        f"cannot query {stage}: NoCredentialsError: Unable to locate credentials"
        for stage in ("dev", "staging", "prod")
    }
    assert {r["approval"] for r in rows} == {"unknown"}
    assert "warning: cannot read model package" in err


# --- check-deployed ----------------------------------------------------------------------


def test_check_deployed_passes_when_every_endpoint_serves_its_pin(
    stages: Stages, release_store: Store, capsys
) -> None:
    stacks, _, new, _ = stages
    config = deploy(release_store, "churn", "dev", new.arn)
    fraud_config = deploy(release_store, "fraud", "dev", stages.fraud.arn)

    code, out, err = release(capsys, "status", "--check-deployed", "dev", "--stacks", str(stacks))

    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"ok churn dev: live version 2 on {ENDPOINT.format('dev')} ({config}, InService)",
        f"ok fraud dev: live version 1 on fraud-dev-1a2b3c4d ({fraud_config}, InService)",
    ]


def test_check_deployed_fails_on_another_version(
    release_store: Store, stages: Stages, capsys
) -> None:
    stacks, old, new, _ = stages
    config = deploy(release_store, "churn", "staging", old.arn)

    code, out, _ = release(capsys, "status", "--check-deployed", "staging", "--stacks", str(stacks))

    assert code == 1
    assert out == (
        f"FAIL churn staging: pinned version 2 (sha256:{short(new)}); live version 1 on"
        f" {ENDPOINT.format('staging')} ({config}, InService): champion serves version 1\n"
    )


def test_check_deployed_fails_on_an_endpoint_rolled_back_to_an_older_configuration(
    stages: Stages, release_store: Store, capsys
) -> None:
    stacks, _, new, _ = stages
    older = deploy(release_store, "churn", "staging", new.arn)
    newer = deploy(
        release_store, "churn", "staging", new.arn
    )  # e.g. a new instance type, same version
    # SageMaker's automatic rollback puts the endpoint back on the configuration it left.
    point_endpoint(release_store, ENDPOINT.format("staging"), older)

    code, out, _ = release(capsys, "status", "--check-deployed", "staging", "--stacks", str(stacks))

    assert code == 1
    assert out == (
        f"FAIL churn staging: pinned version 2 (sha256:{short(new)}); live version 2 on"
        f" {ENDPOINT.format('staging')} ({older}, InService): configuration {older} is older"
        f" than {newer}, the newest made for it: SageMaker rolled the update back\n"
    )


def test_configurations_of_other_models_and_environments_do_not_count(
    release_store: Store, stages: Stages, capsys
) -> None:
    stacks, old, new, _ = stages
    config = deploy(release_store, "churn", "staging", new.arn)
    deploy(release_store, "churn", "dev", new.arn)
    deploy(release_store, "fraud", "staging", old.arn, suffix="5e6f7a8b")

    code, out, _ = release(capsys, "status", "--check-deployed", "staging", "--stacks", str(stacks))

    assert code == 0
    assert out == (
        f"ok churn staging: live version 2 on {ENDPOINT.format('staging')} ({config}, InService)\n"
    )


@pytest.mark.parametrize("status", ["RollingBack", "Failed", "UpdateRollbackFailed"])
def test_check_deployed_fails_on_an_endpoint_that_is_not_serving(
    release_store: Store, stages: Stages, capsys, status: str
) -> None:
    stacks, _, new, _ = stages
    config = deploy(release_store, "churn", "staging", new.arn)
    endpoint = sagemaker_backends[ACCOUNT][REGION].endpoints[ENDPOINT.format("staging")]
    endpoint.endpoint_status = status
    reason: str | None = "alarm churn-staging-5xx fired" if status != "RollingBack" else None
    endpoint.failure_reason = reason  # type: ignore[assignment]  # moto annotates it as None

    code, out, _ = release(capsys, "status", "--check-deployed", "staging", "--stacks", str(stacks))

    assert code == 1
    reason = " (alarm churn-staging-5xx fired)" if status != "RollingBack" else ""
    assert out == (
        f"FAIL churn staging: pinned version 2 (sha256:{short(new)}); live version 2 on"
        f" {ENDPOINT.format('staging')} ({config}, {status}): endpoint is {status}{reason}\n"
    )


def test_check_deployed_fails_when_there_is_no_endpoint(stages: Stages, capsys) -> None:
    stacks, old, _, _ = stages
    code, out, _ = release(capsys, "status", "--check-deployed", "prod", "--stacks", str(stacks))
    assert code == 1
    assert out == (
        f"FAIL churn prod: pinned version 1 (sha256:{short(old)}); live: no endpoint churn-prod-*\n"
    )


def test_check_deployed_names_an_unknown_profile(
    stages: Stages, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("MLSERVE_PROFILE_PROD", "ml-prod-readonly")
    code, out, err = release(
        capsys, "status", "--check-deployed", "prod", "--stacks", str(stages[0])
    )
    assert (code, out) == (1, "")
    assert err == (
        "error: cannot query prod: ProfileNotFound: the AWS profile 'ml-prod-readonly' named by"
        " MLSERVE_PROFILE_PROD does not exist\n"
    )


def test_check_deployed_names_missing_credentials(
    stages: Stages, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, _, err = release(capsys, "status", "--check-deployed", "dev", "--stacks", str(stages[0]))
    assert code == 1
    assert err == "error: cannot query dev: NoCredentialsError: Unable to locate credentials\n"


def test_check_deployed_names_access_denied_through_the_environment_profile(
    stages: Stages,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys,
) -> None:
    iam = boto3.session.Session().client("iam")
    iam.create_user(UserName="auditor")
    key = iam.create_access_key(UserName="auditor")["AccessKey"]
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[ml-prod-readonly]\n"
        f"aws_access_key_id = {key['AccessKeyId']}\n"
        f"aws_secret_access_key = {key['SecretAccessKey']}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("MLSERVE_PROFILE_PROD", "ml-prod-readonly")

    with enable_iam_authentication():
        code, _, err = release(
            capsys, "status", "--check-deployed", "prod", "--stacks", str(stages[0])
        )

    assert code == 1
    # moto answers with an XML body botocore cannot parse; the HTTP status still says it.
    assert err.startswith("error: cannot query prod: AccessDenied (HTTP 403): ")
    assert "auditor is not authorized to perform: sagemaker:ListEndpoints" in err
    assert len(err.splitlines()) == 1


def test_access_denied_as_sagemaker_words_it_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    sagemaker = boto3.session.Session().client("sagemaker", region_name=REGION)
    message = (
        "User: arn:aws:sts::444444444444:assumed-role/ReadOnly/ci is not authorized to perform:"
        " sagemaker:ListEndpoints"
    )
    with Stubber(sagemaker) as stub:
        stub.add_client_error("list_endpoints", "AccessDeniedException", message, 400)
        with pytest.raises(live.Unreachable) as raised:
            live.find_endpoint(sagemaker, "churn", "prod")
    assert str(raised.value) == f"cannot query prod: AccessDeniedException: {message}"
