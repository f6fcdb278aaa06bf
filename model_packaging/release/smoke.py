"""The smoke test of a live endpoint: ``status --check-deployed ENV --invoke``.

For each variant of a model's endpoint that the stack file pins, the pinned version's sample
requests are sent to the endpoint, and each answer is compared with the sample's expected one by
the function ``verify`` uses (:func:`model_packaging.artifact.verify.response_problem`): the
Content-Type must be the sample's ``accept``, JSON is compared structurally with numbers within
``verify``'s default relative tolerance, text exactly.

- **The samples** come from the published artifact's ``manifest.json`` in the artifact store,
  read through the manifest model. A ``package:`` pin names a registry version, which records
  where publish put its manifest (the ``manifest-uri`` metadata property); an ``artifact_uri:``
  pin names ``.../model.tar.gz`` or ``.../model/``, and the manifest lies beside it under the same
  artifact prefix (``infra.settings.artifacts.artifact_prefix``). The manifest must describe the
  digest the stack file pins.
- **The requests** are ``sagemaker-runtime`` ``InvokeEndpoint`` calls with ``TargetVariant`` set to
  the variant ("Specify the production variant to send the inference request to ... this
  parameter overrides the default behavior for the endpoint, which is to distribute the
  invocation traffic based on the variant weights": botocore's sagemaker-runtime model,
  ``InvokeEndpointInput.TargetVariant``), and the sample's ``ContentType`` and ``Accept``. Each
  call is timed, from the request to the last byte of the answer, so a latency includes the way
  to the endpoint and back.
- **A shadow variant is not invoked.** ``TargetVariant`` names a production variant; a shadow
  variant is hosted "in shadow mode with production traffic replicated from the model specified
  on ``ProductionVariants``" (botocore's sagemaker model,
  ``CreateEndpointConfigInput.ShadowProductionVariants``), and its answers are not returned to the
  caller (SageMaker developer guide, "Testing models with shadow variants"). It is listed, with
  that reason.
- Everything runs within the check's deadline: a sample is not sent when less than one request's
  timeouts remain before it, and the variant's remaining samples are reported as not run.

The credentials are the environment's (``live.environment_client``), as for the rest of the
check: they need ``sagemaker:InvokeEndpoint`` on the endpoints, and ``s3:GetObject`` on the
manifests (with ``kms:Decrypt`` on the store's key) besides what check-deployed reads.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from infra import naming
from infra.settings import ModelSettings, ModelVersion, artifacts
from model_packaging.artifact.descriptor import validation_problems
from model_packaging.artifact.manifest import ARTIFACT_PATHS, MANIFEST_NAME, Manifest, SampleRecord
from model_packaging.artifact.verify import DEFAULT_REL_TOLERANCE, response_problem
from model_packaging.errors import PackagingError
from model_packaging.release import live
from model_packaging.store import aws, registry
from model_packaging.store.aws import describe, error_code, http_status

# Why a shadow variant gets no request of its own (module docstring).
SHADOW_REASON = (
    "a shadow variant cannot be invoked (InvokeEndpoint's TargetVariant names production"
    " variants); SageMaker sends it copies of the requests the production variant answers"
)
# The answer of an endpoint that a sample's problem quotes is cut to this many characters.
SHOWN_CHARACTERS = 200
# IAM's denials: the credentials may not invoke, as opposed to a request that is wrong.
_DENIED = {"AccessDenied", "AccessDeniedException"}


@dataclass(frozen=True)
class SampleResult:
    """One sample sent to one variant: whether the answer matched, and how long it took."""

    name: str
    ok: bool
    latency_ms: float | None
    """From the request to the last byte of the answer; None when no answer came."""
    problem: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 3),
            "problem": self.problem,
        }


@dataclass(frozen=True)
class VariantResult:
    """The smoke test of one variant of an endpoint."""

    variant: str
    version: ModelVersion
    invoked: bool
    """False when no sample was sent: ``skipped`` or ``problem`` says why."""
    manifest: str | None = None
    """The manifest the samples were read from."""
    samples: tuple[SampleResult, ...] = ()
    problem: str | None = None
    """Why the variant failed as a whole: its samples could not be read, or it could not be
    invoked. None when each sample has its own outcome."""
    skipped: str | None = None
    """Why the variant was not invoked, when that is no failure of its own (a shadow variant,
    an endpoint the rest of the check already fails)."""

    @property
    def ok(self) -> bool:
        return self.problem is None and all(sample.ok for sample in self.samples)

    @property
    def latencies(self) -> list[float]:
        return [s.latency_ms for s in self.samples if s.latency_ms is not None]

    def describe(self) -> str:
        """``champion, version 2`` (or the artifact URI of an ``artifact_uri:`` pin)."""
        number = artifacts.version_or_none(self.version.package)
        if number is not None:
            return f"{self.variant}, version {number}"
        return f"{self.variant}, {self.version.package or self.version.artifact_uri}"

    def failure(self) -> str | None:
        """What the check's line says of a failed variant; None when it passed."""
        if self.ok:
            return None
        if self.problem is not None and not self.samples:
            return (
                f"{self.variant} cannot be invoked"
                if self.invoked
                else f"{self.variant} was not smoke-tested"
            )
        wrong = sum(1 for sample in self.samples if not sample.ok)
        if self.problem is not None:
            return (
                f"{self.variant} answers {wrong} of {len(self.samples)} samples wrongly, then fails"
            )
        return f"{self.variant} answers {wrong} of {len(self.samples)} samples wrongly"

    def lines(self) -> list[str]:
        """What the command prints under the check's line, indented."""
        head = f"  {self.describe()}: "
        if self.skipped is not None:
            return [f"{head}not invoked: {self.skipped}"]
        if self.problem is not None and not self.samples:
            return [f"{head}{self.problem}"]
        answered = sum(1 for sample in self.samples if sample.ok)
        text = f"{answered} of {len(self.samples)} samples answer as expected"
        if self.latencies:
            text += (
                f" (latency median {statistics.median(self.latencies):.1f} ms,"
                f" max {max(self.latencies):.1f} ms)"
            )
        lines = [head + text]
        lines += [
            f"    FAIL sample {sample.name}: {sample.problem}"
            for sample in self.samples
            if not sample.ok
        ]
        if self.problem is not None:
            lines.append(f"    {self.problem}")
        return lines

    def as_json(self) -> dict[str, Any]:
        latencies = self.latencies
        return {
            "variant": self.variant,
            "version": artifacts.version_or_none(self.version.package),
            "package": self.version.package,
            "artifact_uri": self.version.artifact_uri,
            "manifest": self.manifest,
            "invoked": self.invoked,
            "ok": self.ok,
            "problem": self.problem,
            "skipped": self.skipped,
            "samples": [sample.as_json() for sample in self.samples],
            "latency_ms": {
                "median": round(statistics.median(latencies), 3),
                "max": round(max(latencies), 3),
            }
            if latencies
            else None,
        }


