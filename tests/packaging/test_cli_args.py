"""Every argument of ``python -m model_packaging`` is checked before the command starts.

A bad value is a usage error: exit status 2, and the last line of stderr names the flag and
what is wrong with the value. The commands' functions are replaced by ones that fail the test,
so a value that got through to the work would show.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from model_packaging import __version__, cli
from model_packaging.cli import build_parser, main


@pytest.fixture(autouse=True)
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(args: object) -> int:
        raise AssertionError(f"the command ran with {args}")

    for name in ("_build", "_verify", "_serve", "_publish", "_decide", "_promote", "_rollback"):
        monkeypatch.setattr(cli, name, refuse)
    monkeypatch.setattr(cli, "_status", refuse)
    monkeypatch.setattr(cli, "_versions", refuse)


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "manifest.json").write_text("{}")
    return folder


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("keep me")
    return path


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2, err
    assert err.startswith("usage: python -m model_packaging"), err
    return err.strip().splitlines()[-1]


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"mlserve {__version__}\n"


def test_the_installed_version_is_read_only_when_asked_for() -> None:
    """Reading the distribution's metadata costs every command about 40 ms (infra's docstring)."""
    code = (
        "import infra, model_packaging.cli as cli, infra.__main__ as tool\n"
        "cli.build_parser(); tool.build_parser()\n"
        "before = infra._installed_version.cache_info().currsize\n"
        "import model_packaging\n"
        "print(before, model_packaging.__version__ == infra.__version__,"
        " infra._installed_version.cache_info().currsize)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0", "True", "1"]


def test_a_command_version_flag_is_still_the_registry_version() -> None:
    args = build_parser().parse_args(["approve", "churn", "--version", "3", "--reason", "ok"])
    assert args.version == 3


# --- build ---------------------------------------------------------------------------------


def test_build_model_dir_must_be_a_folder(
    tmp_path: Path, a_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "o")
    missing = str(tmp_path / "missing")
    assert usage_error(["build", missing, "--out", out], capsys).endswith(
        f"argument MODEL_DIR: no such folder, got {missing!r}"
    )
    assert usage_error(["build", str(a_file), "--out", out], capsys).endswith(
        f"argument MODEL_DIR: is a file, not a folder, got {str(a_file)!r}"
    )
    assert not (tmp_path / "o").exists()


def test_build_out_must_not_be_a_file(
    tmp_path: Path, a_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = usage_error(["build", str(tmp_path), "--out", str(a_file)], capsys)
    assert line.endswith(f"argument --out: is a file, not a folder, got {str(a_file)!r}")
    assert a_file.read_text() == "keep me"


@pytest.mark.parametrize(("flag", "value"), [("--out", ""), ("--out", "  "), ("--allow", "")])
def test_build_blank_values(
    flag: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["build", str(tmp_path), "--out", str(tmp_path / "o"), flag, value]
    line = usage_error(argv, capsys)
    assert f"argument {flag}: must not be empty" in line


# --- verify, serve, publish: the artifact ----------------------------------------------------


@pytest.mark.parametrize(
    "command", [["verify"], ["serve"], ["publish", "--bucket", "artifact-store"]]
)
def test_the_artifact_must_exist(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "nowhere" / "manifest.json")
    line = usage_error([command[0], missing, *command[1:]], capsys)
    assert line.endswith(f"argument ARTIFACT: no such file or folder, got {missing!r}")
    line = usage_error([command[0], " ", *command[1:]], capsys)
    assert line.endswith("argument ARTIFACT: must not be empty or blank, got ' '")


# --- verify ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-0.1", "nan", "inf", "-inf", "loose", ""])
def test_rel_tolerance_is_a_finite_number_from_zero(
    value: str, artifact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = usage_error(["verify", str(artifact), f"--rel-tolerance={value}"], capsys)
    assert line.endswith(f"argument --rel-tolerance: must be a number, 0 or more, got {value!r}")


@pytest.mark.parametrize(("value", "expected"), [("0", 0.0), ("1e-3", 1e-3)])
def test_rel_tolerance_accepts_zero_and_more(value: str, expected: float, artifact: Path) -> None:
    args = build_parser().parse_args(["verify", str(artifact), "--rel-tolerance", value])
    assert args.rel_tolerance == expected


# --- serve ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "65536", "-1", "80.5", "http", "", "8²"])
def test_serve_port_is_1_to_65535(
    value: str, artifact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = usage_error(["serve", str(artifact), f"--port={value}"], capsys)
    assert line.endswith(f"argument --port: must be a port number from 1 to 65535, got {value!r}")


@pytest.mark.parametrize("value", ["1", "65535"])
def test_serve_port_bounds_are_accepted(value: str, artifact: Path) -> None:
    assert build_parser().parse_args(["serve", str(artifact), "--port", value]).port == int(value)


@pytest.mark.parametrize(
    ("value", "problem"), [("", "must not be empty"), ("0.0.0.0 ", "must not contain spaces")]
)
def test_serve_host_is_a_word(
    value: str, problem: str, artifact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = usage_error(["serve", str(artifact), f"--host={value}"], capsys)
    assert line.endswith(f"argument --host: {problem}, got {value!r}")


# --- publish ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", " ", "ab", "Artifacts", "artifact_store", "a..b", "-store"])
def test_publish_bucket_is_a_bucket_name(
    value: str, artifact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = usage_error(["publish", str(artifact), f"--bucket={value}"], capsys)
    assert "argument --bucket: must be an S3 bucket name: 3 to 63 lowercase letters" in line
    assert line.endswith(f"got {value!r}")


def test_publish_kms_key_is_not_blank(artifact: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["publish", str(artifact), "--bucket", "artifact-store", "--kms-key="]
    assert usage_error(argv, capsys).endswith("argument --kms-key: must not be empty, got ''")


# --- the model, and the release commands -------------------------------------------------------

RELEASE_COMMANDS = [
    ["approve", "{model}", "--version", "1", "--reason", "ok"],
    ["reject", "{model}", "--version", "1", "--reason", "no"],
    ["promote", "{model}", "--to", "dev", "--stacks", "{stacks}"],
    ["rollback", "{model}", "--env", "prod", "--stacks", "{stacks}"],
    ["status", "{model}", "--stacks", "{stacks}"],
    ["versions", "{model}", "--stacks", "{stacks}"],
]


def _argv(form: list[str], model: str = "churn", stacks: str = "stacks") -> list[str]:
    return [word.format(model=model, stacks=stacks) for word in form]


@pytest.mark.parametrize("form", RELEASE_COMMANDS, ids=lambda form: form[0])
@pytest.mark.parametrize("model", ["", " ", "Churn", "churn model", "churn--x", "c" * 41])
def test_model_names_follow_the_stack_files_rule(
    form: list[str], model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = usage_error(_argv(form, model=model, stacks=str(tmp_path)), capsys)
    assert line.endswith(
        "argument MODEL: must be a model name: lowercase letters, digits and single hyphens, at"
        f" most 40 characters, got {model!r}"
    )


@pytest.mark.parametrize("form", RELEASE_COMMANDS[2:], ids=lambda form: form[0])
def test_stacks_must_be_a_folder(
    form: list[str], tmp_path: Path, a_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hint = " (run from the repository root, or pass --stacks DIR)"
    missing = str(tmp_path / "stacks")
    line = usage_error(_argv(form, stacks=missing), capsys)
    assert line.endswith(f"argument --stacks: no such folder, got {missing!r}{hint}")
    line = usage_error(_argv(form, stacks=str(a_file)), capsys)
    assert line.endswith(f"argument --stacks: is a file, not a folder, got {str(a_file)!r}{hint}")
    line = usage_error(_argv(form, stacks=""), capsys)
    assert line.endswith(f"argument --stacks: must not be empty or blank, got ''{hint}")


@pytest.mark.parametrize("form", RELEASE_COMMANDS[2:], ids=lambda form: form[0])
def test_the_default_stacks_folder_is_the_working_directorys(
    form: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = [word for word in _argv(form) if word not in {"--stacks", "stacks"}]
    line = usage_error(argv, capsys)
    assert line.endswith(
        "argument --stacks: no such folder, got 'stacks' (run from the"
        " repository root, or pass --stacks DIR)"
    )
    (tmp_path / "stacks").mkdir()
    assert build_parser().parse_args(argv).stacks == "stacks"


@pytest.mark.parametrize("command", ["approve", "reject"])
@pytest.mark.parametrize("version", ["0", "-1", "1.5", "x", "²"])
def test_decisions_need_a_version_from_1(
    command: str, version: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [command, "churn", f"--version={version}", "--reason", "ok"]
    assert usage_error(argv, capsys).endswith(
        f"argument --version: must be a version number (1, 2, ...), got {version!r}"
    )


@pytest.mark.parametrize("reason", ["", "   "])
def test_decisions_need_a_reason(reason: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["approve", "churn", "--version", "1", f"--reason={reason}"]
    assert usage_error(argv, capsys).endswith("argument --reason: must not be blank: say why")


def test_reject_reads_the_stacks_folder_it_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "stacks")
    argv = ["reject", "churn", "--version", "1", "--reason", "no", "--stacks", missing]
    assert usage_error(argv, capsys).endswith(
        f"argument --stacks: no such folder, got {missing!r} (run from the repository root, or"
        " pass --stacks DIR)"
    )
    # Without --stacks, a working directory without stack files is no usage error.
    assert build_parser().parse_args(argv[:-2]).stacks is None
    # approve takes no stack files.
    argv = ["approve", "churn", "--version", "1", "--reason", "ok", "--stacks", str(tmp_path)]
    assert usage_error(argv, capsys).endswith(f"unrecognized arguments: --stacks {tmp_path}")


def test_promote_version_is_from_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["promote", "churn", "--to", "dev", "--version", "0", "--stacks", str(tmp_path)]
    assert usage_error(argv, capsys).endswith(
        "argument --version: must be a version number (1, 2, ...), got '0'"
    )


def test_good_values_parse(artifact: Path, tmp_path: Path) -> None:
    parser = build_parser()
    stacks = str(tmp_path)
    assert parser.parse_args(["status", "--stacks", stacks]).model is None
    assert parser.parse_args(["promote", "fraud-v2", "--to", "dev", "--stacks", stacks]).model == (
        "fraud-v2"
    )
    publish = parser.parse_args(
        ["publish", str(artifact / "manifest.json"), "--bucket", "mlserve.artifacts-1"]
    )
    assert (publish.bucket, publish.kms_key) == ("mlserve.artifacts-1", None)
    publish = parser.parse_args(
        ["publish", str(artifact), "--bucket", "b-1", "--dry-run", "--json"]
    )
    assert (publish.dry_run, publish.json) == (True, True)
    for command in ("approve", "reject"):
        decision = parser.parse_args([command, "churn", "--version", "2", "--reason", "x"])
        assert (decision.dry_run, decision.json) == (False, False)
    versions = parser.parse_args(["versions", "churn", "--json", "--stacks", stacks])
    assert (versions.model, versions.json, versions.stacks) == ("churn", True, stacks)
    build = parser.parse_args(["build", str(tmp_path), "--out", str(tmp_path / "new")])
    assert build.out == str(tmp_path / "new")
