"""What AWS and the provider accept, each with its source: the facts the rules are checked against.

Where botocore's API models carry a fact (an enum, a pattern), it is read from them rather than
copied, so it follows the installed SDK.
"""

from __future__ import annotations

import functools

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy); botocore's model
# documents them in prose, not as an enum, so they are listed here.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
# botocore sagemaker ``ProductionVariantServerlessConfig.MemorySizeInMB``: "Valid values are in
# 1 GB increments", 1024 to 6144 MB.
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)


@functools.lru_cache(maxsize=1)
def sagemaker_instance_types() -> frozenset[str]:
    """Instance types a production variant accepts, from the API model botocore ships."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return frozenset(model.shape_for("ProductionVariantInstanceType").enum)
