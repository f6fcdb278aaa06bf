"""Facts about SageMaker hosting instance types that the API model does not carry."""

from __future__ import annotations

import re

# Amazon EC2 "Instance type specifications" (docs.aws.amazon.com/ec2/latest/instancetypes): a
# "large" has 2 vCPUs and each "xlarge" unit 4, in every family SageMaker hosts on (an
# ``ml.`` type is the EC2 type of the same name). "medium" is 1 vCPU on Graviton (m8g, c8g,
# r8g, r7gd) and 2 on the burstable t2.
_SIZE = re.compile(r"^(?:(\d+)?xlarge|large|medium)$")


def vcpus(instance_type: str) -> int:
    """The vCPU count of a hosting instance type, e.g. ``ml.m5.xlarge`` -> 4."""
    size = instance_type.rsplit(".", 1)[-1]
    match = _SIZE.match(size)
    if match is None:
        raise ValueError(f"{instance_type!r}: unknown instance size {size!r}")
    if size == "medium":
        return 2 if instance_type.startswith("ml.t") else 1
    if size == "large":
        return 2
    return 4 * int(match[1] or 1)
