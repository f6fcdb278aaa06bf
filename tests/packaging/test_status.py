"""status and status --check-deployed against moto in-process: pins, approvals, live endpoints."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
from pathlib import Path
from typing import Any, NamedTuple

import boto3
import pytest
from botocore.stub import Stubber
from moto.core.authorization import enable_iam_authentication
from moto.sagemaker.models import sagemaker_backends

from infra.settings import artifacts
from model_packaging.release import live, status
from tests.helpers import release
from tests.packaging.conftest import (
    ACCOUNT,
    BUCKET,
    IMAGE,
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

    # Every row is printed; that prod could not be queried fails the command at the end.
    assert (code, err) == (1, "error: could not query prod (the LIVE column says why)\n")
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

    assert code == 1  # prod could not be queried
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
        "challenger": None,
        "shadow": None,
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

    assert code == 1
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


# --- challengers, Rejected versions, updates in progress, the JSON of the check ------------------
# Versions registered directly (no upload), which is all status and the check read of them.


def package(store: Store, name: str = "churn", approval: str = "Approved") -> Published:
    arn = store.sagemaker.create_model_package(
        ModelPackageGroupName=name,
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/{name}.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelApprovalStatus=approval,
    )["ModelPackageArn"]
    return Published(arn, "sha256:" + hashlib.sha256(arn.encode()).hexdigest())


def set_approval(store: Store, version: Published, approval: str) -> None:
    store.sagemaker.update_model_package(ModelPackageArn=version.arn, ModelApprovalStatus=approval)


CHALLENGER = """\
      challenger:
        version:
          package: "{arn}"
          digest: {digest}
        traffic_percent: 10
"""


def write_stacks(
    stacks: Path, pins: dict[str, Published], challenger: Published | None = None
) -> None:
    """dev pins ``pins`` (and a challenger of churn, which comes last, if given); staging and
    prod pin churn's."""
    dev = write_stack(stacks, "dev", pins)
    if challenger is not None:
        dev.write_text(dev.read_text() + CHALLENGER.format(**vars(challenger)))
    for stage in ("staging", "prod"):
        write_stack(stacks, stage, {"churn": pins["churn"]})


def deploy_variants(store: Store, environment: str, variants: dict[str, str]) -> str:
    """An endpoint ``churn-<env>-1a2b3c4d`` on a new tagged configuration of ``variants``
    (name -> version ARN); returns the configuration's name."""
    config = deploy(store, "churn", environment, variants["champion"])
    described = store.sagemaker.describe_endpoint_config(EndpointConfigName=config)
    production = described["ProductionVariants"]
    for name, arn in variants.items():
        if name == "champion":
            continue
        model = f"churn-{environment}-{name}-{config}"
        store.sagemaker.create_model(
            ModelName=model,
            ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/churn-{environment}",
            PrimaryContainer={"ModelPackageName": arn},
        )
        production.append(
            {
                "VariantName": name,
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        )
    store.sagemaker.delete_endpoint_config(EndpointConfigName=config)
    store.sagemaker.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=production,
        Tags=[{"Key": "model", "Value": "churn"}, {"Key": "environment", "Value": environment}],
    )
    point_endpoint(store, ENDPOINT.format(environment), config)
    return config


def test_status_shows_the_challenger_beside_the_champion(
    release_store: Store, tmp_path: Path, capsys
) -> None:
    champion, challenger = package(release_store), package(release_store, approval="Rejected")
    write_stacks(tmp_path, {"churn": champion}, challenger=challenger)
    deploy_variants(release_store, "dev", {"champion": champion.arn, "challenger": challenger.arn})

    code, out, err = release(capsys, "status", "--stacks", str(tmp_path))

    assert (code, err) == (0, "")
    digest, other = short(champion), short(challenger)
    assert out.splitlines() == [
        "MODEL  STAGE    VERSION  DIGEST        APPROVAL  LIVE",
        f"churn  dev      1        {digest}  Approved  InService, serves version 1"
        f" ({ENDPOINT.format('dev')})",
        f"churn  dev      2        {other}  Rejected  challenger: serves version 2",
        f"churn  staging  1        {digest}  Approved  no endpoint",
        f"churn  prod     1        {digest}  Approved  no endpoint",
    ]

    code, out, _ = release(capsys, "status", "--json", "--stacks", str(tmp_path))
    rows = json.loads(out)
    assert rows[0]["challenger"] == {
        "version": 2,
        "package": challenger.arn,
        "digest": challenger.digest,
        "approval": "Rejected",
        "serves": 2,
        "serves_package": challenger.arn,
    }
    assert (rows[0]["shadow"], rows[1]["challenger"]) == (None, None)


