"""The mlserve drift engine: what each stack registers for it, and the settings that choose it.

Each model whose drift analysis is on and whose ``drift.engine`` is ``mlserve`` (the default)
gets a ``DriftEngine``: an EventBridge Scheduler schedule with a retry policy and an encrypted
dead-letter queue invoking a Lambda function that runs the project's own checks, its log group,
a least-privilege role for each, an alarm per feature of ``drift.alarms`` on the engine's
metric, and alarms on the function's errors and on the dead-letter queue.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import pytest

from infra import iam, lambda_package, naming
from infra.components import drift_engine
from infra.resource_types import (
    ALARM,
    DRIFT_ENGINE,
    DRIFT_MONITOR,
    LAMBDA_FUNCTION,
    LAMBDA_LAYER,
    LOG_GROUP,
    QUEUE,
    ROLE,
    ROLE_POLICY,
    SCHEDULE,
    TOPIC,
)
from infra.review.plan import Plan, PlannedResource, evaluate, shared_outputs
from infra.settings import EnvironmentSettings, SettingsError, load_settings
from infra.settings.limits import service_model
from infra.settings.schema import DriftEngine, DriftSchedule
from model_packaging.drift import metrics
from tests.infra.plan_checks import (
    as_list,
    component_children,
    config_of,
    endpoint_of,
    only,
    resources_of,
    statements,
)


def engine_children(plan: Plan, model: str, type_: str) -> list[PlannedResource]:
    return [r for r in component_children(plan, f"{model}-drift", DRIFT_ENGINE) if r.type == type_]


def one(plan: Plan, model: str, type_: str, name: str | None = None) -> PlannedResource:
    found = [
        r
        for r in engine_children(plan, model, type_)
        if name is None or r.name == f"{model}-drift-{name}"
    ]
    return only(found, f"{type_} {name or ''} of {model}'s drift engine")


def analysed(settings: EnvironmentSettings) -> dict[str, Any]:
    return {
        name: model
        for name, model in settings.models.items()
        if model.drift.enabled and model.drift.engine is DriftEngine.MLSERVE
    }


def environment_key(plan: Plan, model: str) -> str:
    return str(config_of(plan, model).inputs["dataCaptureConfig"]["kmsKeyId"])


def policy_of(resource: PlannedResource, key: str = "policy") -> dict[str, Any]:
    return dict(json.loads(resource.inputs[key]))


# --- where it is registered -----------------------------------------------------------------


def test_an_engine_exactly_where_drift_is_on_with_mlserve(plans, stack_settings, env_stack):
    plan, settings = plans[env_stack], stack_settings[env_stack]
    expected = {f"{name}-drift" for name in analysed(settings)}
    assert {r.name for r in resources_of(plan, DRIFT_ENGINE)} == expected
    # The default engine is mlserve: no stack file registers Model Monitor's resources.
    assert not resources_of(plan, DRIFT_MONITOR)
    layers = resources_of(plan, LAMBDA_LAYER)
    assert len(layers) == (1 if expected else 0), [r.urn for r in layers]
    for name in settings.models:
        outputs = plan.outputs["models"][name]
        if name in analysed(settings):
            # Auto-named after the schedule's logical name.
            assert outputs["drift_schedule_name"].startswith(f"{name}-drift-schedule-")
            assert outputs["drift_engine"] == "mlserve"
        else:
            assert (outputs["drift_engine"], outputs["drift_alarm_names"]) == (None, [])
    if env_stack != "dev":
        assert expected, f"stack {env_stack}: no drift engine, the checks below pass vacuously"


def test_each_engine_registers_exactly_its_resources(plans, stack_settings, env_stack):
    plan, settings = plans[env_stack], stack_settings[env_stack]
    for name, model in analysed(settings).items():
        drift = f"{name}-drift"
        found = {(r.type, r.name) for r in component_children(plan, drift, DRIFT_ENGINE)}
        expected = {
            (ROLE, f"{drift}-role"),
            (ROLE_POLICY, f"{drift}-role-policy"),
            (LAMBDA_FUNCTION, f"{drift}-fn"),
            (LOG_GROUP, f"{drift}-logs"),
            (QUEUE, f"{drift}-dlq"),
            (ROLE, f"{drift}-invoker"),
            (ROLE_POLICY, f"{drift}-invoker-policy"),
            (SCHEDULE, f"{drift}-schedule"),
            (ALARM, f"{drift}-errors"),
            (ALARM, f"{drift}-dead-letters"),
        } | {(ALARM, f"{drift}-{feature}") for feature in model.drift.alarms}
        assert found == expected, f"{drift}: {sorted(found ^ expected)}"


# --- the function -----------------------------------------------------------------------------


def test_the_function_runs_the_handler_with_its_configuration(plans, stack_settings, env_stack):
    plan, settings = plans[env_stack], stack_settings[env_stack]
    shared = shared_outputs(settings.region)
    files = lambda_package.package(write=False)
    layer = only(resources_of(plan, LAMBDA_LAYER), "drift layer") if analysed(settings) else None
    for name, model in analysed(settings).items():
        function = one(plan, name, LAMBDA_FUNCTION)
        inputs = function.inputs
        assert (inputs["runtime"], inputs["handler"]) == (
            "python3.12",
            "model_packaging.drift.handler.handler",
        )
        assert inputs["runtime"] in service_model("lambda").shape_for("Runtime").enum
        assert (inputs["memorySize"], inputs["timeout"]) == (
            model.drift.memory_mb,
            model.drift.timeout_seconds,
        )
        # The code and the layer are the reproducible packages, by their digest names; the
        # offline plan names them without building them.
        assert inputs["code"] == {"FileArchive": str(files.code)}
        assert layer is not None and layer.inputs["code"] == {"FileArchive": str(files.layer)}
        assert inputs["layers"] == [layer_arn(plan, layer)]
        assert inputs["kmsKeyArn"] == environment_key(plan, name)
        endpoint = endpoint_of(plan, name).inputs["name"]
        capture = plan.outputs["capture_bucket"]
        digest = model.version.digest.removeprefix("sha256:")
        assert inputs["environment"]["variables"] == {
            metrics.ENV_CAPTURE_URI: f"s3://{capture}/data-capture/{name}/",
            metrics.ENV_ENDPOINT: endpoint,
            metrics.ENV_VARIANTS: ",".join(naming.variant_versions(model)),
            metrics.ENV_BASELINE_URI: (
                f"s3://{shared['artifact_bucket_name']}/models/{name}/sha256-{digest}/baseline/"
            ),
            metrics.ENV_REPORT_URI: f"s3://{capture}/drift-reports/{name}/",
            metrics.ENV_NAMESPACE: metrics.NAMESPACE,
            metrics.ENV_WINDOW_SECONDS: str(drift_engine.SCHEDULE_SECONDS[model.drift.schedule]),
        }
        assert set(inputs["environment"]["variables"]) == set(metrics.ENVIRONMENT)


def layer_arn(plan: Plan, layer: PlannedResource) -> str:
    """The layer version's ARN as the functions take it (the mocks answer it)."""
    functions = resources_of(plan, LAMBDA_FUNCTION)
    arns = {arn for f in functions for arn in f.inputs["layers"]}
    assert len(arns) == 1, arns
    arn = arns.pop()
    assert arn.split(":")[-2] == layer.inputs["layerName"], arn
    return str(arn)


