"""What keeps build fast, tested for behaviour: parallel compression whose bytes do not depend
on the thread count, written while model.yaml is checked and stopped when it is refused; image
URIs looked up once per SDK release instead of importing the sagemaker SDK on every build; and
what a build does not import.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

import model_packaging.artifact.build as build_module
from model_packaging.artifact import images
from model_packaging.artifact.archive import BLOCK_SIZE, SourceFile, write_tar_gz
from model_packaging.artifact.build import build
from model_packaging.artifact.descriptor import Framework
from model_packaging.artifact.manifest import check_artifact, check_baseline, load_artifact
from model_packaging.errors import PackagingError

ROOT = Path(__file__).resolve().parents[2]
REGIONS = ("us-east-1", "eu-west-1")
MODEL_YAML = """\
name: speed
framework:
  name: custom
  version: "1.0"
  image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/speed:1
content_types: {request: [application/json], response: [application/json]}
regions: [REGIONS]
samples:
  - name: echo
    content_type: application/json
    accept: application/json
    body: "[]"
    expected: {json: []}
"""


@pytest.fixture(autouse=True)
def image_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test starts with an empty image URI cache of its own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def model_folder(root: Path, regions: tuple[str, ...] = REGIONS) -> Path:
    """Weights spanning several deflate blocks and a partial one, text that compresses well."""
    folder = root / "model"
    (folder / "code").mkdir(parents=True)
    (folder / "model.yaml").write_text(MODEL_YAML.replace("REGIONS", ", ".join(regions)))
    (folder / "code" / "inference.py").write_text("def model_fn(model_dir):\n    return None\n")
    rng = np.random.default_rng(7)
    weights = rng.standard_normal(3 * BLOCK_SIZE // 4 + 12_345, dtype=np.float32)
    (folder / "weights.bin").write_bytes(weights.tobytes())
    (folder / "vocab.txt").write_text("".join(f"token{i}\n" for i in range(400_000)))
    return folder


def test_the_tarball_is_byte_identical_for_any_thread_count(tmp_path: Path) -> None:
    folder = model_folder(tmp_path)
    digests = {
        threads: build(folder, tmp_path / f"out-{threads}", progress=False, threads=threads).digest
        for threads in (1, 2, 4)
    }
    assert len(set(digests.values())) == 1, digests
    default = build(folder, tmp_path / "out-default", progress=False)
    assert default.digest == digests[1]


def test_the_parallel_stream_is_one_valid_gzip_member_holding_the_tar(tmp_path: Path) -> None:
    """Decoded by the standard library's zlib, not by ISA-L: any gunzip can read it."""
    folder = model_folder(tmp_path)
    result = build(folder, tmp_path / "out", progress=False, threads=2)
    data = result.artifact_path.read_bytes()
    assert data[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # fixed gzip header
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data)), mode="r:") as tar:
        contents = {
            member.name: hashlib.sha256(tar.extractfile(member).read()).hexdigest()  # type: ignore[union-attr]
            for member in tar
        }
    assert contents == {record.path: record.sha256 for record in result.manifest.files}
    assert (
        contents["weights.bin"] == hashlib.sha256((folder / "weights.bin").read_bytes()).hexdigest()
    )


def test_an_error_while_reading_stops_the_threads_and_raises(tmp_path: Path) -> None:
    folder = model_folder(tmp_path)
    weights = folder / "weights.bin"
    files = [
        SourceFile("a.bin", weights, False, weights.stat().st_size),  # blocks in flight
        SourceFile("b.bin", folder / "gone.bin", False, 1),
    ]
    with pytest.raises(PackagingError, match=r"gone.bin: cannot be read: No such file"):
        write_tar_gz(files, io.BytesIO(), threads=4)
    assert not [t for t in threading.enumerate() if t.name.startswith("deflate")]


def test_a_thread_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="threads must be at least 1, got 0"):
        write_tar_gz([], io.BytesIO(), threads=0)