def test_a_shadow_row_says_what_its_variant_serves() -> None:
    shadow = status.VariantRow(3, "arn:x/3", "sha256:" + "c" * 64, "Approved", None, None)
    row = status.Row(
        "fraud", "prod", 2, "arn:x/2", "sha256:" + "d" * 64, "Approved", "fraud-prod-1",
        "InService", 2, "arn:x/2", None, shadow=shadow,
    )  # fmt: skip

    assert status.render_table([row]).splitlines()[1:] == [
        f"fraud  prod   2        {'d' * 12}  Approved  InService, serves version 2 (fraud-prod-1)",
        f"fraud  prod   3        {'c' * 12}  Approved  shadow: no shadow variant",
    ]


def test_check_deployed_fails_on_a_rejected_version_pinned_or_served(
    release_store: Store, tmp_path: Path, capsys
) -> None:
    old, new = package(release_store), package(release_store)
    write_stacks(tmp_path, {"churn": new})
    config = deploy(release_store, "churn", "dev", new.arn)
    set_approval(release_store, new, "Rejected")

    code, out, _ = release(capsys, "status", "--check-deployed", "dev", "--stacks", str(tmp_path))

    where = f"{ENDPOINT.format('dev')} ({config}, InService)"
    assert (code, out) == (
        1,
        f"FAIL churn dev: pinned version 2 (sha256:{short(new)}); live version 2 on {where}:"
        " champion pins version 2, which is Rejected\n",
    )

    set_approval(release_store, new, "Approved")
    set_approval(release_store, old, "Rejected")
    config = deploy(release_store, "churn", "dev", old.arn)

    code, out, _ = release(capsys, "status", "--check-deployed", "dev", "--stacks", str(tmp_path))

    where = f"{ENDPOINT.format('dev')} ({config}, InService)"
    assert (code, out) == (
        1,
        f"FAIL churn dev: pinned version 2 (sha256:{short(new)}); live version 1 on {where}:"
        " champion serves version 1, which is Rejected\n",
    )


def test_check_deployed_fails_on_a_live_variant_the_stack_file_does_not_pin(
    release_store: Store, tmp_path: Path, capsys
) -> None:
    champion, challenger = package(release_store), package(release_store)
    write_stacks(tmp_path, {"churn": champion})
    config = deploy_variants(
        release_store, "dev", {"champion": champion.arn, "challenger": challenger.arn}
    )

    code, out, _ = release(capsys, "status", "--check-deployed", "dev", "--stacks", str(tmp_path))

    assert (code, out) == (
        1,
        f"FAIL churn dev: pinned version 1 (sha256:{short(champion)}); live version 1 on"
        f" {ENDPOINT.format('dev')} ({config}, InService): challenger variant serves version 2,"
        " which the stack file does not pin\n",
    )


def test_check_deployed_json_names_expected_and_served_pins(
    release_store: Store, tmp_path: Path, capsys
) -> None:
    champion, challenger, other = (package(release_store) for _ in range(3))
    fraud = package(release_store, "fraud")
    write_stacks(tmp_path, {"fraud": fraud, "churn": champion}, challenger=challenger)
    config = deploy_variants(
        release_store, "dev", {"champion": champion.arn, "challenger": other.arn}
    )

    code, out, _ = release(
        capsys, "status", "--check-deployed", "dev", "--json", "--stacks", str(tmp_path)
    )

    assert code == 1
    fraud_check, churn = json.loads(out)
    reason = "challenger serves version 3"
    assert {key: value for key, value in churn.items() if key not in ("expected", "served")} == {
        "model": "churn",
        "environment": "dev",
        "ok": False,
        "reason": reason,
        "endpoint": ENDPOINT.format("dev"),
        "endpoint_status": "InService",
        "config": config,
        "newest_config": None,
        "pending_config": None,
        "line": f"FAIL churn dev: pinned version 1 (sha256:{short(champion)}); live version 1 on"
        f" {ENDPOINT.format('dev')} ({config}, InService): {reason}",
    }
    assert churn["expected"] == {
        "champion": {
            "version": 1,
            "package": champion.arn,
            "artifact_uri": None,
            "digest": champion.digest,
            "approval": "Approved",
        },
        "challenger": {
            "version": 2,
            "package": challenger.arn,
            "artifact_uri": None,
            "digest": challenger.digest,
            "approval": "Approved",
        },
    }
    assert churn["served"]["challenger"] == {
        "version": 3,
        "package": other.arn,
        "model_data_url": None,
        "model": f"churn-dev-challenger-{config}",
        "approval": "Approved",
    }
    assert churn["served"]["champion"]["package"] == champion.arn
    assert (fraud_check["ok"], fraud_check["reason"], fraud_check["endpoint"]) == (
        False,
        "no endpoint fraud-dev-*",
        None,
    )
    assert fraud_check["expected"]["champion"]["package"] == fraud.arn


