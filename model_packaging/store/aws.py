"""AWS clients for the release tool, and the translation of AWS failures into one-line errors.

Every session and client of the tool is made here (:func:`session`, :func:`client`), from
boto3's default session unless a command names a profile, so the standard AWS environment alone
decides where requests go and how they are retried: credentials and profile, region,
``AWS_ENDPOINT_URL`` (a local moto server in the demo and the tests), ``AWS_MAX_ATTEMPTS`` and
``AWS_RETRY_MODE``. The code that runs against the emulator is the code that runs against AWS.

No request waits without end (:func:`client_config`): each has a connect and a read timeout and
a bounded number of attempts. ``MLSERVE_AWS_TIMEOUT_SECONDS`` sets both timeouts (the one switch
of the tool's own; the tests shorten them with it); by default a connection gives up after
``CONNECT_TIMEOUT_SECONDS`` and an answer after ``READ_TIMEOUT_SECONDS``, except S3's, which may
take longer (``S3_READ_TIMEOUT_SECONDS``). Each request is tried ``MAX_ATTEMPTS`` times in
botocore's ``standard`` retry mode unless ``AWS_MAX_ATTEMPTS`` or ``AWS_RETRY_MODE`` (or the
profile's ``max_attempts`` and ``retry_mode``) say otherwise.

Each session resolves its own credentials, profile, region and endpoint, but they all read
botocore's JSON models through one loader, which parses each file once for the whole process
(:func:`_shared_loader`).

A wrong set-up (an unknown profile, no or half the credentials, no region) surfaces in botocore
either when the session is made or at the first request; :func:`setup_problem` names it the same
way in both places, instead of a traceback or a message about the request that happened to fail.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.loaders import Loader

from model_packaging.errors import PackagingError

# Part uploads run in a few threads; the pool must not make them queue for a connection.
_POOL_CONNECTIONS = 16
_USER_AGENT = "model-packaging"

TIMEOUT_VARIABLE = "MLSERVE_AWS_TIMEOUT_SECONDS"
# botocore waits 60 s for a connection and 60 s for each read by default (botocore.config.Config,
# connect_timeout and read_timeout), and retries on top: a host that accepts a connection and
# never answers held a command for minutes. An AWS API endpoint answers a TCP handshake in
# milliseconds and a Describe or List call in well under a second.
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 10.0
# S3 may be slow to answer CompleteMultipartUpload ("could take several minutes", while it sends
# white space to keep the connection open: S3 API Reference, CompleteMultipartUpload), so its
# reads keep botocore's default (60 s) unless the variable asks for more.
S3_READ_TIMEOUT_SECONDS = 60.0
# Attempts per request, the first included, and the retry mode: botocore's standard mode and its
# default number of attempts (botocore.retries.standard.DEFAULT_MAX_ATTEMPTS). It retries
# throttling, transient errors and connection failures and timeouts, with a jittered backoff of
# at most 1 s and 2 s before the second and third attempts for throttling (base 1 s, doubled per
# attempt; 50 ms for other errors: botocore.retries.standard.ExponentialBackoff).
MAX_ATTEMPTS = 3
RETRY_MODE = "standard"
RETRY_BACKOFF_SECONDS = 1.0 + 2.0
# Where botocore reads the profile from, in its order of precedence (botocore configprovider,
# the "profile" session variable).
_PROFILE_VARIABLES = ("AWS_DEFAULT_PROFILE", "AWS_PROFILE")
_NO_REGION = (
    "NoRegionError: no AWS region configured: set AWS_REGION or AWS_DEFAULT_REGION, or a region"
    " in the AWS profile"
)


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
    default = session()
    if not default.region_name:
        raise PackagingError(_NO_REGION)
    return Clients(s3=client(default, "s3"), sagemaker=client(default, "sagemaker"))


def session(
    *, region: str | None = None, profile: str | None = None, profile_variable: str | None = None
) -> boto3.session.Session:
    """A session with the default credentials, or ``profile``'s, in ``region`` if given.

    ``profile_variable`` is the environment variable that named ``profile``, for the message.
    The profile is resolved here, so an unknown one is a PackagingError before any work starts.
    """
    with setting_up(profile_variable):
        core = botocore.session.Session(profile=profile)
        core.get_scoped_config()
        made = boto3.session.Session(botocore_session=core, region_name=region)
        # After boto3 has added its resource models' folder to the session's own loader
        # (boto3.session.Session._setup_loader), which the shared one already searches.
        core.register_component("data_loader", _shared_loader(core))
        return made


# The first loader made for each data path: botocore makes a loader per session
# (botocore.session.Session._register_data_loader, from the "data_path" setting alone) and caches
# what it parses per loader (botocore.loaders.instance_cache), so without sharing it every session
# would parse the large S3 and SageMaker models again.
_loaders: dict[str | None, Loader] = {}


def _shared_loader(core: botocore.session.Session) -> Loader:
    data_path = core.get_config_variable("data_path")
    return _loaders.setdefault(data_path, core.get_component("data_loader"))


def client(made_from: boto3.session.Session, service: str) -> Any:
    """A client of ``service`` from ``made_from``, with the tool's timeouts and retries."""
    config = client_config(made_from, service)
    with setting_up():
        return made_from.client(service, config=config)


