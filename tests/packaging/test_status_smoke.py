"""``status --check-deployed ENV --invoke``: the smoke test of live endpoints, against moto
in-process.

moto's InvokeEndpoint answers with canned results, queued through moto's own API
(``/moto-api/static/sagemaker/endpoint-results``, moto's sagemakerruntime docs), one per distinct
request in the order the requests come: the smoke test sends each model's variants in the stack
file's order, champion first, and each variant its samples in the manifest's order. Errors of
the runtime (an endpoint not found, a denial, the model's own error) are raised by moto's
backend, patched per test, in the shape the API gives them (botocore's sagemaker-runtime
model).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from moto.core.exceptions import JsonRESTError
from moto.sagemaker.models import sagemaker_backends
from moto.sagemakerruntime.models import SageMakerRuntimeBackend

from infra.settings import artifacts
from model_packaging.artifact.manifest import Manifest
from model_packaging.release import smoke, status
from model_packaging.store.publish import publish
from tests.helpers import release
from tests.packaging.conftest import (
    ACCOUNT,
    BUCKET,
    IMAGE,
    REGION,
    STACK_HEADER,
    ArtifactFactory,
    Published,
    Store,
)

CHURN = "churn-dev-1a2b3c4d"
FRAUD = "fraud-dev-1a2b3c4d"
SAMPLES = [
    {
        "name": "one-customer",
        "content_type": "text/csv",
        "accept": "application/json",
        "body": "2,95.5,4,1",
        "expected": {"json": {"predictions": [{"churn_probability": 0.9853, "churn": True}]}},
    },
    {
        "name": "batch",
        "content_type": "application/json",
        "accept": "text/csv",
        "body": '{"instances": [[1, 110.0, 6, 1], [60, 40.0, 0, 24]]}',
        "expected": {"text": "0.997300\n0.007230\n"},
    },
]
RIGHT = [
    ('{"predictions": [{"churn_probability": 0.9853, "churn": true}]}', "application/json"),
    ("0.997300\n0.007230\n", "text/csv"),
]
LATENCY = r"\(latency median \d+\.\d ms, max \d+\.\d ms\)"


def published(store: Store, make_artifact: ArtifactFactory, name: str = "churn") -> Published:
    """A version registered by publish, its manifest carrying SAMPLES."""
    artifact = make_artifact(name=name)
    data = json.loads((artifact / "manifest.json").read_text())
    data["samples"] = SAMPLES
    (artifact / "manifest.json").write_text(Manifest.model_validate(data).to_json())
    result = publish(artifact, bucket=BUCKET, progress=False)
    return Published(result.version_arn, f"sha256:{data['digest']}")


def pin(version: Published, indent: str = "      ") -> str:
    return (
        f"{indent}version:\n"
        f'{indent}  package: "{version.arn}"\n'
        f"{indent}  digest: {version.digest}\n"
    )


def write_dev(stacks: Path, models: str) -> None:
    """dev's stack file with ``models`` (the text under ``mlserve:models:``); staging and prod
    are not read by the check."""
    stacks.mkdir(parents=True, exist_ok=True)
    (stacks / "Pulumi.dev.yaml").write_text(STACK_HEADER.format(env="dev") + models)


def deploy(
    store: Store,
    model: str,
    variants: dict[str, str],
    *,
    shadow: str | None = None,
    serverless: bool = False,
    container: dict[str, str] | None = None,
) -> str:
    """An endpoint ``<model>-dev-1a2b3c4d`` whose variants (name -> version ARN) deploy those
    versions, and a shadow variant of ``shadow``; returns the endpoint's name."""
    sagemaker = store.sagemaker

    def variant(name: str, package: str) -> dict[str, Any]:
        model_name = f"{model}-dev-{name}"
        sagemaker.create_model(
            ModelName=model_name,
            ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/{model}-dev",
            PrimaryContainer=container or {"ModelPackageName": package},
        )
        size: dict[str, Any] = (
            {"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}
            if serverless
            else {"InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        )
        return {"VariantName": name, "ModelName": model_name, **size}

    config = f"{model}-dev-config"
    sagemaker.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[variant(name, package) for name, package in variants.items()],
        Tags=[{"Key": "model", "Value": model}, {"Key": "environment", "Value": "dev"}],
    )
    if shadow is not None:
        # moto 5 drops ShadowProductionVariants from CreateEndpointConfig; it answers them in
        # DescribeEndpointConfig once the configuration holds them, as SageMaker keeps them.
        stored = sagemaker_backends[ACCOUNT][REGION].endpoint_configs[config]
        setattr(stored, "shadow_production_variants", [variant("shadow", shadow)])  # noqa: B010
    endpoint = f"{model}-dev-1a2b3c4d"
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    return endpoint


def answers(*results: tuple[str, str, str]) -> None:
    """Queue moto's answers to the next InvokeEndpoint requests: (body, content type, variant)."""
    response = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results",
        json={
            "account_id": ACCOUNT,
            "region": REGION,
            "results": [
                {"Body": body, "ContentType": kind, "InvokedProductionVariant": variant}
                for body, kind, variant in results
            ],
        },
        timeout=10,
    )
    assert response.status_code == 201


def right(variant: str) -> list[tuple[str, str, str]]:
    return [(body, kind, variant) for body, kind in RIGHT]


def refuse_invocations(monkeypatch: pytest.MonkeyPatch, error: JsonRESTError) -> None:
    def invoke_endpoint(self: Any, endpoint_name: str, unique_repr: bytes) -> Any:
        raise error

    monkeypatch.setattr(SageMakerRuntimeBackend, "invoke_endpoint", invoke_endpoint)


def check(capsys: pytest.CaptureFixture[str], stacks: Path, *more: str) -> tuple[int, str, str]:
    return release(
        capsys, "status", "--check-deployed", "dev", "--invoke", "--stacks", str(stacks), *more
    )


# --- every variant answers -------------------------------------------------------------------


def test_each_production_variant_answers_its_samples_and_the_shadow_is_listed(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    churn1, churn2 = (published(release_store, make_artifact) for _ in range(2))
    fraud1, fraud2 = (published(release_store, make_artifact, "fraud") for _ in range(2))
    write_dev(
        tmp_path,
        "    churn:\n"
        + pin(churn1)
        + "      challenger:\n"
        + pin(churn2, "        ")
        + "        traffic_percent: 10\n"
        + "    fraud:\n"
        + pin(fraud1)
        + "      shadow:\n"
        + pin(fraud2, "        ")
        + "        sampling_percent: 50\n",
    )
    deploy(release_store, "churn", {"champion": churn1.arn, "challenger": churn2.arn})
    deploy(release_store, "fraud", {"champion": fraud1.arn}, shadow=fraud2.arn)
    answers(*right("champion"), *right("challenger"), *right("champion"))

    code, out, err = check(capsys, tmp_path)

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 6, out
    assert lines[0].startswith(f"ok churn dev: live version 1 on {CHURN} ")
    assert re.fullmatch(
        rf"  champion, version 1: 2 of 2 samples answer as expected {LATENCY}", lines[1]
    )
    assert re.fullmatch(
        rf"  challenger, version 2: 2 of 2 samples answer as expected {LATENCY}", lines[2]
    )
    assert lines[3].startswith(f"ok fraud dev: live version 1 on {FRAUD} ")
    assert re.fullmatch(
        rf"  champion, version 1: 2 of 2 samples answer as expected {LATENCY}", lines[4]
    )
    assert lines[5] == (
        "  shadow, version 2: not invoked: a shadow variant cannot be invoked (InvokeEndpoint's"
        " TargetVariant names production variants); SageMaker sends it copies of the requests"
        " the production variant answers"
    )


def test_a_serverless_endpoint_is_invoked_like_any_other(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    fraud = published(release_store, make_artifact, "fraud")
    write_dev(
        tmp_path,
        "    fraud:\n" + pin(fraud) + "      serverless:\n        memory_mb: 2048\n"
        "        max_concurrency: 5\n",
    )
    deploy(release_store, "fraud", {"champion": fraud.arn}, serverless=True)
    answers(*right("champion"))

    code, out, _ = check(capsys, tmp_path)

    assert code == 0, out
    assert re.fullmatch(
        rf"  champion, version 1: 2 of 2 samples answer as expected {LATENCY}",
        out.splitlines()[1],
    )


def test_an_artifact_uri_pin_reads_the_manifest_beside_the_artifact(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    version = published(release_store, make_artifact)
    data_url = f"s3://{BUCKET}/{artifacts.artifact_prefix('churn', version.digest)}model.tar.gz"
    write_dev(
        tmp_path,
        "    churn:\n      version:\n"
        f"        artifact_uri: {data_url}\n        image: {IMAGE}\n"
        f"        digest: {version.digest}\n",
    )
    deploy(
        release_store,
        "churn",
        {"champion": ""},
        container={"Image": IMAGE, "ModelDataUrl": data_url},
    )
    answers(*right("champion"))

    code, out, _ = check(capsys, tmp_path)

    assert code == 0, out
    assert re.fullmatch(
        rf"  champion, {re.escape(data_url)}: 2 of 2 samples answer as expected {LATENCY}",
        out.splitlines()[1],
    )


# --- failures: a wrong answer, an endpoint that cannot be invoked, samples that cannot be read --


def test_a_wrong_answer_fails_naming_the_sample_what_was_expected_and_what_came(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    version = published(release_store, make_artifact)
    write_dev(tmp_path, "    churn:\n" + pin(version))
    deploy(release_store, "churn", {"champion": version.arn})
    answers(
        (
            '{"predictions": [{"churn_probability": 0.71, "churn": true}]}',
            "application/json",
            "champion",
        ),
        ("0.997300\n0.007230\n", "text/csv", "champion"),
    )

    code, out, _ = check(capsys, tmp_path)

    assert code == 1
    lines = out.splitlines()
    assert re.fullmatch(
        rf"FAIL churn dev: pinned version 1 \(sha256:{artifacts.short_digest(version.digest)}\);"
        rf" live version 1 on {CHURN} \(churn-dev-config, InService\): champion answers 1 of 2"
        " samples wrongly",
        lines[0],
    )
    assert re.fullmatch(
        rf"  champion, version 1: 1 of 2 samples answer as expected {LATENCY}", lines[1]
    )
    assert lines[2] == (
        "    FAIL sample one-customer: $.predictions[0].churn_probability: expected 0.9853, got"
        " 0.71 (rel tolerance 1e-06)"
    )
    assert len(lines) == 3


def test_an_answer_of_another_content_type_is_wrong_as_verify_says(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    version = published(release_store, make_artifact)
    write_dev(tmp_path, "    churn:\n" + pin(version))
    deploy(release_store, "churn", {"champion": version.arn})
    answers(right("champion")[0], ("0.997300\n0.007230\n", "application/json", "champion"))

    code, out, _ = check(capsys, tmp_path)

    assert code == 1
    assert out.splitlines()[2] == (
        "    FAIL sample batch: responded with 'application/json', the sample accepts 'text/csv'"
    )


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (
            JsonRESTError("ValidationError", f"Endpoint {CHURN} of account {ACCOUNT} not found."),
            f"ValidationError: Endpoint {CHURN} of account {ACCOUNT} not found.",
        ),
        (
            JsonRESTError(
                "AccessDeniedException",
                f"User: arn:aws:sts::{ACCOUNT}:assumed-role/deploy-dev/ci is not authorized to"
                f" perform: sagemaker:InvokeEndpoint on resource:"
                f" arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{CHURN}",
            ),
            f"AccessDeniedException: User: arn:aws:sts::{ACCOUNT}:assumed-role/deploy-dev/ci is"
            " not authorized to perform: sagemaker:InvokeEndpoint on resource:"
            f" arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{CHURN}",
        ),
        (
            JsonRESTError("AccessDeniedException", "Access denied"),
            "AccessDeniedException: Access denied (the credentials need sagemaker:InvokeEndpoint"
            " on the endpoint)",
        ),
    ],
    ids=["not-found", "denied", "denied-unnamed"],
)
def test_an_endpoint_that_cannot_be_invoked_fails_in_one_line(
    release_store: Store,
    make_artifact: ArtifactFactory,
    tmp_path: Path,
    capsys,
    monkeypatch: pytest.MonkeyPatch,
    error: JsonRESTError,
    shown: str,
) -> None:
    version = published(release_store, make_artifact)
    write_dev(tmp_path, "    churn:\n" + pin(version))
    deploy(release_store, "churn", {"champion": version.arn})
    refuse_invocations(monkeypatch, error)

    code, out, err = check(capsys, tmp_path)

    assert (code, err) == (1, "")
    assert out.splitlines()[0].endswith(": champion cannot be invoked")
    assert out.splitlines()[1:] == [
        f"  champion, version 1: cannot invoke {CHURN} (TargetVariant champion): {shown}"
    ]


def test_the_models_own_error_fails_that_sample_and_the_others_are_still_sent(
    release_store: Store,
    make_artifact: ArtifactFactory,
    tmp_path: Path,
    capsys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    version = published(release_store, make_artifact)
    write_dev(tmp_path, "    churn:\n" + pin(version))
    deploy(release_store, "churn", {"champion": version.arn})
    error = JsonRESTError("ModelError", "Received client error (400) from primary")
    error.code = 424  # ModelError's HTTP status (botocore's sagemaker-runtime model)
    error.description = json.dumps(
        {
            "__type": "ModelError",
            "message": "Received client error (400) from primary",
            "OriginalStatusCode": 400,
            "OriginalMessage": "could not convert string to float: 'abc'",
        }
    )
    sent: list[bytes] = []

    def invoke_endpoint(self: Any, endpoint_name: str, unique_repr: bytes) -> Any:
        sent.append(unique_repr)
        if len(sent) == 1:
            raise error
        return ("0.997300\n0.007230\n", "text/csv", "champion", "")

    monkeypatch.setattr(SageMakerRuntimeBackend, "invoke_endpoint", invoke_endpoint)

    code, out, _ = check(capsys, tmp_path)

    assert code == 1
    assert len(sent) == 2
    lines = out.splitlines()
    assert lines[0].endswith(": champion answers 1 of 2 samples wrongly")
    assert lines[2] == (
        "    FAIL sample one-customer: ModelError: the model answered 400: could not convert"
        " string to float: 'abc'"
    )


def test_a_manifest_missing_from_the_store_fails_in_one_line(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    version = published(release_store, make_artifact)
    write_dev(tmp_path, "    churn:\n" + pin(version))
    deploy(release_store, "churn", {"champion": version.arn})
    key = f"{artifacts.artifact_prefix('churn', version.digest)}manifest.json"
    release_store.s3.delete_object(Bucket=BUCKET, Key=key)

    code, out, _ = check(capsys, tmp_path)

    assert code == 1
    assert out.splitlines()[0].endswith(": champion was not smoke-tested")
    assert out.splitlines()[1:] == [
        f"  champion, version 1: cannot read its samples: s3://{BUCKET}/{key} is missing"
    ]


def test_a_manifest_of_another_digest_is_not_used(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    version, other = (
        published(release_store, make_artifact),
        published(release_store, make_artifact),
    )
    prefix = artifacts.artifact_prefix("churn", version.digest)
    stored = release_store.s3.get_object(
        Bucket=BUCKET, Key=f"{artifacts.artifact_prefix('churn', other.digest)}manifest.json"
    )["Body"].read()
    release_store.s3.put_object(Bucket=BUCKET, Key=f"{prefix}manifest.json", Body=stored)
    write_dev(tmp_path, "    churn:\n" + pin(version))
    deploy(release_store, "churn", {"champion": version.arn})

    code, out, _ = check(capsys, tmp_path)

    assert code == 1
    assert out.splitlines()[1] == (
        f"  champion, version 1: cannot read its samples: s3://{BUCKET}/{prefix}manifest.json"
        f" describes sha256:{artifacts.short_digest(other.digest)}, the stack file pins"
        f" sha256:{artifacts.short_digest(version.digest)}"
    )


def test_no_endpoint_means_nothing_to_invoke(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    version = published(release_store, make_artifact)
    write_dev(tmp_path, "    churn:\n" + pin(version))

    code, out, _ = check(capsys, tmp_path, "--json")

    assert code == 1
    (found,) = json.loads(out)
    assert found["reason"] == "no endpoint churn-dev-*"
    assert found["invocations"] == {}


# --- JSON, the deadline, usage -----------------------------------------------------------------


def test_json_holds_each_variants_samples_and_latency(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    fraud1, fraud2 = (published(release_store, make_artifact, "fraud") for _ in range(2))
    write_dev(
        tmp_path,
        "    fraud:\n" + pin(fraud1) + "      shadow:\n" + pin(fraud2, "        "),
    )
    deploy(release_store, "fraud", {"champion": fraud1.arn}, shadow=fraud2.arn)
    answers(right("champion")[0], ("0.5\n", "text/csv", "champion"))

    code, out, _ = check(capsys, tmp_path, "--json")

    assert code == 1
    (found,) = json.loads(out)
    assert found["ok"] is False
    assert found["reason"] == "champion answers 1 of 2 samples wrongly"
    champion, shadow = found["invocations"]["champion"], found["invocations"]["shadow"]
    latency = champion.pop("latency_ms")
    assert 0 < latency["median"] <= latency["max"]
    times = [sample.pop("latency_ms") for sample in champion["samples"]]
    assert max(times) == latency["max"]
    key = f"{artifacts.artifact_prefix('fraud', fraud1.digest)}manifest.json"
    assert champion == {
        "variant": "champion",
        "version": 1,
        "package": fraud1.arn,
        "artifact_uri": None,
        "manifest": f"s3://{BUCKET}/{key}",
        "invoked": True,
        "ok": False,
        "problem": None,
        "skipped": None,
        "samples": [
            {"name": "one-customer", "ok": True, "problem": None},
            {
                "name": "batch",
                "ok": False,
                "problem": "expected text '0.997300\\n0.007230\\n', got '0.5\\n'",
            },
        ],
    }
    assert shadow == {
        "variant": "shadow",
        "version": 2,
        "package": fraud2.arn,
        "artifact_uri": None,
        "manifest": None,
        "invoked": False,
        "ok": True,
        "problem": None,
        "skipped": smoke.SHADOW_REASON,
        "samples": [],
        "latency_ms": None,
    }


def test_no_sample_is_sent_when_the_deadline_leaves_no_time_for_one(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path
) -> None:
    version = published(release_store, make_artifact)
    write_dev(tmp_path, "    churn:\n" + pin(version))
    deploy(release_store, "churn", {"champion": version.arn})

    # One request may take 5 s to connect and 10 s to be answered: a 12 s deadline has no room.
    (found,) = status.check_deployed("dev", stacks=tmp_path, deadline=12.0, invoke=True)

    assert found.ok is False
    assert found.line.endswith(": champion was not smoke-tested")
    assert found.lines()[1:] == [
        "  champion, version 1: 2 of 2 samples not sent: the check's deadline is near"
    ]


def test_invoke_goes_with_check_deployed(tmp_path: Path, capsys) -> None:
    code, out, err = release(capsys, "status", "--invoke", "--stacks", str(tmp_path))
    assert (code, out, err) == (2, "", "error: --invoke goes with --check-deployed ENV\n")


def test_a_bad_stack_file_is_still_exit_2(tmp_path: Path, capsys) -> None:
    (tmp_path / "Pulumi.dev.yaml").write_text("config: [\n")
    code, _, err = release(
        capsys, "status", "--check-deployed", "dev", "--invoke", "--stacks", str(tmp_path)
    )
    assert code == 2
    assert err.startswith(f"error: {tmp_path / 'Pulumi.dev.yaml'}")
    assert len(err.splitlines()) == 1
