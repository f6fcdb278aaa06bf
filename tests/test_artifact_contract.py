"""The artifact contract both wings share: version numbers, digests and store prefixes."""

from __future__ import annotations

import pytest

from infra.settings import artifacts

ARN = "arn:aws:sagemaker:us-east-1:111111111111:model-package/churn/12"
HEX = "ab" * 32


def test_a_version_arn_round_trips_through_its_number() -> None:
    assert artifacts.version_of(ARN) == 12
    assert artifacts.version_arn("aws", "us-east-1", "111111111111", "churn", 12) == ARN


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:sagemaker:us-east-1:111111111111:model-package/churn",
        "arn:aws:sagemaker:us-east-1:111111111111:model-package-group/churn",
        "arn:aws:sagemaker:us-east-1:1111:model-package/churn/1",
    ],
)
def test_an_arn_without_a_version_is_named_in_the_error(arn: str) -> None:
    with pytest.raises(ValueError, match=f"^{arn!r} is not a versioned model package ARN$"):
        artifacts.version_of(arn)
    assert artifacts.version_or_none(arn) is None


def test_no_arn_has_no_version() -> None:
    assert artifacts.version_or_none(None) is None
    assert artifacts.version_or_none("") is None


@pytest.mark.parametrize("digest", [HEX, f"sha256:{HEX}"])
def test_prefixes_and_short_digest_take_a_digest_with_or_without_its_prefix(digest: str) -> None:
    assert artifacts.short_digest(digest) == HEX[:12]
    assert artifacts.model_prefix("churn") == "models/churn/"
    assert artifacts.artifact_prefix("churn", digest) == f"models/churn/sha256-{HEX}/"
    assert artifacts.baseline_prefix("churn", digest) == f"models/churn/sha256-{HEX}/baseline/"
