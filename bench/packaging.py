"""Packaging throughput, side by side with GNU tar + gzip on the same generated model folder.

    venv/bin/python bench/packaging.py [--size-mb 1024] [--keep]

Generates a model folder of about ``--size-mb`` MB in a temporary folder (float32 weight
files, which barely compress, plus a few text files), then measures in one run:

- sha256 alone: hashlib over every file, the floor for any build that hashes its input;
- build (gzip): model.tar.gz + manifest.json, what ``python -m model_packaging build`` does;
- build (none): the uncompressed model/ folder;
- ``tar -czf``: GNU tar with gzip at its default level, the baseline.

and prints a table with MB/s and the ratio of build (gzip) time to ``tar -czf`` time (goal:
at most 0.2). The folder uses a custom image, so no time goes into importing the sagemaker
SDK (about 2 s once per process for prebuilt frameworks).

Each measurement is a function in ``MEASUREMENTS`` taking the shared :class:`Bench` and
returning a :class:`Row`; to add one (e.g. bytes sent by a second publish), write such a
function and append it to the list. Earlier builds are in ``bench.builds``.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Run as a script, this folder comes first on the path, and this file would shadow the
# ``packaging`` distribution that boto3, moto and the sagemaker SDK import.
sys.path[:] = [str(HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]

import numpy as np  # noqa: E402

from model_packaging.archive import BLOCK_SIZE  # noqa: E402
from model_packaging.build import BuildResult, build  # noqa: E402

WEIGHT_FILE_MB = 128
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
regions: [us-east-1]
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


@dataclass
class Bench:
    model_dir: Path
    work: Path
    size: int
    builds: dict[str, BuildResult] = field(default_factory=dict)
    rows: dict[str, Row] = field(default_factory=dict)
    publish_again_bytes: int | None = None


def make_model_folder(root: Path, size_mb: int) -> Path:
    """Weights drawn like trained float32 parameters, written in files of up to 128 MB."""
    model_dir = root / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "model.yaml").write_text(MODEL_YAML)
    for name, text in TEXT_FILES.items():
        (model_dir / name).write_text(text)
    (model_dir / "vocab.txt").write_text("".join(f"token{i}\n" for i in range(100_000)))
    rng = np.random.default_rng(0)
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


def timed(action: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def measure_sha256(bench: Bench) -> Row:
    def hash_all() -> None:
        block = memoryview(bytearray(BLOCK_SIZE))
        for path in sorted(bench.model_dir.rglob("*")):
            if path.is_file():
                digest = hashlib.sha256()
                with open(path, "rb", buffering=0) as reader:
                    while count := reader.readinto(block):
                        digest.update(block[:count])

    seconds, _ = timed(hash_all)
    return Row("sha256 alone (hashlib)", seconds, bench.size, "the limit")


def _measure_build(bench: Bench, compression: str) -> Row:
    out = bench.work / f"build-{compression}"
    seconds, result = timed(
        lambda: build(bench.model_dir, out, compression=compression, progress=False)
    )
    assert isinstance(result, BuildResult)
    bench.builds[compression] = result
    size = result.manifest.artifact.size
    return Row(
        f"build --compression {compression}", seconds, bench.size, f"artifact {size / 1e6:.0f} MB"
    )


def measure_build_gzip(bench: Bench) -> Row:
    return _measure_build(bench, "gzip")


def measure_build_none(bench: Bench) -> Row:
    return _measure_build(bench, "none")


def measure_tar_gzip(bench: Bench) -> Row:
    out = bench.work / "baseline.tar.gz"
    command = ["tar", "-czf", str(out), "-C", str(bench.model_dir), "."]
    seconds, _ = timed(lambda: subprocess.run(command, check=True))
    return Row(
        "tar -czf (GNU tar + gzip -6)",
        seconds,
        bench.size,
        f"artifact {out.stat().st_size / 1e6:.0f} MB",
    )


def measure_publish_again(bench: Bench) -> Row:
    """Publishing the same digest twice: the second run must send 0 bytes (moto in-process)."""
    import os

    import boto3
    from moto import mock_aws

    from model_packaging.publish import publish

    artifact = bench.builds["gzip"].artifact_path.parent
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.pop("AWS_ENDPOINT_URL", None)  # mock_aws intercepts AWS's own endpoints only
    with mock_aws():  # fake credentials for its duration
        session = boto3.session.Session()
        session.client("s3").create_bucket(Bucket="bench-artifacts")
        key = session.client("kms").create_key()["KeyMetadata"]["Arn"]
        group = bench.builds["gzip"].manifest.name
        session.client("sagemaker").create_model_package_group(ModelPackageGroupName=group)
        first = publish(artifact, bucket="bench-artifacts", kms_key=key, progress=False)
        seconds, second = timed(
            lambda: publish(artifact, bucket="bench-artifacts", kms_key=key, progress=False)
        )
    assert second.version_arn == first.version_arn and not second.created
    bench.publish_again_bytes = second.uploaded_bytes
    return Row(
        "publish again (same digest)",
        seconds,
        bench.size,
        f"sent {second.uploaded_bytes} bytes (first publish sent "
        f"{first.uploaded_bytes / 1e6:.0f} MB)",
    )


MEASUREMENTS: list[Callable[[Bench], Row]] = [
    measure_sha256,
    measure_build_gzip,
    measure_build_none,
    measure_tar_gzip,
    measure_publish_again,
]


def report(bench: Bench) -> list[str]:
    baseline = bench.rows.get(measure_tar_gzip.__name__)
    lines = [f"model folder: {bench.size / 1e6:.0f} MB", ""]
    lines.append(f"{'measurement':<32} {'seconds':>8} {'MB/s':>8} {'vs tar':>7}  note")
    for row in bench.rows.values():
        rate = row.bytes_in / row.seconds / 1e6 if row.seconds else float("inf")
        ratio = f"{row.seconds / baseline.seconds:.3f}" if baseline else "-"
        lines.append(f"{row.name:<32} {row.seconds:>8.2f} {rate:>8.0f} {ratio:>7}  {row.note}")
    gzip_row = bench.rows.get(measure_build_gzip.__name__)
    if baseline and gzip_row:
        ratio = gzip_row.seconds / baseline.seconds
        verdict = "meets" if ratio <= 0.2 else "MISSES"
        lines += ["", f"build (gzip) / tar -czf = {ratio:.3f} ({verdict} the goal of <= 0.2)"]
    if bench.publish_again_bytes is not None:
        verdict = "meets" if bench.publish_again_bytes == 0 else "MISSES"
        lines.append(
            f"bytes sent by a second publish = {bench.publish_again_bytes}"
            f" ({verdict} the goal of 0)"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="model folder size (1024)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="bench-packaging-"))
    try:
        print(f"generating a {args.size_mb} MB model folder in {root} ...", file=sys.stderr)
        model_dir = make_model_folder(root, args.size_mb)
        bench = Bench(model_dir, root / "out", folder_size(model_dir))
        bench.work.mkdir()
        for measure in MEASUREMENTS:
            print(f"running {measure.__name__} ...", file=sys.stderr)
            bench.rows[measure.__name__] = measure(bench)
        print("\n".join(report(bench)))
    finally:
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
