"""``verify``: prove an artifact is intact and answers its samples before anyone deploys it.

1. Every digest in the manifest is checked: the data-quality baseline's files beside the
   artifact, then the artifact's bytes while it is unpacked into a temporary folder (a
   mismatch raises, naming the file).
2. A fresh interpreter (``python -m model_packaging.artifact.container``) loads the model the
   way the serving container does and runs every sample request, timing each. A load or a
   sample that runs out of time (:class:`Timeouts`) ends it, and everything it started, with a
   report of what hung.
3. Each response is compared with the sample's expected value: JSON structurally, numbers
   within a relative tolerance; text exactly.

Only the artifact folder is needed: the samples travel in the manifest.
"""

from __future__ import annotations

import base64
import json
import math
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import model_packaging
from model_packaging.artifact.container import (
    DEFAULT_LOAD_TIMEOUT_SECONDS,
    DEFAULT_REQUEST_TIMEOUT_SECONDS,
    load_timeout_message,
    local_environment,
    request_timeout_message,
    timeout_problem,
)
from model_packaging.artifact.descriptor import Expected
from model_packaging.artifact.manifest import (
    LoadedArtifact,
    SampleRecord,
    check_baseline,
    load_artifact,
    unpack,
)
from model_packaging.errors import PackagingError
from model_packaging.progress import progress_bar

# Below this magnitude numbers are equal whatever the relative tolerance says: a probability
# of 0 and one of 1e-17 are the same answer.
ABSOLUTE_TOLERANCE = 1e-12
# How far numbers in a response may be from the expected ones, relatively, unless told.
DEFAULT_REL_TOLERANCE = 1e-6


@dataclass(frozen=True)
class SampleOutcome:
    name: str
    ok: bool
    latency_ms: float | None
    problem: str | None = None


