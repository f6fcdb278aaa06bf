"""A region's ARN partition and DNS suffix, as botocore's endpoints data gives them."""

from __future__ import annotations

import pytest

from infra import naming, partitions


@pytest.mark.parametrize(
    ("region", "partition", "suffix"),
    [
        ("us-east-1", "aws", "amazonaws.com"),
        ("eu-west-1", "aws", "amazonaws.com"),
        ("cn-north-1", "aws-cn", "amazonaws.com.cn"),
        ("us-gov-west-1", "aws-us-gov", "amazonaws.com"),
        ("us-isof-south-1", "aws-iso-f", "csp.hci.ic.gov"),
        ("us-iso-east-1", "aws-iso", "c2s.ic.gov"),
    ],
)
def test_partition_and_dns_suffix_of_a_region(region: str, partition: str, suffix: str) -> None:
    assert partitions.partition(region) == partition
    assert partitions.dns_suffix(region) == suffix
    assert naming.partition(region) == partition


def test_a_region_botocore_does_not_know_is_taken_as_commercial() -> None:
    assert partitions.partition("xx-nowhere-9") == "aws"
    assert partitions.dns_suffix("xx-nowhere-9") == "amazonaws.com"
