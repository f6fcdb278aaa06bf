"""What both command lines share (``infra.command_line``, ``infra.completion``): a Ctrl-C ends any
command in one line with status 130 and leaves nothing behind; a subcommand's usage error shows
that subcommand's usage; ``completion bash`` completes subcommands, options and choices. And
``plan-diff`` against a revision from before the program says so.

The plan-diff tests run on a small copy of the project (the program, the release tool and the
stack files) committed into a repository of its own.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from infra import command_line
from infra.__main__ import main as infra_main
from model_packaging.cli import main as release_main
from tests.helpers import ROOT, git

INTERRUPTED = "error: interrupted\n"


# --- a Ctrl-C, in this process ------------------------------------------------------------


def ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def test_the_production_status_and_line_are_the_shells() -> None:
    assert command_line.INTERRUPTED == 130  # 128 + SIGINT
    assert command_line.INTERRUPTED_MESSAGE == "error: interrupted"


def test_an_interrupted_command_prints_one_line_and_exits_130(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def work() -> int:
        ctrl_c()
        time.sleep(5)
        return 0

    assert command_line.run(work, as_program=False) == 130
    assert capsys.readouterr() == ("", INTERRUPTED)


def test_an_interrupt_a_library_turned_into_another_error_is_still_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def work() -> int:
        try:
            ctrl_c()
            time.sleep(5)
        except:  # noqa: E722 - as some libraries do around their imports
            raise ModuleNotFoundError("No module named 'version'") from None
        return 0

    assert command_line.run(work, as_program=False) == 130
    assert capsys.readouterr() == ("", INTERRUPTED)


def test_an_error_without_an_interrupt_is_raised_as_it_is() -> None:
    def work() -> int:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        command_line.run(work, as_program=False)


def test_a_clean_up_runs_to_its_end_and_the_interrupt_follows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    done: list[str] = []

    def work() -> int:
        with command_line.uninterrupted():
            ctrl_c()
            time.sleep(0.05)  # a Ctrl-C would interrupt the sleep, were it not held
            done.append("cleaned")
        done.append("after")
        return 0

    assert command_line.run(work, as_program=False) == 130
    assert done == ["cleaned"]
    assert capsys.readouterr().err == INTERRUPTED


def test_a_clean_up_outside_a_command_holds_the_interrupt_too() -> None:
    done: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        with command_line.uninterrupted():
            ctrl_c()
            time.sleep(0.05)
            done.append("cleaned")
    assert done == ["cleaned"]


def test_the_previous_handler_is_back_after_a_command() -> None:
    before = signal.getsignal(signal.SIGINT)
    assert command_line.run(lambda: 0, as_program=False) == 0
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.parametrize(
    ("main", "checker", "argv"),
    [
        (release_main, "model_packaging.cli._model_name", ["promote", "churn", "--to", "dev"]),
        (infra_main, "infra.arguments.stack_name", ["plan", "dev"]),
    ],
    ids=["release", "infra"],
)
def test_a_ctrl_c_while_the_arguments_are_checked_is_an_interruption_too(
    main: Callable[[list[str]], int],
    checker: str,
    argv: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # An argument's check may import heavy modules (the settings' rules): Ctrl-C lands there.
    def interrupted(value: str) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(checker, interrupted)
    assert main(argv) == 130
    assert capsys.readouterr() == ("", INTERRUPTED)


def test_an_interrupt_inside_code_run_from_a_string_still_exits_130(tmp_path: Path) -> None:
    # Dataclasses build their methods with exec(str): a Ctrl-C there marks the interrupt as
    # unhandled, and a `python -m` program so marked would kill itself with SIGINT at exit.
    (tmp_path / "interrupted_in_exec.py").write_text(
        "import sys\n"
        "from infra.command_line import run\n"
        "CODE = 'import os, signal, time\\nos.kill(os.getpid(), signal.SIGINT)\\ntime.sleep(5)'\n"
        "sys.exit(run(lambda: exec(CODE), as_program=True))\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "interrupted_in_exec"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (130, INTERRUPTED)


# --- a Ctrl-C, as the terminal sends it: to the command and its children ---------------------


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux's /proc: field 4 of /proc/N/stat)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # The command name, in parentheses, may hold spaces: the fields follow its last ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def command_line_of(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().split("\0")
    except OSError:
        return []


def start(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    # A session of its own, so that the test can send SIGINT to the command's process group,
    # as a terminal does for Ctrl-C.
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for(process: subprocess.Popen[str], ready: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            pytest.fail(f"exited {process.returncode} early: {process.communicate()}")
        assert time.monotonic() < deadline, "never got there"
        time.sleep(0.02)


def interrupt(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err


PROJECT_PATHS = ("infra", "model_packaging", "stacks", "__main__.py", "Pulumi.yaml")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The program, the release tool and the stack files, committed into a repository of their
    own; the branch ``before-the-program`` holds the stack files alone."""
    root = tmp_path_factory.mktemp("project")
    listed = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--")
    for name in listed.split("\0"):
        if name and name.split("/")[0] in PROJECT_PATHS and (ROOT / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, root / name)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "stacks")
    git(root, "commit", "-q", "-m", "stack files, no program yet")
    git(root, "branch", "before-the-program")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "the program")
    return root


