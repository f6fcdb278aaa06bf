"""The drift analysis of captured requests: one function for the command line and the function.

:func:`analyse` reads the capture files of a window (:mod:`model_packaging.drift.capture`),
summarises the window's requests exactly as a baseline is summarised (the same per-feature
summaries, KLL sketches and category counts as :func:`model_packaging.drift.baseline.compute`),
and runs drift-check's checks on them (:func:`model_packaging.drift.checks.compare`). It keeps
only those summaries, so its memory does not grow with the number of requests.

``drift-check --capture`` (:func:`check_capture`) and the scheduled function
(:mod:`model_packaging.drift.handler`) both call it.

How the window's values are typed: by the baseline, not by the first rows as a ``--data`` sample
is. A feature the baseline types Integral or Fractional is read as numbers (a CSV cell or a
JSON string holding a number counts as one); any other value of it is counted as "not a number"
and as missing, so a rise shows as a ``completeness_check`` violation and in the count. Every
other feature is read as text (JSON numbers and booleans in their JSON spelling). The window's
own ``inferred_type`` still comes from its values (Integral until a value has a fraction), as a
sample's does.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model_packaging.drift.baseline import _Feature
from model_packaging.drift.capture import (
    CaptureFile,
    Counts,
    Decoded,
    Decoder,
    Feature,
    Problems,
    local_files,
    s3_files,
    split_s3_uri,
)
from model_packaging.drift.checks import (
    NUMERIC,
    Distance,
    Report,
    compare,
    distances,
    load_baseline,
)
from model_packaging.drift.window import Window
from model_packaging.errors import PackagingError


@dataclass
class Analysis:
    """What one window's analysis found."""

    window: Window
    statistics: Mapping[str, Any]
    constraints: Mapping[str, Any]
    # The window's statistics.json; item_count 0 when no row could be read.
    sample: dict[str, Any]
    report: Report
    distances: dict[str, Distance]
    problems: Problems
    counts: Counts
    endpoints: list[str] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.report.rows

    def as_json(self) -> dict[str, Any]:
        """What was read and skipped: the part of the report Model Monitor's formats have no
        place for (written beside them as ``analysis.json``)."""
        return {
            "window": {
                "since": _iso(self.window.since),
                "until": _iso(self.window.until),
            },
            "endpoints": self.endpoints,
            "variants": self.variants,
            "files": self.counts.files,
            "records": self.counts.records,
            "records_outside_window": self.counts.outside,
            "requests": self.counts.requests,
            "rows": self.rows,
            "problems": self.problems.as_json(),
            "distances": {
                name: {
                    "distance": d.value,
                    "threshold": d.threshold,
                    "method": d.method,
                    "baseline_values": d.baseline_count,
                    "window_values": d.sample_count,
                }
                for name, d in sorted(self.distances.items())
            },
            "violations": self.report.as_json()["violations"],
        }

    def summary(self) -> str:
        """What was read, on one line."""
        return (
            f"read {_count(self.counts.files, 'capture file')},"
            f" {_count(self.counts.requests, 'request')} {self.window.describe()}"
            f" ({_count(self.counts.outside, 'record')} outside the window,"
            f" {_count(self.problems.total, 'problem')} skipped)"
        )


def features_of(constraints: Mapping[str, Any]) -> list[Feature]:
    """The baseline's features in its order, numeric where it types them Integral or
    Fractional."""
    features = constraints.get("features")
    if not isinstance(features, list):
        raise PackagingError("constraints.json: features must be a list")
    found = []
    for i, feature in enumerate(features):
        if not isinstance(feature, dict) or not isinstance(feature.get("name"), str):
            raise PackagingError(f"constraints.json: features[{i}].name is missing")
        found.append(Feature(feature["name"], feature.get("inferred_type") in NUMERIC))
    return found


