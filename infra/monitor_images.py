"""The SageMaker Model Monitor analyzer image of each region, for data-quality jobs.

The Pulumi program cannot import the sagemaker SDK (requirements.txt holds only what the
program needs), so the table is checked in. It copies the SDK's
``sagemaker/core/image_uri_config/model-monitor.json`` (the account of the
``sagemaker-model-monitor-analyzer`` repository in each region), and
tests/infra/test_drift_monitor.py compares every URI with
``sagemaker.core.image_uris.retrieve("model-monitor", region)`` for every region the SDK knows.
The release tool records the same URIs in each build's manifest (``monitor_images``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from infra import partitions

REPOSITORY = "sagemaker-model-monitor-analyzer"

# Region -> the AWS account that publishes the analyzer there.
_ACCOUNTS = {
    "af-south-1": "875698925577",
    "ap-east-1": "001633400207",
    "ap-northeast-1": "574779866223",
    "ap-northeast-2": "709848358524",
    "ap-northeast-3": "990339680094",
    "ap-south-1": "126357580389",
    "ap-southeast-1": "245545462676",
    "ap-southeast-2": "563025443158",
    "ap-southeast-3": "669540362728",
    "ca-central-1": "536280801234",
    "cn-north-1": "453000072557",
    "cn-northwest-1": "453252182341",
    "eu-central-1": "048819808253",
    "eu-central-2": "590183933784",
    "eu-north-1": "895015795356",
    "eu-south-1": "933208885752",
    "eu-south-2": "437450045455",
    "eu-west-1": "468650794304",
    "eu-west-2": "749857270468",
    "eu-west-3": "680080141114",
    "il-central-1": "843974653677",
    "me-central-1": "588750061953",
    "me-south-1": "607024016150",
    "sa-east-1": "539772159869",
    "us-east-1": "156813124566",
    "us-east-2": "777275614652",
    "us-isof-east-1": "853188333426",
    "us-isof-south-1": "467912361380",
    "us-west-1": "890145073186",
    "us-west-2": "159807026194",
}


@functools.cache
def _table() -> Mapping[str, str]:
    return MappingProxyType(
        {
            region: f"{account}.dkr.ecr.{region}.{partitions.dns_suffix(region)}/{REPOSITORY}"
            for region, account in sorted(_ACCOUNTS.items())
        }
    )


if TYPE_CHECKING:
    # Region -> analyzer image URI, for every region of the table.
    MONITOR_IMAGES: Mapping[str, str]


def __getattr__(name: str) -> Any:
    # The URIs need botocore's partition data (partitions.dns_suffix): built on first use, so
    # that importing the settings' rules, which only look regions up, does not load it.
    if name == "MONITOR_IMAGES":
        return _table()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def analyzer_image(region: str) -> str | None:
    """The analyzer image URI in ``region``, or None where Model Monitor has none."""
    return _table().get(region)


def analyzer_repository_arn(partition: str, region: str) -> str:
    """The ECR repository the analyzer image is pulled from, for the monitoring role's policy."""
    return f"arn:{partition}:ecr:{region}:{_ACCOUNTS[region]}:repository/{REPOSITORY}"
