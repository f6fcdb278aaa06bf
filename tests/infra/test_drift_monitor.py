"""Drift monitoring on the Model Monitor engine: registered only where the settings enable it,
with the right inputs.

The shipped stack files use the default engine, ``mlserve`` (tests/infra/test_drift_engine.py);
these tests plan them with ``drift.engine: model-monitor`` on every model (``monitor_plans``).
Each model whose ``drift.enabled`` is true then gets a ``DriftMonitor``: a data-quality job
definition reading the endpoint's captured requests against the pinned version's baseline in the
artifact store, a schedule, a least-privilege role and an alarm per feature the settings list,
on the metric and dimensions Model Monitor emits. Settings refuse drift monitoring where there
is nothing to analyse, each with a one-line error naming the keys to change.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from infra import iam, naming
from infra.components import drift_monitor
from infra.monitor_images import MONITOR_IMAGES, analyzer_repository_arn
from infra.resource_types import (
    ALARM,
    DATA_QUALITY_JOB,
    DRIFT_MONITOR,
    MONITORING_SCHEDULE,
    ROLE,
    ROLE_POLICY,
    TOPIC,
)
from infra.review.plan import Plan, PlannedResource, evaluate, shared_outputs
from infra.settings import EnvironmentSettings, SettingsError, load_settings
from infra.settings.schema import DriftSchedule
from tests.infra.plan_checks import (
    account,
    as_list,
    component,
    component_children,
    config_of,
    endpoint_of,
    only,
    resources_of,
    statements,
)


def children(plan: Plan, model: str, type_: str) -> list[PlannedResource]:
    return [r for r in component_children(plan, f"{model}-drift", DRIFT_MONITOR) if r.type == type_]


def job_of(plan: Plan, model: str) -> PlannedResource:
    return only(children(plan, model, DATA_QUALITY_JOB), f"data-quality job of {model}")


def schedule_of(plan: Plan, model: str) -> PlannedResource:
    return only(children(plan, model, MONITORING_SCHEDULE), f"monitoring schedule of {model}")


def capture_bucket(plan: Plan) -> str:
    return str(plan.outputs["capture_bucket"])


def key_arn(plan: Plan, model: str) -> str:
    """The environment key, as the model's data capture encrypts with it."""
    return str(config_of(plan, model).inputs["dataCaptureConfig"]["kmsKeyId"])


# --- the analyzer image table ---------------------------------------------------------------


def test_the_image_table_is_the_sdks_for_every_region():
    from sagemaker.core import image_uris

    regions = image_uris.config_for_framework("model-monitor")["versions"][""]["registries"]
    assert set(MONITOR_IMAGES) == set(regions)
    wrong = {
        region: (MONITOR_IMAGES[region], image_uris.retrieve("model-monitor", region=region))
        for region in regions
        if MONITOR_IMAGES[region] != image_uris.retrieve("model-monitor", region=region)
    }
    assert not wrong, wrong


def test_the_repository_arn_names_the_images_account():
    image = MONITOR_IMAGES["eu-west-1"]
    arn = analyzer_repository_arn("aws", "eu-west-1")
    assert arn == f"arn:aws:ecr:eu-west-1:{image.split('.')[0]}:repository/" + image.split("/")[1]


# --- where it is registered -----------------------------------------------------------------


def test_drift_monitors_exactly_where_enabled(monitor_plans, monitor_settings, env_stack):
    plan, settings = monitor_plans[env_stack], monitor_settings[env_stack]
    found = {r.name for r in resources_of(plan, DRIFT_MONITOR)}
    expected = {f"{name}-drift" for name, m in settings.models.items() if m.drift.enabled}
    assert found == expected, f"stack {env_stack}: {sorted(found)} != {sorted(expected)}"
    types = {r.type for r in plan.resources}
    if not expected:
        assert not types & {DATA_QUALITY_JOB, MONITORING_SCHEDULE}, f"stack {env_stack}: {types}"
    for name, model in settings.models.items():
        outputs = plan.outputs["models"][name]
        if model.drift.enabled:
            assert outputs["drift_schedule_name"] == schedule_of(plan, name).inputs["name"]
        else:
            assert (outputs["drift_schedule_name"], outputs["drift_alarm_names"]) == (None, [])


