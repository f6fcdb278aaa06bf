"""The ``mlserve`` drift engine's function: one window of an endpoint's captures, per variant.

``handler(event, context)`` is the Lambda entry point (:data:`model_packaging.drift.metrics.
HANDLER`). It reads its configuration from the environment (the ``ENV_*`` names of
:mod:`model_packaging.drift.metrics`), and for each variant of the endpoint:

1. lists the capture files of the window's hours below
   ``<capture URI><endpoint>/<variant>/yyyy/mm/dd/hh/`` and runs :func:`engine.analyse` on them
   against the pinned version's baseline, the same analysis ``drift-check --capture`` runs;
2. puts one CloudWatch metric per feature (:mod:`model_packaging.drift.metrics`: the distance
   ``baseline_drift_check`` compares with the threshold), timestamped at the window's end;
3. writes under ``<report URI><endpoint>/<variant>/yyyy/mm/dd/hh/`` (the window's first hour, as
   the captures it read are filed):
   ``constraint_violations.json`` and ``statistics.json`` (Model Monitor's formats, as
   ``drift-check --json`` and ``build`` write them), ``analysis.json`` (what was read and what
   was skipped, and why) and ``report.html`` (:mod:`model_packaging.drift.report_html`).

The window: ``[until - MLSERVE_DRIFT_WINDOW_SECONDS, until)``, ``until`` the event's
``scheduled_time`` (what :data:`metrics.SCHEDULE_INPUT` asks EventBridge Scheduler to send)
rounded down to the hour, or the current hour without one. An event may name ``since`` and
``until`` itself (ISO 8601), to analyse a past window again.

What fails and how it shows:

- bad captures (a malformed line, an unknown encoding, a row with too few or too many values)
  are counted in ``analysis.json``, the report and the log, and the rest is analysed;
- a window without captures puts no metric (an alarm treating missing data as not breaching
  stays quiet), writes ``analysis.json`` and the report saying so, and logs one line;
- a baseline missing from the store, a listing or a write that fails: every variant is still
  attempted and written as far as it can be, then the invocation fails
  (:class:`DriftAnalysisFailed`), so the function's ``Errors`` metric counts it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.settings.artifacts import CONSTRAINTS_NAME, STATISTICS_NAME
from model_packaging.drift import metrics
from model_packaging.drift.baseline import to_json
from model_packaging.drift.capture import s3_files, split_s3_uri
from model_packaging.drift.engine import Analysis, analyse
from model_packaging.drift.window import Window, parse_time
from model_packaging.errors import PackagingError

VIOLATIONS_NAME = "constraint_violations.json"
ANALYSIS_NAME = "analysis.json"
REPORT_NAME = "report.html"
# botocore cloudwatch PutMetricData: "Each request is also limited to no more than 1000
# different metrics".
METRICS_PER_REQUEST = 1000
# The longest window taken: a month. Longer ones are a mistake (the schedules are hourly or
# daily), and CloudWatch takes datapoints from the last two weeks only (botocore cloudwatch
# PutMetricData: "as much as two weeks before the current date").
MAX_WINDOW_SECONDS = 31 * 24 * 3600


class DriftAnalysisFailed(Exception):
    """The analysis of a window could not be completed; the message says what failed."""


@dataclass(frozen=True)
class Config:
    """The function's configuration, from its environment."""

    capture_bucket: str
    capture_prefix: str
    endpoint: str
    variants: tuple[str, ...]
    baseline_bucket: str
    baseline_prefix: str
    report_bucket: str
    report_prefix: str
    namespace: str
    window_seconds: int

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Config:
        """Raises :class:`PackagingError` naming every variable that is missing or wrong."""
        problems: list[str] = []

        def required(name: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                problems.append(f"{name} is not set")
            return value

        def location(name: str) -> tuple[str, str]:
            value = required(name)
            if not value:
                return "", ""
            try:
                return split_s3_uri(value)
            except PackagingError:
                problems.append(f"{name} must be s3://BUCKET/PREFIX, got {value!r}")
                return "", ""

        capture = location(metrics.ENV_CAPTURE_URI)
        baseline = location(metrics.ENV_BASELINE_URI)
        report = location(metrics.ENV_REPORT_URI)
        endpoint = required(metrics.ENV_ENDPOINT)
        seconds_text = required(metrics.ENV_WINDOW_SECONDS)
        seconds = 0
        if seconds_text:
            if seconds_text.isdigit() and 0 < int(seconds_text) <= MAX_WINDOW_SECONDS:
                seconds = int(seconds_text)
            else:
                problems.append(
                    f"{metrics.ENV_WINDOW_SECONDS} must be a number of seconds from 1 to"
                    f" {MAX_WINDOW_SECONDS}, got {seconds_text!r}"
                )
        if problems:
            raise PackagingError("; ".join(problems))
        variants = tuple(
            v.strip() for v in environ.get(metrics.ENV_VARIANTS, "").split(",") if v.strip()
        )
        return cls(
            capture_bucket=capture[0],
            capture_prefix=capture[1],
            endpoint=endpoint,
            variants=variants,
            baseline_bucket=baseline[0],
            baseline_prefix=baseline[1],
            report_bucket=report[0],
            report_prefix=report[1],
            namespace=environ.get(metrics.ENV_NAMESPACE, "").strip() or metrics.NAMESPACE,
            window_seconds=seconds,
        )


def handler(event: Any, context: Any) -> dict[str, Any]:
    """The Lambda entry point (``model_packaging.drift.handler.handler``)."""
    from model_packaging.store import aws

    config = Config.from_environment(os.environ)
    window = window_of(event, config.window_seconds, datetime.now(UTC))
    session = aws.session()
    return run(config, window, aws.client(session, "s3"), aws.client(session, "cloudwatch"))


def window_of(event: Any, seconds: int, now: datetime) -> Window:
    """The window an event asks for (see the module's documentation)."""
    event = event if isinstance(event, dict) else {}
    try:
        if event.get("since") and event.get("until"):
            return Window(parse_time(str(event["since"])), parse_time(str(event["until"])))
        moment = event.get("scheduled_time") or event.get("time")
        end = parse_time(str(moment)) if moment else now.astimezone(UTC)
    except ValueError as exc:
        raise PackagingError(f"the event's time is not ISO 8601: {exc}") from None
    until = end.replace(minute=0, second=0, microsecond=0)
    return Window(until - timedelta(seconds=seconds), until)


def run(
    config: Config,
    window: Window,
    s3: Any,
    cloudwatch: Any,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Analyse ``window`` for every variant; raises :class:`DriftAnalysisFailed` at the end if
    any step failed, after doing every other."""
    say = log or _log
    failures: list[str] = []
    baseline_uri = f"s3://{config.baseline_bucket}/{config.baseline_prefix}"
    try:
        statistics, constraints = load_baseline(s3, config.baseline_bucket, config.baseline_prefix)
        baseline_problem = ""
    except PackagingError as exc:
        statistics, constraints = {}, {}
        baseline_problem = str(exc)
        failures.append(baseline_problem)
    variants = list(config.variants)
    if not variants:
        try:
            variants = _variants(s3, config)
        except PackagingError as exc:
            failures.append(str(exc))
    results: dict[str, Any] = {}
    for variant in variants:
        outcome = _variant(
            config, window, variant, statistics, constraints, baseline_problem, s3, cloudwatch
        )
        failures += outcome.pop("failures")
        results[variant] = outcome
        say(json.dumps({"endpoint": config.endpoint, "variant": variant, **outcome}))
    summary = {
        "endpoint": config.endpoint,
        "window": {"since": _iso(window.since), "until": _iso(window.until)},
        "baseline": baseline_uri,
        "variants": results,
    }
    if failures:
        say(json.dumps({**summary, "failures": failures}))
        raise DriftAnalysisFailed("; ".join(failures))
    return summary


def _variant(
    config: Config,
    window: Window,
    variant: str,
    statistics: dict[str, Any],
    constraints: dict[str, Any],
    baseline_problem: str,
    s3: Any,
    cloudwatch: Any,
) -> dict[str, Any]:
    failures: list[str] = []
    prefix = f"{config.capture_prefix}{config.endpoint}/{variant}/"
    try:
        files = s3_files(s3, config.capture_bucket, prefix, window, by_hour=True)
    except PackagingError as exc:
        failures.append(str(exc))
        files = []
    if baseline_problem:
        analysis = None
    else:
        analysis = analyse(statistics, constraints, files, window)
    outcome: dict[str, Any] = {
        "files": len(files),
        "rows": analysis.rows if analysis else 0,
        "violations": len(analysis.report.violations) if analysis else 0,
        "metrics": 0,
    }
    if analysis is not None:
        outcome["problems"] = dict(analysis.problems.counts)
        if not analysis.rows:
            outcome["note"] = f"no captured request {window.describe()}: no metric put"
    else:
        outcome["note"] = f"not analysed: {baseline_problem}"
    if analysis is not None and analysis.rows:
        try:
            outcome["metrics"] = put_metrics(cloudwatch, config, variant, analysis)
        except PackagingError as exc:
            failures.append(str(exc))
    start = window.since or window.until or datetime.now(UTC)
    folder = f"{config.report_prefix}{config.endpoint}/{variant}/{start:%Y/%m/%d/%H}/"
    try:
        outcome["report"] = write_reports(
            s3, config, folder, variant, window, analysis, baseline_problem, len(files)
        )
    except PackagingError as exc:
        failures.append(str(exc))
    outcome["failures"] = failures
    return outcome


def load_baseline(s3: Any, bucket: str, prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """statistics.json and constraints.json from ``s3://bucket/prefix``."""
    from model_packaging.store.aws import reporting

    documents = []
    for name in (STATISTICS_NAME, CONSTRAINTS_NAME):
        uri = f"s3://{bucket}/{prefix}{name}"
        with reporting(f"cannot read the baseline's {uri}"):
            raw = s3.get_object(Bucket=bucket, Key=f"{prefix}{name}")["Body"].read()
        try:
            document = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PackagingError(f"{uri}: not valid JSON: {exc}") from None
        if not isinstance(document, dict):
            raise PackagingError(f"{uri}: must hold a JSON object")
        documents.append(document)
    return documents[0], documents[1]


def put_metrics(cloudwatch: Any, config: Config, variant: str, analysis: Analysis) -> int:
    """One datapoint per feature with a distance; the number put."""
    from model_packaging.store.aws import reporting

    until = analysis.window.until or datetime.now(UTC)
    data = [
        {
            "MetricName": metrics.metric_name(name),
            "Dimensions": [
                {"Name": metrics.DIMENSION_ENDPOINT, "Value": config.endpoint},
                {"Name": metrics.DIMENSION_VARIANT, "Value": variant},
            ],
            "Timestamp": until,
            "Value": distance.value,
            "Unit": "None",
        }
        for name, distance in sorted(analysis.distances.items())
        # botocore cloudwatch MetricDatum.MetricName: at most 255 characters.
        if len(metrics.metric_name(name)) <= 255
    ]
    for start in range(0, len(data), METRICS_PER_REQUEST):
        with reporting(f"cannot put metrics in {config.namespace}"):
            cloudwatch.put_metric_data(
                Namespace=config.namespace, MetricData=data[start : start + METRICS_PER_REQUEST]
            )
    return len(data)


def write_reports(
    s3: Any,
    config: Config,
    folder: str,
    variant: str,
    window: Window,
    analysis: Analysis | None,
    baseline_problem: str,
    files: int,
) -> str:
    """The window's documents under ``folder`` of the report bucket; its s3:// URI."""
    from model_packaging.drift import report_html
    from model_packaging.store.aws import reporting

    summary: dict[str, Any]
    documents: dict[str, tuple[bytes, str]] = {}
    if analysis is not None:
        summary = analysis.as_json()
        if analysis.rows:
            documents[VIOLATIONS_NAME] = (to_json(analysis.report.as_json()), "application/json")
            documents[STATISTICS_NAME] = (to_json(analysis.sample), "application/json")
    else:
        summary = {
            "window": {"since": _iso(window.since), "until": _iso(window.until)},
            "files": files,
        }
    summary = {
        **summary,
        "endpoint": config.endpoint,
        "variant": variant,
        "baseline": {
            "uri": f"s3://{config.baseline_bucket}/{config.baseline_prefix}",
            "problem": baseline_problem or None,
        },
    }
    documents[ANALYSIS_NAME] = (to_json(summary), "application/json")
    page = report_html.render_analysis(
        analysis,
        title=f"{config.endpoint} / {variant}",
        window=window,
        baseline_problem=baseline_problem,
    )
    documents[REPORT_NAME] = (page.encode("utf-8"), "text/html; charset=utf-8")
    for name, (body, content_type) in documents.items():
        key = f"{folder}{name}"
        with reporting(f"cannot write s3://{config.report_bucket}/{key}"):
            s3.put_object(Bucket=config.report_bucket, Key=key, Body=body, ContentType=content_type)
    return f"s3://{config.report_bucket}/{folder}"


def _variants(s3: Any, config: Config) -> list[str]:
    """The variants with captures: the folders below the endpoint's capture prefix."""
    from model_packaging.store.aws import reporting

    prefix = f"{config.capture_prefix}{config.endpoint}/"
    found: list[str] = []
    with reporting(f"cannot list s3://{config.capture_bucket}/{prefix}"):
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=config.capture_bucket, Prefix=prefix, Delimiter="/"
        ):
            for common in page.get("CommonPrefixes", []):
                found.append(common["Prefix"][len(prefix) :].rstrip("/"))
    return found


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _log(line: str) -> None:
    # Lambda sends a function's standard output to its log group, a line an event.
    print(line, file=sys.stdout, flush=True)
