"""Packaging speed, side by side with GNU tar + gzip on the same generated model folders.

    venv/bin/python bench/packaging.py [--sizes 300,1024] [--repeat 3] [--keep]

For each size in ``--sizes`` (MB of weights), generates a model folder in a temporary folder:
float32 weight files (which barely compress), about 20 MB of text (a vocabulary, a tokenizer
file and a 100,000-row CSV that model.yaml names as the data-quality baseline), as the issue's
311 MB folder was. Then, each timed as a whole process, as a user or CI runs it:

- build (gzip): ``python -m model_packaging build``, with the image URI cache filled by an
  earlier build, baseline computation included;
- build (gzip), empty image cache: the first build after installing the sagemaker SDK, which
  imports it (beside the compression);
- build (none): the uncompressed model/ folder;
- ``tar -czf``: GNU tar with gzip at its default level, the baseline of every ratio;

plus sha256 alone (hashlib in this process, the floor for any build that hashes its input), and
for the largest folder the bytes a second publish sends (moto in-process, goal 0).

build (gzip) and ``tar -czf`` run side by side: one after the other, ``--repeat`` times each,
so that both meet the same load on a shared machine; each row is the median of its runs. The
other builds are the median of ``--repeat`` runs too. The report gives each row's MB/s and
``tar -czf``'s time divided by the row's (higher is faster), and the ratio of the two medians
with its goal: at least 12x on 300 MB and 5x on 1 GB for build (gzip).

Each measurement is a function in ``MEASUREMENTS`` taking the shared :class:`Bench` and
returning its :class:`Row` objects; to add one, write such a function and append it to the
list.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Run as a script, this folder comes first on the path, and this file would shadow the
# ``packaging`` distribution that boto3, moto and the sagemaker SDK import.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]

import numpy as np  # noqa: E402

from model_packaging.artifact.archive import BLOCK_SIZE  # noqa: E402
from model_packaging.artifact.manifest import load_artifact  # noqa: E402

TAR_ROW = "tar -czf (GNU tar + gzip -6)"
WEIGHT_FILE_MB = 128
TEXT_MB = 20
BASELINE_ROWS = 100_000
# tar -czf time / build time that build (gzip) must reach, per folder size in MB of weights.
GOALS = {300: 12.0, 1024: 5.0}
TEXT_FILES = {
    "config.json": '{"hidden_size": 1024, "layers": 24, "dtype": "float32"}\n',
    "code/inference.py": "def model_fn(model_dir):\n    return model_dir\n",
}
MODEL_YAML = """\
name: bench
framework:
  name: custom
  version: "1.0"
  image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/bench:1
content_types: {request: [application/json], response: [application/json]}
regions: [us-east-1, eu-west-1]
baseline: {path: data/baseline.csv}
samples:
  - name: echo
    content_type: application/json
    accept: application/json
    body: "[]"
    expected: {json: []}
"""


@dataclass
class Row:
    name: str
    seconds: float
    bytes_in: int
    note: str = ""
    cpu: float | None = None
    """CPU seconds (user + system) of a measured process: on a shared machine, less sensitive
    to other load than the wall-clock time."""


@dataclass
class Bench:
    model_dir: Path
    work: Path
    size_mb: int
    size: int
    repeat: int
    publish: bool
    rows: dict[str, Row] = field(default_factory=dict)
    publish_again_bytes: int | None = None

    @property
    def cache(self) -> Path:
        """The image URI cache the timed builds use (XDG_CACHE_HOME), filled by the first."""
        return self.work / "cache"


def make_model_folder(root: Path, size_mb: int) -> Path:
    """Weights drawn like trained float32 parameters, in files of up to 128 MB, and text."""
    model_dir = root / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "data").mkdir()
    (model_dir / "model.yaml").write_text(MODEL_YAML)
    for name, text in TEXT_FILES.items():
        (model_dir / name).write_text(text)
    rng = np.random.default_rng(0)
    baseline = model_dir / "data" / "baseline.csv"
    with baseline.open("w") as out:
        out.write("tenure_months,monthly_charges,support_calls_90d,plan\n")
        tenure = rng.integers(0, 72, BASELINE_ROWS)
        charges = rng.normal(70, 20, BASELINE_ROWS)
        calls = rng.poisson(1.0, BASELINE_ROWS)
        plans = rng.choice(["basic", "plus", "pro"], BASELINE_ROWS)
        out.writelines(
            f"{t},{c:.2f},{n},{p}\n"
            for t, c, n, p in zip(tenure, charges, calls, plans, strict=True)
        )
    vocab = "".join(f"token{i}\n" for i in range(100_000))
    (model_dir / "vocab.txt").write_text(vocab)
    text_left = TEXT_MB * 1_000_000 - baseline.stat().st_size - len(vocab)
    merges = "".join(f"tok{i % 5000} en{i % 977}\n" for i in range(text_left // 14))
    (model_dir / "merges.txt").write_text(merges)
    remaining = size_mb * 1024 * 1024
    index = 0
    while remaining > 0:
        count = min(remaining, WEIGHT_FILE_MB * 1024 * 1024) // 4
        weights = rng.standard_normal(count, dtype=np.float32) * np.float32(0.02)
        weights.tofile(model_dir / f"weights-{index:05d}.bin")
        remaining -= count * 4
        index += 1
    return model_dir


def folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def run_process(command: list[str], **options: Any) -> tuple[float, float]:
    """Run ``command`` to completion: its wall-clock seconds and CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = timed(lambda: subprocess.run(command, check=True, **options))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return seconds, cpu