@dataclass
class VerifyReport:
    """What verify found; ``lines()`` is what the command prints."""

    artifact: Path
    digest: str
    file_count: int
    load_ms: float | None = None
    load_error: str | None = None
    samples: list[SampleOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.load_error is None and all(sample.ok for sample in self.samples)

    @property
    def failed(self) -> list[str]:
        return [sample.name for sample in self.samples if not sample.ok]

    def lines(self) -> list[str]:
        lines = [f"ok    sha256:{self.digest} {self.artifact} ({self.file_count} files match)"]
        if self.load_error is not None:
            lines.append(f"FAIL  model did not load: {self.load_error}")
            lines.append("verify failed: the model did not load")
            return lines
        lines.append(f"ok    model loaded in {self.load_ms:.1f} ms")
        width = max((len(sample.name) for sample in self.samples), default=0)
        for sample in self.samples:
            latency = "-" if sample.latency_ms is None else f"{sample.latency_ms:.2f} ms"
            status = "ok  " if sample.ok else "FAIL"
            line = f"{status}  sample {sample.name:<{width}}  {latency:>10}"
            lines.append(line + (f"  {sample.problem}" if sample.problem else ""))
        if self.ok:
            lines.append(f"verified: {len(self.samples)} of {len(self.samples)} samples match")
        else:
            failed = self.failed
            lines.append(
                f"verify failed: {len(failed)} of {len(self.samples)} samples differ: "
                + ", ".join(failed)
            )
        return lines


@dataclass(frozen=True)
class Timeouts:
    """How long verify waits for the model: to load, and for each sample's response."""

    load: float = DEFAULT_LOAD_TIMEOUT_SECONDS
    request: float = DEFAULT_REQUEST_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        for flag, value in (("--load-timeout", self.load), ("--request-timeout", self.request)):
            if problem := timeout_problem(value):
                raise PackagingError(f"{flag} {value:g}: {problem}")


def verify(
    artifact: Path,
    *,
    rel_tolerance: float = DEFAULT_REL_TOLERANCE,
    progress: bool = True,
    timeouts: Timeouts | None = None,
) -> VerifyReport:
    """Check ``artifact`` (build output folder or manifest.json) and run its samples.

    Raises PackagingError when the bytes differ from the manifest; returns a report whose
    ``ok`` is False when the model fails to load, does not load within ``timeouts.load``, a
    sample gets no response within ``timeouts.request``, or a response differs.
    """
    if not rel_tolerance >= 0:
        raise PackagingError(f"--rel-tolerance {rel_tolerance}: must be >= 0")
    timeouts = timeouts or Timeouts()
    loaded = load_artifact(artifact)
    manifest = loaded.manifest
    report = VerifyReport(loaded.artifact_path, manifest.digest, len(manifest.files))
    check_baseline(manifest, loaded.directory)
    with tempfile.TemporaryDirectory(prefix="verify-") as temp:
        model_dir = Path(temp, "model")
        model_dir.mkdir()
        with progress_bar(manifest.artifact.size, f"verify {manifest.name}", progress) as bar:
            unpack(loaded, model_dir, bar.update)
        outcome = _run_in_fresh_process(loaded, model_dir, Path(temp), timeouts)
    if outcome["load_error"] is not None:
        report.load_error = outcome["load_error"]
        return report
    report.load_ms = outcome["load_ms"]
    results = {result["name"]: result for result in outcome["results"]}
    timed_out = outcome.get("timed_out")
    for sample in manifest.samples:
        result = results.get(sample.name)
        if result is None:
            # The first sample without a result is the one that ran out of time; the model
            # was stopped there, so the ones after it never ran.
            report.samples.append(SampleOutcome(sample.name, False, None, timed_out))
            timed_out = "not run: the model was stopped"
            continue
        problem = result["error"] or response_problem(
            sample, result["content_type"], base64.b64decode(result["body_base64"]), rel_tolerance
        )
        report.samples.append(SampleOutcome(sample.name, problem is None, result["ms"], problem))
    return report


def _run_in_fresh_process(
    loaded: LoadedArtifact, model_dir: Path, work: Path, timeouts: Timeouts
) -> dict[str, Any]:
    """Run the samples in a new interpreter with the container's environment variables.

    The interpreter reports its progress as events on a pipe (see ``container.run_requests``);
    each step has its own deadline. A model that misses one is killed, with anything it started
    (the interpreter leads a process group of its own), and the outcome says what it was doing.
    """
    manifest = loaded.manifest
    requests = [
        {
            "name": sample.name,
            "content_type": sample.content_type,
            "accept": sample.accept,
            "body_base64": base64.b64encode(sample.request_bytes()).decode("ascii"),
        }
        for sample in manifest.samples
    ]
    requests_path = work / "requests.json"
    requests_path.write_text(json.dumps(requests), encoding="utf-8")
    # The tool itself must be importable in the child even when it is not installed.
    tool_root = str(Path(model_packaging.__file__).resolve().parent.parent)
    python_path = os.pathsep.join(filter(None, [tool_root, os.environ.get("PYTHONPATH")]))
    env = {
        **os.environ,
        **local_environment(manifest.environment, model_dir),
        "PYTHONPATH": python_path,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    read_fd, write_fd = os.pipe()
    command = [sys.executable, "-m", "model_packaging.artifact.container", str(model_dir)]
    command += [manifest.entry_point, str(requests_path), str(write_fd)]
    # The model's own output goes to a file: a full pipe nobody reads would stall the model.
    with open(work / "model-output.log", "w+b") as output:
        try:
            process = subprocess.Popen(
                command,
                cwd=work,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                pass_fds=(write_fd,),
                start_new_session=True,
            )
        finally:
            os.close(write_fd)
        try:
            outcome = _watch(_Events(read_fd), manifest.entry_point, len(requests), timeouts)
            if outcome is None:
                status = process.wait()
                output.seek(0)
                lines = output.read().decode("utf-8", "replace").strip().splitlines()
                last = (lines or ["no output"])[-1]
                return _load_failure(f"model process exited with status {status}: {last}")
            return outcome
        finally:
            _kill_group(process)
            os.close(read_fd)


class _Events:
    """JSON lines from the model process's pipe, each read with a deadline."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = b""
        self._closed = False

    def next(self, timeout: float) -> dict[str, Any] | None:
        """The next event; None when the process closed the pipe; TimeoutError after timeout."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            if self._closed:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._fd], [], [], remaining)[0]:
                raise TimeoutError
            chunk = os.read(self._fd, 65536)
            self._closed = not chunk
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        event: dict[str, Any] = json.loads(line)
        return event


def _watch(
    events: _Events, entry_point: str, count: int, timeouts: Timeouts
) -> dict[str, Any] | None:
    """Collect the outcome from the events; None when the process ended without finishing."""
    imported = False
    started = time.monotonic()
    try:
        while True:
            event = events.next(timeouts.load - (time.monotonic() - started))
            if event is None:
                return None
            if event["event"] == "imported":
                imported = True
                continue
            if event["event"] == "load_error":
                return _load_failure(event["message"])
            break
    except TimeoutError:
        return _load_failure(load_timeout_message(entry_point, imported, timeouts.load))
    outcome: dict[str, Any] = {"load_error": None, "load_ms": event["load_ms"], "results": []}
    for _ in range(count):
        try:
            event = events.next(timeouts.request)
        except TimeoutError:
            outcome["timed_out"] = request_timeout_message(timeouts.request)
            return outcome
        if event is None:
            return None
        outcome["results"].append(event)
    return outcome


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """End the model process and everything it started; a no-op once they have all exited."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _load_failure(message: str) -> dict[str, Any]:
    return {"load_error": message, "load_ms": None, "results": []}


def response_problem(
    sample: SampleRecord, content_type: str | None, body: bytes, rel_tolerance: float
) -> str | None:
    """Why a response (its Content-Type and body) does not match the sample's expectation, or
    None when it does. ``verify`` judges the model's answers with it, and the smoke test of a
    live endpoint (``status --check-deployed --invoke``) the endpoint's."""
    if content_type != sample.accept:
        return f"responded with {content_type!r}, the sample accepts {sample.accept!r}"
    return compare(sample.expected, body, rel_tolerance)


def compare(expected: Expected, body: bytes, rel_tolerance: float) -> str | None:
    """Compare a response body with an expected value; the problem in words, or None."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "response is not UTF-8 text"
    if not expected.is_json:
        if text == expected.text:
            return None
        return f"expected text {_short(expected.text)}, got {_short(text)}"
    try:
        actual = json.loads(text)
    except ValueError:
        return f"response is not JSON: {_short(text)}"
    return _json_difference(expected.json_, actual, "$", rel_tolerance)


def _json_difference(expected: Any, actual: Any, where: str, rel_tolerance: float) -> str | None:
    if _is_number(expected) and _is_number(actual):
        if math.isclose(expected, actual, rel_tol=rel_tolerance, abs_tol=ABSOLUTE_TOLERANCE):
            return None
        return f"{where}: expected {expected!r}, got {actual!r} (rel tolerance {rel_tolerance:g})"
    if isinstance(expected, list) and isinstance(actual, list):
        return _list_difference(expected, actual, where, rel_tolerance)
    if isinstance(expected, dict) and isinstance(actual, dict):
        return _object_difference(expected, actual, where, rel_tolerance)
    if type(expected) is type(actual) and expected == actual:
        return None
    return f"{where}: expected {_short(json.dumps(expected))}, got {_short(json.dumps(actual))}"


def _list_difference(
    expected: list[Any], actual: list[Any], where: str, rel_tolerance: float
) -> str | None:
    if len(expected) != len(actual):
        return f"{where}: expected {len(expected)} items, got {len(actual)}"
    for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
        problem = _json_difference(want, got, f"{where}[{index}]", rel_tolerance)
        if problem:
            return problem
    return None


def _object_difference(
    expected: dict[str, Any], actual: dict[str, Any], where: str, rel_tolerance: float
) -> str | None:
    if expected.keys() != actual.keys():
        missing = sorted(expected.keys() - actual.keys())
        extra = sorted(actual.keys() - expected.keys())
        return f"{where}: keys differ (missing {missing}, unexpected {extra})"
    for key in expected:
        problem = _json_difference(expected[key], actual[key], f"{where}.{key}", rel_tolerance)
        if problem:
            return problem
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _short(text: str | None, limit: int = 80) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