def test_the_functions_log_group_exists_first_with_retention_and_key(
    plans, stack_settings, env_stack
):
    plan, settings = plans[env_stack], stack_settings[env_stack]
    for name, model in analysed(settings).items():
        function = one(plan, name, LAMBDA_FUNCTION)
        group = one(plan, name, LOG_GROUP)
        assert (
            group.inputs["name"]
            == f"/aws/lambda/{function.inputs.get('name') or fn_name(plan, function)}"
        )
        assert group.inputs["retentionInDays"] == model.log_retention_days
        assert group.inputs["kmsKeyId"] == environment_key(plan, name)
        assert group.retain_on_delete
        # The first run comes after the group (and both roles' policies).
        schedule = one(plan, name, SCHEDULE)
        for dependency in (group, one(plan, name, ROLE_POLICY, "role-policy")):
            assert dependency.urn in schedule.dependencies, dependency.urn


def fn_name(plan: Plan, function: PlannedResource) -> str:
    """An auto-named function's name, as its log group and alarms read it."""
    errors = [a for a in resources_of(plan, ALARM) if a.name == f"{function.parent}-errors"]
    return str(only(errors, "errors alarm").inputs["dimensions"]["FunctionName"])


# --- the schedule and its dead letters --------------------------------------------------------


def test_the_schedule_invokes_the_function_with_retries_and_a_dead_letter_queue(
    plans, stack_settings, env_stack
):
    plan, settings = plans[env_stack], stack_settings[env_stack]
    for name, model in analysed(settings).items():
        schedule = one(plan, name, SCHEDULE)
        function = one(plan, name, LAMBDA_FUNCTION)
        queue = one(plan, name, QUEUE)
        invoker = one(plan, name, ROLE, "invoker")
        inputs = schedule.inputs
        assert (
            inputs["scheduleExpression"]
            == {
                DriftSchedule.HOURLY: "cron(0 * * * ? *)",
                DriftSchedule.DAILY: "cron(0 0 * * ? *)",
            }[model.drift.schedule]
        )
        assert inputs["scheduleExpressionTimezone"] == "UTC"
        assert inputs["flexibleTimeWindow"] == {"mode": "OFF"}
        target = inputs["target"]
        fn = fn_name(plan, function)
        assert target["arn"] == f"arn:aws:lambda:{settings.region}:{account(plan)}:function:{fn}"
        assert target["roleArn"].split("/")[-1].startswith(invoker.name)
        assert json.loads(target["input"]) == {"scheduled_time": "<aws.scheduler.scheduled-time>"}
        assert target["retryPolicy"] == {
            "maximumRetryAttempts": 2,
            "maximumEventAgeInSeconds": drift_engine.SCHEDULE_SECONDS[model.drift.schedule],
        }
        assert target["deadLetterConfig"]["arn"].endswith(f":{queue_name(plan, queue)}")
        assert queue.inputs["kmsMasterKeyId"] == environment_key(plan, name)
        assert queue.inputs["messageRetentionSeconds"] == 1_209_600
        assert not queue.inputs.get("fifoQueue")


