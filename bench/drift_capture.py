"""The drift analysis of captured requests: speed and memory, side by side with pandas.

    venv/bin/python bench/drift_capture.py [--records 1000000] [--small 100000] [--keep]
    venv/bin/python bench/drift_capture.py --reuse FOLDER    # the files a --keep run kept

Generates ``--records`` capture records (default 1 million) as SageMaker writes them, in its
layout (``<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl``, 10,000 records a file, with each
record's endpointOutput and eventMetadata as AWS writes them): one third CSV, one third BASE64
(half of them CSV bodies, half JSON), one third JSON (``{"instances": [{...}]}``), one row a
request, 6 features (4 numeric, 2 categorical), and a baseline of 50,000 rows of the same
distributions. Then, each in a process of its own, with the process's peak resident memory:

- ``engine.analyse``: the window's statistics and drift-check's checks, streaming, as the
  drift function and ``drift-check --capture`` run it;
- pandas: each file read with ``read_json(lines=True)``, every request decoded (base64, CSV,
  JSON) into one DataFrame of all rows, then ``describe(include="all")`` and the 1/25/50/75/99%
  quantiles: the usual way to get the same numbers, the baseline of the ratios;
- ``engine.analyse`` once more on the first ``--small`` records, to show its memory does not
  grow with the number of records.

Each process reports the seconds of its work (imports excluded, printed apart) and its processor
seconds. Goals: at least 200,000 records a second for ``engine.analyse`` in one process, a peak
under 300 MB, and the small run's peak within 10% of the whole run's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PER_FILE = 10_000
BASELINE_ROWS = 50_000
RATE_GOAL = 200_000
PEAK_GOAL_MB = 300
MEMORY_FLAT = 1.10
FEATURES = ("tenure", "charges", "calls", "contract", "plan", "region")
START = datetime(2024, 5, 1, tzinfo=UTC)

# Each prints its record count, its work's wall and processor seconds, its import seconds, and
# its peak resident memory (VmHWM, in kB: this process's own, which starts afresh at exec).
PEAK = "next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM'))"
OURS = f"""
import sys, time
started = time.perf_counter()
from pathlib import Path
from model_packaging.drift.capture import Window, local_files
from model_packaging.drift.checks import load_baseline
from model_packaging.drift.engine import analyse
imported = time.perf_counter() - started
wall, cpu = time.perf_counter(), time.process_time()
statistics, constraints = load_baseline(Path(sys.argv[1]))
files = local_files(Path(sys.argv[2]), Window())[: int(sys.argv[3])]
analysis = analyse(statistics, constraints, files, Window())
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(analysis.counts.requests, wall, cpu, imported, {PEAK})
"""
PANDAS = f"""
import sys, time
started = time.perf_counter()
import base64, csv, io, json
from pathlib import Path
import pandas as pd
imported = time.perf_counter() - started
wall, cpu = time.perf_counter(), time.process_time()
names = sys.argv[4].split(",")
rows = []
def add(text, kind):
    if kind == "CSV":
        rows.extend(csv.reader(io.StringIO(text)))
    else:
        document = json.loads(text)
        for row in document.get("instances", [document]):
            rows.append([row.get(n) for n in names])
files = sorted(Path(sys.argv[2]).rglob("*.jsonl"))[: int(sys.argv[3])]
requests = 0
for path in files:
    frame = pd.read_json(path, lines=True)
    for item in frame["captureData"]:
        request = item["endpointInput"]
        data, encoding = request["data"], request["encoding"]
        if encoding == "BASE64":
            kind = "CSV" if request["observedContentType"] == "text/csv" else "JSON"
            add(base64.b64decode(data).decode("utf-8"), kind)
        else:
            add(data, encoding)
        requests += 1
table = pd.DataFrame(rows, columns=names)
for name in names[:4]:
    table[name] = pd.to_numeric(table[name], errors="coerce")
