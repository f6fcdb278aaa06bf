"""What AWS and the provider accept, each with its source: the facts the rules are checked against.

Where botocore's API models carry a fact (an enum, a pattern), it is read from them rather than
copied, so it follows the installed SDK.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from typing import Any

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy); botocore's model
# documents them in prose, not as an enum, so they are listed here.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
# botocore sagemaker ``ProductionVariantServerlessConfig.MemorySizeInMB``: "Valid values are in
# 1 GB increments", 1024 to 6144 MB.
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)

# --- blue/green deployments -----------------------------------------------------------------

# botocore sagemaker ``TrafficRoutingConfig``: "CanarySize ... Value must be less than or equal
# to 50% of the variant's total instance count"; "LinearStepSize ... Value must be 10-50% of the
# variant's total instance count".
CANARY_PERCENT = (1, 50)
LINEAR_STEP_PERCENT = (10, 50)
# botocore sagemaker ``BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds`` allows 600 to
# 28800; the provider validates 600 to 14400 (terraform-provider-aws
# internal/service/sagemaker/endpoint.go, ``validation.IntBetween(600, 14400)``), and it is the
# provider that sends the value.
EXECUTION_TIMEOUT_SECONDS = (600, 14400)
# botocore sagemaker ``TrafficRoutingConfig.WaitIntervalInSeconds`` and
# ``BlueGreenUpdatePolicy.TerminationWaitInSeconds``: 0 to 3600.
WAIT_SECONDS = (0, 3600)

# The provider waits for an endpoint to be InService for 60 minutes after a create or an update
# and then fails the operation (terraform-provider-aws #39040). The wait was the API model's
# ``EndpointInService`` waiter, 120 attempts 30 s apart (botocore's sagemaker waiters), and is
# a fixed 60 minutes since #39090. Its Endpoint declares no timeouts, so Pulumi's
# ``customTimeouts`` cannot extend it (pulumi-terraform-bridge #2390: custom timeouts on such a
# resource are a no-op).
PROVIDER_ENDPOINT_WAIT_SECONDS = 60 * 60
# A rollout must fit in the provider's wait with room to spare: the worst case may take at most
# this long. The 10 minutes left cover API throttling and the waiter's polling interval.
ROLLOUT_LIMIT_SECONDS = 50 * 60
# Time allowed for SageMaker to provision the new fleet before traffic shifting starts. AWS
# publishes no bound; endpoints take "a little over 10 minutes" to come up
# (terraform-provider-aws #39090), so 15 minutes also covers a slow image or model download.
PROVISIONING_SECONDS = 15 * 60

# How long after a bad minute its rollback alarm can fire at the earliest: SageMaker publishes
# endpoint invocation metrics at a 1-minute frequency (SageMaker developer guide, "Amazon
# SageMaker AI metrics in Amazon CloudWatch"), and CloudWatch evaluates an alarm whose period is
# a minute or more once a minute (CloudWatch user guide, "Using Amazon CloudWatch alarms"): one
# minute for the data point to exist and one for the alarm to see it.
METRIC_DELAY_SECONDS = 2 * 60


@functools.cache
def service_model(service: str) -> Any:
    """An AWS API model as botocore ships it (a ``botocore.model.ServiceModel``).

    Read with botocore's loader rather than through a session: a session reads the AWS profile,
    so an unknown ``AWS_PROFILE`` would fail a check that needs no credentials.
    """
    import botocore.loaders
    import botocore.model

    data = botocore.loaders.create_loader().load_service_model(service, "service-2")
    return botocore.model.ServiceModel(data, service_name=service)


@functools.lru_cache(maxsize=1)
def sagemaker_instance_types() -> frozenset[str]:
    """Instance types a production variant accepts, from the API model botocore ships."""
    return frozenset(service_model("sagemaker").shape_for("ProductionVariantInstanceType").enum)


@functools.lru_cache(maxsize=1)
def lambda_function_arn() -> re.Pattern[str]:
    """A Lambda function ARN, ``arn:<partition>:lambda:<region>:<account>:function:<name>``.

    The pattern is botocore's lambda ``FunctionArn`` shape, which also allows a version or alias
    qualifier after the name (SNS delivers to a qualified function too).
    """
    pattern = service_model("lambda").shape_for("FunctionArn").metadata["pattern"]
    return re.compile(pattern)


@functools.lru_cache(maxsize=1)
def capture_content_type() -> re.Pattern[str]:
    """A content type of a data capture header: botocore sagemaker ``CsvContentType``'s pattern
    (``JsonContentType`` has the same)."""
    shape = service_model("sagemaker").shape_for("CsvContentType")
    return re.compile(shape.metadata["pattern"])


# botocore sagemaker CsvContentType and JsonContentType: "max": 256.
CONTENT_TYPE_MAX = 256

# --- time zones -------------------------------------------------------------------------------
#
# Application Auto Scaling takes "the canonical names of the IANA time zones supported by
# Joda-Time (such as Etc/GMT+9 or Pacific/Tahiti)" (botocore application-autoscaling
# ``PutScheduledActionRequest.Timezone``). Joda-Time compiles the tz database as published by
# global-tz ("Available Time Zones", joda.org/joda-time/timezones.html), and only the links of
# its ``backward`` file become aliases: links of the other files are compiled as zones of their
# own (joda-time src/main/java/org/joda/time/tz/ZoneInfoCompiler.java, ``iBackLinks`` against
# ``iGoodLinks``). global-tz keeps as zones the places tzdata 2022b and later merged into a
# neighbour with the same clocks since 1970 (``Europe/Oslo``, ``Atlantic/Reykjavik``), so those
# names are canonical to Joda-Time although upstream tzdata makes them links.
#
# The names are read from the ``tzdata`` package (requirements.txt), whose ``tzdata.zi`` no
# longer says which file a link came from. A link is taken for an alias when ``zone.tab``, which
# names one zone per country's region, does not list it: merged places are in ``zone.tab``,
# backward-compatible names (``US/Eastern``, ``Asia/Calcutta``, ``GB``, ``Japan``) are not. Checked
# against global-tz's ``backward`` file (JodaOrg/global-tz): every alias there is refused.
# The rule refuses a few names more, each told its replacement: the zones merged since 2022 that
# ``zone.tab`` dropped (``America/Pangnirtung``, ``America/Yellowknife``, ``Asia/Choibalsan``)
# and the POSIX-style names tzdata 2024b made links (``CET``, ``EET``, ``EST``, ``HST``, ``MET``,
# ``MST``, ``WET``). The suggested name is tzdata's link target, which may be the merged zone
# rather than Joda-Time's (``Atlantic/Jan_Mayen`` -> ``Europe/Berlin``, not ``Europe/Oslo``);
# both are accepted and agree since 1970.
#
# Names kept although they are links: ``UTC``, the API's default ("If a time zone is not
# provided, UTC is used by default", same shape) and Joda-Time's own ID for UTC
# (``DateTimeZone.UTC``), and ``GMT``, a link of tzdata's ``etcetera`` file, which Joda-Time
# compiles as a zone. ``Factory`` (tzdata's zone for "no time zone set") is refused, and so are
# the files of a zoneinfo directory that are not zones (``posixrules``, ``localtime``): they
# are not in ``tzdata.zi``.
_KEPT_LINKS = frozenset({"UTC", "GMT"})
_NOT_ZONES = frozenset({"Factory"})


@functools.lru_cache(maxsize=1)
def _tz_names() -> tuple[frozenset[str], dict[str, str]]:
    """The canonical time zone names and the aliases, each with the name to use instead."""
    data = importlib.resources.files("tzdata.zoneinfo")
    zones: set[str] = set()
    links: dict[str, str] = {}
    for line in data.joinpath("tzdata.zi").read_text(encoding="utf-8").splitlines():
        fields = line.split()
        # tzdata.zi is zic's input compacted: "Z NAME ..." is a zone, "L TARGET NAME" a link
        # (zic(8), "Zone" and "Link" lines, abbreviated as zic allows).
        if fields[:1] == ["Z"]:
            zones.add(fields[1])
        elif fields[:1] == ["L"]:
            links[fields[2]] = fields[1]
    listed = {
        line.split("\t")[2]
        for line in data.joinpath("zone.tab").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    canonical = (zones - _NOT_ZONES) | {n for n in links if n in listed or n in _KEPT_LINKS}
    aliases = {name: target for name, target in links.items() if name not in canonical}
    return frozenset(canonical), aliases


def timezones() -> frozenset[str]:
    """The canonical IANA time zone names, which scheduled actions' ``Timezone`` takes."""
    return _tz_names()[0]


def timezone_aliases() -> dict[str, str]:
    """Backward-compatible time zone names (``US/Eastern``), each with its canonical name."""
    return dict(_tz_names()[1])


# botocore sagemaker TagValue: "max": 256.
TAG_VALUE_MAX = 256
