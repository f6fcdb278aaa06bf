"""verify: digests against bytes, then the samples through the container's handler contract."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from model_packaging.artifact.build import build
from model_packaging.artifact.descriptor import Expected
from model_packaging.artifact.manifest import check_baseline, load_artifact
from model_packaging.artifact.verify import compare, verify
from model_packaging.cli import main
from model_packaging.drift.checks import load_baseline
from model_packaging.errors import PackagingError
from tests.packaging.conftest import ArtifactFactory

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tiny:1"


def copy_of(out: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(out, tmp_path / "copy"))


def test_the_example_verifies_with_one_timed_line_per_sample(built: Path) -> None:
    report = verify(built, progress=False)

    assert report.ok
    digest = json.loads((built / "manifest.json").read_text())["digest"]
    lines = report.lines()
    assert lines[0] == f"ok    sha256:{digest} {built / 'model.tar.gz'} (6 files match)"
    assert lines[1].startswith("ok    model loaded in ")
    names = ["new-customer-many-calls", "two-loyal-customers", "batch-csv"]
    for line, name in zip(lines[2:5], names, strict=True):
        assert line.startswith(f"ok    sample {name}")
        assert line.endswith(" ms")
    assert lines[5:] == ["verified: 3 of 3 samples match"]


def test_a_changed_expected_value_fails_and_names_the_sample(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = copy_of(built, tmp_path)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["samples"][0]["expected"]["json"]["predictions"][0]["churn_probability"] = 0.5
    manifest["samples"][2]["expected"]["text"] = "0.997300\n0.007230\n0.7\n"
    manifest_path.write_text(json.dumps(manifest))

    status = main(["verify", str(manifest_path), "--rel-tolerance", "1e-3"])

    lines = capsys.readouterr().out.splitlines()
    assert status == 1
    assert lines[2].startswith("FAIL  sample new-customer-many-calls")
    assert lines[2].endswith(
        "$.predictions[0].churn_probability: expected 0.5, got 0.9853373955224617 "
        "(rel tolerance 0.001)"
    )
    assert lines[3].startswith("ok    sample two-loyal-customers")
    assert lines[4].startswith("FAIL  sample batch-csv")
    assert lines[4].endswith(
        "expected text '0.997300\\n0.007230\\n0.7\\n', got '0.997300\\n0.007230\\n0.726575\\n'"
    )
    assert lines[5] == "verify failed: 2 of 3 samples differ: new-customer-many-calls, batch-csv"


def test_tampered_tarball_bytes_are_refused_naming_the_file(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = copy_of(built, tmp_path)
    tarball = out / "model.tar.gz"
    data = bytearray(tarball.read_bytes())
    data[len(data) // 2] ^= 0x01
    tarball.write_bytes(bytes(data))

    with pytest.raises(PackagingError) as caught:
        verify(out, progress=False)
    status = main(["verify", str(out)])

    message = str(caught.value)
    expected = json.loads((out / "manifest.json").read_text())["digest"]
    assert message.startswith(f"{tarball}: sha256 ")
    assert f"does not match the manifest ({expected}); the artifact was modified" in message
    assert status == 1
    assert capsys.readouterr().err == f"error: {message}\n"


# --- the baseline beside the artifact: one check for verify, publish and drift-check ------


def recorded_sha256(out: Path, name: str) -> str:
    baseline = json.loads((out / "manifest.json").read_text())["baseline"]
    return str(baseline[name.removesuffix(".json")]["sha256"])


@pytest.mark.parametrize("name", ["statistics.json", "constraints.json"])
def test_a_baseline_changed_after_the_build_fails_verify_like_a_changed_artifact(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    out = copy_of(built, tmp_path)
    path = out / "baseline" / name
    path.write_bytes(path.read_bytes().replace(b'"version"', b'"Version"'))
    actual = hashlib.sha256(path.read_bytes()).hexdigest()

    with pytest.raises(PackagingError) as caught:
        verify(out, progress=False)
    status = main(["verify", str(out)])

    message = str(caught.value)
    assert message == (
        f"{path}: sha256 {actual} does not match the manifest ({recorded_sha256(out, name)});"
        " the baseline was modified after it was built"
    )
    assert status == 1
    assert capsys.readouterr() == ("", f"error: {message}\n")
    with pytest.raises(PackagingError) as drift:
        load_baseline(out)
    assert str(drift.value) == message


def test_a_missing_baseline_file_fails_verify(built: Path, tmp_path: Path) -> None:
    out = copy_of(built, tmp_path)
    path = out / "baseline" / "constraints.json"
    path.unlink()

    with pytest.raises(PackagingError) as caught:
        verify(out, progress=False)

    assert str(caught.value) == f"{path}: missing; the manifest's baseline names it"


def test_the_baseline_check_returns_the_bytes_it_checked(built: Path) -> None:
    loaded = load_artifact(built)
    documents = check_baseline(loaded.manifest, loaded.directory)
    assert [(d.record.path, d.path, d.data) for d in documents] == [
        (f"baseline/{name}", built / "baseline" / name, (built / "baseline" / name).read_bytes())
        for name in ("statistics.json", "constraints.json")
    ]
    assert [hashlib.sha256(d.data).hexdigest() for d in documents] == [
        recorded_sha256(built, name) for name in ("statistics.json", "constraints.json")
    ]


def test_a_manifest_without_a_baseline_has_nothing_to_check(
    make_artifact: ArtifactFactory,
) -> None:
    loaded = load_artifact(make_artifact())
    assert loaded.manifest.baseline is None
    assert check_baseline(loaded.manifest, loaded.directory) == []


def test_an_unreadable_baseline_file_is_named(built: Path, tmp_path: Path) -> None:
    out = copy_of(built, tmp_path)
    path = out / "baseline" / "statistics.json"
    path.unlink()
    path.mkdir()
    loaded = load_artifact(out)

    with pytest.raises(PackagingError) as caught:
        check_baseline(loaded.manifest, loaded.directory)

    assert str(caught.value) == f"{path}: cannot read: Is a directory"


def test_a_missing_artifact_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(PackagingError) as caught:
        verify(tmp_path, progress=False)

    assert str(caught.value) == (
        f"{tmp_path}: no manifest.json found; pass a build output folder or its manifest.json"
    )


def tiny_model(tmp_path: Path, code: str, samples: list[dict[str, Any]]) -> Path:
    """A model folder with a custom image (no SDK lookup) and the given inference code."""
    model_dir = tmp_path / "tiny"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "code" / "inference.py").write_text(code)
    descriptor = {
        "name": "tiny",
        "framework": {"name": "custom", "version": "1", "image": IMAGE},
        "content_types": {
            "request": ["text/csv", "application/json", "application/x-npy"],
            "response": ["application/json", "text/csv"],
        },
        "regions": ["us-east-1"],
        "samples": samples,
    }
    (model_dir / "model.yaml").write_text(yaml.safe_dump(descriptor))
    return model_dir


SUMMER = """
class Summer:
    def predict(self, data):
        return data.sum(axis=1)