def warm_up(service: str, region: str) -> None:
    """Make one client of ``service`` now, so that threads about to make their own find its API
    model parsed (:func:`_shared_loader`) instead of all parsing it at once, each holding the
    others up (a SageMaker client takes most of a second the first time). A failure is left to
    the clients that follow, which report it where it belongs."""
    try:
        client(session(region=region), service)
    except (PackagingError, BotoCoreError):
        pass


def request_timeouts() -> tuple[float, float]:
    """The connect and read timeouts of a request, in seconds: ``MLSERVE_AWS_TIMEOUT_SECONDS``
    for both when it is set, else the defaults. A value that is not a positive number is an
    error, raised before any request is made."""
    text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise PackagingError(
            f"{TIMEOUT_VARIABLE} must be a number of seconds greater than 0, got {text!r}: set it"
            f" to one, or unset it for the defaults ({CONNECT_TIMEOUT_SECONDS:g} s to connect,"
            f" {READ_TIMEOUT_SECONDS:g} s for an answer)"
        )
    return value, value


def client_config(made_from: boto3.session.Session, service: str) -> Config:
    """Timeouts and retries of every client (module docstring).

    Attempts and mode are set explicitly, so the bound holds whatever botocore's defaults become;
    the ones the AWS configuration names (``AWS_MAX_ATTEMPTS``, ``AWS_RETRY_MODE``, or the
    profile's ``max_attempts`` and ``retry_mode``: botocore's config variables) win.
    """
    connect, read = request_timeouts()
    if service == "s3":
        read = max(read, S3_READ_TIMEOUT_SECONDS)
    core = made_from._session
    with setting_up():
        attempts = core.get_config_variable("max_attempts")
        mode = core.get_config_variable("retry_mode")
    return Config(
        connect_timeout=connect,
        read_timeout=read,
        retries={
            "total_max_attempts": int(attempts) if attempts else MAX_ATTEMPTS,
            "mode": mode or RETRY_MODE,
        },
        max_pool_connections=_POOL_CONNECTIONS,
        user_agent_extra=_USER_AGENT,
    )


@contextmanager
def setting_up(profile_variable: str | None = None) -> Iterator[None]:
    """Turn a set-up failure inside the block into a PackagingError naming it."""
    try:
        yield
    except BotoCoreError as exc:
        problem = setup_problem(exc, profile_variable)
        if problem is None:
            raise
        raise PackagingError(problem) from exc


def setup_problem(exc: BaseException, profile_variable: str | None = None) -> str | None:
    """What is wrong with the AWS set-up, when ``exc`` says the set-up is wrong; else None.

    The botocore class leads the message, because it is what people search for.
    """
    if isinstance(exc, ProfileNotFound):
        profile = exc.kwargs.get("profile")
        variable = profile_variable or next(
            (name for name in _PROFILE_VARIABLES if os.environ.get(name) == profile),
            "the AWS config file",
        )
        return f"ProfileNotFound: the AWS profile {profile!r} named by {variable} does not exist"
    if isinstance(exc, PartialCredentialsError):
        return (
            f"PartialCredentialsError: the AWS credentials in {exc.kwargs.get('provider')} lack"
            f" {exc.kwargs.get('cred_var')}: set it too, or remove the others"
        )
    if isinstance(exc, NoCredentialsError):
        return (
            "NoCredentialsError: no AWS credentials found: set AWS_ACCESS_KEY_ID and"
            " AWS_SECRET_ACCESS_KEY, or AWS_PROFILE to a configured profile"
        )
    if isinstance(exc, NoRegionError):
        return _NO_REGION
    return None


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
    the user sees says where to look, and the cause is named: a wrong set-up as such
    (:func:`setup_problem`). PackagingErrors raised inside pass through unchanged.
    """
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise PackagingError(failure(action, exc)) from exc


def failure(action: str, exc: BotoCoreError | ClientError) -> str:
    """The one line for ``exc`` raised while doing ``action``: the action, then the cause (the
    set-up problem, AWS's code and message, or the botocore class of a network failure)."""
    problem = setup_problem(exc)
    if problem is not None:
        return f"{action}: {problem}"
    if isinstance(exc, ClientError):
        return f"{action}: {describe(exc)}"
    return f"{action}: {type(exc).__name__}: {describe(exc)}"
