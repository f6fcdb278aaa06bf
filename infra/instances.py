"""Facts about SageMaker instance types that the API model does not carry."""

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


# The instance type's family: "ml.g4dn.xlarge" -> series "g", generation "4", options "dn".
_FAMILY = re.compile(r"^ml\.([a-z]+)(\d+)([a-z-]*)\.")

# Amazon EC2 "Amazon EC2 instance type naming conventions" (docs.aws.amazon.com/ec2/latest/
# instancetypes): the option "d" in a family's name means "Instance store volumes" (g4dn, r5d,
# m5d, c5d, p3dn, p4d, ...).
_INSTANCE_STORE_OPTION = "d"
# Families with instance store volumes whose names do not say so: the NVMe SSD instance store
# rows of Amazon EC2 "Specifications for Amazon EC2 accelerated computing instances"
# (instance store specifications) for the G5, G6, G6e, G7e, P5, P5e and P5en types.
_INSTANCE_STORE_FAMILIES = frozenset({"g5", "g6", "g6e", "g7e", "p5", "p5e", "p5en"})


def has_local_storage(instance_type: str) -> bool:
    """Whether SageMaker gives an instance of this type its instance store, not an EBS volume.

    botocore sagemaker ``ProcessingClusterConfig.VolumeSizeInGB`` and ``VolumeKmsKeyId``: on
    "Nitro-based instances [that] include local storage", SageMaker "mounts the local instance
    storage instead of Amazon EBS gp2 storage", which "a hardware module on the instance"
    encrypts, and a request that names a ``VolumeKmsKeyId`` for such a type is refused. Both
    point to EC2's instance store volumes for the list of those types.
    """
    match = _FAMILY.match(instance_type)
    if match is None:
        raise ValueError(f"{instance_type!r}: not an ml.<family>.<size> instance type")
    series, generation, options = match.groups()
    return (
        _INSTANCE_STORE_OPTION in options.split("-")[0]
        or f"{series}{generation}{options}" in _INSTANCE_STORE_FAMILIES
    )