def account(plan: Plan) -> str:
    from tests.infra.plan_checks import account as of

    return of(plan)


def queue_name(plan: Plan, queue: PlannedResource) -> str:
    dead = [a for a in resources_of(plan, ALARM) if a.name == f"{queue.parent}-dead-letters"]
    return str(only(dead, "dead-letter alarm").inputs["dimensions"]["QueueName"])


# --- alarms -----------------------------------------------------------------------------------


def test_alarms_watch_the_engines_metrics_errors_and_dead_letters(plans, stack_settings, env_stack):
    plan, settings = plans[env_stack], stack_settings[env_stack]
    topic = only(resources_of(plan, TOPIC), "alert topic")
    topic_arn = plan.outputs["alert_topic_arn"]
    for name, model in analysed(settings).items():
        endpoint = endpoint_of(plan, name).inputs["name"]
        period = drift_engine.SCHEDULE_SECONDS[model.drift.schedule]
        variants = list(naming.variant_versions(model))
        names = plan.outputs["models"][name]["drift_alarm_names"]
        for feature, threshold in model.drift.alarms.items():
            alarm = one(plan, name, ALARM, feature).inputs
            assert alarm["name"] == f"{endpoint}-data-drift-{feature}" and alarm["name"] in names
            queries = {q["id"]: q for q in alarm["metricQueries"]}
            watched = sorted(
                (
                    q["metric"]["namespace"],
                    q["metric"]["metricName"],
                    q["metric"]["dimensions"]["Variant"],
                )
                for q in queries.values()
                if "metric" in q
            )
            assert watched == sorted(
                (metrics.NAMESPACE, metrics.metric_name(feature), v) for v in variants
            )
            for query in queries.values():
                if "metric" in query:
                    assert query["metric"]["dimensions"]["Endpoint"] == endpoint
                    assert (query["metric"]["stat"], query["metric"]["period"]) == (
                        "Maximum",
                        period,
                    )
            ids = ",".join(f"v{i}" for i in range(len(variants)))
            assert queries["drift"]["expression"] == f"MAX([{ids}])"
            assert (alarm["threshold"], alarm["comparisonOperator"]) == (
                threshold,
                "GreaterThanThreshold",
            )
            assert alarm["treatMissingData"] == "notBreaching"
        errors = one(plan, name, ALARM, "errors").inputs
        function = one(plan, name, LAMBDA_FUNCTION)
        assert (errors["namespace"], errors["metricName"], errors["statistic"]) == (
            "AWS/Lambda",
            "Errors",
            "Sum",
        )
        assert errors["dimensions"] == {"FunctionName": fn_name(plan, function)}
        assert (errors["threshold"], errors["period"]) == (0, period)
        dead = one(plan, name, ALARM, "dead-letters").inputs
        assert (dead["namespace"], dead["metricName"]) == (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
        )
        assert dead["threshold"] == 0
        for alarm_resource in engine_children(plan, name, ALARM):
            inputs = alarm_resource.inputs
            assert inputs["alarmActions"] == inputs["okActions"] == [topic_arn]
            assert topic.urn in alarm_resource.dependencies
            assert inputs["name"] in names
            assert len(inputs["name"]) <= 255


