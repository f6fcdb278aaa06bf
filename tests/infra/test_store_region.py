"""An environment whose region is not the artifact store's is refused.

"The model artifacts must be in an S3 bucket that is in the same region as the model or endpoint
you are creating" (botocore sagemaker ``ContainerDefinition.ModelDataUrl``). The offline plan
compares the stack file's region with the shared stack file's; ``pulumi up`` compares it with the
region the shared stack exports, before registering anything that reads the store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

import pytest

from infra.review import plan as offline
from infra.review.plan import evaluate, run_under_mocks, stack_file
from infra.settings import EnvironmentSettings, SettingsError, load_settings

OTHER_REGION = "eu-west-1"


def in_region(config: Mapping[str, Any], region: str) -> dict[str, Any]:
    """The stack moved to ``region``, its pins with it (a pin must be in the stack's region)."""
    moved = json.loads(json.dumps(dict(config)).replace(":us-east-1:", f":{region}:"))
    moved["aws:region"] = region
    return cast(dict[str, Any], moved)


def test_the_offline_plan_refuses_an_environment_in_another_region(
    stack_configs: Mapping[str, dict[str, Any]],
) -> None:
    with pytest.raises(SettingsError) as caught:
        evaluate(in_region(stack_configs["dev"], OTHER_REGION), "dev")
    assert caught.value.problems == [
        f"aws:region: {OTHER_REGION} is not the artifact store's region, us-east-1 "
        f"({stack_file('shared')}): SageMaker reads model artifacts only from a bucket in the "
        "endpoint's region"
    ]


def test_an_environment_in_the_stores_region_plans(
    stack_configs: Mapping[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same move, with the shared stack file moved too, plans.
    monkeypatch.setattr(offline, "shared_stack_region", lambda: OTHER_REGION)
    plan = evaluate(in_region(stack_configs["dev"], OTHER_REGION), "dev")
    assert plan.resources


def test_the_program_refuses_a_store_in_another_region_before_reading_it(
    stack_configs: Mapping[str, dict[str, Any]],
) -> None:
    # As pulumi up runs it: the shared stack exports a store in another region than this one.
    from infra import program

    config = stack_configs["dev"]
    settings = load_settings(config, "dev")
    assert isinstance(settings, EnvironmentSettings)
    with pytest.raises(Exception, match="is in eu-west-1, this stack in us-east-1") as caught:
        run_under_mocks(config, "dev", "us-east-1", lambda: program.run(settings), OTHER_REGION)
    assert settings.shared_stack in str(caught.value)