def analyse(
    statistics: Mapping[str, Any],
    constraints: Mapping[str, Any],
    files: Sequence[CaptureFile],
    window: Window,
) -> Analysis:
    """Read ``files``, keep the requests inside ``window``, and compare them with the baseline.

    Never raises for what is in the files: what cannot be read is counted in
    ``Analysis.problems``. Raises :class:`PackagingError` only for a baseline that cannot be used
    (an ill-formed constraints.json)."""
    features = features_of(constraints)
    decoder = Decoder(features, window)
    summaries = {f.name: _Feature(f.name, "Integral" if f.numeric else "String") for f in features}
    extras: dict[str, _Feature] = {}
    supplied: set[str] = set()
    rows = 0
    for decoded in decoded_files(decoder, files):
        decoder.problems.merge(decoded.problems)
        decoder.counts.merge(decoded.counts)
        for batch in decoded.batches:
            for name, column in batch.columns.items():
                summary = summaries.get(name) or extras.get(name)
                if summary is None:
                    # A key no earlier row had: missing from every earlier row.
                    summary = extras[name] = _Feature(name, "String")
                    summary.missing = rows
                summary.update(column)
            for name, summary in extras.items():
                if name not in batch.columns:
                    summary.missing += batch.rows
            supplied |= batch.supplied
            rows += batch.rows
    sample = {
        "version": 0,
        "dataset": {"item_count": rows},
        "features": [
            summaries[f.name].statistics() for f in features if f.name in supplied or not rows
        ]
        + [extras[name].statistics() for name in sorted(extras)],
    }
    found = compare(statistics, constraints, sample) if rows else []
    return Analysis(
        window=window,
        statistics=statistics,
        constraints=constraints,
        sample=sample,
        report=Report(violations=found, features=len(features), rows=rows),
        distances=distances(statistics, constraints, sample) if rows else {},
        problems=decoder.problems,
        counts=decoder.counts,
        endpoints=sorted({f.endpoint for f in files}),
        variants=sorted({f.variant for f in files}),
    )


def decoded_files(
    decoder: Decoder, files: Sequence[CaptureFile], workers: int | None = None
) -> Iterator[Decoded]:
    """Each file decoded, in the files' order, by a few threads at once.

    pyarrow's readers and compute functions release the GIL, so files decode in parallel while
    this thread adds the previous ones to the summaries; the summaries see the files in their
    order whatever the threads do, so the statistics are the same bytes. At most two files per
    thread are decoded ahead, which bounds the memory. ``MLSERVE_DRIFT_DECODE_THREADS`` sets the
    number of threads (1: decode in this thread); by default, the processors, at most four."""
    count = workers or _threads()
    if count <= 1 or len(files) <= 1:
        for capture in files:
            yield decoder.decode(capture)
        return
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="drift-decode") as pool:
        pending: deque[Future[Decoded]] = deque()
        queued = iter(files)
        for capture in queued:
            pending.append(pool.submit(decoder.decode, capture))
            if len(pending) >= 2 * count:
                break
        while pending:
            done = pending.popleft().result()
            following = next(queued, None)
            if following is not None:
                pending.append(pool.submit(decoder.decode, following))
            yield done


def _threads() -> int:
    configured = os.environ.get("MLSERVE_DRIFT_DECODE_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return min(4, os.cpu_count() or 1)


def find_files(capture: str, window: Window, variant: str | None = None) -> list[CaptureFile]:
    """The capture files below a local folder or an ``s3://bucket/prefix``."""
    if capture.startswith("s3://"):
        from model_packaging.store import aws

        bucket, prefix = split_s3_uri(capture)
        s3 = aws.client(aws.session(), "s3")
        return s3_files(s3, bucket, prefix, window, variant)
    return local_files(Path(capture), window, variant)


def check_capture(
    baseline_folder: Path, capture: str, window: Window, variant: str | None = None
) -> Analysis:
    """``drift-check --capture``: the window's captured requests below ``capture`` (a folder
    or an ``s3://`` prefix in AWS's layout) against the baseline in ``baseline_folder``.

    Raises :class:`PackagingError` for bad input: an unreadable baseline, no capture file in
    the window, captures of several endpoints, or a window of which no request could be read."""
    statistics, constraints = load_baseline(baseline_folder)
    files = find_files(capture, window, variant)
    of_variant = f" of variant {variant}" if variant else ""
    if not files:
        raise PackagingError(
            f"{capture}: no capture files{of_variant} {window.describe()}"
            " (in AWS's layout <endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl)"
        )
    endpoints = sorted({f.endpoint for f in files})
    if len(endpoints) > 1:
        raise PackagingError(
            f"{capture}: holds the captures of {len(endpoints)} endpoints"
            f" ({', '.join(endpoints)}): give the folder of one"
        )
    analysis = analyse(statistics, constraints, files, window)
    if not analysis.rows:
        problems = "; ".join(analysis.problems.lines()) or "every record was outside the window"
        raise PackagingError(
            f"{capture}: no request{of_variant} {window.describe()} could be read"
            f" ({_count(analysis.counts.files, 'file')}, {problems})"
        )
    return analysis


def _iso(moment: Any) -> str | None:
    if moment is None:
        return None
    return str(moment.isoformat()).replace("+00:00", "Z")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")
