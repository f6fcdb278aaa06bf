"""build: byte-reproducible artifacts, a complete manifest, and refusals that leave nothing."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest

import model_packaging.artifact.build as build_module
from model_packaging.artifact.build import build
from model_packaging.cli import main
from model_packaging.errors import PackagingError
from tests.helpers import EXAMPLE, git

SKLEARN_US_EAST_1 = (
    "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
)


def copy_example(dest: Path, *, umask: int = 0o022, mtime: int = 1_700_000_000) -> Path:
    """Write the example's files afresh, so umask and mtime really differ between copies."""
    previous = os.umask(umask)
    try:
        for source in sorted(EXAMPLE.rglob("*")):
            if source.is_file() and "__pycache__" not in source.parts:
                target = dest / source.relative_to(EXAMPLE)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read_bytes())
                os.utime(target, (mtime, mtime))
    finally:
        os.umask(previous)
    return dest


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_files(model_dir: Path) -> dict[str, str]:
    return {
        p.relative_to(model_dir).as_posix(): sha256(p) for p in model_dir.rglob("*") if p.is_file()
    }


def test_the_same_folder_builds_to_the_same_bytes_whatever_times_umask_and_owner(
    tmp_path: Path,
) -> None:
    first = copy_example(tmp_path / "a" / "churn", umask=0o022, mtime=1_600_000_000)
    second = copy_example(tmp_path / "b" / "churn", umask=0o077, mtime=1_700_000_000)
    (first / "code" / "run.sh").write_text("#!/bin/sh\n")
    (second / "code" / "run.sh").write_text("#!/bin/sh\n")
    (first / "code" / "run.sh").chmod(0o755)
    (second / "code" / "run.sh").chmod(0o700)
    if os.geteuid() == 0:
        for path in second.rglob("*"):
            os.chown(path, 1234, 5678)

    previous = os.umask(0o077)
    try:
        one = build(first, tmp_path / "out-a", progress=False)
    finally:
        os.umask(previous)
    two = build(second, tmp_path / "out-b", progress=False)

    assert one.digest == two.digest
    assert one.artifact_path.read_bytes() == two.artifact_path.read_bytes()
    assert one.manifest.files == two.manifest.files