def test_the_environments_defaults(stack_settings):
    assert not any(m.drift.enabled for m in stack_settings["dev"].models.values())
    for stack in ("staging", "prod"):
        assert all(m.drift.enabled for m in stack_settings[stack].models.values()), stack
    assert stack_settings["staging"].models["churn"].drift.schedule is DriftSchedule.DAILY
    assert stack_settings["prod"].models["churn"].drift.schedule is DriftSchedule.HOURLY


def test_each_monitor_registers_exactly_its_resources(monitor_plans, monitor_settings, env_stack):
    plan, settings = monitor_plans[env_stack], monitor_settings[env_stack]
    for name, model in settings.models.items():
        if not model.drift.enabled:
            continue
        drift = f"{name}-drift"
        found = {(r.type, r.name) for r in component_children(plan, drift, DRIFT_MONITOR)}
        expected = {
            (ROLE, f"{drift}-role"),
            (ROLE_POLICY, f"{drift}-role-policy"),
            (DATA_QUALITY_JOB, f"{drift}-dq"),
            (MONITORING_SCHEDULE, f"{drift}-schedule"),
        } | {(ALARM, f"{drift}-{feature}") for feature in model.drift.alarms}
        assert found == expected, f"{drift}: {sorted(found ^ expected)}"


# --- the job, the schedule and the alarms ---------------------------------------------------


def test_the_job_compares_the_endpoints_captures_with_the_pinned_baseline(
    monitor_plans, monitor_settings, env_stack
):
    plan, settings = monitor_plans[env_stack], monitor_settings[env_stack]
    artifacts = shared_outputs(settings.region)["artifact_bucket_name"]
    for name, model in settings.models.items():
        if not model.drift.enabled:
            continue
        job = job_of(plan, name).inputs
        endpoint = endpoint_of(plan, name)
        digest = model.version.digest.removeprefix("sha256:")
        baseline = f"s3://{artifacts}/models/{name}/sha256-{digest}/baseline/"
        assert job["dataQualityBaselineConfig"] == {
            "constraintsResource": {"s3Uri": baseline + "constraints.json"},
            "statisticsResource": {"s3Uri": baseline + "statistics.json"},
        }, job_of(plan, name).urn
        app = job["dataQualityAppSpecification"]
        assert app["imageUri"] == MONITOR_IMAGES[settings.region]
        assert app["environment"] == {"publish_cloudwatch_metrics": "Enabled"}
        assert job["dataQualityJobInput"] == {
            "endpointInput": {"endpointName": endpoint.inputs["name"]}
        }
        # The job waits for the endpoint it reads.
        assert endpoint.urn in job_of(plan, name).dependencies
        output = job["dataQualityJobOutputConfig"]
        assert output["monitoringOutputs"]["s3Output"]["s3Uri"] == (
            f"s3://{capture_bucket(plan)}/drift-reports/{name}/"
        )
        assert output["kmsKeyId"] == key_arn(plan, name)
        cluster = job["jobResources"]["clusterConfig"]
        assert (cluster["instanceType"], cluster["instanceCount"], cluster["volumeSizeInGb"]) == (
            model.drift.instance_type,
            model.drift.instance_count,
            model.drift.volume_size_gb,
        )
        assert job["stoppingCondition"] == {"maxRuntimeInSeconds": model.drift.max_runtime_seconds}
        role = only(children(plan, name, ROLE), "monitoring role")
        assert job["roleArn"].startswith(
            f"arn:aws:iam::{account(plan)}:role{iam.ROLE_PATH}{role.name}-"
        ), job["roleArn"]
        # The first analysis runs as the role: its policy is attached before the job exists.
        policy = only(children(plan, name, ROLE_POLICY), "monitoring role policy")
        assert policy.urn in job_of(plan, name).dependencies