# --- roles ------------------------------------------------------------------------------------


def _grants(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {st["Sid"]: st for st in statements(document)}


def test_the_functions_role_reaches_only_its_own_data(plans, stack_settings, env_stack):
    plan, settings = plans[env_stack], stack_settings[env_stack]
    shared = shared_outputs(settings.region)
    capture_arn = f"arn:aws:s3:::{plan.outputs['capture_bucket']}"
    for name, model in analysed(settings).items():
        role = one(plan, name, ROLE, "role")
        # Under the path the artifact store's bucket and key policies grant across accounts.
        assert role.inputs["path"] == iam.ROLE_PATH
        assert [st["Principal"] for st in statements(policy_of(role, "assumeRolePolicy"))] == [
            {"Service": "lambda.amazonaws.com"}
        ]
        group = one(plan, name, LOG_GROUP)
        group_arn = (
            f"arn:aws:logs:{settings.region}:{account(plan)}:log-group:{group.inputs['name']}"
        )
        digest = model.version.digest.removeprefix("sha256:")
        baseline = f"models/{name}/sha256-{digest}/baseline/"
        key = environment_key(plan, name)
        grants = _grants(policy_of(one(plan, name, ROLE_POLICY, "role-policy")))
        assert grants == {
            "ReadOwnCapturedData": {
                "Sid": "ReadOwnCapturedData",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{capture_arn}/data-capture/{name}/*",
            },
            "ListOwnCapturedData": {
                "Sid": "ListOwnCapturedData",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": capture_arn,
                "Condition": {"StringLike": {"s3:prefix": [f"data-capture/{name}/*"]}},
            },
            "WriteOwnReports": {
                "Sid": "WriteOwnReports",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": f"{capture_arn}/drift-reports/{name}/*",
            },
            "EnvironmentKey": {
                "Sid": "EnvironmentKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": key,
            },
            "ReadPinnedBaseline": {
                "Sid": "ReadPinnedBaseline",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{shared['artifact_bucket_arn']}/{baseline}*",
            },
            "ListPinnedBaseline": {
                "Sid": "ListPinnedBaseline",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": shared["artifact_bucket_arn"],
                "Condition": {"StringLike": {"s3:prefix": [f"{baseline}*"]}},
            },
            "DecryptBaseline": {
                "Sid": "DecryptBaseline",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": shared["artifact_key_arn"],
            },
            "WriteOwnLogs": {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{group_arn}:log-stream:*",
            },
            "DriftMetrics": {
                "Sid": "DriftMetrics",
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": metrics.NAMESPACE}},
            },
        }


def test_the_schedules_role_only_invokes_and_dead_letters(plans, stack_settings, env_stack):
    plan, settings = plans[env_stack], stack_settings[env_stack]
    for name in analysed(settings):
        invoker = one(plan, name, ROLE, "invoker")
        trust = statements(policy_of(invoker, "assumeRolePolicy"))
        assert trust == [
            {
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account(plan)}},
            }
        ]
        # Not under the path the artifact store grants: it reads nothing.
        assert invoker.inputs.get("path") in (None, "/")
        grants = _grants(policy_of(one(plan, name, ROLE_POLICY, "invoker-policy")))
        target = one(plan, name, SCHEDULE).inputs["target"]
        assert {sid: (g["Action"], g["Resource"]) for sid, g in grants.items()} == {
            "InvokeDriftFunction": ("lambda:InvokeFunction", target["arn"]),
            "DeadLetters": ("sqs:SendMessage", target["deadLetterConfig"]["arn"]),
            "EncryptDeadLetters": (
                ["kms:GenerateDataKey", "kms:Decrypt"],
                environment_key(plan, name),
            ),
        }


def test_the_artifact_store_already_grants_the_functions_role(plans):
    """The shared stack's bucket and key policies let the environment accounts' roles under
    ``iam.ROLE_PATH`` read and decrypt ``models/``, where the baselines are: the function's role
    is one of them, so the store needs no new grant."""
    shared = plans["shared"]
    prod_account = account(plans["prod"])
    role_arn = f"arn:aws:iam::{prod_account}:role{iam.ROLE_PATH}churn-drift-role-x"
    documents = [
        json.loads(r.inputs["policy"])
        for r in shared.resources
        if r.type in ("aws:s3/bucketPolicy:BucketPolicy", "aws:kms/key:Key")
        and "mlserve-artifacts" in r.name
    ]
    granted = {
        action
        for document in documents
        for st in statements(document)
        if st["Effect"] == "Allow"
        and any(
            pattern.removesuffix("*") and role_arn.startswith(pattern.removesuffix("*"))
            for pattern in as_list(
                st.get("Condition", {}).get("ArnLike", {}).get("aws:PrincipalArn")
            )
        )
        for action in as_list(st["Action"])
    }
    assert {"s3:GetObject", "s3:ListBucket", "kms:Decrypt"} <= granted, granted


# --- settings ---------------------------------------------------------------------------------


def _problems(config: dict[str, Any], stack: str) -> list[str]:
    with pytest.raises(SettingsError) as raised:
        load_settings(config, stack)
    return raised.value.problems


def _prod(stack_configs: Mapping[str, Any], **drift: Any) -> dict[str, Any]:
    config: dict[str, Any] = copy.deepcopy(dict(stack_configs["prod"]))
    config["mlserve:models"]["churn"]["drift"].update(drift)
    return config


def test_mlserve_is_the_default_engine(stack_settings):
    for stack in ("staging", "prod"):
        settings = stack_settings[stack]
        assert all(m.drift.engine is DriftEngine.MLSERVE for m in settings.models.values())


def test_a_model_monitor_key_with_the_mlserve_engine_is_refused(stack_configs):
    config = _prod(stack_configs, instance_type="ml.m5.2xlarge", max_runtime_seconds=600)
    assert _problems(config, "prod") == [
        f"models.churn.drift.{key}: applies to the model-monitor engine only, and "
        "models.churn.drift.engine is mlserve; remove it or set models.churn.drift.engine: "
        "model-monitor"
        for key in ("instance_type", "max_runtime_seconds")
    ]


def test_an_mlserve_key_with_the_model_monitor_engine_is_refused(stack_configs):
    config = _prod(stack_configs, engine="model-monitor", memory_mb=2048)
    assert _problems(config, "prod") == [
        "models.churn.drift.memory_mb: applies to the mlserve engine only, and "
        "models.churn.drift.engine is model-monitor; remove it or set "
        "models.churn.drift.engine: mlserve"
    ]


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("memory_mb", 64, "must be greater than or equal to 128"),
        ("memory_mb", 10241, "must be less than or equal to 10240"),
        ("timeout_seconds", 0, "must be greater than or equal to 1"),
        ("timeout_seconds", 901, "must be less than or equal to 900"),
        ("engine", "sagemaker", "must be one of 'mlserve' or 'model-monitor', got 'sagemaker'"),
    ],
)
def test_the_functions_limits_are_lambdas(stack_configs, key, value, problem):
    assert _problems(_prod(stack_configs, **{key: value}), "prod") == [
        f"models.churn.drift.{key}: {problem}"
    ]


def test_the_limits_fit_what_botocore_takes():
    """The provider's bounds (terraform-provider-aws lambda/function.go: memory 128..10240,
    timeout 1..900) lie within the API's (botocore lambda MemorySize, Timeout)."""
    model = service_model("lambda")
    memory, timeout = model.shape_for("MemorySize").metadata, model.shape_for("Timeout").metadata
    assert memory["min"] == 128 <= 10240 <= memory["max"]
    assert timeout["min"] == 1 <= 900 <= timeout["max"]


def test_the_engines_settings_reach_the_function(stack_configs):
    plan = evaluate(_prod(stack_configs, memory_mb=3008, timeout_seconds=900), "prod")
    inputs = one(plan, "churn", LAMBDA_FUNCTION).inputs
    assert (inputs["memorySize"], inputs["timeout"]) == (3008, 900)


# --- capture content types --------------------------------------------------------------------


def test_captures_are_text_and_json_by_default(plans, stack_settings, env_stack):
    plan, settings = plans[env_stack], stack_settings[env_stack]
    for name, model in settings.models.items():
        if not model.data_capture.enabled:
            continue
        header = config_of(plan, name).inputs["dataCaptureConfig"]["captureContentTypeHeader"]
        assert header == {
            "csvContentTypes": ["text/csv"],
            "jsonContentTypes": ["application/json"],
        }


def test_capture_content_types_come_from_settings(stack_configs):
    config = copy.deepcopy(stack_configs["prod"])
    churn = config["mlserve:models"]["churn"]
    churn["data_capture"] = {
        "csv_content_types": [],
        "json_content_types": ["application/jsonlines"],
    }
    fraud = config["mlserve:models"]["fraud"]
    fraud["data_capture"] = {"csv_content_types": [], "json_content_types": []}
    plan = evaluate(config, "prod")
    capture = config_of(plan, "churn").inputs["dataCaptureConfig"]
    assert capture["captureContentTypeHeader"] == {"jsonContentTypes": ["application/jsonlines"]}
    # None of either: no header, and SageMaker base64-encodes every capture.
    assert "captureContentTypeHeader" not in config_of(plan, "fraud").inputs["dataCaptureConfig"]


def test_a_bad_capture_content_type_is_refused(stack_configs):
    config = copy.deepcopy(stack_configs["prod"])
    config["mlserve:models"]["churn"]["data_capture"] = {
        "csv_content_types": ["text/csv", "csv"],
        "json_content_types": ["text/csv"],
    }
    assert _problems(config, "prod") == [
        "models.churn.data_capture.csv_content_types[1]: 'csv' is not a content type SageMaker's "
        "capture header takes (type/subtype, letters, digits, '-' and '.')",
        "models.churn.data_capture.json_content_types: 'text/csv' is also in "
        "models.churn.data_capture.csv_content_types; a content type is captured one way",
    ]