table.describe(include="all")
table.quantile([0.01, 0.25, 0.5, 0.75, 0.99], numeric_only=True)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(requests, wall, cpu, imported, {PEAK})
"""


@dataclass(frozen=True)
class Run:
    name: str
    records: int
    seconds: float
    cpu: float
    imports: float
    peak_mb: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds


def row(rng: random.Random) -> list[object]:
    return [
        rng.randint(0, 72),
        round(rng.uniform(18, 120), 2),
        min(int(rng.expovariate(0.8)), 20),
        rng.choice((1, 12, 24)),
        rng.choice(("basic", "standard", "premium", "family")),
        f"r{rng.randint(0, 40)}",
    ]


def request(values: list[object], style: int) -> tuple[str, str, str]:
    """(data, encoding, content type): CSV, BASE64 of CSV or of JSON, JSON."""
    as_csv = ",".join(str(v) for v in values) + "\n"
    as_json = json.dumps({"instances": [dict(zip(FEATURES, values, strict=True))]})
    if style == 0:
        return as_csv, "CSV", "text/csv"
    if style == 1:
        return as_csv, "BASE64", "text/csv"
    if style == 2:
        return as_json, "BASE64", "application/json"
    return as_json, "JSON", "application/json"


def capture_line(values: list[object], style: int, moment: datetime, rng: random.Random) -> str:
    """A record as SageMaker writes it, with the model's answer and a random event id, so that
    records are as long as real ones."""
    from model_packaging.drift.capture import record

    data, encoding, content_type = request(values, style)
    return record(
        data,
        encoding,
        content_type,
        moment,
        output=f"{rng.random():.17f}",
        event_id=f"{rng.getrandbits(128):032x}",
    )


def generate(folder: Path, records: int) -> tuple[Path, Path]:
    """A baseline folder and a capture folder of ``records`` records."""
    from model_packaging.drift import baseline

    rng = random.Random(20240501)
    train = folder / "train.csv"
    with train.open("w") as out:
        out.write(",".join(FEATURES) + "\n")
        for _ in range(BASELINE_ROWS):
            out.write(",".join(str(v) for v in row(rng)) + "\n")
    baseline.write(baseline.compute(train), folder / "baseline")
    captures = folder / "capture"
    # Styles in turn: CSV, BASE64 CSV, BASE64 JSON, JSON, CSV, JSON: a third each of CSV,
    # BASE64 and JSON.
    styles = (0, 1, 3, 0, 2, 3)
    for number, start in enumerate(range(0, records, PER_FILE)):
        moment = START + timedelta(seconds=start)
        path = captures / f"churn-prod/AllTraffic/{moment:%Y/%m/%d/%H}/{number:05d}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        count = min(PER_FILE, records - start)
        lines = [
            capture_line(row(rng), styles[(start + i) % 6], moment + timedelta(seconds=i), rng)
            for i in range(count)
        ]
        path.write_text("\n".join(lines) + "\n")
    return folder / "baseline", captures


def measure(name: str, script: str, baseline: Path, captures: Path, files: int) -> Run:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            str(baseline),
            str(captures),
            str(files),
            ",".join(FEATURES),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"{name}: exited with {done.returncode}: {done.stderr[-800:]}")
    records, seconds, cpu, imports, peak_kb = done.stdout.split()
    return Run(name, int(records), float(seconds), float(cpu), float(imports), int(peak_kb) / 1024)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument(
        "--reuse", type=Path, metavar="FOLDER", help="measure the files a --keep run kept"
    )
    args = parser.parse_args()

    folder = args.reuse or Path(tempfile.mkdtemp(prefix="bench-drift-capture-"))
    try:
        started = time.perf_counter()
        if args.reuse:
            baseline, captures = folder / "baseline", folder / "capture"
            args.records = sum(1 for _ in captures.rglob("*.jsonl")) * PER_FILE
        else:
            baseline, captures = generate(folder, args.records)
        size = sum(p.stat().st_size for p in captures.rglob("*.jsonl")) / 2**20
        print(
            f"{args.records:,} capture records in {-(-args.records // PER_FILE)} files:"
            f" {size:,.0f} MB (generated in {time.perf_counter() - started:.0f} s)"
        )
        everything = args.records
        runs = [
            measure("engine.analyse", OURS, baseline, captures, everything),
            measure("pandas decode + describe", PANDAS, baseline, captures, everything),
            measure(
                f"engine.analyse, first {args.small:,}",
                OURS,
                baseline,
                captures,
                -(-args.small // PER_FILE),
            ),
        ]
    finally:
        if args.keep or args.reuse:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)

    print(f"load average while measuring: {os.getloadavg()[0]:.1f} ({os.cpu_count()} processors)")
    print(
        f"{'':30} {'records':>9} {'seconds':>8} {'CPU s':>7} {'records/s':>10}"
        f" {'imports s':>9} {'peak MB':>8}"
    )
    for run in runs:
        print(
            f"{run.name:30} {run.records:9,} {run.seconds:8.2f} {run.cpu:7.2f} {run.rate:10,.0f}"
            f" {run.imports:9.2f} {run.peak_mb:8.0f}"
        )
    ours, pandas, small = runs
    print(
        f"speed: {pandas.seconds / ours.seconds:.1f}x pandas ({ours.rate:,.0f} records/s;"
        f" goal: at least {RATE_GOAL:,})"
    )
    print(
        f"processor time: {pandas.cpu / ours.cpu:.1f}x less than pandas"
        f" ({ours.records / ours.cpu:,.0f} records per processor second)"
    )
    print(
        f"peak memory: {ours.peak_mb:.0f} MB (goal: under {PEAK_GOAL_MB}); pandas uses"
        f" {pandas.peak_mb / ours.peak_mb:.1f}x as much"
    )
    growth = ours.peak_mb / small.peak_mb
    print(
        f"memory growth: {ours.records:,} records peak at {growth:.2f}x the first"
        f" {small.records:,}'s (goal: at most {MEMORY_FLAT:.2f}x)"
    )
    met = ours.rate >= RATE_GOAL and ours.peak_mb < PEAK_GOAL_MB and growth <= MEMORY_FLAT
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