def test_the_tarball_has_normalised_sorted_entries_and_a_fixed_gzip_header(tmp_path: Path) -> None:
    model_dir = copy_example(tmp_path / "churn")
    (model_dir / "code" / "run.sh").write_text("#!/bin/sh\n")
    (model_dir / "code" / "run.sh").chmod(0o750)

    result = build(model_dir, tmp_path / "out", progress=False)

    data = result.artifact_path.read_bytes()
    assert data[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    with tarfile.open(result.artifact_path, "r:gz") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(source_files(model_dir))
    assert all(m.isreg() and m.mtime == 0 for m in members)
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
    modes = {m.name: m.mode for m in members}
    assert modes["code/run.sh"] == 0o755
    assert {mode for name, mode in modes.items() if name != "code/run.sh"} == {0o644}


def test_gnu_tar_and_gzip_read_the_tarball_back_to_the_same_files(tmp_path: Path) -> None:
    model_dir = copy_example(tmp_path / "churn")
    # Names past ustar's 100 characters or outside ASCII go into PAX records.
    long_name = model_dir / ("deep/" * 20) / ("w" * 120 + ".bin")
    long_name.parent.mkdir(parents=True)
    long_name.write_bytes(os.urandom(3000))
    (model_dir / "données-名前.txt").write_text("ünïcode\n")
    result = build(model_dir, tmp_path / "out", progress=False)
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()

    subprocess.run(["gzip", "-t", str(result.artifact_path)], check=True)
    subprocess.run(["tar", "xzf", str(result.artifact_path), "-C", str(unpacked)], check=True)

    assert source_files(unpacked) == source_files(model_dir)


def test_the_manifest_records_digests_framework_images_and_samples(tmp_path: Path) -> None:
    model_dir = copy_example(tmp_path / "churn")

    result = build(model_dir, tmp_path / "out", progress=False)

    text = result.manifest_path.read_text()
    manifest = json.loads(text)
    assert text == json.dumps(manifest, sort_keys=True, indent=2) + "\n"
    assert result.digest == manifest["digest"] == sha256(result.artifact_path)
    assert manifest["artifact"] == {
        "path": "model.tar.gz",
        "size": result.artifact_path.stat().st_size,
        "sha256": result.digest,
    }
    assert {f["path"]: f["sha256"] for f in manifest["files"]} == source_files(model_dir)
    assert [f["path"] for f in manifest["files"]] == sorted(source_files(model_dir))
    assert manifest["name"] == "churn"
    assert manifest["compression"] == "gzip"
    assert manifest["framework"] == {"name": "sklearn", "version": "1.9-0", "python_version": "py3"}
    assert manifest["entry_point"] == "inference.py"
    assert manifest["environment"] == {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "application/json",
    }
    assert manifest["content_types"] == {
        "request": ["text/csv", "application/json"],
        "response": ["application/json", "text/csv"],
    }
    assert sorted(manifest["images"]) == ["eu-central-1", "eu-west-1", "us-east-1", "us-west-2"]
    assert manifest["images"]["us-east-1"] == SKLEARN_US_EAST_1
    assert manifest["git"] is None
    batch = manifest["samples"][2]
    assert batch["body"] == (model_dir / "samples" / "batch.csv").read_text()
    assert batch["expected"] == {"text": "0.997300\n0.007230\n0.726575\n"}


def test_an_unknown_framework_version_names_model_yaml_and_the_region(tmp_path: Path) -> None:
    model_dir = copy_example(tmp_path / "churn")
    yaml_path = model_dir / "model.yaml"
    yaml_path.write_text(yaml_path.read_text().replace('version: "1.9-0"', 'version: "9.9"'))

    with pytest.raises(PackagingError) as caught:
        build(model_dir, tmp_path / "out", progress=False)

    assert str(caught.value).startswith(
        f"{yaml_path}: no sklearn 9.9 py3 inference image for us-east-1: "
        "Unsupported sklearn version: 9.9."
    )
    assert not (tmp_path / "out").exists()


def listing_sha256_with_coreutils(folder: Path) -> str:
    """The canonical listing computed by sha256sum itself, independently of the tool."""
    listing = subprocess.run(
        "find . -type f | sed 's|^\\./||' | LC_ALL=C sort | xargs sha256sum",
        shell=True,
        cwd=folder,
        check=True,
        capture_output=True,
    ).stdout
    return hashlib.sha256(listing).hexdigest()


def test_uncompressed_builds_write_the_same_files_under_a_reproducible_listing_digest(
    tmp_path: Path,
) -> None:
    first = copy_example(tmp_path / "a" / "churn", umask=0o022, mtime=1_600_000_000)
    second = copy_example(tmp_path / "b" / "churn", umask=0o077, mtime=1_700_000_000)

    one = build(first, tmp_path / "out-a", compression="none", progress=False)
    two = build(second, tmp_path / "out-b", compression="none", progress=False)

    assert one.artifact_path == tmp_path / "out-a" / "model"
    assert source_files(one.artifact_path) == source_files(first)
    assert one.digest == two.digest == listing_sha256_with_coreutils(one.artifact_path)
    manifest = json.loads(one.manifest_path.read_text())
    assert manifest["compression"] == "none"
    assert manifest["artifact"]["path"] == "model/"
    assert manifest["artifact"]["size"] == sum(
        p.stat().st_size for p in first.rglob("*") if p.is_file()
    )


def test_rebuilding_replaces_the_previous_output_of_either_kind(tmp_path: Path) -> None:
    model_dir = copy_example(tmp_path / "churn")
    out = tmp_path / "out"
    build(model_dir, out, compression="none", progress=False)
    (model_dir / "train.py").unlink()

    build(model_dir, out, compression="none", progress=False)
    assert "train.py" not in source_files(out / "model")

    result = build(model_dir, out, progress=False)
    # The example names a baseline dataset: its statistics lie beside the artifact.
    assert sorted(p.name for p in out.iterdir()) == ["baseline", "manifest.json", "model.tar.gz"]
    assert json.loads(result.manifest_path.read_text())["digest"] == sha256(out / "model.tar.gz")


def test_noise_is_ignored_and_leaves_the_digest_unchanged(tmp_path: Path) -> None:
    clean = copy_example(tmp_path / "clean" / "churn")
    noisy = copy_example(tmp_path / "noisy" / "churn")
    for noise in ("code/__pycache__/inference.cpython-311.pyc", ".DS_Store", ".git/config", "x~"):
        (noisy / noise).parent.mkdir(parents=True, exist_ok=True)
        (noisy / noise).write_text("noise")

    assert (
        build(noisy, tmp_path / "out-noisy", progress=False).digest
        == build(clean, tmp_path / "out-clean", progress=False).digest
    )


def test_a_symlink_to_a_file_inside_is_packaged_as_a_copy(tmp_path: Path) -> None:
    model_dir = copy_example(tmp_path / "churn")
    (model_dir / "alias.joblib").symlink_to("model.joblib")

    result = build(model_dir, tmp_path / "out", progress=False)

    files = {f.path: f.sha256 for f in result.manifest.files}
    assert files["alias.joblib"] == files["model.joblib"] == sha256(model_dir / "model.joblib")
    with tarfile.open(result.artifact_path) as tar:
        assert tar.getmember("alias.joblib").isreg()


def test_the_git_commit_and_dirty_flag_are_recorded_inside_a_work_tree(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    model_dir = copy_example(repo / "churn")

    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "model")
    head = git(repo, "rev-parse", "HEAD")

    clean = build(model_dir, tmp_path / "out-clean", progress=False)
    (model_dir / "train.py").write_text("# changed\n")
    dirty = build(model_dir, tmp_path / "out-dirty", progress=False)

    assert clean.manifest.git is not None and dirty.manifest.git is not None
    assert (clean.manifest.git.commit, clean.manifest.git.dirty) == (head, False)
    assert (dirty.manifest.git.commit, dirty.manifest.git.dirty) == (head, True)


Breaker = Callable[[Path, Path], str]


def escaping_symlink(model_dir: Path, tmp_path: Path) -> str:
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"secret")
    (model_dir / "weights.bin").symlink_to(outside)
    return f"{model_dir}/weights.bin: symlink points outside the model folder (to {outside})"