def test_data_capture_writes_where_the_job_reads(monitor_plans, monitor_settings, env_stack):
    plan, settings = monitor_plans[env_stack], monitor_settings[env_stack]
    for name, model in settings.models.items():
        if not model.drift.enabled:
            continue
        capture = config_of(plan, name).inputs["dataCaptureConfig"]
        assert capture["destinationS3Uri"] == (
            f"s3://{capture_bucket(plan)}/{drift_monitor.capture_prefix(name)}"
        )
        modes = {o["captureMode"] for o in capture["captureOptions"]}
        assert modes == {"Input", "Output"}
        assert capture["initialSamplingPercentage"] == model.data_capture.sampling_percent > 0


def test_the_schedule_runs_the_job_at_the_configured_interval(
    monitor_plans, monitor_settings, env_stack
):
    plan, settings = monitor_plans[env_stack], monitor_settings[env_stack]
    for name, model in settings.models.items():
        if not model.drift.enabled:
            continue
        schedule = schedule_of(plan, name)
        config = schedule.inputs["monitoringScheduleConfig"]
        assert config["monitoringType"] == "DataQuality"
        job = job_of(plan, name)
        assert config["monitoringJobDefinitionName"].startswith(f"{job.name}-"), config
        assert job.urn in schedule.dependencies
        expected = {
            DriftSchedule.HOURLY: "cron(0 * ? * * *)",
            DriftSchedule.DAILY: "cron(0 0 ? * * *)",
        }
        assert config["scheduleConfig"]["scheduleExpression"] == expected[model.drift.schedule]
        endpoint = endpoint_of(plan, name).inputs["name"]
        assert schedule.inputs["name"] == f"{endpoint}-drift"
        assert len(schedule.inputs["name"]) <= 63


def test_alarms_watch_the_drift_metrics_with_their_real_dimensions(
    monitor_plans, monitor_settings, env_stack
):
    plan, settings = monitor_plans[env_stack], monitor_settings[env_stack]
    topic = only(resources_of(plan, TOPIC), "alert topic")
    checked = 0
    for name, model in settings.models.items():
        if not model.drift.enabled:
            continue
        endpoint = endpoint_of(plan, name).inputs["name"]
        schedule = schedule_of(plan, name)
        period = {DriftSchedule.HOURLY: 3600, DriftSchedule.DAILY: 86400}[model.drift.schedule]
        alarms = {a.name: a for a in children(plan, name, ALARM)}
        for feature, threshold in model.drift.alarms.items():
            alarm = alarms[f"{name}-drift-{feature}"]
            inputs = alarm.inputs
            # AWS's pages disagree on the namespace and dimensions: the alarm watches both.
            queries = {q["id"]: q for q in inputs["metricQueries"]}
            watched = {
                (q["metric"]["namespace"], json.dumps(q["metric"]["dimensions"], sort_keys=True))
                for q in queries.values()
                if "metric" in q
            }
            schedule_name = schedule.inputs["name"]
            assert watched == {
                (
                    "aws/sagemaker/Endpoints/data-metrics",
                    json.dumps({"Endpoint": endpoint, "MonitoringSchedule": schedule_name}),
                ),
                (
                    "/aws/sagemaker/Endpoints/data-metric",
                    json.dumps({"EndpointName": endpoint, "ScheduleName": schedule_name}),
                ),
            }, alarm.urn
            for query in queries.values():
                if "metric" in query:
                    assert query["metric"]["metricName"] == f"feature_baseline_drift_{feature}"
                    assert query["metric"]["period"] == period
                    assert query.get("returnData") is False
            assert queries["drift"]["expression"] == "MAX([m0,m1])"
            assert queries["drift"]["returnData"] is True
            assert schedule.urn in alarm.dependencies, alarm.urn
            assert (inputs["threshold"], inputs["evaluationPeriods"]) == (threshold, 1)
            assert inputs["comparisonOperator"] == "GreaterThanThreshold"
            assert inputs["alarmActions"] == [plan.outputs["alert_topic_arn"]]
            assert inputs["okActions"] == [plan.outputs["alert_topic_arn"]]
            assert topic.urn in alarm.dependencies
            assert inputs["name"] == f"{endpoint}-drift-{feature}"
            assert inputs["name"] in plan.outputs["models"][name]["drift_alarm_names"]
            checked += 1
    if env_stack != "dev":
        assert checked, f"stack {env_stack}: no drift alarm, the check would pass vacuously"


