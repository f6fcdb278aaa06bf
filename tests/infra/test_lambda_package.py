"""The drift engine's code package and layer: reproducible bytes, the right contents, and a
layer that fits Lambda.

Nothing here downloads: the layer's build is run with a stand-in for pip that writes wheels,
and the real layer's size is measured by ``python -m infra.lambda_package`` (docs/drift.md).
"""

from __future__ import annotations

import io
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from infra import lambda_package as lp


def _entries(data: bytes) -> list[zipfile.ZipInfo]:
    return zipfile.ZipFile(io.BytesIO(data)).infolist()


def test_identical_sources_give_identical_bytes(tmp_path: Path) -> None:
    first = lp.code_zip()
    # Timestamps and the order files are found in do not count: only names and contents.
    copy = tmp_path / "project"
    for path in lp.code_modules().files:
        target = copy / path.relative_to(lp.ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
        os.utime(target, (1_000_000_000, 1_000_000_000))
    assert lp.code_zip(root=copy) == first
    # A changed source changes the bytes.
    handler = copy / "model_packaging" / "drift" / "handler.py"
    handler.write_bytes(handler.read_bytes() + b"\n# changed\n")
    assert lp.code_zip(root=copy) != first


def test_entries_are_sorted_with_a_fixed_time_and_mode() -> None:
    infos = _entries(lp.write_zip({"b.py": b"b", "a/c.py": b"c", "a/b.py": b"a"}))
    assert [i.filename for i in infos] == ["a/b.py", "a/c.py", "b.py"]
    assert {(i.date_time, i.external_attr >> 16, i.create_system) for i in infos} == {
        ((1980, 1, 1, 0, 0, 0), 0o100644, 3)
    }


def test_the_code_holds_the_handler_and_what_it_imports_only() -> None:
    names = {i.filename for i in _entries(lp.code_zip())}
    assert {
        "model_packaging/__init__.py",
        "model_packaging/drift/__init__.py",
        "model_packaging/drift/handler.py",
        "model_packaging/drift/metrics.py",
        "model_packaging/drift/checks.py",
        "infra/settings/artifacts.py",
    } <= names
    # Not the Pulumi program, the release commands or the policy pack.
    assert not {n for n in names if n.startswith(("infra/components/", "policy/"))}
    assert "infra/program.py" not in names and "model_packaging/cli.py" not in names


def test_the_closure_reads_imports_at_any_depth_but_not_type_checking(tmp_path: Path) -> None:
    package = tmp_path / "model_packaging"
    (package / "drift").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "drift" / "__init__.py").write_text("")
    (package / "drift" / "handler.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import pandas\n"
        "def handler(event, context):\n    import numpy\n    from . import helper\n"
    )
    (package / "drift" / "helper.py").write_text("import yaml\nimport json\n")
    closure = lp.code_modules(root=tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in closure.files} == {
        "model_packaging/__init__.py",
        "model_packaging/drift/__init__.py",
        "model_packaging/drift/handler.py",
        "model_packaging/drift/helper.py",
    }
    assert closure.third_party == {"numpy", "yaml"}


def test_a_missing_handler_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(lp.PackagingError, match="model_packaging.drift.handler is not a module"):
        lp.code_modules(root=tmp_path)


def test_the_layer_is_pinned_by_the_lock_without_what_the_runtime_has() -> None:
    requirements = lp.layer_requirements()
    names = {line.split("==")[0] for line in requirements}
    assert {"numpy", "pyarrow", "datasketches"} <= names
    assert not names & lp.RUNTIME_PROVIDED
    # Every line is pinned and carries the lock's hashes, so pip refuses any other file.
    assert all("==" in line and "--hash=sha256:" in line for line in requirements)
    ordered = [line.split("==")[0] for line in requirements]
    assert ordered == sorted(ordered)


def test_a_dependency_the_lock_does_not_pin_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / "requirements-release.txt"
    lock.write_text("numpy==2.4.6 \\\n    --hash=sha256:00\n")
    with pytest.raises(lp.PackagingError, match="pins no version of"):
        lp.layer_requirements(lock=lock)


def _fake_pip(wheels: dict[str, dict[str, bytes]]) -> Any:
    def run(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        assert command[3:5] == ["download", "--quiet"] and "--require-hashes" in command
        platforms = {command[i + 1] for i, arg in enumerate(command) if arg == "--platform"}
        assert "manylinux2014_x86_64" in platforms and "manylinux_2_28_x86_64" in platforms
        dest = Path(command[command.index("--dest") + 1])
        dest.mkdir(parents=True, exist_ok=True)
        for wheel, files in wheels.items():
            with zipfile.ZipFile(dest / wheel, "w") as archive:
                for name, data in files.items():
                    archive.writestr(name, data)
        return subprocess.CompletedProcess(command, 0, "", "")

    return run


def test_the_layer_is_reproducible_under_python_and_without_tests_or_headers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wheels = {
        "numpy-2.4.6-cp312-cp312-manylinux_2_28_x86_64.whl": {
            "numpy/__init__.py": b"x",
            "numpy/_core/tests/test_a.py": b"t",
            "numpy/_core/include/numpy/a.h": b"h",
        },
        "pyarrow-25.0.1-cp312-cp312-manylinux_2_28_x86_64.whl": {
            "pyarrow/lib.so": b"so",
            "pyarrow/lib.pxd": b"pxd",
        },
    }
    monkeypatch.setattr(subprocess, "run", _fake_pip(wheels))
    first = lp.build_layer(["numpy==2.4.6 --hash=sha256:00"])
    assert [i.filename for i in _entries(first)] == [
        "python/numpy/__init__.py",
        "python/pyarrow/lib.so",
    ]
    assert lp.build_layer(["numpy==2.4.6 --hash=sha256:00"]) == first


def test_a_failed_download_names_pips_last_line(monkeypatch: pytest.MonkeyPatch) -> None:
    failed = subprocess.CompletedProcess([], 1, "", "ERROR: No matching distribution found for x")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: failed)
    with pytest.raises(lp.PackagingError, match="No matching distribution found for x"):
        lp.build_layer(["x==1 --hash=sha256:00"])


def test_the_offline_plan_names_the_packages_without_writing_them(tmp_path: Path) -> None:
    paths = lp.package(root=lp.ROOT, write=False)
    assert paths.code.parent == paths.layer.parent == Path("build/lambda")
    assert paths.code.name == f"code-{paths.code_sha256[:16]}.zip"
    assert paths.layer.name == f"layer-{lp.layer_key(lp.layer_requirements())}.zip"


def test_a_module_changed_since_the_last_walk_is_walked_again(tmp_path: Path) -> None:
    """code_modules remembers its walk for the process, but not past a change to a file."""
    package = tmp_path / "model_packaging" / "drift"
    package.mkdir(parents=True)
    (tmp_path / "model_packaging" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    handler = package / "handler.py"
    handler.write_text("import json\n")
    entry = "model_packaging.drift.handler"
    assert lp.code_modules(entry, tmp_path).third_party == frozenset()
    handler.write_text("import json\nimport numpy\n")
    later = handler.stat().st_mtime_ns + 1_000_000_000
    os.utime(handler, ns=(later, later))
    assert lp.code_modules(entry, tmp_path).third_party == frozenset({"numpy"})
