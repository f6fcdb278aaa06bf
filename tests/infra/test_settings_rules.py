"""The rules real AWS and the provider enforce, refused in the stack config with the key to change.

Each test starts from a stack file as written, changes what the rule is about, and asserts the
exact problems ``load_settings`` reports.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import pytest

from infra.settings import (
    Deployment,
    EnvironmentSettings,
    SettingsError,
    load_settings,
)

Config = dict[str, Any]
PROVIDER_WAIT = "more than the 3000 s that fit in the provider's 60-minute wait for the endpoint"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def problems(config: Config, stack: str) -> list[str]:
    try:
        load_settings(config, stack)
    except SettingsError as exc:
        return exc.problems
    return []


def model(config: Config, name: str) -> dict[str, Any]:
    return cast(dict[str, Any], config["mlserve:models"][name])


@pytest.fixture
def configs(stack_configs: Mapping[str, Config]) -> dict[str, Config]:
    """A copy of every stack file's config, free to change."""
    return {stack: copy.deepcopy(stack_configs[stack]) for stack in stack_configs}


# --- variants ---------------------------------------------------------------------------------


def test_shadow_excludes_challenger(configs):
    prod = configs["prod"]
    model(prod, "fraud")["challenger"] = {
        "version": copy.deepcopy(model(prod, "fraud")["shadow"]["version"]),
        "traffic_percent": 10,
    }
    assert problems(prod, "prod") == [
        "models.fraud.shadow: a shadow variant needs a single production variant; "
        "remove models.fraud.challenger or the shadow"
    ]


# --- traffic steps ----------------------------------------------------------------------------


def test_canary_step_is_at_least_one_instance(configs):
    prod = configs["prod"]
    model(prod, "churn")["deployment"]["canary_percent"] = 10
    assert problems(prod, "prod") == [
        "models.churn.deployment.canary_percent: 10% of 2 instances (scaling.min_instances) is "
        "less than one instance; raise scaling.min_instances to 10 or canary_percent to 50"
    ]


def test_linear_step_is_at_least_one_instance(configs):
    staging = configs["staging"]
    model(staging, "churn")["scaling"] = {"min_instances": 1, "max_instances": 2}
    assert problems(staging, "staging") == [
        "models.churn.deployment.linear_step_percent: 50% of 1 instance (scaling.min_instances) "
        "is less than one instance; raise scaling.min_instances to 2"
    ]


def test_step_is_rounded_down_to_whole_instances(configs):
    prod = configs["prod"]
    churn = model(prod, "churn")
    churn["scaling"]["min_instances"] = 3
    churn["deployment"]["canary_percent"] = 34  # 1.02 instances
    assert problems(prod, "prod") == []
    churn["deployment"]["canary_percent"] = 33  # 0.99 instances
    assert problems(prod, "prod") == [
        "models.churn.deployment.canary_percent: 33% of 3 instances (scaling.min_instances) is "
        "less than one instance; raise scaling.min_instances to 4 or canary_percent to 34"
    ]


def test_linear_step_percent_is_10_to_50(configs):
    prod = configs["prod"]
    model(prod, "fraud")["deployment"]["linear_step_percent"] = 5
    assert problems(prod, "prod") == [
        "models.fraud.deployment.linear_step_percent: must be greater than or equal to 10"
    ]


# --- worst-case rollout -----------------------------------------------------------------------


def test_worst_case_rollout_fits_the_provider_wait(configs):
    prod = configs["prod"]
    model(prod, "churn")["deployment"]["wait_seconds"] = 1200
    assert problems(prod, "prod") == [
        "models.churn.deployment: the worst-case rollout takes 3900 s (900 s provisioning + "
        f"2 waits of 1200 s + 600 s termination wait), {PROVIDER_WAIT}; lower "
        "deployment.wait_seconds or deployment.termination_wait_seconds"
    ]


def test_worst_case_linear_rollout_names_the_step(configs):
    prod = configs["prod"]
    model(prod, "fraud")["deployment"]["wait_seconds"] = 1200
    assert problems(prod, "prod") == [
        "models.fraud.deployment: the worst-case rollout takes 3600 s (900 s provisioning + "
        f"2 waits of 1200 s + 300 s termination wait), {PROVIDER_WAIT}; lower "
        "deployment.wait_seconds or deployment.termination_wait_seconds, or raise "
        "deployment.linear_step_percent"
    ]


def test_worst_case_all_at_once_without_guardrails_counts(configs):
    dev = configs["dev"]
    model(dev, "churn")["deployment"] = {"wait_seconds": 2400, "termination_wait_seconds": 600}
    assert problems(dev, "dev") == [
        "models.churn.deployment: the worst-case rollout takes 3900 s (900 s provisioning + "
        f"1 wait of 2400 s + 600 s termination wait), {PROVIDER_WAIT}; lower "
        "deployment.wait_seconds or deployment.termination_wait_seconds"
    ]


