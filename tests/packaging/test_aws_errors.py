"""A wrong AWS set-up is named in one line by every command: an unknown profile, no or half the
credentials, no region, an endpoint that cannot be reached. The CLI runs in subprocesses with
the environment a user would have; nothing here reaches AWS."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from model_packaging.errors import PackagingError
from model_packaging.store import aws
from tests import helpers
from tests.packaging.conftest import ArtifactFactory, free_port

PROFILE = "error: ProfileNotFound: the AWS profile 'nope' named by AWS_PROFILE does not exist\n"
NO_CREDENTIALS = (
    "NoCredentialsError: no AWS credentials found: set AWS_ACCESS_KEY_ID and"
    " AWS_SECRET_ACCESS_KEY, or AWS_PROFILE to a configured profile\n"
)


def run_without_aws_setup(
    tmp_path: Path, *args: str, **variables: str
) -> subprocess.CompletedProcess[str]:
    """The CLI with no AWS set-up but ``variables`` (and an empty AWS config file)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLSERVE_"))}
    empty = tmp_path / "aws-config"
    empty.write_text("")
    env |= {
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
        **variables,
    }
    return helpers.run_cli(*args, env=env)


def assert_one_line(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert "Traceback" not in result.stderr
    assert (result.returncode, result.stdout, result.stderr) == (1, "", expected)


KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
REGION = {"AWS_DEFAULT_REGION": "us-east-1"}


@pytest.mark.parametrize(
    "command",
    [
        ["publish", "{artifact}", "--bucket", "artifact-store", "--quiet"],
        ["approve", "churn", "--version", "1", "--reason", "checked"],
        ["promote", "churn", "--to", "dev", "--dry-run"],
    ],
    ids=lambda command: command[0],
)
def test_an_unknown_profile_is_named_by_every_command(
    tmp_path: Path, make_artifact: ArtifactFactory, command: list[str]
) -> None:
    artifact = str(make_artifact())
    args = [arg.format(artifact=artifact) for arg in command]

    result = run_without_aws_setup(tmp_path, *args, AWS_PROFILE="nope", **REGION)

    assert_one_line(result, PROFILE)


def test_status_names_an_unknown_profile_for_every_stage_it_cannot_query(tmp_path: Path) -> None:
    """status reports what it cannot reach and goes on; the cause is on every row, and the
    command fails once the table is out."""
    result = run_without_aws_setup(tmp_path, "status", "churn", AWS_PROFILE="nope", **REGION)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: could not query dev, staging, prod")
    # One row per stage; a challenger's or shadow's row below it says "<variant>: unreachable".
    rows = [line for line in result.stdout.splitlines()[1:] if not line.endswith(": unreachable")]
    assert len(rows) == 3
    assert all(PROFILE.removeprefix("error: ").strip() in row for row in rows), rows


def test_check_deployed_fails_naming_an_unknown_profile(tmp_path: Path) -> None:
    result = run_without_aws_setup(
        tmp_path, "status", "--check-deployed", "dev", AWS_PROFILE="nope", **REGION
    )
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "error: cannot query dev: " + PROFILE.removeprefix("error: ").strip()
    )


@pytest.mark.parametrize(
    ("command", "action"),
    [
        (
            ["publish", "{artifact}", "--bucket", "artifact-store", "--quiet"],
            "cannot read model package group 'churn'",
        ),
        (
            ["approve", "churn", "--version", "1", "--reason", "checked"],
            "cannot read model package group 'churn'",
        ),
        (
            ["promote", "churn", "--to", "dev", "--dry-run"],
            "cannot list versions of model package group 'churn'",
        ),
    ],
    ids=lambda value: value[0] if isinstance(value, list) else "",
)
def test_missing_credentials_are_named_not_read_as_an_unreachable_service(
    tmp_path: Path, make_artifact: ArtifactFactory, command: list[str], action: str
) -> None:
    args = [arg.format(artifact=make_artifact()) for arg in command]

    result = run_without_aws_setup(tmp_path, *args, **REGION)

    assert_one_line(result, f"error: {action}: {NO_CREDENTIALS}")
    assert "reach" not in result.stderr


def test_half_the_credentials_are_named_with_the_missing_variable(
    tmp_path: Path, make_artifact: ArtifactFactory
) -> None:
    result = run_without_aws_setup(
        tmp_path,
        *["publish", str(make_artifact()), "--bucket", "artifact-store", "--quiet"],
        AWS_ACCESS_KEY_ID="testing",
        **REGION,
    )

    assert_one_line(
        result,
        "error: PartialCredentialsError: the AWS credentials in env lack AWS_SECRET_ACCESS_KEY:"
        " set it too, or remove the others\n",
    )


def test_no_region_is_named(tmp_path: Path, make_artifact: ArtifactFactory) -> None:
    for args in (
        ["publish", str(make_artifact()), "--bucket", "artifact-store", "--quiet"],
        ["approve", "churn", "--version", "1", "--reason", "checked"],
    ):
        result = run_without_aws_setup(tmp_path, *args, **KEYS)

        assert_one_line(
            result,
            "error: NoRegionError: no AWS region configured: set AWS_REGION or"
            " AWS_DEFAULT_REGION, or a region in the AWS profile\n",
        )


def test_an_endpoint_that_cannot_be_reached_names_the_class_and_the_url(
    tmp_path: Path, make_artifact: ArtifactFactory
) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = run_without_aws_setup(
        tmp_path,
        *["approve", "churn", "--version", "1", "--reason", "checked"],
        AWS_ENDPOINT_URL=url,
        AWS_MAX_ATTEMPTS="1",
        **KEYS,
        **REGION,
    )

    assert_one_line(
        result,
        "error: cannot read model package group 'churn': EndpointConnectionError: Could not"
        f' connect to the endpoint URL: "{url}/"\n',
    )


def test_session_names_the_variable_that_named_the_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(PackagingError) as raised:
        aws.session(profile="ml-prod", profile_variable="MLSERVE_PROFILE_PROD")
    assert str(raised.value) == (
        "ProfileNotFound: the AWS profile 'ml-prod' named by MLSERVE_PROFILE_PROD does not exist"
    )

    monkeypatch.setenv("AWS_DEFAULT_PROFILE", "gone")
    with pytest.raises(PackagingError, match="'gone' named by AWS_DEFAULT_PROFILE does not"):
        aws.connect()


def test_a_configured_profile_gives_working_clients(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.write_text("[profile ml]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "ml")
    monkeypatch.delenv("AWS_DEFAULT_REGION")

    clients = aws.connect()

    assert clients.region == "eu-west-1"
    assert aws.client(aws.session(region="us-west-2"), "sts").meta.region_name == "us-west-2"


def test_sessions_share_the_loaded_models_and_resolve_the_rest_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = aws.session()
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    second = aws.session(region="eu-west-1")

    assert first._session.get_component("data_loader") is second._session.get_component(
        "data_loader"
    )
    assert aws.client(first, "s3").meta.region_name == "us-east-1"
    s3 = aws.client(second, "s3")
    assert (s3.meta.region_name, s3.meta.endpoint_url) == ("eu-west-1", "http://127.0.0.1:1")
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert aws.client(aws.session(), "s3").meta.endpoint_url == "https://s3.amazonaws.com"
    monkeypatch.setenv("AWS_PROFILE", "gone")
    with pytest.raises(PackagingError, match="'gone' named by AWS_PROFILE does not exist"):
        aws.session()