def run_python(code: str, cache: Path) -> str:
    """``code`` in a fresh interpreter, as a build command runs: what it imports is its own."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


BUILD_AND_REPORT = """
import sys
from pathlib import Path
from model_packaging.artifact.build import build
build(Path({folder!r}), Path({out!r}), progress=False)
print("sagemaker" in sys.modules)
"""


def test_a_build_imports_the_sdk_only_until_its_answers_are_cached(
    tmp_path: Path, image_cache: Path
) -> None:
    folder = model_folder(tmp_path)
    cold = run_python(
        BUILD_AND_REPORT.format(folder=str(folder), out=str(tmp_path / "a")), image_cache
    )
    warm = run_python(
        BUILD_AND_REPORT.format(folder=str(folder), out=str(tmp_path / "b")), image_cache
    )
    assert (cold, warm) == ("True\n", "False\n")
    cache_files = list((image_cache / "mlserve").iterdir())
    assert [p.name for p in cache_files] == [images.cache_path().name]  # type: ignore[union-attr]
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (
        tmp_path / "b" / "manifest.json"
    ).read_bytes()


def test_importing_the_tool_does_not_import_the_sdk(image_cache: Path) -> None:
    code = (
        "import sys, model_packaging.artifact.build, model_packaging.cli,"
        " model_packaging.store.publish;"
        " print('sagemaker' in sys.modules)"
    )
    assert run_python(code, image_cache) == "False\n"


def test_monitor_images_are_the_sdks_for_each_region(tmp_path: Path) -> None:
    from sagemaker.core import image_uris

    result = build(model_folder(tmp_path), tmp_path / "out", progress=False)
    assert result.manifest.monitor_images == {
        region: image_uris.retrieve("model-monitor", region=region) for region in REGIONS
    }
    assert result.manifest.monitor_images["us-east-1"] == (
        "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
    )
    manifest = json.loads(result.manifest_path.read_text())
    assert sorted(manifest["monitor_images"]) == sorted(REGIONS)


def test_prebuilt_serving_images_come_from_the_cache_unchanged(image_cache: Path) -> None:
    framework = Framework(name="sklearn", version="1.2-1", python_version="py3")
    fresh = images.resolve_images(framework, REGIONS, Path("model.yaml"))
    path = images.cache_path()
    assert path is not None and path.is_file()
    assert images.resolve_images(framework, REGIONS, Path("model.yaml")) == fresh
    assert fresh.serving["eu-west-1"].startswith(
        "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"
    )


def test_a_damaged_cache_is_ignored_and_rewritten(tmp_path: Path) -> None:
    folder = model_folder(tmp_path)
    first = build(folder, tmp_path / "a", progress=False)
    path = images.cache_path()
    assert path is not None
    path.write_text("{not json")
    second = build(folder, tmp_path / "b", progress=False)
    assert second.manifest.monitor_images == first.manifest.monitor_images
    assert json.loads(path.read_text())  # rewritten whole


def test_a_cache_that_cannot_be_written_only_costs_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    result = build(model_folder(tmp_path), tmp_path / "out", progress=False)
    assert sorted(result.manifest.monitor_images) == sorted(REGIONS)


def test_a_region_without_a_monitor_image_is_a_clear_error(tmp_path: Path) -> None:
    folder = model_folder(tmp_path, regions=("us-east-1", "xx-nowhere-1"))
    with pytest.raises(
        PackagingError,
        match=r"model.yaml: no Model Monitor analyzer image for xx-nowhere-1: Unsupported region",
    ):
        build(folder, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_a_failed_lookup_beside_the_compression_keeps_the_previous_output(tmp_path: Path) -> None:
    """The lookup runs while the artifact is written; the artifact moves into place only once
    the lookup succeeded, so the earlier build's files stay as they were."""
    folder = model_folder(tmp_path)
    out = tmp_path / "out"
    build(folder, out, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (folder / "weights.bin").write_bytes(b"changed")
    yaml_path = folder / "model.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("eu-west-1", "xx-nowhere-1"))

    with pytest.raises(PackagingError, match="no Model Monitor analyzer image for xx-nowhere-1"):
        build(folder, out, progress=False)

    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


class FullDisk(io.BytesIO):
    """A file that fills up after ``room`` bytes, as a full disk does."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def write(self, data: object) -> int:
        if self.tell() + len(data) > self.room:  # type: ignore[arg-type]
            raise OSError(28, "No space left on device")
        return super().write(data)  # type: ignore[arg-type]


@pytest.mark.parametrize("threads", [1, 3])
def test_a_write_error_reaches_the_caller_and_stops_the_threads(
    tmp_path: Path, threads: int
) -> None:
    folder = model_folder(tmp_path)
    weights = folder / "weights.bin"
    files = [SourceFile("weights.bin", weights, False, weights.stat().st_size)]
    with pytest.raises(OSError, match="No space left on device"):
        write_tar_gz(files, FullDisk(BLOCK_SIZE), threads=threads)
    assert not [t for t in threading.enumerate() if t.name.startswith("deflate")]


def deflate_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("deflate")]


def test_a_build_does_not_wait_for_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No output of a build is fsynced: every command that reads one checks it against the
    manifest's digests, and a build gives the same bytes again (model_packaging.replace_file)."""
    folder = model_folder(tmp_path)
    (folder / "data").mkdir()
    (folder / "data" / "baseline.csv").write_text("x,y\n1,a\n2,b\n")
    (folder / "model.yaml").write_text(
        (folder / "model.yaml").read_text() + "baseline: {path: data/baseline.csv}\n"
    )
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)
    monkeypatch.setattr(os, "fdatasync", synced.append)

    result = build(folder, tmp_path / "out", progress=False)

    assert synced == []
    loaded = load_artifact(tmp_path / "out")
    check_artifact(loaded)
    assert loaded.manifest == result.manifest
    assert result.manifest.baseline is not None
    check_baseline(result.manifest, tmp_path / "out")


def test_a_refused_model_yaml_stops_the_artifact_being_written(tmp_path: Path) -> None:
    """The artifact is written while model.yaml is read; a refusal removes what was written."""
    folder = model_folder(tmp_path)
    (folder / "model.yaml").write_text((folder / "model.yaml").read_text() + "unknown_key: 1\n")
    out = tmp_path / "out"

    with pytest.raises(PackagingError, match="unknown_key"):
        build(folder, out, progress=False)

    assert not out.exists()
    assert not deflate_threads()