# --- the monitoring role ----------------------------------------------------------------------


def _grants(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {st["Sid"]: st for st in statements(document)}


def test_the_role_reads_and_writes_only_its_own_prefixes(
    monitor_plans, monitor_settings, env_stack
):
    plan, settings = monitor_plans[env_stack], monitor_settings[env_stack]
    shared = shared_outputs(settings.region)
    for name, model in settings.models.items():
        if not model.drift.enabled:
            continue
        role = only(children(plan, name, ROLE), "monitoring role")
        assert role.inputs["path"] == iam.ROLE_PATH
        trust = json.loads(role.inputs["assumeRolePolicy"])
        assert [st["Principal"] for st in statements(trust)] == [
            {"Service": "sagemaker.amazonaws.com"}
        ]
        policy = only(children(plan, name, ROLE_POLICY), "monitoring role policy")
        grants = _grants(json.loads(policy.inputs["policy"]))
        capture_arn = f"arn:aws:s3:::{capture_bucket(plan)}"
        digest = model.version.digest.removeprefix("sha256:")
        baseline = f"models/{name}/sha256-{digest}/baseline/"
        assert grants["ReadOwnCapturedData"]["Resource"] == f"{capture_arn}/data-capture/{name}/*"
        assert grants["WriteOwnReports"]["Resource"] == f"{capture_arn}/drift-reports/{name}/*"
        assert grants["ListOwnCapturedData"]["Condition"] == {
            "StringLike": {"s3:prefix": [f"data-capture/{name}/*"]}
        }
        assert grants["ReadPinnedBaseline"]["Resource"] == (
            f"{shared['artifact_bucket_arn']}/{baseline}*"
        )
        assert grants["DecryptBaseline"]["Resource"] == shared["artifact_key_arn"]
        assert grants["EnvironmentKey"]["Resource"] == key_arn(plan, name)
        assert grants["PullAnalyzer"]["Resource"] == analyzer_repository_arn(
            naming.partition(settings.region), settings.region
        )
        metrics = grants["DriftMetrics"]["Condition"]["StringEquals"]["cloudwatch:namespace"]
        assert drift_monitor.METRIC_NAMESPACE in metrics
        stars = sorted(
            action
            for st in grants.values()
            if "*" in as_list(st["Resource"])
            for action in as_list(st["Action"])
        )
        assert set(stars) <= iam.GLOBAL_ACTIONS, stars


def test_another_models_captures_are_out_of_reach(monitor_plans):
    plan = monitor_plans["prod"]
    policy = only(children(plan, "churn", ROLE_POLICY), "churn monitoring role policy")
    grants = _grants(json.loads(policy.inputs["policy"]))
    readable = [
        resource
        for st in grants.values()
        if "s3:GetObject" in as_list(st["Action"])
        for resource in as_list(st["Resource"])
    ]
    assert readable and not [r for r in readable if "/fraud/" in r], readable


# --- settings ---------------------------------------------------------------------------------


def _config(stack_configs, stack: str) -> dict[str, Any]:
    return copy.deepcopy(stack_configs[stack])


def _problems(config: dict[str, Any], stack: str) -> list[str]:
    with pytest.raises(SettingsError) as raised:
        load_settings(config, stack)
    return raised.value.problems


def test_drift_without_data_capture_names_both_keys(stack_configs):
    config = _config(stack_configs, "prod")
    config["mlserve:models"]["churn"]["data_capture"] = {"enabled": False}
    assert _problems(config, "prod") == [
        "models.churn.drift.enabled: drift monitoring analyses captured requests, and "
        "models.churn.data_capture.enabled is false; set models.churn.data_capture.enabled: "
        "true or models.churn.drift.enabled: false"
    ]
    config["mlserve:models"]["churn"]["drift"]["enabled"] = False
    settings = load_settings(config, "prod")
    assert isinstance(settings, EnvironmentSettings)
    assert not settings.models["churn"].drift.enabled


def test_drift_on_a_serverless_endpoint_is_refused(stack_configs):
    config = _config(stack_configs, "dev")
    config["mlserve:models"]["fraud"]["drift"] = {"enabled": True}
    assert _problems(config, "dev") == [
        "models.fraud.drift.enabled: serverless endpoints cannot capture data, which drift "
        "monitoring analyses; set models.fraud.drift.enabled: false"
    ]


def test_a_serverless_model_in_prod_has_drift_off_by_default(stack_configs):
    config = _config(stack_configs, "staging")
    fraud = config["mlserve:models"]["fraud"]
    del fraud["instance_type"]
    fraud["serverless"] = {"memory_mb": 2048}
    settings = load_settings(config, "staging")
    assert isinstance(settings, EnvironmentSettings)
    assert not settings.models["fraud"].drift.enabled
    assert not settings.models["fraud"].data_capture.enabled


def test_capturing_nothing_is_refused_with_drift_on(stack_configs):
    config = _config(stack_configs, "staging")
    config["mlserve:models"]["fraud"]["data_capture"] = {"sampling_percent": 0}
    assert _problems(config, "staging") == [
        "models.fraud.data_capture.sampling_percent: 0 captures nothing for drift monitoring "
        "(models.fraud.drift.enabled is true); raise it above 0 or set "
        "models.fraud.drift.enabled: false"
    ]


def test_bad_drift_values_are_reported_by_key_path(stack_configs):
    config = _config(stack_configs, "prod")
    config["mlserve:models"]["churn"]["drift"] = {
        "schedule": "weekly",
        "instance_type": "ml.m5.huge",
        "max_runtime_seconds": 7200,
        "alarms": {"tenure_months": 1.5, "bad name": 0.1},
    }
    problems = _problems(config, "prod")
    assert problems[:3] == [
        "models.churn.drift.schedule: must be one of 'hourly' or 'daily', got 'weekly'",
        "models.churn.drift.max_runtime_seconds: must be less than or equal to 3600",
        "models.churn.drift.alarms.tenure_months: must be less than or equal to 1",
    ]
    assert problems[3] == (
        'models.churn.drift.alarms["bad name"]: is not a valid key: must match pattern '
        "'^[A-Za-z0-9_.-]+$'"
    )


def test_an_unknown_processing_instance_type_is_refused(stack_configs):
    config = _config(stack_configs, "prod")
    config["mlserve:models"]["churn"]["drift"] = {
        "engine": "model-monitor",
        "instance_type": "ml.m5.huge",
    }
    assert _problems(config, "prod") == [
        "models.churn.drift.instance_type: 'ml.m5.huge' is not a SageMaker processing instance type"
    ]


def test_a_region_without_the_analyzer_is_refused(stack_configs):
    config = _config(stack_configs, "staging")
    config["aws:region"] = "ap-southeast-7"
    config["mlserve:models"]["churn"]["drift"]["engine"] = "model-monitor"
    problems = _problems(config, "staging")
    assert (
        "models.churn.drift.engine: SageMaker Model Monitor has no analyzer image in "
        "ap-southeast-7; set models.churn.drift.engine: mlserve" in problems
    ), problems
    # The mlserve engine needs no analyzer: the same region is accepted with it.
    del config["mlserve:models"]["churn"]["drift"]["engine"]
    assert not [p for p in _problems(config, "staging") if ".drift." in p]


def test_dev_can_turn_drift_on_with_data_capture(stack_configs):
    config = _config(stack_configs, "dev")
    config["mlserve:models"]["churn"]["data_capture"] = {"enabled": True}
    config["mlserve:models"]["churn"]["drift"] = {
        "enabled": True,
        "engine": "model-monitor",
        "alarms": {"tenure_months": 0.4},
    }
    plan = evaluate(config, "dev")
    assert component(plan, "churn-drift", DRIFT_MONITOR)
    assert [r.name for r in children(plan, "churn", ALARM)] == ["churn-drift-tenure_months"]
    assert not [r for r in resources_of(plan, DRIFT_MONITOR) if r.name != "churn-drift"]