def run_build(bench: Bench, out: Path, compression: str, cache: Path) -> tuple[float, float]:
    """One ``python -m model_packaging build`` process, timed from start to exit."""
    command = [sys.executable, "-m", "model_packaging", "build", str(bench.model_dir)]
    command += ["--out", str(out), "--compression", compression, "--quiet"]
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    return run_process(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def median_build(
    bench: Bench, compression: str, *, cold: bool = False
) -> tuple[float, float, Path]:
    """Median wall-clock and CPU seconds of ``bench.repeat`` builds, and the output folder."""
    out = bench.work / f"build-{compression}{'-cold' if cold else ''}"
    runs = []
    for attempt in range(bench.repeat):
        cache = bench.work / f"empty-cache-{attempt}" if cold else bench.cache
        runs.append(run_build(bench, out, compression, cache))
    return (
        statistics.median(seconds for seconds, _ in runs),
        statistics.median(cpu for _, cpu in runs),
        out,
    )


def measure_sha256(bench: Bench) -> list[Row]:
    def hash_all() -> None:
        block = memoryview(bytearray(BLOCK_SIZE))
        for path in sorted(bench.model_dir.rglob("*")):
            if path.is_file():
                digest = hashlib.sha256()
                with open(path, "rb", buffering=0) as reader:
                    while count := reader.readinto(block):
                        digest.update(block[:count])

    return [Row("sha256 alone (hashlib)", timed(hash_all), bench.size, "the floor")]


def measure_build_gzip_beside_tar(bench: Bench) -> list[Row]:
    """build (gzip) and ``tar -czf``, taking turns ``bench.repeat`` times each; the median of
    each. Which goes first alternates, so that neither always meets the other's page cache or
    write-back."""
    run_build(bench, bench.work / "warm-up", "gzip", bench.cache)  # fills the image cache
    out = bench.work / "build-gzip"
    tarball = bench.work / "tar-czf.tar.gz"
    tar_command = ["tar", "-czf", str(tarball), "-C", str(bench.model_dir), "."]
    builds, tars = [], []
    for attempt in range(bench.repeat):
        turns: list[Callable[[], None]] = [
            lambda: builds.append(run_build(bench, out, "gzip", bench.cache)),
            lambda: tars.append(run_process(tar_command)),
        ]
        for turn in turns if attempt % 2 == 0 else reversed(turns):
            turn()
    manifest = load_artifact(out).manifest
    rows = manifest.baseline.dataset.rows if manifest.baseline else 0
    return [
        Row(
            "build (gzip)",
            statistics.median(seconds for seconds, _ in builds),
            bench.size,
            f"artifact {manifest.artifact.size / 1e6:.0f} MB, baseline of {rows} rows;"
            f" runs {_runs(builds)}",
            statistics.median(cpu for _, cpu in builds),
        ),
        Row(
            TAR_ROW,
            statistics.median(seconds for seconds, _ in tars),
            bench.size,
            f"artifact {tarball.stat().st_size / 1e6:.0f} MB; runs {_runs(tars)}",
            statistics.median(cpu for _, cpu in tars),
        ),
    ]


def _runs(runs: list[tuple[float, float]]) -> str:
    """Each run's seconds, in the order they ran: how far the median is from its neighbours."""
    return ", ".join(f"{seconds:.2f}" for seconds, _ in runs)


def measure_build_gzip_cold(bench: Bench) -> list[Row]:
    seconds, cpu, _ = median_build(bench, "gzip", cold=True)
    return [Row("build (gzip), empty image cache", seconds, bench.size, "imports the SDK", cpu)]


def measure_build_none(bench: Bench) -> list[Row]:
    seconds, cpu, _ = median_build(bench, "none")
    return [Row("build (none)", seconds, bench.size, "", cpu)]


def measure_publish_again(bench: Bench) -> list[Row]:
    """Publishing the same digest twice: the second run must send 0 bytes (moto in-process)."""
    if not bench.publish:
        return []
    import boto3
    from moto import mock_aws

    from model_packaging.store.publish import publish

    artifact = bench.work / "build-gzip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.pop("AWS_ENDPOINT_URL", None)  # mock_aws intercepts AWS's own endpoints only
    with mock_aws():  # fake credentials for its duration
        session = boto3.session.Session()
        session.client("s3").create_bucket(Bucket="bench-artifacts")
        key = session.client("kms").create_key()["KeyMetadata"]["Arn"]
        group = load_artifact(artifact).manifest.name
        session.client("sagemaker").create_model_package_group(ModelPackageGroupName=group)
        first = publish(artifact, bucket="bench-artifacts", kms_key=key, progress=False)
        started = time.perf_counter()
        second = publish(artifact, bucket="bench-artifacts", kms_key=key, progress=False)
        seconds = time.perf_counter() - started
    assert second.version_arn == first.version_arn and not second.created
    bench.publish_again_bytes = second.uploaded_bytes
    return [
        Row(
            "publish again (same digest)",
            seconds,
            bench.size,
            f"sent {second.uploaded_bytes} bytes (first publish sent "
            f"{first.uploaded_bytes / 1e6:.0f} MB)",
        )
    ]


MEASUREMENTS: list[Callable[[Bench], list[Row]]] = [
    measure_sha256,
    measure_build_gzip_beside_tar,
    measure_build_gzip_cold,
    measure_build_none,
    measure_publish_again,
]


def report(bench: Bench) -> list[str]:
    baseline = bench.rows.get(TAR_ROW)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    lines = [
        f"model folder: {bench.size / 1e6:.0f} MB ({bench.size_mb} MB of weights);"
        f" {os.cpu_count()} CPUs, load average {load}",
        "",
        f"{'measurement':<34} {'seconds':>8} {'cpu s':>6} {'MB/s':>8} {'tar/this':>8}  note",
    ]
    for row in bench.rows.values():
        rate = row.bytes_in / row.seconds / 1e6 if row.seconds else float("inf")
        times = f"{baseline.seconds / row.seconds:.1f}x" if baseline and row.seconds else "-"
        cpu = f"{row.cpu:.2f}" if row.cpu is not None else "-"
        lines.append(
            f"{row.name:<34} {row.seconds:>8.2f} {cpu:>6} {rate:>8.0f} {times:>8}  {row.note}"
        )
    gzip_row = bench.rows.get("build (gzip)")
    if baseline and gzip_row:
        speedup = baseline.seconds / gzip_row.seconds
        goal = GOALS.get(bench.size_mb)
        verdict = (
            f" ({'meets' if speedup >= goal else 'MISSES'} the goal of >= {goal:.0f}x)"
            if goal
            else ""
        )
        lines += [
            "",
            f"tar -czf / build (gzip), whole processes, medians of {bench.repeat} runs side by"
            f" side = {speedup:.1f}x{verdict}",
        ]
        if baseline.cpu and gzip_row.cpu:
            lines.append(f"the same in CPU seconds = {baseline.cpu / gzip_row.cpu:.1f}x")
    if bench.publish_again_bytes is not None:
        verdict = "meets" if bench.publish_again_bytes == 0 else "MISSES"
        lines.append(
            f"bytes sent by a second publish = {bench.publish_again_bytes}"
            f" ({verdict} the goal of 0)"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="300,1024", help="MB of weights per folder, comma-separated (300,1024)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="builds per median (3)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    root = Path(tempfile.mkdtemp(prefix="bench-packaging-"))
    try:
        for size_mb in sizes:
            folder = root / f"{size_mb}mb"
            print(f"generating a {size_mb} MB model folder in {folder} ...", file=sys.stderr)
            model_dir = make_model_folder(folder, size_mb)
            bench = Bench(
                model_dir,
                folder / "out",
                size_mb,
                folder_size(model_dir),
                args.repeat,
                publish=size_mb == max(sizes),
            )
            bench.work.mkdir()
            for measure in MEASUREMENTS:
                print(f"running {measure.__name__} ...", file=sys.stderr)
                for row in measure(bench):
                    bench.rows[row.name] = row
            print("\n".join(report(bench)), end="\n\n", flush=True)
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