def project_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    env.pop("PYTHONPATH", None)  # `python -m infra` from the project's folder runs its code
    return env


def test_ctrl_c_while_the_base_plan_runs_leaves_no_worktree(project: Path, tmp_path: Path) -> None:
    process = start(
        [sys.executable, "-m", "infra", "plan-diff", "dev", "--base", "HEAD"],
        project,
        project_env(tmp_path),
    )

    def base_plan_running() -> bool:
        return any("plan" in command_line_of(child) for child in children(process.pid))

    wait_for(process, base_plan_running, timeout=60)
    status, out, err = interrupt(process)

    assert (status, out, err) == (130, "", INTERRUPTED)
    assert git(project, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert not list(tmp_path.iterdir())


def test_plan_diff_says_the_program_does_not_exist_at_an_older_base(
    project: Path, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "infra", "plan-diff", "dev", "--base", "before-the-program"],
        cwd=project,
        env=project_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "error: the program does not exist at before-the-program: it has the stack file of dev"
        " but no infra/__main__.py to plan it with; give a later --base\n"
    )
    assert git(project, "worktree", "list", "--porcelain").count("worktree ") == 1


# --- usage errors: the subcommand's usage ----------------------------------------------------


@pytest.mark.parametrize(
    ("main", "argv", "extra"),
    [
        (release_main, ["promote", "churn", "fraud", "--to", "dev"], "fraud"),
        (release_main, ["status", "churn", "extra"], "extra"),
        (release_main, ["prune", "--env", "dev", "--keep", "1", "2"], "2"),
        (infra_main, ["plan", "dev", "prod"], "prod"),
        (infra_main, ["policy-diff", "--base", "main", "x"], "x"),
    ],
)
def test_an_argument_a_subcommand_does_not_take_shows_its_usage(
    main: Callable[[list[str]], int],
    argv: list[str],
    extra: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    prog = f"python -m {'model_packaging' if main is release_main else 'infra'} {argv[0]}"
    assert exited.value.code == 2
    assert err.startswith(f"usage: {prog} "), err
    assert err.splitlines()[-1] == f"{prog}: error: unrecognized arguments: {extra}"


# --- completion -----------------------------------------------------------------------------

BASH = shutil.which("bash")


def complete(main: Callable[[list[str]], int], *words: str) -> list[str]:
    """What the completion function offers for ``words``, the last one being completed."""
    assert BASH is not None
    script = script_of(main)
    command = "mlserve-release" if main is release_main else "mlserve-infra"
    function = "_" + command.replace("-", "_")
    quoted = " ".join(f"'{word}'" for word in (command, *words))
    probe = (
        f"{script}\nCOMP_WORDS=({quoted}); COMP_CWORD={len(words)}; {function};"
        ' printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(
        [BASH, "--norc", "--noprofile", "-c", probe],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


_SCRIPTS: dict[object, str] = {}


def script_of(main: Callable[[list[str]], int]) -> str:
    if main not in _SCRIPTS:
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["completion", "bash"]) == 0
        _SCRIPTS[main] = out.getvalue()
    return _SCRIPTS[main]


pytestmark_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")


@pytestmark_bash
@pytest.mark.parametrize("main", [release_main, infra_main], ids=["release", "infra"])
def test_the_completion_script_is_valid_bash(
    main: Callable[[list[str]], int], tmp_path: Path
) -> None:
    assert BASH is not None
    path = tmp_path / "completion.bash"
    path.write_text(script_of(main))
    done = subprocess.run([BASH, "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stderr) == (0, "")
    assert (
        script_of(main)
        .rstrip()
        .endswith("mlserve-release" if main is release_main else "mlserve-infra")
    )


@pytestmark_bash
def test_completion_offers_subcommands_options_and_choices() -> None:
    assert complete(release_main, "pr") == ["promote", "prune"]
    assert complete(release_main, "promote", "churn", "--to", "") == ["dev", "staging", "prod"]
    assert complete(release_main, "prune", "--d") == ["--dry-run", "--delete"]
    assert complete(release_main, "build", "m", "--compression", "") == ["gzip", "none"]
    # A value of its own kind (here a folder) is left to bash's default completion.
    assert complete(release_main, "promote", "churn", "--stacks", "") == []
    assert complete(infra_main, "plan-") == ["plan-diff"]
    assert complete(infra_main, "plan-diff", "dev", "--format", "m") == ["markdown"]
    assert complete(infra_main, "--") == ["--help", "--version"]
    assert complete(infra_main, "completion", "") == ["bash"]
