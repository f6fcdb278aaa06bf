"""prune: the superseded endpoint configurations and models of a stage, listed, then deleted.

moto in-process stands in for the stage's account: the test creates what ``pulumi up`` leaves
over several deployments (tagged configurations and models, an endpoint on one of them) and
some that are not the program's, then checks what prune lists and deletes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from model_packaging.errors import PackagingError
from model_packaging.release import live
from model_packaging.release.prune import prune
from tests.helpers import release
from tests.packaging.conftest import ACCOUNT, Published, Store, write_stack

PIN = Published(
    "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3", "sha256:" + "3" * 64
)


def tags(model: str | None, environment: str | None) -> list[dict[str, str]]:
    found = {"model": model, "environment": environment, "owner": "ml-platform"}
    return [{"Key": key, "Value": value} for key, value in found.items() if value is not None]


def make_model(store: Store, name: str, model: str | None, environment: str | None) -> None:
    store.sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/endpoint",
        PrimaryContainer={"ModelPackageName": PIN.arn},
        Tags=tags(model, environment),
    )
    time.sleep(0.002)  # moto's creation times are in milliseconds: keep them apart


def make_config(
    store: Store, name: str, models: list[str], model: str | None, environment: str | None
) -> None:
    store.sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": f"variant-{i}",
                "ModelName": model_name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
            for i, model_name in enumerate(models)
        ],
        Tags=tags(model, environment),
    )
    time.sleep(0.002)


def deployment(store: Store, config: str, model_name: str, environment: str = "dev") -> None:
    """What one `pulumi up` of churn leaves: its Model, then the configuration naming it."""
    make_model(store, model_name, "churn", environment)
    make_config(store, config, [model_name], "churn", environment)


@pytest.fixture
def account(release_store: Store) -> Iterator[Store]:
    """Over time, oldest first (names deliberately out of alphabetical order):

    - an orphan Model of churn in dev, which no configuration names any more;
    - four deployments of churn in dev; the endpoint runs the third; the fourth is newer
      (a deployment in progress, or one that rolled back);
    - a churn Model whose configuration does not exist yet (a deployment under way);
    - fraud in dev, no endpoint: two deployments;
    - staging's churn configuration, which names dev's oldest Model; and resources without
      the program's tags.
    """
    store = release_store
    make_model(store, "churn-orphan", "churn", "dev")
    deployment(store, "churn-config-d", "churn-model-d")
    deployment(store, "churn-config-b", "churn-model-b")
    deployment(store, "churn-config-c", "churn-model-c")
    deployment(store, "churn-config-a", "churn-model-a")
    store.sagemaker.create_endpoint(
        EndpointName="churn-dev-1a2b3c4d", EndpointConfigName="churn-config-c"
    )
    make_model(store, "churn-model-next", "churn", "dev")
    make_model(store, "fraud-model-1", "fraud", "dev")
    make_config(store, "fraud-config-1", ["fraud-model-1"], "fraud", "dev")
    make_model(store, "fraud-model-2", "fraud", "dev")
    make_config(store, "fraud-config-2", ["fraud-model-2"], "fraud", "dev")
    make_model(store, "churn-staging-model", "churn", "staging")
    make_config(
        store, "churn-staging-config", ["churn-staging-model", "churn-model-d"], "churn", "staging"
    )
    make_model(store, "someone-elses-model", None, None)
    make_config(store, "someone-elses-config", ["someone-elses-model"], None, "dev")
    yield store


@pytest.fixture
def stacks(tmp_path: Path) -> Path:
    folder = tmp_path / "stacks"
    write_stack(folder, "dev", {"churn": PIN})
    return folder


def names(sagemaker: Any) -> tuple[set[str], set[str]]:
    configs = {
        c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]
    }
    models = {m["ModelName"] for m in sagemaker.list_models()["Models"]}
    return configs, models


SUPERSEDED_CONFIGS = {"churn-config-d", "fraud-config-1"}
# churn-model-d stays: staging's configuration names it.
SUPERSEDED_MODELS = {"churn-orphan", "fraud-model-1"}


def test_a_dry_run_lists_and_deletes_nothing(account: Store, stacks: Path) -> None:
    before = names(account.sagemaker)

    plan = prune("dev", stacks=stacks)

    assert names(account.sagemaker) == before
    assert {item.name for item in plan.doomed} == SUPERSEDED_CONFIGS | SUPERSEDED_MODELS
    why = {item.name: item.keep for item in plan.configs}
    assert why == {
        "churn-config-a": "newer than the configuration in use",
        "churn-config-c": "in use by churn-dev-1a2b3c4d",
        "churn-config-b": "the one before the one in use",
        "churn-config-d": None,
        "fraud-config-2": "the newest; no endpoint uses any",
        "fraud-config-1": None,
    }
    # Newest first within each model.
    assert [item.name for item in plan.configs] == list(why)
    kept_models = {item.name: item.keep for item in plan.models if item.keep}
    assert kept_models["churn-model-next"] == (
        "newer than every configuration of its model that is kept"
    )
    assert kept_models["churn-model-d"] == "named by a configuration that is kept"
    assert "churn-staging-model" not in kept_models  # another environment's: not considered
    assert plan.summary() == (
        "dry run: would delete 2 endpoint configurations and 2 models in dev (us-east-1),"
        " keeping per model the configuration in use and the 1 before it; run again with"
        " --delete to delete them"
    )


def test_keep_sets_how_many_superseded_configurations_stay(account: Store, stacks: Path) -> None:
    # The in-use configuration and the newer one stay whatever --keep says; of a model without
    # an endpoint, --keep 0 keeps nothing.
    assert {i.name for i in prune("dev", stacks=stacks, keep=0).doomed if i.kind != "model"} == {
        "churn-config-b",
        "churn-config-d",
        "fraud-config-1",
        "fraud-config-2",
    }
    assert not [i for i in prune("dev", stacks=stacks, keep=5).doomed if i.kind != "model"]


def test_configurations_are_ordered_by_creation_time_not_as_listed(
    account: Store, stacks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS promises no order: the listing is reversed here, the result must not change."""
    client = live.environment_client

    class Reversed:
        """The client, with every listing's items in the opposite order."""

        def __init__(self, sagemaker: Any) -> None:
            self._sagemaker = sagemaker

        def __getattr__(self, name: str) -> Any:
            return getattr(self._sagemaker, name)

        def get_paginator(self, operation: str) -> Any:
            paginator = self._sagemaker.get_paginator(operation)

            class Backwards:
                def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
                    pages = list(paginator.paginate(**kwargs))
                    return [
                        {k: v[::-1] if isinstance(v, list) else v for k, v in page.items()}
                        for page in reversed(pages)
                    ]

            return Backwards()

    monkeypatch.setattr(live, "environment_client", lambda *a, **k: Reversed(client(*a, **k)))
    doomed = {item.name for item in prune("dev", stacks=stacks).doomed}
    assert doomed == SUPERSEDED_CONFIGS | SUPERSEDED_MODELS


