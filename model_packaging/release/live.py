"""What an environment's endpoint serves right now, read from SageMaker.

Reaching an environment: its region comes from its stack file (``aws:region``); its account
from the default boto3 session, or from the AWS profile named by ``MLSERVE_PROFILE_<ENV>``
(e.g. ``MLSERVE_PROFILE_PROD=ml-prod-readonly``) when that variable is set, because each
environment usually runs in an account of its own. Anything that stops the query (no
credentials, an unknown profile, access denied, no connection) raises :class:`Unreachable`,
which names the real cause; callers decide whether that is fatal.

Finding a model's endpoint: the program names it ``<model>-<env>-<suffix>``
(``infra.naming.endpoint_name_prefix``). What it serves: DescribeEndpoint gives the endpoint
configuration, whose production variants name SageMaker Models, whose primary container names
the registry version (``ModelPackageName``).

No query waits without end: each request has the timeouts and attempts of
:func:`model_packaging.store.aws.client_config`, and :func:`within` bounds a whole command's
queries by ``DEADLINE_SECONDS`` whatever the network does.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from infra import naming
from model_packaging.errors import PackagingError
from model_packaging.store import aws, registry
from model_packaging.store.aws import describe, error_code, http_status

PROFILE_VARIABLE = "MLSERVE_PROFILE_{}"
IN_SERVICE = "InService"
# Error codes that mean these credentials may not look, as opposed to a request that is wrong:
# IAM's AccessDenied(Exception), and STS/signature failures of unusable credentials.
_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
}
# The longest a command's queries of the environments may take together (status, check-deployed).
# One request that gets no answer gives up after MAX_ATTEMPTS x (connect + read timeout) plus the
# backoff between attempts, 48 s with the defaults, and names its cause; the deadline also bounds
# a server that answers every request just before its timeout, and leaves a command that starts
# in a second or two within a minute.
DEADLINE_SECONDS = 50.0

T = TypeVar("T")


class Unreachable(PackagingError):
    """An environment could not be queried; the message names the environment and the cause."""

    def __init__(self, environment: str, cause: str) -> None:
        self.environment = environment
        self.cause = cause
        super().__init__(f"cannot query {environment}: {cause}")


@dataclass(frozen=True)
class Variant:
    name: str
    model_name: str
    package: str | None
    """The registry version ARN the variant's Model deploys, None for an image + artifact."""
    model_data_url: str | None = None


@dataclass(frozen=True)
class LiveEndpoint:
    name: str
    status: str
    config: str
    config_created: Any
    variants: tuple[Variant, ...]
    failure_reason: str | None = None
    pending_config: str | None = None
    """The configuration an update in progress moves the endpoint to (DescribeEndpoint's
    PendingDeploymentSummary, "only returned when the endpoint is creating or updating with a
    new endpoint configuration": botocore's sagemaker model)."""

    def variant(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)

    @property
    def champion(self) -> str | None:
        variant = self.variant(naming.CHAMPION)
        return variant.package if variant else None


def profile_variable(environment: str) -> str:
    return PROFILE_VARIABLE.format(environment.upper())


def environment_client(environment: str, region: str, service: str = "sagemaker") -> Any:
    """A client for ``environment``'s account in ``region``: its profile, or the default."""
    variable = profile_variable(environment)
    profile = os.environ.get(variable) or None
    try:
        session = aws.session(
            region=region, profile=profile, profile_variable=variable if profile else None
        )
        return aws.client(session, service)
    except PackagingError as exc:
        raise Unreachable(environment, str(exc)) from exc


def within(deadline: float, environment: str, work: Callable[[], T]) -> T:
    """``work()``'s result, or Unreachable when it has not finished after ``deadline`` seconds.

    The work runs in a daemon thread, which is left to end on its own (its requests have their
    timeouts): the command does not wait for it, and the process does not either when it exits.
    An exception the work raises is raised here.
    """
    outcome: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"query-{environment}", daemon=True)
    thread.start()
    thread.join(deadline)
    if failure:
        raise failure[0]
    if not outcome:
        raise Unreachable(environment, no_answer(deadline))
    return outcome[0]


def no_answer(deadline: float) -> str:
    return f"no answer within {deadline:g} s: check the network, a proxy or AWS_ENDPOINT_URL"