def test_worst_case_serverless_rollout_is_provisioning(stack_settings):
    dev = stack_settings["dev"]
    assert isinstance(dev, EnvironmentSettings)
    fraud = dev.models["fraud"]
    assert fraud.serverless is not None
    assert fraud.deployment.worst_case_rollout_seconds() == 15 * 60


def test_worst_case_linear_rollout_counts_steps_of_whole_instances():
    deployment = Deployment(
        strategy="linear", linear_step_percent=30, wait_seconds=300, termination_wait_seconds=0
    )
    # 30% of 5 instances is one instance per step: five steps, not ceil(100 / 30) = 4.
    assert deployment.wait_intervals() == 4
    assert deployment.wait_intervals(5) == 5
    assert deployment.worst_case_rollout_seconds(5) == 900 + 5 * 300


# --- rollback alarms --------------------------------------------------------------------------


def test_rollback_alarms_fire_within_a_step(configs):
    prod = configs["prod"]
    model(prod, "churn")["alarms"]["evaluation_periods"] = 10
    assert problems(prod, "prod") == [
        "models.churn.deployment.wait_seconds: 600 s is shorter than a rollback alarm takes to "
        "fire, 720 s (alarms.period_seconds 60 x alarms.evaluation_periods 10 + 120 s for "
        "CloudWatch to receive and evaluate the data), so a bad release is never rolled back; "
        "raise deployment.wait_seconds to 720 or shorten alarms.period_seconds or "
        "alarms.evaluation_periods"
    ]


def test_rollback_alarms_need_no_wait_without_auto_rollback(configs):
    staging = configs["staging"]
    deployment = model(staging, "churn")["deployment"]
    deployment["wait_seconds"] = 60
    assert problems(staging, "staging") == [
        "models.churn.deployment.wait_seconds: 60 s is shorter than a rollback alarm takes to "
        "fire, 300 s (alarms.period_seconds 60 x alarms.evaluation_periods 3 + 120 s for "
        "CloudWatch to receive and evaluate the data), so a bad release is never rolled back; "
        "raise deployment.wait_seconds to 300 or shorten alarms.period_seconds or "
        "alarms.evaluation_periods"
    ]
    deployment["auto_rollback"] = False
    assert problems(staging, "staging") == []


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_every_environments_defaults_pass(configs, environment):
    """A model that sets nothing but its version passes every rule in every environment."""
    config = configs[environment]
    version = copy.deepcopy(model(config, "churn")["version"])
    config["mlserve:models"] = {"churn": {"version": version}}
    assert problems(config, environment) == []


# --- execution timeout ------------------------------------------------------------------------


def test_execution_timeout_exceeds_total_wait(configs):
    prod = configs["prod"]
    model(prod, "churn")["deployment"]["maximum_execution_timeout_seconds"] = 1800
    assert problems(prod, "prod") == [
        "models.churn.deployment.maximum_execution_timeout_seconds: 1800 s is not more than the "
        "update's total wait, 1800 s (2 waits of 600 s + 600 s termination wait); set it above "
        "1800"
    ]


def test_execution_timeout_defaults_to_the_worst_case_rollout(stack_settings):
    prod = stack_settings["prod"]
    assert isinstance(prod, EnvironmentSettings)
    for name, settings in prod.models.items():
        assert settings.scaling is not None
        deployment = settings.deployment
        worst = deployment.worst_case_rollout_seconds(settings.scaling.min_instances)
        assert deployment.maximum_execution_timeout_seconds == max(600, worst), name


def test_execution_timeout_default_counts_steps_without_the_fleet(configs):
    """The default counts ceil(100 / percent) linear steps; whole instances may need more."""
    staging = configs["staging"]
    churn = model(staging, "churn")
    churn["scaling"] = {"min_instances": 19, "max_instances": 20}
    churn["deployment"].update(
        linear_step_percent=10, wait_seconds=100, termination_wait_seconds=0, auto_rollback=False
    )
    assert problems(staging, "staging") == [
        "models.churn.deployment.maximum_execution_timeout_seconds: the default, 1900 s, is not "
        "more than the update's total wait, 1900 s (19 waits of 100 s + 0 s termination wait); "
        "set it above 1900"
    ]
    churn["deployment"]["maximum_execution_timeout_seconds"] = 2800
    assert problems(staging, "staging") == []


