"""The AWS partition of a region, from the endpoints data botocore ships.

ARNs name the partition (``arn:aws-cn:...``) and host names end in its DNS suffix
(``amazonaws.com.cn``): both come from botocore's ``endpoints`` data, which lists each
partition's regions and its region name pattern, so policies and image URIs need no lookup at
deploy time. Only botocore is imported, so settings and components alike may use it.
"""

from __future__ import annotations

import functools
import re
from typing import Any

DEFAULT = "aws"


@functools.lru_cache(maxsize=1)
def _partitions() -> tuple[dict[str, Any], ...]:
    import botocore.loaders

    return tuple(botocore.loaders.create_loader().load_data("endpoints")["partitions"])


@functools.cache
def _of(region: str) -> dict[str, Any]:
    partitions = _partitions()
    for data in partitions:
        if region in data.get("regions", {}):
            return data
    for data in partitions:
        if re.match(data["regionRegex"], region):
            return data
    # A region botocore does not know yet is taken to be in the commercial partition.
    return next(data for data in partitions if data["partition"] == DEFAULT)


def partition(region: str) -> str:
    """The ARN partition of a region: ``aws``, ``aws-cn``, ``aws-us-gov``, ``aws-iso-f``, ..."""
    return str(_of(region)["partition"])


def dns_suffix(region: str) -> str:
    """The DNS suffix of a region's service host names, e.g. ``amazonaws.com.cn``."""
    return str(_of(region)["dnsSuffix"])