def dotdot_body_file(model_dir: Path, tmp_path: Path) -> str:
    yaml_path = model_dir / "model.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("samples/batch.csv", "../batch.csv"))
    return (
        f"{yaml_path}: 1 problem: samples[2].body_file: must not contain '..' (got '../batch.csv')"
    )


def fifo(model_dir: Path, tmp_path: Path) -> str:
    os.mkfifo(model_dir / "pipe")
    return f"{model_dir}/pipe: is a FIFO; only regular files and folders can be packaged"


def symlink_to_folder(model_dir: Path, tmp_path: Path) -> str:
    (model_dir / "more-code").symlink_to("code")
    return f"{model_dir}/more-code: symlink to a folder; only symlinks to files are followed"


def missing_entry_point(model_dir: Path, tmp_path: Path) -> str:
    (model_dir / "code" / "inference.py").rename(model_dir / "inference.py")
    return (
        f"{model_dir}/code/inference.py: entry point not found (model.yaml entry_point: "
        "inference.py; inference code lives in code/)"
    )


def missing_descriptor(model_dir: Path, tmp_path: Path) -> str:
    (model_dir / "model.yaml").unlink()
    return (
        f"{model_dir}/model.yaml: not found; every model folder needs a model.yaml "
        "(see docs/model-packaging.md)"
    )


def dotenv(model_dir: Path, tmp_path: Path) -> str:
    (model_dir / ".env").write_text("AWS_SECRET_ACCESS_KEY=x\n")
    return (
        f"{model_dir}/.env: looks like a credential file; remove it, or pass --allow .env if it "
        "is meant to ship"
    )


def pem(model_dir: Path, tmp_path: Path) -> str:
    (model_dir / "certs").mkdir()
    (model_dir / "certs" / "server.PEM").write_text("-----BEGIN PRIVATE KEY-----\n")
    return (
        f"{model_dir}/certs/server.PEM: looks like a credential file; remove it, or pass "
        "--allow certs/server.PEM if it is meant to ship"
    )


@pytest.mark.parametrize(
    "breaker",
    [
        escaping_symlink,
        dotdot_body_file,
        fifo,
        symlink_to_folder,
        missing_entry_point,
        missing_descriptor,
        dotenv,
        pem,
    ],
)
def test_unsafe_or_incomplete_folders_are_refused_and_nothing_is_written(
    tmp_path: Path, breaker: Breaker
) -> None:
    model_dir = copy_example(tmp_path / "churn")
    message = breaker(model_dir, tmp_path)
    out = tmp_path / "out"

    with pytest.raises(PackagingError) as caught:
        build(model_dir, out, progress=False)

    assert str(caught.value) == message
    assert not out.exists()


@pytest.mark.parametrize(("breaker", "allowed"), [(dotenv, ".env"), (pem, "certs/server.PEM")])
def test_allow_lets_a_named_credential_looking_file_ship(
    tmp_path: Path, breaker: Breaker, allowed: str
) -> None:
    model_dir = copy_example(tmp_path / "churn")
    breaker(model_dir, tmp_path)

    result = build(model_dir, tmp_path / "out", allow=(allowed,), progress=False)

    assert allowed in {f.path for f in result.manifest.files}


