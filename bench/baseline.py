"""Data-quality baseline speed and memory, side by side with pandas on the same generated CSV.

    venv/bin/python bench/baseline.py [--rows 10000000] [--keep]

Generates a CSV of ``--rows`` rows (default 10 million) with 10 numeric columns (5 integral,
5 fractional, about 1% of cells missing) and 2 categorical ones, in a temporary folder (about
1 GB for 10 million rows). Then, each in a process of its own, timed as a whole, with the
process's peak resident memory:

- ``baseline.compute``: statistics.json and constraints.json's contents, streaming;
- pandas: ``read_csv``, then ``describe(include="all")`` and the 1/25/50/75/99% quantiles of the
  numeric columns: the usual way to get the same numbers, the baseline of every ratio.

And ``baseline.compute`` once more on the first tenth of the rows, to show that its memory does
not grow with the file. The report gives rows per second and peak memory for each, and pandas'
time divided by ours (higher is faster) from this one run. Goal: faster than pandas, with
memory that does not grow with the file (the tenth and the whole within 25% of each other).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NUMERIC = 10
CHUNK_ROWS = 1_000_000
SPEED_GOAL = 1.0
# The tenth of the file may use this much less memory than the whole and still count as flat.
MEMORY_FLAT = 1.25

# Each prints its row count and its peak resident memory (VmHWM, in kB: this process's own,
# which starts afresh at exec, unlike rusage's that counts the forked parent's pages too).
PEAK = "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))"
OURS = f"""
import sys
from pathlib import Path
from model_packaging.drift.baseline import compute
print(compute(Path(sys.argv[1])).rows)
{PEAK}
"""
PANDAS = f"""
import sys
import pandas as pd
frame = pd.read_csv(sys.argv[1])
frame.describe(include="all")
frame.quantile([0.01, 0.25, 0.5, 0.75, 0.99], numeric_only=True)
print(len(frame))
{PEAK}
"""


@dataclass(frozen=True)
class Run:
    name: str
    rows: int
    seconds: float
    peak_mb: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def generate(path: Path, rows: int) -> None:
    """Columns of several distributions; written by pyarrow, a million rows at a time."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(20240601)
    names = [f"i{n}" for n in range(NUMERIC // 2)] + [f"f{n}" for n in range(NUMERIC // 2)]
    with pacsv.CSVWriter(
        path,
        pa.schema(
            [(n, pa.int64()) for n in names[: NUMERIC // 2]]
            + [(n, pa.float64()) for n in names[NUMERIC // 2 :]]
            + [("plan", pa.string()), ("region", pa.string())]
        ),
    ) as writer:
        for start in range(0, rows, CHUNK_ROWS):
            count = min(CHUNK_ROWS, rows - start)
            columns = [
                pa.array(rng.integers(0, 10 ** (n + 1), count), mask=rng.random(count) < 0.01)
                for n in range(NUMERIC // 2)
            ] + [
                pa.array(rng.lognormal(n, 1.0, count).round(3), mask=rng.random(count) < 0.01)
                for n in range(NUMERIC // 2)
            ]
            plans = rng.choice(["basic", "standard", "premium", "family"], count)
            regions = np.char.add("r", rng.integers(0, 300, count).astype(str))
            columns += [pa.array(plans), pa.array(regions)]
            writer.write_table(pa.Table.from_arrays(columns, names=[*names, "plan", "region"]))


def measure(name: str, script: str, path: Path, rows: int) -> Run:
    """Time one process end to end, as a user runs it, imports included."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], cwd=ROOT, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{name}: exited with {done.returncode}: {done.stderr[-500:]}")
    counted, peak_kb = done.stdout.split()
    if int(counted) != rows:
        raise SystemExit(f"{name}: counted {counted} rows, not {rows}")
    return Run(name, rows, seconds, int(peak_kb) / 1024)


def head(source: Path, target: Path, rows: int) -> None:
    with source.open("rb") as read, target.open("wb") as write:
        for _ in range(rows + 1):
            write.write(read.readline())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    try:
        data, tenth = folder / "data.csv", folder / "tenth.csv"
        started = time.perf_counter()
        generate(data, args.rows)
        head(data, tenth, args.rows // 10)
        size_mb = data.stat().st_size / 2**20
        print(
            f"{args.rows:,} rows, {NUMERIC} numeric and 2 categorical columns: {size_mb:,.0f} MB"
            f" (generated in {time.perf_counter() - started:.0f} s)"
        )
        runs = [
            measure("baseline.compute", OURS, data, args.rows),
            measure("pandas describe + quantiles", PANDAS, data, args.rows),
            measure("baseline.compute, first tenth", OURS, tenth, args.rows // 10),
        ]
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)

    print(f"{'':32} {'seconds':>8} {'rows/s':>12} {'peak MB':>8}")
    for run in runs:
        print(f"{run.name:32} {run.seconds:8.1f} {run.rows_per_second:12,.0f} {run.peak_mb:8.0f}")
    ours, pandas, small = runs
    speed = pandas.seconds / ours.seconds
    memory = pandas.peak_mb / ours.peak_mb
    growth = ours.peak_mb / small.peak_mb
    print(f"speed: {speed:.1f}x pandas (goal: more than {SPEED_GOAL:.0f}x)")
    print(f"peak memory: pandas uses {memory:.1f}x as much")
    print(
        f"memory growth: the whole file peaks at {growth:.2f}x the first tenth's "
        f"(goal: at most {MEMORY_FLAT}x)"
    )
    return 0 if speed > SPEED_GOAL and growth <= MEMORY_FLAT else 1


if __name__ == "__main__":
    sys.exit(main())