def model_fn(model_dir):
    return Summer()
"""


def test_a_file_digest_edited_in_the_manifest_is_named(built: Path, tmp_path: Path) -> None:
    out = copy_of(built, tmp_path)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entry = next(f for f in manifest["files"] if f["path"] == "model.joblib")
    real = entry["sha256"]
    entry["sha256"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))

    with pytest.raises(PackagingError) as caught:
        verify(out, progress=False)

    assert str(caught.value) == (
        f"{out / 'model.tar.gz'}: model.joblib has sha256 {real} (918 bytes), the manifest says "
        f"{'0' * 64} (918 bytes)"
    )


def test_an_uncompressed_artifact_verifies_and_a_changed_file_is_named(tmp_path: Path) -> None:
    sample = {
        "name": "rows",
        "content_type": "text/csv",
        "accept": "application/json",
        "body": "1,2\n3,4\n",
        "expected": {"json": [3, 7]},
    }
    out = tmp_path / "out"
    build(tiny_model(tmp_path, SUMMER, [sample]), out, compression="none", progress=False)

    assert verify(out, progress=False).ok

    tree = out / "model"
    (tree / "extra.txt").write_text("x")
    with pytest.raises(PackagingError) as caught:
        verify(out, progress=False)
    assert str(caught.value) == f"{tree}: extra.txt is not listed in the manifest"

    (tree / "extra.txt").unlink()
    (tree / "code" / "inference.py").write_text("changed")
    with pytest.raises(PackagingError) as caught:
        verify(out, progress=False)
    assert str(caught.value).startswith(f"{tree}: code/inference.py has sha256 ")

    (tree / "code" / "inference.py").unlink()
    with pytest.raises(PackagingError) as caught:
        verify(out, progress=False)
    assert str(caught.value) == f"{tree}: code/inference.py is listed in the manifest but missing"


def test_omitted_handlers_behave_like_the_scikit_learn_container(tmp_path: Path) -> None:
    samples: list[dict[str, Any]] = [
        {
            "name": "csv-rows",
            "content_type": "text/csv",
            "accept": "application/json",
            "body": "1,2\n3,4.5\n",
            "expected": {"json": [3, 7.5]},
        },
        {
            "name": "json-rows",
            "content_type": "application/json",
            "accept": "text/csv",
            "body": [[1, 2, 3]],
            "expected": {"text": "6.0\n"},
        },
        {
            "name": "npy-rows",
            "content_type": "application/x-npy",
            "accept": "application/json",
            "body_file": "rows.npy",
            "expected": {"json": [3]},
        },
        {
            # One CSV row is squeezed to a 1-D array by the container's decoder.
            "name": "single-row",
            "content_type": "text/csv",
            "accept": "application/json",
            "body": "1,2,3",
            "expected": {"json": [6]},
        },
    ]
    model_dir = tiny_model(tmp_path, SUMMER, samples)
    np.save(model_dir / "rows.npy", np.array([[1, 2]], dtype=np.int64))
    out = tmp_path / "out"
    build(model_dir, out, progress=False)

    report = verify(out, progress=False)

    assert json.loads((out / "manifest.json").read_text())["samples"][2]["body_base64"]
    assert [(s.name, s.ok) for s in report.samples] == [
        ("csv-rows", True),
        ("json-rows", True),
        ("npy-rows", True),
        ("single-row", False),
    ]
    assert report.samples[3].problem == (
        "predict_fn failed: AxisError: axis 1 is out of bounds for array of dimension 1"
    )
    assert not report.ok
    assert report.lines()[-1] == "verify failed: 1 of 4 samples differ: single-row"


def test_a_model_that_does_not_load_fails_with_the_reason(tmp_path: Path) -> None:
    sample = {
        "name": "any",
        "content_type": "text/csv",
        "accept": "application/json",
        "body": "1",
        "expected": {"json": 1},
    }
    out = tmp_path / "out"
    build(tiny_model(tmp_path, "import json\n", [sample]), out, progress=False)

    report = verify(out, progress=False)

    assert not report.ok
    assert report.lines()[1:] == [
        "FAIL  model did not load: model_fn is missing: the container has no default model "
        "loader; define model_fn(model_dir) in code/<entry_point>",
        "verify failed: the model did not load",
    ]


@pytest.mark.parametrize(
    ("expected", "body", "problem"),
    [
        ({"json": {"p": [0.5, 1]}}, b'{"p": [0.5000001, 1]}', None),
        (
            {"json": {"p": [0.5, 1]}},
            b'{"p": [0.5001, 1]}',
            "$.p[0]: expected 0.5, got 0.5001 (rel tolerance 1e-06)",
        ),
        ({"json": [0.0]}, b"[1e-17]", None),
        ({"json": [1, 2]}, b"[1]", "$: expected 2 items, got 1"),
        (
            {"json": {"a": 1}},
            b'{"b": 1}',
            "$: keys differ (missing ['a'], unexpected ['b'])",
        ),
        ({"json": [True]}, b"[1]", "$[0]: expected 'true', got '1'"),
        ({"json": None}, b"null", None),
        ({"json": 1}, b"one", "response is not JSON: 'one'"),
        ({"text": "a\n"}, b"a\n", None),
        ({"text": "a\n"}, b"a", "expected text 'a\\n', got 'a'"),
    ],
)
def test_responses_compare_structurally_with_a_numeric_tolerance(
    expected: dict[str, Any], body: bytes, problem: str | None
) -> None:
    assert compare(Expected.model_validate(expected), body, 1e-6) == problem


def test_cli_verify_usage_errors_exit_two(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["verify"])

    assert caught.value.code == 2
    assert "usage:" in capsys.readouterr().err