def test_updating_passes_unless_an_update_to_another_configuration_is_in_progress(
    release_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    old, new = package(release_store), package(release_store)
    write_stacks(tmp_path, {"churn": new})
    config = deploy(release_store, "churn", "dev", new.arn)
    endpoint = sagemaker_backends[ACCOUNT][REGION].endpoints[ENDPOINT.format("dev")]
    # UpdateEndpointWeightsAndCapacities (autoscaling): Updating, on the same configuration.
    endpoint.endpoint_status = "Updating"

    code, out, _ = release(capsys, "status", "--check-deployed", "dev", "--stacks", str(tmp_path))

    assert (code, out) == (
        0,
        f"ok churn dev: live version 2 on {ENDPOINT.format('dev')} ({config}, Updating)\n",
    )

    # UpdateEndpoint onto a new configuration: it is pending until the update is done.
    older = deploy(release_store, "churn", "dev", old.arn)
    newer = deploy(release_store, "churn", "dev", new.arn)
    point_endpoint(release_store, ENDPOINT.format("dev"), older)
    sagemaker_backends[ACCOUNT][REGION].endpoints[
        ENDPOINT.format("dev")
    ].endpoint_status = "Updating"
    describe = live.describe_live

    def pending(*args: Any) -> live.LiveEndpoint:
        found = describe(*args)
        assert found is not None
        return dataclasses.replace(found, pending_config=newer)

    monkeypatch.setattr(live, "describe_live", pending)

    code, out, _ = release(capsys, "status", "--check-deployed", "dev", "--stacks", str(tmp_path))

    assert (code, out) == (
        1,
        f"FAIL churn dev: pinned version 2 (sha256:{short(new)}); live version 1 on"
        f" {ENDPOINT.format('dev')} ({older}, Updating): an update to {newer} is in progress:"
        " wait until the endpoint is InService and run the check again\n",
    )


def test_the_pending_deployment_is_read_from_describe_endpoint() -> None:
    sagemaker = boto3.session.Session().client("sagemaker", region_name=REGION)
    created = datetime.datetime(2024, 6, 3, tzinfo=datetime.UTC)
    with Stubber(sagemaker) as stub:
        stub.add_response(
            "list_endpoints",
            {
                "Endpoints": [
                    {
                        "EndpointName": "churn-prod-1a2b3c4d",
                        "EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/x",
                        "CreationTime": created,
                        "LastModifiedTime": created,
                        "EndpointStatus": "Updating",
                    }
                ]
            },
        )
        stub.add_response(
            "describe_endpoint",
            {
                "EndpointName": "churn-prod-1a2b3c4d",
                "EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/x",
                "EndpointConfigName": "churn-config-old",
                "EndpointStatus": "Updating",
                "CreationTime": created,
                "LastModifiedTime": created,
                "PendingDeploymentSummary": {"EndpointConfigName": "churn-config-new"},
            },
        )
        stub.add_response(
            "describe_endpoint_config",
            {
                "EndpointConfigName": "churn-config-old",
                "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/x",
                "ProductionVariants": [{"VariantName": "champion", "ModelName": "churn-m"}],
                "CreationTime": created,
            },
        )
        stub.add_response(
            "describe_model",
            {
                "ModelName": "churn-m",
                "PrimaryContainer": {"ModelPackageName": "arn:x/1"},
                "CreationTime": created,
                "ModelArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/churn-m",
            },
        )
        found = live.describe_live(sagemaker, "churn", "prod")
    assert found is not None
    assert (found.config, found.pending_config) == ("churn-config-old", "churn-config-new")


def test_a_rollback_applied_as_pulumi_applies_it_passes_the_check(
    release_store: Store, tmp_path: Path, capsys
) -> None:
    """The runbook's section 5: SageMaker rolled the update to version 2 back; the rollback's
    pulumi up makes a configuration of version 1 under a new auto-name (a replacement draws a new
    suffix; the retained one the endpoint runs keeps its name) and moves the endpoint onto it."""
    old, new = package(release_store), package(release_store)
    write_stacks(tmp_path, {"churn": new})
    kept = deploy(release_store, "churn", "prod", old.arn)
    rolled_back = deploy(release_store, "churn", "prod", new.arn)
    point_endpoint(release_store, ENDPOINT.format("prod"), kept)  # SageMaker's rollback

    write_stack(tmp_path, "prod", {"churn": old})  # mp rollback churn --env prod, merged
    code, out, _ = release(capsys, "status", "--check-deployed", "prod", "--stacks", str(tmp_path))
    # Before the pulumi up: the endpoint serves the pin, on a configuration older than the newest.
    assert code == 1 and f"older than {rolled_back}" in out

    again = deploy(release_store, "churn", "prod", old.arn)  # pulumi up: new name, same inputs
    code, out, _ = release(capsys, "status", "--check-deployed", "prod", "--stacks", str(tmp_path))
    assert (code, out) == (
        0,
        f"ok churn prod: live version 1 on {ENDPOINT.format('prod')} ({again}, InService)\n",
    )