@contextmanager
def querying(environment: str, what: str, sagemaker: Any = None) -> Iterator[None]:
    """Name the environment in any failure: Unreachable for credentials, access and network,
    a PackagingError about ``what`` for anything else (:func:`translated`)."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise translated(exc, environment, what, sagemaker) from exc


def translated(
    exc: ClientError | BotoCoreError, environment: str, what: str, sagemaker: Any = None
) -> PackagingError:
    """The error for ``exc``: Unreachable when the environment cannot be asked at all (no
    credentials, access denied, no connection or no answer, an answer that is not the API's, the
    service failing), a PackagingError about ``what`` when one request was refused."""
    if isinstance(exc, BotoCoreError):
        # NoCredentialsError, EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ...:
        # the class names the cause better than some of the messages do.
        return Unreachable(environment, f"{type(exc).__name__}: {describe(exc)}")
    status = http_status(exc)
    if error_code(exc) in _DENIED:
        return Unreachable(environment, describe(exc))
    if status == 403:
        # A denial whose body botocore could not parse still is one.
        return Unreachable(environment, f"AccessDenied (HTTP 403): {describe(exc)}")
    if error_code(exc) in ("", str(status)):
        # No AWS error in the answer (botocore then uses the HTTP status as the code): whatever
        # answered is not the SageMaker API, e.g. a proxy or a wrong AWS_ENDPOINT_URL. Its body
        # (an HTML page, often) is left out.
        url = getattr(getattr(sagemaker, "meta", None), "endpoint_url", None)
        at = f" from {url}" if url else ""
        return Unreachable(
            environment,
            f"HTTP {status}{at} without an AWS error: not an answer of the SageMaker API"
            " (check AWS_ENDPOINT_URL)",
        )
    if status >= 500:
        # InternalFailure, ServiceUnavailable: still failing after botocore's retries.
        return Unreachable(environment, describe(exc))
    return PackagingError(f"cannot read {what} in {environment}: {describe(exc)}")


def cannot_reach(exc: BaseException) -> bool:
    """Whether ``exc`` (or the AWS failure that caused it) means the service cannot be asked at
    all, as opposed to one request being refused."""
    if isinstance(exc, Unreachable):
        return True
    cause = exc if isinstance(exc, (ClientError, BotoCoreError)) else exc.__cause__
    if not isinstance(cause, (ClientError, BotoCoreError)):
        return False
    return isinstance(translated(cause, "", ""), Unreachable)


def registered_version(
    sagemaker: Any, package: str, environment: str
) -> registry.VersionInfo | None:
    """The registry version ``package`` as this environment's credentials read it, or None when
    the registry has no such version; failures as :func:`querying` names them."""
    try:
        return registry.describe_version(sagemaker, package)
    except PackagingError as exc:
        cause = exc.__cause__
        if isinstance(cause, (ClientError, BotoCoreError)):
            raise translated(cause, environment, f"model package {package}", sagemaker) from cause
        raise


def find_endpoint(sagemaker: Any, model: str, environment: str) -> str | None:
    """The name of the endpoint serving ``model`` in ``environment``, if there is one.

    Names must start with exactly ``<model>-<env>-`` and end in a single token: model names may
    hold hyphens, so the prefix of model ``a`` in ``dev`` also starts ``a-dev-dev-…`` of model
    ``a-dev``. During a replacement two endpoints exist; the InService one wins, then the newest.
    """
    prefix = naming.endpoint_name_prefix(model, environment)
    with querying(environment, f"the endpoints of {model}", sagemaker):
        pages = sagemaker.get_paginator("list_endpoints").paginate(
            NameContains=prefix, SortBy="CreationTime", SortOrder="Descending"
        )
        found = [
            summary
            for page in pages
            for summary in page.get("Endpoints", [])
            if summary["EndpointName"].startswith(prefix)
            and "-" not in summary["EndpointName"][len(prefix) :]
        ]
    if not found:
        return None
    best = max(found, key=lambda s: (s.get("EndpointStatus") == IN_SERVICE, s["CreationTime"]))
    return str(best["EndpointName"])


def describe_live(sagemaker: Any, model: str, environment: str) -> LiveEndpoint | None:
    """What ``model``'s endpoint in ``environment`` serves, or None when it has no endpoint."""
    name = find_endpoint(sagemaker, model, environment)
    if name is None:
        return None
    with querying(environment, f"endpoint {name}", sagemaker):
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
        config_name = str(endpoint["EndpointConfigName"])
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        variants = tuple(
            _variant(sagemaker, variant)
            for variant in [
                *config.get("ProductionVariants", []),
                *config.get("ShadowProductionVariants", []),
            ]
        )
    return LiveEndpoint(
        name=name,
        status=str(endpoint["EndpointStatus"]),
        config=config_name,
        config_created=config.get("CreationTime"),
        variants=variants,
        failure_reason=endpoint.get("FailureReason"),
        pending_config=(endpoint.get("PendingDeploymentSummary") or {}).get("EndpointConfigName"),
    )


def newer_config(sagemaker: Any, model: str, environment: str, live: LiveEndpoint) -> str | None:
    """The newest endpoint configuration of this model and environment created after the live
    one, if any: the program made it for the endpoint, so the endpoint should be on it.

    The program auto-names configurations, tags each with ``model`` and ``environment``, and
    keeps superseded ones, so the tags, not the names, say whose a configuration is.
    ListEndpointConfigs' CreationTimeAfter is inclusive ("greater than or equal", botocore's
    sagemaker model), hence the strict comparison here.
    """
    with querying(environment, f"the endpoint configurations of {model}", sagemaker):
        pages = sagemaker.get_paginator("list_endpoint_configs").paginate(
            CreationTimeAfter=live.config_created, SortBy="CreationTime", SortOrder="Descending"
        )
        for page in pages:
            for summary in page.get("EndpointConfigs", []):
                if summary["EndpointConfigName"] == live.config:
                    continue
                if summary["CreationTime"] <= live.config_created:
                    continue
                tags = _tags(sagemaker, summary["EndpointConfigArn"])
                if tags.get("model") == model and tags.get("environment") == environment:
                    return str(summary["EndpointConfigName"])
    return None


def _variant(sagemaker: Any, variant: Mapping[str, Any]) -> Variant:
    model_name = str(variant["ModelName"])
    described = sagemaker.describe_model(ModelName=model_name)
    container: Mapping[str, Any] = described.get("PrimaryContainer") or next(
        iter(described.get("Containers", [])), {}
    )
    package = container.get("ModelPackageName")
    return Variant(
        str(variant["VariantName"]),
        model_name,
        str(package) if package else None,
        container.get("ModelDataUrl"),
    )


def _tags(sagemaker: Any, arn: str) -> dict[str, str]:
    pages = sagemaker.get_paginator("list_tags").paginate(ResourceArn=arn)
    return {tag["Key"]: tag["Value"] for page in pages for tag in page.get("Tags", [])}
