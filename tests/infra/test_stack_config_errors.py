"""Bad stack configs: every problem reported at once, by key path, before anything is registered."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any, cast

import pulumi
import pydantic
import pytest

import infra.review.plan
import infra.settings.schema
from infra.review.mocks import RecordingMonitor
from infra.review.plan import evaluate, evaluate_entry_point
from infra.settings import (
    LOG_RETENTION_DAYS,
    ModelSettings,
    SettingsError,
    decode_runtime_config,
    load_settings,
    read_stack_file,
)
from tests.infra.plan_checks import THREE_PROBLEMS, three_problems

Config = dict[str, Any]


def mutated(
    stack_configs: Mapping[str, Config], stack: str, mutate: Callable[[Config], None]
) -> Config:
    config = copy.deepcopy(stack_configs[stack])
    mutate(config)
    return config


def churn(config: Config) -> dict[str, Any]:
    return cast(dict[str, Any], config["mlserve:models"]["churn"])


def retention_100(config: Config) -> None:
    churn(config)["log_retention_days"] = 100


def serverless_with_instance_type(config: Config) -> None:
    config["mlserve:models"]["fraud"]["instance_type"] = "ml.m5.large"


def canary_60(config: Config) -> None:
    churn(config)["deployment"]["canary_percent"] = 60


def short_digest(config: Config) -> None:
    churn(config)["version"]["digest"] = "sha256:abc123"


def fraud_package_for_churn(config: Config) -> None:
    churn(config)["version"]["package"] = (
        "arn:aws:sagemaker:us-east-1:111111111111:model-package/fraud/2"
    )


def unknown_namespace(config: Config) -> None:
    config["mlsrve:owner"] = config.pop("mlserve:owner")


def unnamespaced_key(config: Config) -> None:
    config["owner"] = config.pop("mlserve:owner")


def no_region(config: Config) -> None:
    del config["aws:region"]


def region_in_the_project_namespace(config: Config) -> None:
    config["mlserve:region"] = "eu-west-1"


def prod_all_at_once(config: Config) -> None:
    churn(config)["deployment"] = {"strategy": "all_at_once"}


def prod_without_subscriptions(config: Config) -> None:
    config["mlserve:alerts"] = {"subscriptions": []}


def serverless_churn(config: Config) -> dict[str, Any]:
    """Prod's churn model made serverless, with the settings serverless cannot honour."""
    model = churn(config)
    for key in ("instance_type", "scaling"):
        model.pop(key)
    model["serverless"] = {"memory_mb": 2048}
    model["deployment"] = {"strategy": "all_at_once"}
    return model


def serverless_with_instance_features(config: Config) -> None:
    model = serverless_churn(config)
    model["network"] = {"isolation": True}
    model["data_capture"] = {"enabled": True}


def inf1_canary(config: Config) -> None:
    churn(config)["instance_type"] = "ml.inf1.xlarge"


def short_reader_account(config: Config) -> None:
    config["mlserve:artifact_store"]["reader_accounts"][0] = "22222222222"


CASES = [
    ("prod", three_problems, THREE_PROBLEMS),
    (
        "prod",
        retention_100,
        [
            "models.churn.log_retention_days: must be one of CloudWatch's periods: "
            + ", ".join(map(str, LOG_RETENTION_DAYS))
        ],
    ),
    (
        "dev",
        serverless_with_instance_type,
        ["models.fraud.serverless: a serverless model must not also set instance_type"],
    ),
    (
        "prod",
        canary_60,
        ["models.churn.deployment.canary_percent: must be less than or equal to 50"],
    ),
    (
        "prod",
        short_digest,
        ["models.churn.version.digest: must be sha256: followed by 64 lowercase hex digits"],
    ),
    (
        "prod",
        fraud_package_for_churn,
        ["models.churn.version.package: belongs to model package group 'fraud', not 'churn'"],
    ),
    (
        "prod",
        unknown_namespace,
        [
            "mlsrve:owner: unknown namespace 'mlsrve' (did you mean mlserve:?)",
            "owner: is required",
        ],
    ),
    (
        "prod",
        unnamespaced_key,
        ["owner: must be namespaced, e.g. mlserve:owner", "owner: is required"],
    ),
    ("prod", no_region, ["aws:region: is required"]),
    (
        "prod",
        region_in_the_project_namespace,
        ["region: unknown key (the setting is aws:region)"],
    ),
    (
        "prod",
        prod_all_at_once,
        ["models.churn.deployment.strategy: prod requires canary or linear traffic shifting"],
    ),
    (
        "prod",
        prod_without_subscriptions,
        ["alerts.subscriptions: prod needs at least one subscription"],
    ),
    (
        "prod",
        serverless_with_instance_features,
        [
            "models.churn.network.isolation: serverless endpoints cannot use network isolation",
            "models.churn.challenger: serverless endpoints serve a single production variant",
            "models.churn.data_capture.enabled: serverless endpoints cannot capture data",
        ],
    ),
    (
        "prod",
        inf1_canary,
        [
            "models.churn.deployment.strategy: "
            "canary and linear shifting are not available on ml.inf1 instances"
        ],
    ),
    (
        "shared",
        short_reader_account,
        ["artifact_store.reader_accounts[0]: must be a 12-digit account id"],
    ),
]