def test_the_command_lists_then_deletes_exactly_the_superseded(
    account: Store, stacks: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configs, models = names(account.sagemaker)
    status, out, err = release(capsys, "prune", "--env", "dev", "--stacks", str(stacks))
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("keep endpoint-config churn-config-a (churn, created 20")
    assert lines[0].endswith("): newer than the configuration in use")
    assert [line.split()[:3] for line in lines if line.startswith("delete")] == [
        ["delete", "endpoint-config", "churn-config-d"],
        ["delete", "endpoint-config", "fraud-config-1"],
        ["delete", "model", "churn-orphan"],
        ["delete", "model", "fraud-model-1"],
    ]
    assert err.startswith("dry run: would delete 2 endpoint configurations and 2 models")
    assert names(account.sagemaker) == (configs, models)

    status, out, err = release(capsys, "prune", "--env", "dev", "--stacks", str(stacks), "--delete")
    assert status == 0
    assert "deleted endpoint-config churn-config-d (churn, created " in out
    assert err == "deleted 2 endpoint configurations and 2 models in dev (us-east-1)\n"
    assert names(account.sagemaker) == (configs - SUPERSEDED_CONFIGS, models - SUPERSEDED_MODELS)
    # Run again: nothing left to delete.
    assert prune("dev", stacks=stacks, delete=True).doomed == []


def test_an_environment_without_its_stack_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="no such stack file"):
        prune("dev", stacks=tmp_path)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--keep", "-1"], "argument --keep: must be a whole number, 0 or more, got '-1'"),
        (["--dry-run", "--delete"], "argument --delete: not allowed with argument --dry-run"),
        (["--env", "qa"], "argument --env: invalid choice: 'qa'"),
    ],
)
def test_bad_prune_arguments_are_usage_errors(
    args: list[str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from model_packaging.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["prune", "--env", "dev", *args])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err.startswith("usage: python -m model_packaging prune ")
    assert problem in err.splitlines()[-1]