def test_the_bar_counts_every_byte_written_before_it_existed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bar is made once model.yaml (which names it) is read; bytes written before then
    reach it too."""
    bars: list[tuple[int, str, list[int]]] = []

    class Recording:
        def __init__(self, total: int, description: str, enabled: bool = True) -> None:
            self.counts: list[int] = []
            bars.append((total, description, self.counts))

        def update(self, n: int = 1) -> None:
            self.counts.append(n)

        def __enter__(self) -> Recording:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(build_module, "progress_bar", Recording)
    folder = model_folder(tmp_path)
    size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())

    build(folder, tmp_path / "out", progress=True)

    [(total, description, counts)] = bars
    assert (total, description, sum(counts)) == (size, "build speed", size)


WHAT_A_BUILD_IMPORTS = """
import sys
from model_packaging.cli import main
main(["build", {folder!r}, "--out", {out!r}, "--quiet"])
print(sorted(m for m in ("pandas", "botocore", "sagemaker", "tqdm") if m in sys.modules))
"""


def test_a_quiet_build_with_a_baseline_imports_no_pandas_botocore_sdk_or_bar(
    tmp_path: Path, image_cache: Path
) -> None:
    """pandas would come with pyarrow's to_numpy, botocore with the analyzer image table,
    tqdm with a bar nobody sees: a build needs none of them (once image URIs are cached)."""
    folder = model_folder(tmp_path)
    (folder / "data").mkdir()
    rows = "".join(f"{i},{i * 0.5},{'ab'[i % 2]}\n" for i in range(2000))
    (folder / "data" / "train.csv").write_text("count,ratio,kind\n" + rows)
    with (folder / "model.yaml").open("a") as descriptor:
        descriptor.write("baseline: {path: data/train.csv}\n")
    build(folder, tmp_path / "warm-up", progress=False)  # fills the image cache

    code = WHAT_A_BUILD_IMPORTS.format(folder=str(folder), out=str(tmp_path / "out"))
    printed = run_python(code, image_cache).splitlines()

    assert printed[-1] == "[]"
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["baseline"]["dataset"]["rows"] == 2000


def test_the_artifact_contract_and_the_rules_load_no_schema_or_partition_data(
    image_cache: Path,
) -> None:
    """infra.settings resolves its names on first use: the contract needs neither pydantic nor
    the schema, and the rules load botocore's partition data only to name an image."""
    code = (
        "import sys; import infra.settings.artifacts;"
        " print(sorted(m for m in ('pydantic', 'infra.settings.schema', 'botocore')"
        " if m in sys.modules));"
        " import infra.settings.rules; print('botocore' in sys.modules);"
        " from infra.monitor_images import analyzer_image;"
        " print(analyzer_image('cn-north-1'), 'botocore' in sys.modules)"
    )
    assert run_python(code, image_cache).splitlines() == [
        "[]",
        "False",
        "453000072557.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-model-monitor-analyzer True",
    ]


def test_reading_model_yaml_and_the_release_commands_import_no_numpy(image_cache: Path) -> None:
    """numpy comes with computing a baseline, not with the module that knows its formats."""
    code = (
        "import sys, model_packaging.artifact.descriptor, model_packaging.release.status,"
        " model_packaging.release.promote, model_packaging.store.publish;"
        " print(sorted(m for m in ('numpy', 'pyarrow') if m in sys.modules));"
        " from model_packaging.drift import baseline;"
        " print(baseline.format_from_name('train.jsonl'), 'numpy' in sys.modules)"
    )
    assert run_python(code, image_cache).splitlines() == ["[]", "jsonl False"]


SETTINGS_NAMES = """
import sys, infra.settings
from infra.settings import SettingsError
print(sorted(m for m in ("infra.settings.schema", "infra.settings.loading") if m in sys.modules))
from infra.settings import load_stack_file, ModelSettings, problems
print(load_stack_file.__module__, ModelSettings.__module__, problems.SettingsError is SettingsError)
print(all(getattr(infra.settings, name) is not None for name in infra.settings.__all__))
"""


def test_every_public_settings_name_resolves_and_only_what_it_needs_is_loaded(
    image_cache: Path,
) -> None:
    assert run_python(SETTINGS_NAMES, image_cache).splitlines() == [
        "[]",
        "infra.settings.loading infra.settings.schema True",
        "True",
    ]
    import infra.settings

    assert set(infra.settings.__all__) <= set(dir(infra.settings))
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        infra.settings.nothing  # noqa: B018


def test_freed_buffers_are_kept_for_reuse_where_the_c_library_is_glibc(tmp_path: Path) -> None:
    # A fresh process, as the build command is: the setting lasts as long as the process.
    code = (
        "import platform;"
        "from model_packaging.artifact.archive import keep_freed_buffers;"
        "print(platform.libc_ver()[0], keep_freed_buffers())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    libc, kept = result.stdout.split()
    assert kept == ("True" if libc == "glibc" else "False"), result.stdout
