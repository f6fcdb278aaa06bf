"""The bad-input corpus: every case in ``tests/bad_inputs/`` is refused cleanly.

A case is a folder ``tests/bad_inputs/NN-short-name/`` (two or three digits) holding its input
and ``expected.yaml``. The input is one of:

- a stack file ``Pulumi.<stack>.yaml``: run as ``python -m infra plan <stack> --config-file``;
- a ``model.yaml`` beside ``expected.yaml`` (the case's folder is the model folder), or a model
  folder ``model/``: run as ``python -m model_packaging build <folder> --out {tmp}/out``;
- ``case.yaml`` with a ``command`` (``[python, -m, model_packaging, ...]`` or ``[python, -m,
  infra, ...]``), and optionally ``setup`` (commands that must succeed first, e.g. a build),
  ``env`` (variables to set), ``unset`` (variables to remove), ``moto`` (the buckets and model
  package groups of a moto server that ``AWS_ENDPOINT_URL`` then points at) and ``timeout``.

In a command, ``{case}`` is the case's folder (a copy), ``{tmp}`` an empty folder beside it and
``{corpus}`` the corpus itself, whose ``_models/`` holds model folders several cases build.

``expected.yaml`` holds ``exit`` (the status) and ``error`` (a line of stderr, exactly; the same
placeholders apply) or ``error_regex`` (a pattern one line of stderr must match in full), and
``stream: stdout`` for a command that reports on stdout (``verify``'s ``FAIL`` lines).

Each case runs in a copy of its folder, with fake AWS credentials and no AWS configuration of
the machine's. A case with a ``command`` runs it as a subprocess; a stack file or a model folder
calls the command's ``main`` in this process instead, with the environment, working folder and
temporary folder the subprocess would have, except one of each kind of refusal
(``IN_A_PROCESS_OF_THEIR_OWN``), which keeps the entry points themselves covered. Besides the
status and the error line it must leave:

- no ``Traceback`` anywhere in its output;
- nothing written: the case's folder, ``{tmp}`` and the process's temporary folder (``TMPDIR``)
  are as they were before the command (after ``setup``);
- nothing registered: with a moto server, no new S3 object, object version, multipart upload
  or model package version.

Exit statuses, as the commands document them:

- 2: bad input or usage. ``python -m infra`` exits 2 for an invalid stack file; both tools exit
  2 for a usage error (argparse: an unknown command or option, a bad value such as a port).
- 1: a failed operation. ``python -m model_packaging`` reports every refusal of its own as
  ``error: ...`` with status 1: an invalid ``model.yaml`` or stack file, AWS credentials that
  are missing, a refused publish; ``verify`` reports a model that did not load as a ``FAIL``
  line, also with status 1.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

from infra.__main__ import main as infra_main
from model_packaging.cli import main as release_main
from tests.packaging.conftest import Store, create_store

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "bad_inputs"
CASES = sorted(path.name for path in CORPUS.iterdir() if re.match(r"^\d{2,3}-", path.name))
MINIMUM = 40
# Stack files and model folders that still run in a process of their own, one of each kind of
# refusal: a duplicate key, a value of the wrong type, an unknown key, YAML that does not parse,
# a file that is not UTF-8; a model.yaml whose YAML does not parse, and a duplicate name.
IN_A_PROCESS_OF_THEIR_OWN = {
    "01-stack-duplicate-model",
    "04-stack-quoted-number",
    "11-stack-unknown-nested-key-suggestion",
    "15-stack-yaml-tab-indent",
    "28-stack-not-utf8",
    "31-model-duplicate-name",
    "38-model-yaml-syntax",
}
REGION = "us-east-1"
TIMEOUT_SECONDS = 120
MAINS = {"infra": infra_main, "model_packaging": release_main}
AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


@pytest.fixture(scope="session")
def corpus_count() -> Iterator[int]:
    """The number of cases, printed at the end of the run (visible with ``-s``)."""
    yield len(CASES)
    print(f"\nbad-input corpus: {len(CASES)} cases")


def test_the_corpus_has_at_least_40_cases(corpus_count: int) -> None:
    print(f"bad-input corpus: {corpus_count} cases")
    assert corpus_count >= MINIMUM


def fake_aws(home: Path) -> dict[str, str]:
    """Fake credentials and a region, and no AWS configuration of the machine's."""
    nowhere = str(home / "no-aws-config")
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": nowhere,
        "AWS_SHARED_CREDENTIALS_FILE": nowhere,
        # Instance metadata lookups would add seconds of timeouts on a machine outside EC2.
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def seed(spec: Mapping[str, Any]) -> Store:
    """The shared stack's resources on the emptied server ``moto_endpoint`` points at: each
    bucket with its own KMS key, each group; the first bucket is made with the first group, the
    others with none. Returns the first store, whose clients read the server."""
    buckets, groups = list(spec["buckets"]), list(spec["groups"])
    store = create_store(buckets[0], groups[0])
    for group in groups[1:]:
        store.sagemaker.create_model_package_group(ModelPackageGroupName=group)
    for bucket in buckets[1:]:
        create_store(bucket, f"{bucket}-unused")
    return store


