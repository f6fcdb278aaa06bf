"""promote: every gate passing and failing, against moto in-process; refusals write nothing."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import cast

import pytest
from moto.sagemaker.models import sagemaker_backends

from model_packaging.cli import main
from model_packaging.release.stackfile import pin_in_text
from model_packaging.store import upload
from tests.helpers import release
from tests.packaging.conftest import (
    ACCOUNT,
    BUCKET,
    REGION,
    ArtifactFactory,
    Published,
    Store,
    deploy,
    register,
    write_stack,
)


def snapshot(stacks: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(stacks.glob("Pulumi.*.yaml"))}


def pinned(stacks: Path, env: str, model: str = "churn") -> str:
    pin = pin_in_text((stacks / f"Pulumi.{env}.yaml").read_text(), model)
    assert pin is not None
    return pin.package


def refused(capsys: pytest.CaptureFixture[str], stacks: Path, *args: str) -> str:
    """Run a promotion that must be refused; return its one error line."""
    before = snapshot(stacks)
    code, out, err = release(capsys, "promote", *args, "--stacks", str(stacks))
    assert code == 1, out + err
    assert out == ""
    assert snapshot(stacks) == before
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def key_of(uri: str) -> str:
    return uri.removeprefix(f"s3://{BUCKET}/")


# --- dev --------------------------------------------------------------------------------


def test_dev_pins_the_latest_approved_version(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    first, second = register(release_store, make_artifact), register(release_store, make_artifact)
    register(release_store, make_artifact, approve=False)  # newer, but pending
    write_stack(tmp_path, "dev", {"churn": first})

    code, out, err = release(capsys, "promote", "churn", "--to", "dev", "--stacks", str(tmp_path))

    assert (code, err) == (0, "")
    assert out == (
        f"{tmp_path}/Pulumi.dev.yaml: churn version 1 (sha256:{first.digest[7:19]}) ->"
        f" version 2 (sha256:{second.digest[7:19]})\n"
    )
    text = (tmp_path / "Pulumi.dev.yaml").read_text()
    assert f'package: "{second.arn}" # quoted on purpose' in text
    assert f"digest: {second.digest}\n" in text


def test_dev_pins_the_named_version(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    first, second = register(release_store, make_artifact), register(release_store, make_artifact)
    register(release_store, make_artifact)
    write_stack(tmp_path, "dev", {"churn": second})

    code, out, _ = release(
        capsys, "promote", "churn", "--to", "dev", "--version", "1", "--stacks", str(tmp_path)
    )

    assert code == 0
    assert out.endswith(
        f"version 2 (sha256:{second.digest[7:19]}) -> version 1 (sha256:{first.digest[7:19]})\n"
    )
    assert pinned(tmp_path, "dev") == first.arn


def test_promoting_what_is_already_pinned_changes_nothing(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    version = register(release_store, make_artifact)
    write_stack(tmp_path, "dev", {"churn": version})
    before = snapshot(tmp_path)

    code, out, _ = release(capsys, "promote", "churn", "--to", "dev", "--stacks", str(tmp_path))

    assert code == 0
    assert out.endswith(f"churn already pins version 1 (sha256:{version.digest[7:19]})\n")
    assert snapshot(tmp_path) == before


def test_dry_run_prints_a_diff_and_writes_nothing(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    first, second = register(release_store, make_artifact), register(release_store, make_artifact)
    path = write_stack(tmp_path, "dev", {"churn": first})
    before = snapshot(tmp_path)

    code, out, err = release(
        capsys, "promote", "churn", "--to", "dev", "--dry-run", "--stacks", str(tmp_path)
    )

    assert code == 0
    assert snapshot(tmp_path) == before
    assert out.startswith(f"--- {path}\n+++ {path}\n@@ ")
    assert f'-        package: "{first.arn}" # quoted on purpose\n' in out
    assert f'+        package: "{second.arn}" # quoted on purpose\n' in out
    assert f"-        digest: {first.digest}\n" in out
    assert f"+        digest: {second.digest}\n" in out
    assert err.endswith("(dry run: nothing written)\n")


def test_a_model_the_stage_does_not_configure_is_refused(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    write_stack(tmp_path, "dev", {"churn": register(release_store, make_artifact)})
    line = refused(capsys, tmp_path, "fraud", "--to", "dev")
    assert line == (
        f"error: {tmp_path}/Pulumi.dev.yaml does not configure model 'fraud': add it under"
        " mlserve:models (promotion changes pins, never infrastructure settings)"
    )


# --- registered / approved ---------------------------------------------------------------


def test_gate_registered_refuses_a_version_that_does_not_exist(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    write_stack(tmp_path, "dev", {"churn": register(release_store, make_artifact)})
    line = refused(capsys, tmp_path, "churn", "--to", "dev", "--version", "9")
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn/9"
    assert (
        line
        == f"error: promote refused by gate 'registered': churn version 9 does not exist ({arn})"
    )


def test_gate_registered_refuses_a_pin_below_that_the_registry_lost(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    current = register(release_store, make_artifact)
    lost = Published(current.arn.replace("/churn/1", "/churn/5"), current.digest)
    write_stack(tmp_path, "dev", {"churn": lost})
    write_stack(tmp_path, "staging", {"churn": current})
    line = refused(capsys, tmp_path, "churn", "--to", "staging")
    assert line.startswith("error: promote refused by gate 'registered': churn version 5 does not")


@pytest.mark.parametrize("status", ["PendingManualApproval", "Rejected"])
def test_gate_approved_refuses_a_version_that_is_not_approved(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys, status: str
) -> None:
    write_stack(tmp_path, "dev", {"churn": register(release_store, make_artifact)})
    pending = register(release_store, make_artifact, approve=False)
    if status == "Rejected":
        release_store.sagemaker.update_model_package(
            ModelPackageArn=pending.arn, ModelApprovalStatus="Rejected"
        )
    line = refused(capsys, tmp_path, "churn", "--to", "dev", "--version", "2")
    assert line == f"error: promote refused by gate 'approved': churn version 2 is {status}"


def test_gate_approved_refuses_when_no_version_is_approved(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    write_stack(tmp_path, "dev", {"churn": register(release_store, make_artifact, approve=False)})
    line = refused(capsys, tmp_path, "churn", "--to", "dev")
    assert line == "error: promote refused by gate 'approved': churn has no Approved version to pin"


# --- digest ------------------------------------------------------------------------------


def test_gate_digest_passes_for_an_uncompressed_artifact(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    write_stack(
        tmp_path, "dev", {"churn": register(release_store, make_artifact, compression="none")}
    )
    tree = register(release_store, make_artifact, compression="none")

    code, _, err = release(capsys, "promote", "churn", "--to", "dev", "--stacks", str(tmp_path))

    assert (code, err) == (0, "")
    assert pinned(tmp_path, "dev") == tree.arn


def test_gate_digest_passes_for_a_multipart_artifact(
    release_store: Store,
    make_artifact: ArtifactFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
) -> None:
    monkeypatch.setattr(upload, "PART_SIZE", 5 * upload.MiB)  # S3's minimum, to keep it small
    write_stack(tmp_path, "dev", {"churn": register(release_store, make_artifact)})
    big = register(release_store, make_artifact, size=11 * upload.MiB)
    uri = metadata(release_store, big)["s3-uri"]
    assert release_store.s3.head_object(Bucket=BUCKET, Key=key_of(uri))["ETag"].endswith('-3"')

    code, _, err = release(capsys, "promote", "churn", "--to", "dev", "--stacks", str(tmp_path))

    assert (code, err) == (0, "")
    assert pinned(tmp_path, "dev") == big.arn


def metadata(store: Store, version: Published) -> dict[str, str]:
    described = store.sagemaker.describe_model_package(ModelPackageName=version.arn)
    return cast(dict[str, str], described["CustomerMetadataProperties"])


def test_gate_digest_refuses_an_artifact_overwritten_with_other_bytes(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    write_stack(tmp_path, "dev", {"churn": register(release_store, make_artifact)})
    version = register(release_store, make_artifact)
    uri = metadata(release_store, version)["s3-uri"]
    other = os.urandom(4096)
    release_store.s3.put_object(
        Bucket=BUCKET,
        Key=key_of(uri),
        Body=other,
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=base64.b64encode(hashlib.sha256(other).digest()).decode(),
    )

    line = refused(capsys, tmp_path, "churn", "--to", "dev", "--version", "2")

    assert line == (
        f"error: promote refused by gate 'digest': {uri} does not have SHA-256"
        f" {version.digest.removeprefix('sha256:')}"
    )


def test_gate_digest_refuses_a_missing_artifact(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    write_stack(tmp_path, "dev", {"churn": register(release_store, make_artifact)})
    version = register(release_store, make_artifact)
    uri = metadata(release_store, version)["s3-uri"]
    release_store.s3.delete_object(Bucket=BUCKET, Key=key_of(uri))

    line = refused(capsys, tmp_path, "churn", "--to", "dev", "--version", "2")

    assert line == f"error: promote refused by gate 'digest': {uri} is missing"


def test_gate_digest_refuses_a_manifest_that_names_another_digest(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    write_stack(tmp_path, "dev", {"churn": register(release_store, make_artifact)})
    version, other = register(release_store, make_artifact), make_artifact()
    manifest_uri = metadata(release_store, version)["manifest-uri"]
    body = (other / "manifest.json").read_bytes()
    release_store.s3.put_object(
        Bucket=BUCKET,
        Key=key_of(manifest_uri),
        Body=body,
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode(),
    )

    line = refused(capsys, tmp_path, "churn", "--to", "dev", "--version", "2")

    assert line.startswith(
        f"error: promote refused by gate 'digest': {manifest_uri} describes churn"
    )
    assert line.endswith(f"not churn {version.digest}")


def test_gate_digest_refuses_a_pin_whose_digest_is_not_the_recorded_one(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    version = register(release_store, make_artifact)
    wrong = Published(version.arn, "sha256:" + "0" * 64)
    write_stack(tmp_path, "dev", {"churn": wrong})
    write_stack(tmp_path, "staging", {"churn": version})

    line = refused(capsys, tmp_path, "churn", "--to", "staging")

    assert line == (
        f"error: promote refused by gate 'digest': churn version 1 records {version.digest},"
        f" the pin says {wrong.digest}"
    )


# --- stage-below and live ----------------------------------------------------------------


def three_stages(
    store: Store, tmp_path: Path, make_artifact: ArtifactFactory
) -> tuple[Published, Published]:
    """dev pins version 2; staging and prod pin version 1."""
    old, new = register(store, make_artifact), register(store, make_artifact)
    write_stack(tmp_path, "dev", {"churn": new})
    write_stack(tmp_path, "staging", {"churn": old})
    write_stack(tmp_path, "prod", {"churn": old})
    return old, new


def test_staging_takes_what_dev_pins_and_serves(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    old, new = three_stages(release_store, tmp_path, make_artifact)
    deploy(release_store, "churn", "dev", new.arn)

    code, out, err = release(
        capsys, "promote", "churn", "--to", "staging", "--stacks", str(tmp_path)
    )

    assert (code, err) == (0, "")
    assert out.endswith(
        f"churn version 1 (sha256:{old.digest[7:19]}) -> version 2 (sha256:{new.digest[7:19]})\n"
    )
    assert pinned(tmp_path, "staging") == new.arn
    assert pinned(tmp_path, "prod") == old.arn


def test_prod_takes_what_staging_pins(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    old, new = three_stages(release_store, tmp_path, make_artifact)
    write_stack(tmp_path, "staging", {"churn": new})
    deploy(release_store, "churn", "staging", new.arn)

    code, _, err = release(
        capsys, "promote", "churn", "--to", "prod", "--version", "2", "--stacks", str(tmp_path)
    )

    assert (code, err) == (0, "")
    assert pinned(tmp_path, "prod") == new.arn


def test_gate_stage_below_refuses_another_version(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    _, new = three_stages(release_store, tmp_path, make_artifact)
    line = refused(capsys, tmp_path, "churn", "--to", "staging", "--version", "1")
    assert line == (
        "error: promote refused by gate 'stage-below': churn version 1 is not what dev pins"
        f" (version 2 (sha256:{new.digest[7:19]}))"
    )


def test_gate_stage_below_refuses_prod_before_staging_has_it(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    three_stages(release_store, tmp_path, make_artifact)
    line = refused(capsys, tmp_path, "churn", "--to", "prod", "--version", "2")
    assert line.startswith(
        "error: promote refused by gate 'stage-below': churn version 2 is not what staging pins"
    )


def test_gate_stage_below_refuses_a_model_the_stage_below_lacks(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    version = register(release_store, make_artifact)
    write_stack(tmp_path, "dev", {"fraud": register(release_store, make_artifact, name="fraud")})
    write_stack(tmp_path, "staging", {"churn": version})
    line = refused(capsys, tmp_path, "churn", "--to", "staging")
    assert line.startswith(
        f"error: promote refused by gate 'stage-below': {tmp_path}/Pulumi.dev.yaml does not"
        " configure model 'churn'"
    )


def test_gate_live_refuses_when_dev_serves_another_version(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    old, _ = three_stages(release_store, tmp_path, make_artifact)
    deploy(release_store, "churn", "dev", old.arn)
    line = refused(capsys, tmp_path, "churn", "--to", "staging")
    assert line == (
        "error: promote refused by gate 'live': dev endpoint churn-dev-1a2b3c4d serves"
        f" {old.arn}, not churn version 2 (sha256:{_short(tmp_path)})"
    )


def _short(stacks: Path) -> str:
    pin = pin_in_text((stacks / "Pulumi.dev.yaml").read_text(), "churn")
    assert pin is not None
    return pin.short_digest


def test_gate_live_refuses_when_dev_has_no_endpoint(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    three_stages(release_store, tmp_path, make_artifact)
    deploy(
        release_store,
        "churn-dev",
        "dev",
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/x/1",
    )
    line = refused(capsys, tmp_path, "churn", "--to", "staging")
    assert (
        line == "error: promote refused by gate 'live': dev has no endpoint for churn (churn-dev-*)"
    )


def test_gate_live_refuses_when_dev_is_not_in_service(
    release_store: Store, make_artifact: ArtifactFactory, tmp_path: Path, capsys
) -> None:
    _, new = three_stages(release_store, tmp_path, make_artifact)
    deploy(release_store, "churn", "dev", new.arn)
    sagemaker_backends[ACCOUNT][REGION].endpoints["churn-dev-1a2b3c4d"].endpoint_status = "Failed"
    line = refused(capsys, tmp_path, "churn", "--to", "staging")
    assert (
        line == "error: promote refused by gate 'live': dev endpoint churn-dev-1a2b3c4d is Failed"
    )


def test_gate_live_is_skipped_with_a_warning_when_dev_cannot_be_queried(
    release_store: Store,
    make_artifact: ArtifactFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
) -> None:
    _, new = three_stages(release_store, tmp_path, make_artifact)
    monkeypatch.setenv("MLSERVE_PROFILE_DEV", "ml-dev-readonly")

    code, _, err = release(capsys, "promote", "churn", "--to", "staging", "--stacks", str(tmp_path))

    assert code == 0
    assert err == (
        "warning: gate 'live' not checked: cannot query dev: ProfileNotFound: the AWS profile"
        " 'ml-dev-readonly' named by MLSERVE_PROFILE_DEV does not exist\n"
    )
    assert pinned(tmp_path, "staging") == new.arn


def test_require_live_refuses_when_dev_cannot_be_queried(
    release_store: Store,
    make_artifact: ArtifactFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
) -> None:
    three_stages(release_store, tmp_path, make_artifact)
    monkeypatch.setenv("MLSERVE_PROFILE_DEV", "ml-dev-readonly")
    line = refused(capsys, tmp_path, "churn", "--to", "staging", "--require-live")
    assert line == (
        "error: promote refused by gate 'live': cannot query dev: ProfileNotFound: the AWS"
        " profile 'ml-dev-readonly' named by MLSERVE_PROFILE_DEV does not exist"
    )


# --- command forms -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["approve", "churn", "--version", "4", "--reason", "ok"],
            {"model": "churn", "version": 4, "reason": "ok"},
        ),
        (["reject", "churn", "--version", "4", "--reason", "no"], {"reason": "no"}),
        (
            [
                "promote",
                "churn",
                "--to",
                "prod",
                "--version",
                "4",
                "--stacks",
                "stacks",
                "--dry-run",
            ],
            {
                "to": "prod",
                "version": 4,
                "stacks": "stacks",
                "dry_run": True,
                "require_live": False,
            },
        ),
        (
            ["promote", "churn", "--to", "staging", "--require-live"],
            {"version": None, "stacks": "stacks", "require_live": True},
        ),
        (
            ["rollback", "churn", "--env", "prod", "--stacks", "stacks"],
            {"env": "prod", "stacks": "stacks"},
        ),
        (["status"], {"model": None, "json": False, "check_deployed": None}),
        (["status", "churn", "--json"], {"model": "churn", "json": True}),
        (["status", "--check-deployed", "prod", "--stacks", "stacks"], {"check_deployed": "prod"}),
    ],
)
def test_release_command_forms_parse(argv: list[str], expected: dict[str, object]) -> None:
    from model_packaging.cli import build_parser

    args = vars(build_parser().parse_args(argv))
    assert args["command"] == argv[0]
    assert {key: args[key] for key in expected} == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["promote", "churn", "--to", "qa"],
        ["promote", "churn", "--to", "dev", "--version", "0"],
        ["rollback", "churn"],
        ["status", "--check-deployed", "shared"],
    ],
)
def test_bad_release_command_forms_are_usage_errors(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "usage: python -m model_packaging" in capsys.readouterr().err