@pytest.mark.parametrize(
    ("timeout", "message"),
    [
        (599, "must be greater than or equal to 600"),
        (14401, "must be less than or equal to 14400"),
    ],
)
def test_execution_timeout_is_600_to_14400(configs, timeout, message):
    prod = configs["prod"]
    model(prod, "churn")["deployment"]["maximum_execution_timeout_seconds"] = timeout
    assert problems(prod, "prod") == [
        f"models.churn.deployment.maximum_execution_timeout_seconds: {message}"
    ]


def test_execution_timeout_not_derived_from_an_invalid_wait(configs):
    prod = configs["prod"]
    model(prod, "churn")["deployment"]["wait_seconds"] = -1
    assert problems(prod, "prod") == [
        "models.churn.deployment.wait_seconds: must be greater than or equal to 0"
    ]


# --- alarms -----------------------------------------------------------------------------------


def test_cpu_alarm_is_a_share_of_the_whole_instance(configs):
    prod = configs["prod"]
    model(prod, "churn")["alarms"]["cpu_utilization_percent"] = 320
    assert problems(prod, "prod") == [
        "models.churn.alarms.cpu_utilization_percent: must be less than or equal to 100"
    ]


# --- schedules --------------------------------------------------------------------------------


def test_schedule_timezone_is_iana(configs):
    prod = configs["prod"]
    model(prod, "churn")["scaling"]["schedules"][0]["timezone"] = "Europe/Londn"
    assert problems(prod, "prod") == [
        "models.churn.scaling.schedules[0].timezone: 'Europe/Londn' is not an IANA time zone "
        "name, e.g. Europe/London or UTC"
    ]


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (
            "every day",
            "must be at(yyyy-mm-ddThh:mm:ss), rate(value unit) or cron(minutes hours "
            "day-of-month month day-of-week year), got 'every day'",
        ),
        (
            "at(2026-13-01T07:00:00)",
            "must be at(yyyy-mm-ddThh:mm:ss) with a real date and time, "
            "got 'at(2026-13-01T07:00:00)'",
        ),
        (
            "at(2026-12-01 07:00)",
            "must be at(yyyy-mm-ddThh:mm:ss) with a real date and time, got 'at(2026-12-01 07:00)'",
        ),
        (
            "rate(0 minutes)",
            "must be rate(value unit) with a positive integer value and a unit of minute(s), "
            "hour(s) or day(s), got 'rate(0 minutes)'",
        ),
        (
            "rate(5 weeks)",
            "must be rate(value unit) with a positive integer value and a unit of minute(s), "
            "hour(s) or day(s), got 'rate(5 weeks)'",
        ),
        (
            "rate(5 minute)",
            "the unit is singular with 1 and plural otherwise: rate(5 minutes), "
            "not 'rate(5 minute)'",
        ),
        (
            "rate(1 hours)",
            "the unit is singular with 1 and plural otherwise: rate(1 hour), not 'rate(1 hours)'",
        ),
        (
            "cron(0 7 ? * MON-FRI)",
            "must be cron(minutes hours day-of-month month day-of-week year), six fields, "
            "got 'cron(0 7 ? * MON-FRI)'",
        ),
        (
            "cron(0 7 * * MON-FRI *)",
            "'cron(0 7 * * MON-FRI *)': exactly one of day-of-month and day-of-week must be ? "
            "(e.g. cron(0 7 ? * MON-FRI *) or cron(0 7 1 * ? *))",
        ),
        (
            "cron(0 7 ? * ? *)",
            "'cron(0 7 ? * ? *)': exactly one of day-of-month and day-of-week must be ? "
            "(e.g. cron(0 7 ? * MON-FRI *) or cron(0 7 1 * ? *))",
        ),
    ],
)
def test_schedule_expression_has_the_shape_application_auto_scaling_takes(
    configs, schedule, message
):
    prod = configs["prod"]
    model(prod, "churn")["scaling"]["schedules"][0]["schedule"] = schedule
    assert problems(prod, "prod") == [f"models.churn.scaling.schedules[0].schedule: {message}"]


@pytest.mark.parametrize(
    "schedule",
    [
        "at(2026-12-24T18:00:00)",
        "rate(1 day)",
        "rate(15 minutes)",
        "cron(0 7 1 * ? *)",
        "cron(0/15 8-18 ? JAN-MAR MON#1 2027)",
    ],
)
def test_schedule_expressions_of_each_shape_pass(configs, schedule):
    prod = configs["prod"]
    model(prod, "churn")["scaling"]["schedules"][0]["schedule"] = schedule
    assert problems(prod, "prod") == []


# --- alert subscriptions ----------------------------------------------------------------------


