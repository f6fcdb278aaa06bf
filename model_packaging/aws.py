"""AWS clients for the release tool, and the translation of AWS failures into one-line errors.

Every client comes from boto3's default session, so the standard AWS environment alone decides
where requests go and how they are retried: credentials and profile, region, ``AWS_ENDPOINT_URL``
(a local moto server in the demo and the tests), ``AWS_MAX_ATTEMPTS`` and ``AWS_RETRY_MODE``.
There is deliberately no other switch, so the code that runs against the emulator is the code
that runs against AWS.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from model_packaging.errors import PackagingError

# Part uploads run in a few threads; the pool must not make them queue for a connection.
_CONFIG = Config(max_pool_connections=16, user_agent_extra="model-packaging")


@dataclass(frozen=True)
class Clients:
    """The clients one command needs, created from the same session so they share a region."""

    s3: Any
    sagemaker: Any

    @property
    def region(self) -> str:
        return str(self.sagemaker.meta.region_name)


def connect() -> Clients:
    """Create the S3 and SageMaker clients from the default session.

    A missing region is reported here, before any work starts: without one, boto3 fails deep
    inside the first call with a message that does not say what to set.
    """
    session = boto3.session.Session()
    if not session.region_name:
        raise PackagingError(
            "no AWS region configured: set AWS_REGION or AWS_DEFAULT_REGION, or a region in the"
            " AWS profile"
        )
    return Clients(
        s3=session.client("s3", config=_CONFIG),
        sagemaker=session.client("sagemaker", config=_CONFIG),
    )


def error_code(exc: ClientError) -> str:
    """The AWS error code, or the HTTP status for responses without a body (HEAD requests)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def describe(exc: BaseException) -> str:
    """Render an AWS or connection failure on one line, keeping AWS's code and message."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code") or str(http_status(exc))
        message = error.get("Message") or ""
        text = f"{code}: {message}" if message and message != code else code
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


@contextmanager
def reporting(action: str) -> Iterator[None]:
    """Turn any boto3 failure inside the block into ``PackagingError("<action>: <cause>")``.

    ``action`` names what was being done and to what (a bucket, a key, a group), so the one line
    the user sees says where to look. PackagingErrors raised inside pass through unchanged.
    """
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise PackagingError(f"{action}: {describe(exc)}") from exc