class _Unreadable(Exception):
    """A manifest that cannot be read or used; the message says why, on one line."""


@dataclass
class SmokeTest:
    """Sends the pinned versions' samples to one environment's endpoints.

    ``end`` is the ``time.monotonic()`` by which the check must be done.
    """

    environment: str
    region: str
    sagemaker: Any
    """The environment's SageMaker client (registry versions are read with it)."""
    end: float
    rel_tolerance: float = DEFAULT_REL_TOLERANCE
    _runtime: Any = None
    _s3: dict[str, Any] = field(default_factory=dict)
    _manifests: dict[str, Manifest | _Unreadable] = field(default_factory=dict)

    def run(
        self, pinned: ModelSettings, endpoint: live.LiveEndpoint, *, not_now: str | None = None
    ) -> list[VariantResult]:
        """One result per variant the stack file pins, champion first. ``not_now`` is why the
        endpoint takes no requests at the moment (the rest of the check fails it already): no
        variant is invoked then."""
        return [
            self._variant(endpoint, variant, version, not_now)
            for variant, version in naming.variant_versions(pinned).items()
        ]

    def _variant(
        self,
        endpoint: live.LiveEndpoint,
        variant: str,
        version: ModelVersion,
        not_now: str | None,
    ) -> VariantResult:
        if variant == naming.SHADOW:
            return VariantResult(variant, version, False, skipped=SHADOW_REASON)
        if not_now is not None:
            return VariantResult(variant, version, False, skipped=not_now)
        if endpoint.variant(variant) is None:
            # The rest of the check fails it already; a request would only be refused.
            return VariantResult(
                variant, version, False, skipped=f"the endpoint has no {variant} variant"
            )
        try:
            uri, manifest = self._manifest(version)
        except _Unreadable as exc:
            return VariantResult(variant, version, False, problem=f"cannot read its samples: {exc}")
        if not manifest.samples:
            return VariantResult(
                variant, version, False, uri, problem=f"{uri} has no samples: nothing to invoke"
            )
        samples: list[SampleResult] = []
        problem = None
        invoked = False
        for position, sample in enumerate(manifest.samples):
            if not self._time_for_one():
                left = len(manifest.samples) - position
                problem = (
                    f"{left} of {len(manifest.samples)} samples not sent: the check's deadline"
                    " is near"
                )
                break
            invoked = True
            outcome, problem = self._invoke(endpoint.name, variant, sample)
            if outcome is not None:
                samples.append(outcome)
            if problem is not None:
                break
        return VariantResult(variant, version, invoked, uri, tuple(samples), problem)

    def _time_for_one(self) -> bool:
        connect, read = aws.request_timeouts()
        return time.monotonic() + connect + read <= self.end

    def _invoke(
        self, endpoint: str, variant: str, sample: SampleRecord
    ) -> tuple[SampleResult | None, str | None]:
        """The sample's outcome, and why the variant cannot be invoked any further (None when
        it can: a wrong answer or the model's own error fails this sample only)."""
        runtime = self._runtime_client()
        started = time.perf_counter()
        try:
            response = runtime.invoke_endpoint(
                EndpointName=endpoint,
                TargetVariant=variant,
                ContentType=sample.content_type,
                Accept=sample.accept,
                Body=sample.request_bytes(),
            )
            body = response["Body"].read()
        except ClientError as exc:
            elapsed = (time.perf_counter() - started) * 1000
            if error_code(exc) == "ModelError":
                # The model answered with an error of its own (botocore's sagemaker-runtime
                # model: ModelError, "Model (owned by the customer in the container) returned
                # 4xx or 5xx error code"), with OriginalStatusCode and OriginalMessage.
                status = exc.response.get("OriginalStatusCode")
                said = exc.response.get("OriginalMessage") or exc.response.get("Error", {}).get(
                    "Message", ""
                )
                what = f"the model answered {status}" if status else "the model failed"
                return SampleResult(
                    sample.name, False, elapsed, f"ModelError: {what}: {_short(str(said))}"
                ), None
            return None, self._cannot_invoke(exc, endpoint, variant)
        except BotoCoreError as exc:
            return None, f"no answer from {endpoint}: {type(exc).__name__}: {describe(exc)}"
        elapsed = (time.perf_counter() - started) * 1000
        invoked = response.get("InvokedProductionVariant")
        if invoked and invoked != variant:
            problem: str | None = f"answered by variant {invoked}, not {variant}"
        else:
            problem = response_problem(
                sample, response.get("ContentType"), body, self.rel_tolerance
            )
        return SampleResult(sample.name, problem is None, elapsed, problem), None

    def _cannot_invoke(self, exc: ClientError, endpoint: str, variant: str) -> str:
        text = describe(exc)
        if (error_code(exc) in _DENIED or http_status(exc) == 403) and (
            "InvokeEndpoint" not in text
        ):
            text += " (the credentials need sagemaker:InvokeEndpoint on the endpoint)"
        return f"cannot invoke {endpoint} (TargetVariant {variant}): {text}"

    def _runtime_client(self) -> Any:
        if self._runtime is None:
            self._runtime = live.environment_client(
                self.environment, self.region, "sagemaker-runtime"
            )
        return self._runtime

    # --- the samples: the pinned version's manifest in the store ----------------------------

    def _manifest(self, version: ModelVersion) -> tuple[str, Manifest]:
        uri, region = self._manifest_uri(version)
        if uri not in self._manifests:
            try:
                self._manifests[uri] = self._read(uri, region, version.digest)
            except _Unreadable as exc:
                self._manifests[uri] = exc
        found = self._manifests[uri]
        if isinstance(found, _Unreadable):
            raise found
        return uri, found

    def _manifest_uri(self, version: ModelVersion) -> tuple[str, str]:
        """Where the pinned version's manifest is, and the region to ask for it in."""
        if version.package is not None:
            try:
                info = live.registered_version(self.sagemaker, version.package, self.environment)
            except PackagingError as exc:
                raise _Unreadable(str(exc)) from exc
            number = artifacts.version_or_none(version.package)
            label = f"version {number}" if number is not None else version.package
            if info is None:
                raise _Unreadable(f"{label} is not registered: there is no manifest to read")
            uri = info.metadata.get(registry.MANIFEST_URI_KEY)
            if not uri:
                raise _Unreadable(
                    f"{label} records no {registry.MANIFEST_URI_KEY}: it was not registered by"
                    " publish"
                )
            match = artifacts.PACKAGE_ARN_RE.match(version.package)
            return uri, match["region"] if match else self.region
        uri = version.artifact_uri or ""
        for path in ARTIFACT_PATHS.values():
            if uri.endswith(f"/{path}") or uri.endswith(f"/{path.rstrip('/')}"):
                base = uri[: uri.rindex("/" + path.rstrip("/"))]
                return f"{base}/{MANIFEST_NAME}", self.region
        raise _Unreadable(
            f"{uri} does not end in {' or '.join(ARTIFACT_PATHS.values())}: the manifest beside"
            " it cannot be found"
        )

    def _read(self, uri: str, region: str, digest: str) -> Manifest:
        parsed = urlparse(uri)
        bucket, key = parsed.netloc, parsed.path.lstrip("/")
        if parsed.scheme != "s3" or not bucket or not key:
            raise _Unreadable(f"{uri} is not an s3:// URI")
        if region not in self._s3:
            try:
                self._s3[region] = live.environment_client(self.environment, region, "s3")
            except PackagingError as exc:
                raise _Unreadable(str(exc)) from exc
        try:
            body = self._s3[region].get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if http_status(exc) == 404 or error_code(exc) == "NoSuchKey":
                raise _Unreadable(f"{uri} is missing") from exc
            text = describe(exc)
            if error_code(exc) in _DENIED or http_status(exc) == 403:
                text += " (the credentials need s3:GetObject on it, and kms:Decrypt on its key)"
            raise _Unreadable(f"cannot read {uri}: {text}") from exc
        except BotoCoreError as exc:
            raise _Unreadable(f"cannot read {uri}: {type(exc).__name__}: {describe(exc)}") from exc
        try:
            manifest = Manifest.model_validate_json(body)
        except ValidationError as exc:
            problems = validation_problems(exc)
            raise _Unreadable(f"{uri} is not a valid manifest: {'; '.join(problems)}") from exc
        if manifest.digest != artifacts.hex_digest(digest):
            raise _Unreadable(
                f"{uri} describes sha256:{artifacts.short_digest(manifest.digest)}, the stack"
                f" file pins sha256:{artifacts.short_digest(digest)}"
            )
        return manifest


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SHOWN_CHARACTERS else text[: SHOWN_CHARACTERS - 3] + "..."
