"""``verify``: prove an artifact is intact and answers its samples before anyone deploys it.

1. Every digest in the manifest is checked against the bytes while the artifact is unpacked
   into a temporary folder (a mismatch raises, naming the file).
2. A fresh interpreter (``python -m model_packaging.container``) loads the model the way the
   serving container does and runs every sample request, timing each.
3. Each response is compared with the sample's expected value: JSON structurally, numbers
   within a relative tolerance; text exactly.

Only the artifact folder is needed: the samples travel in the manifest.
"""

from __future__ import annotations

import base64
import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import model_packaging
from model_packaging.container import local_environment
from model_packaging.descriptor import Expected
from model_packaging.errors import PackagingError
from model_packaging.manifest import LoadedArtifact, SampleRecord, load_artifact, unpack
from model_packaging.progress import progress_bar

# Below this magnitude numbers are equal whatever the relative tolerance says: a probability
# of 0 and one of 1e-17 are the same answer.
ABSOLUTE_TOLERANCE = 1e-12
MODEL_PROCESS_TIMEOUT_SECONDS = 600


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


def verify(artifact: Path, *, rel_tolerance: float = 1e-6, progress: bool = True) -> VerifyReport:
    """Check ``artifact`` (build output folder or manifest.json) and run its samples.

    Raises PackagingError when the bytes differ from the manifest; returns a report whose
    ``ok`` is False when the model fails to load or a response differs.
    """
    if not rel_tolerance >= 0:
        raise PackagingError(f"--rel-tolerance {rel_tolerance}: must be >= 0")
    loaded = load_artifact(artifact)
    manifest = loaded.manifest
    report = VerifyReport(loaded.artifact_path, manifest.digest, len(manifest.files))
    with tempfile.TemporaryDirectory(prefix="verify-") as temp:
        model_dir = Path(temp, "model")
        model_dir.mkdir()
        with progress_bar(manifest.artifact.size, f"verify {manifest.name}", progress) as bar:
            unpack(loaded, model_dir, bar.update)
        outcome = _run_in_fresh_process(loaded, model_dir, Path(temp))
    if outcome["load_error"] is not None:
        report.load_error = outcome["load_error"]
        return report
    report.load_ms = outcome["load_ms"]
    results = {result["name"]: result for result in outcome["results"]}
    for sample in manifest.samples:
        result = results[sample.name]
        problem = result["error"] or _response_problem(sample, result, rel_tolerance)
        report.samples.append(SampleOutcome(sample.name, problem is None, result["ms"], problem))
    return report


def _run_in_fresh_process(loaded: LoadedArtifact, model_dir: Path, work: Path) -> dict[str, Any]:
    """Run the samples in a new interpreter with the container's environment variables."""
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
    requests_path, results_path = work / "requests.json", work / "results.json"
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
    command = [sys.executable, "-m", "model_packaging.container", str(model_dir)]
    command += [manifest.entry_point, str(requests_path), str(results_path)]
    try:
        process = subprocess.run(
            command,
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=MODEL_PROCESS_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        return _load_failure(f"no answer within {MODEL_PROCESS_TIMEOUT_SECONDS} s")
    if process.returncode != 0 or not results_path.is_file():
        last = (process.stderr.strip().splitlines() or ["no output"])[-1]
        return _load_failure(f"model process exited with status {process.returncode}: {last}")
    outcome: dict[str, Any] = json.loads(results_path.read_text(encoding="utf-8"))
    return outcome


def _load_failure(message: str) -> dict[str, Any]:
    return {"load_error": message, "load_ms": None, "results": []}


def _response_problem(
    sample: SampleRecord, result: dict[str, Any], rel_tolerance: float
) -> str | None:
    """Why a response does not match the sample's expectation, or None when it does."""
    if result["content_type"] != sample.accept:
        return f"responded with {result['content_type']!r}, the sample accepts {sample.accept!r}"
    body = base64.b64decode(result["body_base64"])
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
        if len(expected) != len(actual):
            return f"{where}: expected {len(expected)} items, got {len(actual)}"
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            problem = _json_difference(want, got, f"{where}[{index}]", rel_tolerance)
            if problem:
                return problem
        return None
    if isinstance(expected, dict) and isinstance(actual, dict):
        if expected.keys() != actual.keys():
            missing = sorted(expected.keys() - actual.keys())
            extra = sorted(actual.keys() - expected.keys())
            return f"{where}: keys differ (missing {missing}, unexpected {extra})"
        for key in expected:
            problem = _json_difference(expected[key], actual[key], f"{where}.{key}", rel_tolerance)
            if problem:
                return problem
        return None
    if type(expected) is type(actual) and expected == actual:
        return None
    return f"{where}: expected {_short(json.dumps(expected))}, got {_short(json.dumps(actual))}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _short(text: str | None, limit: int = 80) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
