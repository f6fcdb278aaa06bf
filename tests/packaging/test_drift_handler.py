"""The drift function, in this process against moto: S3 captures in SageMaker's layout, the
pinned baseline in the artifact store, CloudWatch metrics and the reports it writes.

The endpoint has two variants: the champion's captures are unshifted, the challenger's shifted;
both hold requests in all three encodings, and the champion's file a malformed line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from model_packaging.drift import metrics
from model_packaging.drift.capture import capture_key
from model_packaging.drift.handler import (
    Config,
    DriftAnalysisFailed,
    handler,
    window_of,
)
from model_packaging.errors import PackagingError
from tests.helpers import release
from tests.packaging.test_drift_capture import STYLES, lines_of, plans, plans_baseline

__all__ = ["plans_baseline"]  # the module-scoped fixture, shared

ENDPOINT = "churn-prod"
CAPTURE_BUCKET, STORE_BUCKET = "capture", "artifact-store"
CAPTURE_PREFIX = "data-capture/churn/"
BASELINE_PREFIX = "models/churn/sha256-" + "a" * 64 + "/baseline/"
REPORT_PREFIX = "drift-reports/churn/"
# A recent hour: CloudWatch keeps datapoints of the last two weeks only.
HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)


@pytest.fixture
def account(plans_baseline: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Buckets with the baseline and a window of captures for each variant; the function's
    environment pointing at them."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        for bucket in (CAPTURE_BUCKET, STORE_BUCKET):
            s3.create_bucket(Bucket=bucket)
        for name in ("statistics.json", "constraints.json"):
            s3.put_object(
                Bucket=STORE_BUCKET,
                Key=BASELINE_PREFIX + name,
                Body=(plans_baseline / name).read_bytes(),
            )
        champion = lines_of(plans(20, 300), STYLES, HOUR)
        put_capture(s3, "champion", [*champion[:10], "{oops", *champion[10:]])
        put_capture(s3, "challenger", lines_of(plans(21, 300, shifted=True), STYLES, HOUR))
        environment = {
            metrics.ENV_CAPTURE_URI: f"s3://{CAPTURE_BUCKET}/{CAPTURE_PREFIX}",
            metrics.ENV_ENDPOINT: ENDPOINT,
            metrics.ENV_VARIANTS: "champion,challenger",
            metrics.ENV_BASELINE_URI: f"s3://{STORE_BUCKET}/{BASELINE_PREFIX}",
            metrics.ENV_REPORT_URI: f"s3://{CAPTURE_BUCKET}/{REPORT_PREFIX}",
            metrics.ENV_NAMESPACE: metrics.NAMESPACE,
            metrics.ENV_WINDOW_SECONDS: "3600",
        }
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        yield {"s3": s3, "cloudwatch": cloudwatch}


def put_capture(s3: Any, variant: str, lines: list[str], hour: datetime = HOUR) -> None:
    key = CAPTURE_PREFIX + capture_key(ENDPOINT, variant, hour, "1-abc.jsonl")
    s3.put_object(Bucket=CAPTURE_BUCKET, Key=key, Body="".join(f"{line}\n" for line in lines))


def scheduled(hour: datetime) -> dict[str, str]:
    """The event EventBridge Scheduler sends a few minutes after ``hour``."""
    moment = (hour + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    event: dict[str, str] = json.loads(
        metrics.SCHEDULE_INPUT.replace("<aws.scheduler.scheduled-time>", moment)
    )
    return event


def datapoints(cloudwatch: Any, variant: str) -> dict[str, float]:
    found = {}
    listed = cloudwatch.list_metrics(Namespace=metrics.NAMESPACE)["Metrics"]
    for metric in listed:
        dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        if dimensions != {"Endpoint": ENDPOINT, "Variant": variant}:
            continue
        stats = cloudwatch.get_metric_statistics(
            Namespace=metrics.NAMESPACE,
            MetricName=metric["MetricName"],
            Dimensions=metric["Dimensions"],
            StartTime=HOUR - timedelta(hours=1),
            EndTime=HOUR + timedelta(hours=3),
            Period=3600,
            Statistics=["Maximum"],
        )["Datapoints"]
        found[metric["MetricName"]] = max(point["Maximum"] for point in stats)
    return found


def report_keys(s3: Any) -> list[str]:
    listed = s3.list_objects_v2(Bucket=CAPTURE_BUCKET, Prefix=REPORT_PREFIX)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_each_variant_gets_a_metric_per_feature_and_its_reports(
    account: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    s3, cloudwatch = account["s3"], account["cloudwatch"]
    result = handler(scheduled(HOUR + timedelta(hours=1)), None)

    names = {metrics.metric_name(f) for f in ("tenure", "charges", "plan")}
    champion, challenger = datapoints(cloudwatch, "champion"), datapoints(cloudwatch, "challenger")
    assert set(champion) == set(challenger) == names
    # Unshifted: every distance within the threshold (0.1); shifted: tenure and plan beyond it.
    assert max(champion.values()) <= 0.1
    assert challenger[metrics.metric_name("tenure")] > 0.1
    assert challenger[metrics.metric_name("plan")] > 0.1
    assert challenger[metrics.metric_name("charges")] <= 0.1

    folder = f"{ENDPOINT}/{{}}/{HOUR:%Y/%m/%d/%H}/".format
    expected = [
        REPORT_PREFIX + folder(variant) + name
        for variant in ("challenger", "champion")
        for name in (
            "analysis.json",
            "constraint_violations.json",
            "report.html",
            "statistics.json",
        )
    ]
    assert report_keys(s3) == expected

    def read(key: str) -> Any:
        return json.loads(s3.get_object(Bucket=CAPTURE_BUCKET, Key=key)["Body"].read())

    violations = read(REPORT_PREFIX + folder("challenger") + "constraint_violations.json")
    assert {v["feature_name"] for v in violations["violations"]} >= {"tenure", "plan"}
    assert read(REPORT_PREFIX + folder("champion") + "constraint_violations.json") == {
        "violations": []
    }
    statistics = read(REPORT_PREFIX + folder("champion") + "statistics.json")
    assert statistics["dataset"] == {"item_count": 300}
    analysis = read(REPORT_PREFIX + folder("champion") + "analysis.json")
    assert analysis["problems"]["counts"] == {"malformed line": 1}
    assert analysis["window"] == {
        "since": HOUR.isoformat().replace("+00:00", "Z"),
        "until": (HOUR + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
    }
    assert result["variants"]["champion"]["rows"] == 300
    assert result["variants"]["challenger"]["violations"] >= 2
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["variant"], line["metrics"]) for line in logged] == [
        ("champion", 3),
        ("challenger", 3),
    ]


def test_an_empty_window_puts_no_metric_and_says_so(
    account: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    s3, cloudwatch = account["s3"], account["cloudwatch"]
    later = HOUR + timedelta(hours=2)  # the window of the hour after the captures' hour
    result = handler(scheduled(later), None)
    assert cloudwatch.list_metrics(Namespace=metrics.NAMESPACE)["Metrics"] == []
    assert result["variants"]["champion"]["rows"] == 0
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert logged[0]["note"].startswith("no captured request from ")
    assert logged[0]["note"].endswith(": no metric put")
    folder = f"{REPORT_PREFIX}{ENDPOINT}/champion/{HOUR + timedelta(hours=1):%Y/%m/%d/%H}/"
    assert [k for k in report_keys(s3) if k.startswith(folder)] == [
        folder + "analysis.json",
        folder + "report.html",
    ]


def test_a_baseline_missing_from_the_store_fails_the_run_after_reporting_it(
    account: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    s3, cloudwatch = account["s3"], account["cloudwatch"]
    missing = f"s3://{STORE_BUCKET}/models/churn/sha256-{'b' * 64}/baseline/"
    monkeypatch.setenv(metrics.ENV_BASELINE_URI, missing)
    with pytest.raises(DriftAnalysisFailed, match=f"cannot read the baseline's {missing}"):
        handler(scheduled(HOUR + timedelta(hours=1)), None)
    assert cloudwatch.list_metrics(Namespace=metrics.NAMESPACE)["Metrics"] == []
    key = f"{REPORT_PREFIX}{ENDPOINT}/champion/{HOUR:%Y/%m/%d/%H}/analysis.json"
    analysis = json.loads(s3.get_object(Bucket=CAPTURE_BUCKET, Key=key)["Body"].read())
    assert analysis["baseline"]["uri"] == missing
    assert analysis["baseline"]["problem"].startswith(f"cannot read the baseline's {missing}")
    assert analysis["files"] == 1


def test_variants_left_unset_are_the_folders_found() -> None:
    environ = {
        metrics.ENV_CAPTURE_URI: "s3://capture/data-capture/churn",
        metrics.ENV_ENDPOINT: ENDPOINT,
        metrics.ENV_BASELINE_URI: "s3://store/models/churn/sha256-x/baseline/",
        metrics.ENV_REPORT_URI: "s3://capture/drift-reports/churn/",
        metrics.ENV_WINDOW_SECONDS: "86400",
    }
    config = Config.from_environment(environ)
    assert (config.capture_prefix, config.variants) == ("data-capture/churn/", ())
    assert config.namespace == metrics.NAMESPACE


def test_a_missing_or_wrong_setting_is_one_error_naming_each_variable() -> None:
    with pytest.raises(PackagingError) as raised:
        Config.from_environment(
            {metrics.ENV_CAPTURE_URI: "capture/data", metrics.ENV_WINDOW_SECONDS: "hourly"}
        )
    assert str(raised.value) == (
        f"{metrics.ENV_CAPTURE_URI} must be s3://BUCKET/PREFIX, got 'capture/data'; "
        f"{metrics.ENV_BASELINE_URI} is not set; {metrics.ENV_REPORT_URI} is not set; "
        f"{metrics.ENV_ENDPOINT} is not set; {metrics.ENV_WINDOW_SECONDS} must be a number of"
        " seconds from 1 to 2678400, got 'hourly'"
    )


def test_the_window_ends_at_the_scheduled_hour_or_is_named_by_the_event() -> None:
    now = datetime(2024, 5, 1, 10, 42, tzinfo=UTC)
    hour = datetime(2024, 5, 1, 10, tzinfo=UTC)
    window = window_of({"scheduled_time": "2024-05-01T10:05:00Z"}, 3600, now)
    assert (window.since, window.until) == (hour - timedelta(hours=1), hour)
    window = window_of({}, 86400, now)
    assert (window.since, window.until) == (hour - timedelta(days=1), hour)
    window = window_of({"since": "2024-04-01", "until": "2024-04-02"}, 3600, now)
    assert window.describe() == "from 2024-04-01T00:00:00Z to 2024-04-02T00:00:00Z"
    with pytest.raises(PackagingError, match="the event's time is not ISO 8601"):
        window_of({"scheduled_time": "yesterday"}, 3600, now)


def test_drift_check_on_the_s3_captures_finds_what_the_function_wrote(
    account: dict[str, Any], plans_baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = account["s3"]
    handler(scheduled(HOUR + timedelta(hours=1)), None)
    capsys.readouterr()
    since = HOUR.isoformat().replace("+00:00", "Z")
    status, out, _ = release(
        capsys,
        "drift-check",
        "--baseline",
        str(plans_baseline),
        "--capture",
        f"s3://{CAPTURE_BUCKET}/{CAPTURE_PREFIX}{ENDPOINT}/challenger/",
        "--since",
        since,
        "--json",
    )
    key = f"{REPORT_PREFIX}{ENDPOINT}/challenger/{HOUR:%Y/%m/%d/%H}/constraint_violations.json"
    written = json.loads(s3.get_object(Bucket=CAPTURE_BUCKET, Key=key)["Body"].read())
    assert status == 1
    assert json.loads(out) == written