@pytest.mark.parametrize(
    ("allowed", "problem"),
    [
        ("../.env", "must not contain '..'"),
        ("/etc/.env", "must be a relative path, not an absolute one"),
        (".envrc", "no such file in {model_dir}"),
    ],
)
def test_allow_takes_only_relative_paths_of_files_in_the_folder(
    tmp_path: Path, allowed: str, problem: str
) -> None:
    model_dir = copy_example(tmp_path / "churn")

    with pytest.raises(PackagingError) as caught:
        build(model_dir, tmp_path / "out", allow=(allowed,), progress=False)

    assert str(caught.value) == f"--allow {allowed}: " + problem.format(model_dir=model_dir)


def test_a_missing_model_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(PackagingError) as caught:
        build(tmp_path / "nowhere", tmp_path / "out", progress=False)

    assert str(caught.value) == f"{tmp_path / 'nowhere'}: no such folder"


def test_an_unwritable_output_is_a_one_line_error(tmp_path: Path) -> None:
    model_dir = copy_example(tmp_path / "churn")
    (tmp_path / "out").write_text("a file, not a folder")

    with pytest.raises(PackagingError) as caught:
        build(model_dir, tmp_path / "out", progress=False)

    assert str(caught.value) == f"{tmp_path / 'out'}: File exists"


def test_the_output_folder_may_not_be_inside_the_model_folder(tmp_path: Path) -> None:
    model_dir = copy_example(tmp_path / "churn")

    with pytest.raises(PackagingError) as caught:
        build(model_dir, model_dir / "dist", progress=False)

    assert str(caught.value) == (
        f"{model_dir / 'dist'}: the output folder must not be inside {model_dir}"
    )
    assert not (model_dir / "dist").exists()


def test_a_failure_while_writing_keeps_the_previous_output_and_no_temporary_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_dir = copy_example(tmp_path / "churn")
    out = tmp_path / "out"
    build(model_dir, out, progress=False)
    build(model_dir, out, compression="none", progress=False)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def half_written_tarball(files: object, stream: BinaryIO, progress: object) -> None:
        stream.write(b"\x1f\x8b half a tarball")
        raise PackagingError("disk full")

    def half_copied_tree(files: object, dest: Path, progress: object) -> None:
        (dest / "model.joblib").write_bytes(b"half")
        raise PackagingError("disk full")

    monkeypatch.setattr(build_module, "write_tar_gz", half_written_tarball)
    monkeypatch.setattr(build_module, "copy_tree", half_copied_tree)
    for compression in ("gzip", "none"):
        with pytest.raises(PackagingError, match="disk full"):
            build(model_dir, out, compression=compression, progress=False)

    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in out.iterdir()) == ["baseline", "manifest.json", "model"]


def test_cli_build_prints_the_digest_and_exits_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_dir = copy_example(tmp_path / "churn")
    out = tmp_path / "out"

    status = main(["build", str(model_dir), "--out", str(out), "--quiet"])

    printed = capsys.readouterr()
    assert status == 0
    digest = sha256(out / "model.tar.gz")
    assert (
        printed.out
        == f"built {out / 'model.tar.gz'} sha256:{digest}\nmanifest {out / 'manifest.json'}\n"
    )
    assert printed.err == ""


def test_cli_build_refusal_is_one_line_on_stderr_with_status_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_dir = copy_example(tmp_path / "churn")
    (model_dir / "id_rsa").write_text("key")

    status = main(["build", str(model_dir), "--out", str(tmp_path / "out")])

    printed = capsys.readouterr()
    assert status == 1
    assert printed.out == ""
    assert printed.err == (
        f"error: {model_dir}/id_rsa: looks like a credential file; remove it, or pass "
        "--allow id_rsa if it is meant to ship\n"
    )


@pytest.mark.parametrize(
    "argv",
    [["build", "examples/models/churn"], ["build", "x", "--out", "y", "--compression", "zip"]],
)
def test_cli_build_usage_errors_exit_two(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)

    assert caught.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_the_example_in_the_repository_builds_cleanly(tmp_path: Path) -> None:
    result = build(EXAMPLE, tmp_path / "out", progress=False)

    assert {f.path for f in result.manifest.files} == set(source_files_without_noise(EXAMPLE))


def source_files_without_noise(model_dir: Path) -> list[str]:
    return [
        p.relative_to(model_dir).as_posix()
        for p in model_dir.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]


def test_progress_false_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model_dir = copy_example(tmp_path / "churn")

    build(model_dir, tmp_path / "out", progress=False)

    assert capsys.readouterr() == ("", "")
