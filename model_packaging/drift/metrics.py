"""What the mlserve drift engine publishes and what configures it, spelled once.

The Lambda handler (``model_packaging.drift.handler``) puts one CloudWatch metric per feature
and variant under these names, and the Pulumi program (``infra/components/drift_engine.py``)
alarms on exactly them and sets the function's environment from ``ENV_*``. Pure Python, no
third-party import: the program reads it without the analysis's dependencies.
"""

from __future__ import annotations

# The namespace of the engine's metrics. A custom namespace must not start with "AWS/"
# (botocore cloudwatch PutMetricDataInput.Namespace).
NAMESPACE = "mlserve/Drift"

# The metric of a feature: the same name Model Monitor's analyzer gives its drift metric.
METRIC_PREFIX = "feature_baseline_drift_"

# The dimensions of every metric: the endpoint and the variant whose captures were analysed.
DIMENSION_ENDPOINT = "Endpoint"
DIMENSION_VARIANT = "Variant"
DIMENSIONS = (DIMENSION_ENDPOINT, DIMENSION_VARIANT)


def metric_name(feature: str) -> str:
    """The drift metric of ``feature``."""
    return f"{METRIC_PREFIX}{feature}"


# The handler's configuration: environment variables the function is created with.
# s3://<capture bucket>/data-capture/<model>/, under which captures lie in
# <endpoint>/<variant>/yyyy/mm/dd/hh/.
ENV_CAPTURE_URI = "MLSERVE_DRIFT_CAPTURE_URI"
# The endpoint whose captures are read.
ENV_ENDPOINT = "MLSERVE_DRIFT_ENDPOINT"
# The variants analysed, comma-separated (champion, challenger, shadow).
ENV_VARIANTS = "MLSERVE_DRIFT_VARIANTS"
# s3://<artifact bucket>/models/<model>/sha256-<hex>/baseline/: statistics.json, constraints.json.
ENV_BASELINE_URI = "MLSERVE_DRIFT_BASELINE_URI"
# s3://<capture bucket>/drift-reports/<model>/: where each window's reports are written, with the
# bucket's default encryption (the environment key); the handler sends no key of its own.
ENV_REPORT_URI = "MLSERVE_DRIFT_REPORT_URI"
# The CloudWatch namespace the metrics go to (NAMESPACE).
ENV_NAMESPACE = "MLSERVE_DRIFT_NAMESPACE"
# The window each run analyses, in seconds: the schedule's interval, ending at the run's hour.
ENV_WINDOW_SECONDS = "MLSERVE_DRIFT_WINDOW_SECONDS"

ENVIRONMENT = (
    ENV_CAPTURE_URI,
    ENV_ENDPOINT,
    ENV_VARIANTS,
    ENV_BASELINE_URI,
    ENV_REPORT_URI,
    ENV_NAMESPACE,
    ENV_WINDOW_SECONDS,
)

# What the schedule passes the function: its scheduled time, which EventBridge Scheduler puts in
# place of the context attribute (EventBridge Scheduler user guide, "Adding context attributes"),
# so a retried or late run still analyses its own interval. The schedule's target Input and what
# the handler reads, spelled here once.
SCHEDULE_INPUT = '{"scheduled_time": "<aws.scheduler.scheduled-time>"}'