def registered(store: Store, spec: Mapping[str, Any]) -> dict[str, list[str]]:
    """Everything publish could leave behind: objects, their versions, uploads, versions."""
    s3, sagemaker = store.s3, store.sagemaker
    state: dict[str, list[str]] = {}
    for bucket in spec["buckets"]:
        listing = s3.list_object_versions(Bucket=bucket)
        state[f"s3://{bucket}"] = sorted(
            f"{item['Key']}@{item['VersionId']}"
            for item in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]
        )
        uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        state[f"s3://{bucket} uploads"] = sorted(item["Key"] for item in uploads)
    for group in spec["groups"]:
        summaries = sagemaker.list_model_packages(ModelPackageGroupName=group)
        state[group] = sorted(
            item["ModelPackageArn"] for item in summaries["ModelPackageSummaryList"]
        )
    return state


def tree(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` with its content's digest."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        if "__pycache__" in path.parts:
            continue
        name = str(path.relative_to(folder))
        found[name] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def test_the_cases_kept_in_a_process_of_their_own_are_in_the_corpus() -> None:
    assert IN_A_PROCESS_OF_THEIR_OWN <= set(CASES)
    assert not [
        name for name in IN_A_PROCESS_OF_THEIR_OWN if (CORPUS / name / "case.yaml").exists()
    ]


def command_of(case: Path, spec: Mapping[str, Any]) -> list[str]:
    if "command" in spec:
        return [str(part) for part in spec["command"]]
    stacks = sorted(case.glob("Pulumi.*.yaml"))
    if stacks:
        stack = stacks[0].name.removeprefix("Pulumi.").removesuffix(".yaml")
        return [
            "python",
            "-m",
            "infra",
            "plan",
            stack,
            "--config-file",
            f"{{case}}/{stacks[0].name}",
        ]
    folder = "{case}" if (case / "model.yaml").is_file() else "{case}/model"
    return ["python", "-m", "model_packaging", "build", folder, "--out", "{tmp}/out", "--quiet"]


def filled(text: str, places: Mapping[str, str]) -> str:
    for name, value in places.items():
        text = text.replace(f"{{{name}}}", value)
    return text


def run_command(
    argv: list[str], places: Mapping[str, str], env: Mapping[str, str], cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    args = [sys.executable if part == "python" else filled(part, places) for part in argv]
    return subprocess.run(
        args, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout
    )


def run_in_this_process(
    argv: list[str], places: Mapping[str, str], env: Mapping[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """``python -m infra|model_packaging ARGS`` through its ``main``, as :func:`run_command`
    would run it: in ``cwd``, with exactly ``env``, and ``TMPDIR`` as the temporary folder. An
    exception that would have ended the process is printed as its traceback, with status 1."""
    python, option, package, *rest = argv
    assert (python, option) == ("python", "-m"), argv
    main = MAINS[package]
    args = [filled(part, places) for part in rest]
    out, err = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as patch,
        mock.patch.dict(os.environ, env, clear=True),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        patch.chdir(cwd)
        patch.setattr(tempfile, "tempdir", env["TMPDIR"])
        try:
            status = main(args)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        except Exception:
            traceback.print_exc()
            status = 1
    return subprocess.CompletedProcess(argv, status, out.getvalue(), err.getvalue())


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_refused_cleanly(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    case = tmp_path / "case"
    shutil.copytree(CORPUS / name, case)
    scratch, temporary = tmp_path / "tmp", tmp_path / "system-tmp"
    scratch.mkdir()
    temporary.mkdir()
    expected = yaml.safe_load((case / "expected.yaml").read_text())
    spec_path = case / "case.yaml"
    spec = yaml.safe_load(spec_path.read_text()) if spec_path.is_file() else {}
    places = {"case": str(case), "tmp": str(scratch), "corpus": str(CORPUS)}

    for variable in AWS_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    for variable, value in fake_aws(tmp_path).items():
        monkeypatch.setenv(variable, value)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env.update({"PYTHONPATH": str(ROOT), "TMPDIR": str(temporary)})
    moto = spec.get("moto")
    store = None
    if moto:
        request.getfixturevalue("moto_endpoint")
        store = seed(moto)
        env["AWS_ENDPOINT_URL"] = os.environ["AWS_ENDPOINT_URL"]
    timeout = float(spec.get("timeout", TIMEOUT_SECONDS))
    for step in spec.get("setup", []):
        done = run_command([str(part) for part in step], places, env, case, timeout)
        assert done.returncode == 0, f"setup {step} failed:\n{done.stdout}{done.stderr}"
    env.update({key: filled(str(value), places) for key, value in spec.get("env", {}).items()})
    for variable in spec.get("unset", []):
        env.pop(variable, None)

    before = {"case": tree(case), "tmp": tree(scratch), "TMPDIR": tree(temporary)}
    state = registered(store, moto) if store and moto else None
    command = command_of(case, spec)
    if "command" in spec or name in IN_A_PROCESS_OF_THEIR_OWN:
        result = run_command(command, places, env, case, timeout)
    else:
        result = run_in_this_process(command, places, env, case)

    output = result.stdout + result.stderr
    print(f"{name}: exit {result.returncode}\n{output}")
    assert "Traceback" not in output, output
    stream = result.stdout if expected.get("stream") == "stdout" else result.stderr
    lines = [line.strip() for line in stream.splitlines()]
    if "error" in expected:
        assert filled(str(expected["error"]), places) in lines, output
    else:
        pattern = re.compile(filled(str(expected["error_regex"]), places))
        assert any(pattern.fullmatch(line) for line in lines), output
    assert result.returncode == expected["exit"], output
    after = {"case": tree(case), "tmp": tree(scratch), "TMPDIR": tree(temporary)}
    assert after == before, "the command wrote files"
    if store and moto:
        assert registered(store, moto) == state, "the command registered something"