@pytest.mark.parametrize(
    ("base", "mutate", "expected"), CASES, ids=[case[1].__name__ for case in CASES]
)
def test_settings_report_exact_problems(stack_configs, base, mutate, expected):
    config = mutated(stack_configs, base, mutate)
    with pytest.raises(SettingsError) as raised:
        load_settings(config, base)
    assert raised.value.problems == expected


def test_stack_files_are_valid(stack_configs, stack):
    load_settings(stack_configs[stack], stack)


@pytest.fixture
def monitors(monkeypatch) -> list[RecordingMonitor]:
    """Every monitor ``evaluate`` creates, to see what reached the (mock) engine."""
    created: list[RecordingMonitor] = []

    class Spy(RecordingMonitor):
        def __init__(self, mocks: Any) -> None:
            super().__init__(mocks)
            created.append(self)

    monkeypatch.setattr(infra.review.plan, "RecordingMonitor", Spy)
    return created


def test_invalid_config_registers_nothing(stack_configs, monitors):
    config = mutated(stack_configs, "prod", three_problems)
    plan = None
    with pytest.raises(SettingsError) as raised:
        plan = evaluate(config, "prod")
    assert plan is None
    assert raised.value.problems == THREE_PROBLEMS
    assert [r.urn for m in monitors for r in m.registrations] == []


def test_program_refuses_an_invalid_config_before_registering(stack_configs, monitors):
    """``__main__.py`` checks the config itself, as under ``pulumi up``, where no plan runs."""
    config = mutated(stack_configs, "prod", three_problems)
    with pytest.raises(pulumi.RunError) as raised:
        evaluate_entry_point(config, "prod", "us-east-1")
    assert [line.strip() for line in str(raised.value).splitlines()[1:]] == THREE_PROBLEMS
    assert len(monitors) == 1
    assert [r.urn for r in monitors[0].registrations] == []


def test_an_unknown_environment_is_named(stack_configs):
    config = {**stack_configs["prod"], "mlserve:environment": "qa"}
    with pytest.raises(SettingsError) as raised:
        load_settings(config, "prod")
    assert raised.value.problems == [
        "environment: must be one of shared, dev, staging, prod, got 'qa'"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("config: [unclosed\n", ["not valid YAML: "]),
        ("config: [a, b]\n", ["config: must be a mapping of keys to values"]),
        (
            "config:\n  mlserve:owner: ml: platform\n",
            [
                "not valid YAML: line 2, column 20: mapping values are not allowed here",
                "    2 |   mlserve:owner: ml: platform",
                "      |                    ^",
            ],
        ),
        (
            "config:\n  mlserve:models:\n    churn: {}\n    fraud: {}\n    churn: {}\n",
            [
                "models.churn: duplicate key 'churn' at lines 3 and 5",
                "    5 |     churn: {}",
                "      |     ^",
            ],
        ),
    ],
)
def test_unreadable_stack_files_are_named(tmp_path, text, expected):
    """The problem is its first line; a caret under the place follows it."""
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError) as raised:
        read_stack_file(path)
    assert raised.value.source == str(path)
    assert len(raised.value.problems) == 1
    lines = raised.value.problems[0].splitlines()
    assert lines[0].startswith(expected[0])
    assert lines[1:] == expected[1:]


def as_pulumi_hands_it(config: Config) -> dict[str, str]:
    """Config as the program receives it under ``pulumi up``: structured values as JSON."""
    return {
        key: json.dumps(value) if isinstance(value, dict | list) else str(value)
        for key, value in config.items()
    }


def test_the_program_reads_pulumis_config_as_the_plan_reads_the_file(stack_configs, stack):
    config = decode_runtime_config(as_pulumi_hands_it(stack_configs[stack]))
    assert load_settings(config, stack) == load_settings(stack_configs[stack], stack)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2", "must be a whole number, not a string ('2'); write it without quotes"),
        (True, "must be a whole number, not a boolean (true)"),
        (2.5, "must be a whole number, got 2.5"),
    ],
)
def test_a_number_is_a_number_in_the_file_and_under_pulumi(stack_configs, value, expected):
    config = mutated(
        stack_configs, "prod", lambda c: churn(c)["scaling"].update(min_instances=value)
    )
    for given in (config, decode_runtime_config(as_pulumi_hands_it(config))):
        with pytest.raises(SettingsError) as raised:
            load_settings(given, "prod")
        assert raised.value.problems == [f"models.churn.scaling.min_instances: {expected}"]


@pytest.mark.parametrize("key", sorted(ModelSettings.model_fields))
def test_problems_never_name_a_class_of_the_schema(stack_configs, key):
    """People know keys, not ``ModelSettings``: a section of the wrong type says what it is."""
    classes = {
        name
        for name, value in vars(infra.settings.schema).items()
        if isinstance(value, type) and issubclass(value, pydantic.BaseModel)
    }
    config = mutated(stack_configs, "prod", lambda c: churn(c).update({key: [3]}))
    with pytest.raises(SettingsError) as raised:
        load_settings(config, "prod")
    [problem] = raised.value.problems
    assert problem.startswith(f"models.churn.{key}: must be ")
    assert not [name for name in classes if name in problem]