def test_sqs_subscriptions_are_refused(configs):
    prod = configs["prod"]
    prod["mlserve:alerts"]["subscriptions"].append(
        {"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-1:444444444444:ml-alerts"}
    )
    assert problems(prod, "prod") == [
        "alerts.subscriptions[2].protocol: sqs needs a queue policy letting the alert topic send "
        "to the queue, which only the queue's owner can set; subscribe a lambda function or an "
        "https endpoint instead"
    ]


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("arn:aws:lambda:us-east-1:444444444444:function:page-oncall", []),
        ("arn:aws:lambda:eu-west-1:444444444444:function:page-oncall:live", []),
        ("arn:aws-us-gov:lambda:us-gov-west-1:444444444444:function:page_oncall", []),
        (
            "arn:aws:lambda:us-east-1:444444444444:page-oncall",
            [
                "alerts.subscriptions[2].endpoint: must be a Lambda function ARN, "
                "arn:<partition>:lambda:<region>:<account>:function:<name>"
            ],
        ),
        (
            "arn:aws:sns:us-east-1:444444444444:function:page-oncall",
            [
                "alerts.subscriptions[2].endpoint: must be a Lambda function ARN, "
                "arn:<partition>:lambda:<region>:<account>:function:<name>"
            ],
        ),
    ],
)
def test_lambda_subscription_is_a_function_arn(configs, endpoint, expected):
    prod = configs["prod"]
    prod["mlserve:alerts"]["subscriptions"].append({"protocol": "lambda", "endpoint": endpoint})
    assert problems(prod, "prod") == expected


# --- artifacts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://mlserve-artifacts-111111111111/models/churn/3/model.tar.gz", []),
        (
            "s3://mlserve-artifacts-111111111111/models/fraud/2/model.tar.gz",
            [
                "models.churn.version.artifact_uri: must lie under s3://<bucket>/models/churn/, "
                "the only prefix the model's execution role can read"
            ],
        ),
        (
            "s3://mlserve-artifacts-111111111111/churn/model.tar.gz",
            [
                "models.churn.version.artifact_uri: must lie under s3://<bucket>/models/churn/, "
                "the only prefix the model's execution role can read"
            ],
        ),
        (
            "s3://mlserve-artifacts-111111111111/models/churn-v2/model.tar.gz",
            [
                "models.churn.version.artifact_uri: must lie under s3://<bucket>/models/churn/, "
                "the only prefix the model's execution role can read"
            ],
        ),
        (
            "https://example.com/model.tar.gz",
            ["models.churn.version.artifact_uri: must be an s3:// URI"],
        ),
    ],
)
def test_artifact_uri_lies_under_the_models_prefix(configs, uri, expected):
    prod = configs["prod"]
    churn = model(prod, "churn")
    digest = churn["version"]["digest"]
    churn["version"] = {"artifact_uri": uri, "image": IMAGE, "digest": digest}
    assert problems(prod, "prod") == expected


def test_challenger_artifact_uri_lies_under_the_models_prefix(configs):
    prod = configs["prod"]
    challenger = model(prod, "churn")["challenger"]
    digest = challenger["version"]["digest"]
    challenger["version"] = {
        "artifact_uri": "s3://mlserve-artifacts-111111111111/models/fraud/2/model.tar.gz",
        "image": IMAGE,
        "digest": digest,
    }
    assert problems(prod, "prod") == [
        "models.churn.challenger.version.artifact_uri: must lie under "
        "s3://<bucket>/models/churn/, the only prefix the model's execution role can read"
    ]


# --- the contract -----------------------------------------------------------------------------


def test_settings_import_neither_pulumi_nor_the_sagemaker_sdk():
    code = (
        "import sys, infra.settings\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'sagemaker'))\n"
        "print(loaded)\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# --- required tags ----------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["shared", "dev"])
@pytest.mark.parametrize("value", ["", "   "])
def test_required_tags_must_not_be_blank(configs, which, value):
    configs[which]["mlserve:owner"] = value
    configs[which]["mlserve:cost_center"] = value
    assert problems(configs[which], which) == [
        "owner: must not be blank: it is a required tag on every resource",
        "cost_center: must not be blank: it is a required tag on every resource",
    ]


def test_required_tags_are_values_aws_accepts(configs):
    dev = configs["dev"]
    dev["mlserve:owner"] = "ml-platform <team>"
    dev["mlserve:cost_center"] = "x" * 257
    assert problems(dev, "dev") == [
        "owner: 'ml-platform <team>' is not a valid tag value: at most 256 letters, digits, "
        "spaces and _.:/=+-@",
        f"cost_center: {'x' * 257!r} is not a valid tag value: at most 256 letters, digits, "
        "spaces and _.:/=+-@",
    ]


def test_tag_values_in_any_script_with_aws_symbols_are_accepted(configs):
    dev = configs["dev"]
    dev["mlserve:owner"] = "Équipe données: ml/platform+ops@example.com"
    dev["mlserve:cost_center"] = "cc-１２３ 4_5.6=7"
    assert problems(dev, "dev") == []
