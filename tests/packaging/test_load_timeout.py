"""Load and request timeouts of verify and serve: a model that never loads or never answers is
stopped with a message naming what hung, the timeout and the flag; nothing is left running."""

from __future__ import annotations

import os
import re
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from model_packaging.artifact.build import build
from model_packaging.artifact.serve import make_server
from model_packaging.artifact.verify import Timeouts, verify
from model_packaging.errors import PackagingError
from tests.helpers import run_cli
from tests.packaging.conftest import free_port
from tests.packaging.test_verify import tiny_model


def sample(name: str, body: str) -> dict[str, Any]:
    return {
        "name": name,
        "content_type": "text/csv",
        "accept": "application/json",
        "body": body,
        "expected": {"json": [float(sum(int(x) for x in body.split(",")))]},
    }


def built_model(tmp_path: Path, code: str, samples: list[dict[str, Any]] | None = None) -> Path:
    out = tmp_path / "out"
    build(tiny_model(tmp_path, code, samples or [sample("one", "1,2")]), out, progress=False)
    return out


def alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie waiting to be reaped has stopped running."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def wait_until_gone(pids: list[int], seconds: float = 5) -> list[int]:
    deadline = time.monotonic() + seconds
    while (running := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return running


def hanging_model_fn(pids: Path) -> str:
    """A model_fn that starts a helper process of its own, records both pids, and never returns."""
    return f"""
import os, subprocess, time

def model_fn(model_dir):
    helper = subprocess.Popen(["sleep", "600"])
    with open({str(pids)!r}, "w") as out:
        out.write(f"{{os.getpid()}} {{helper.pid}}")
    time.sleep(3600)
"""


def test_verify_stops_a_model_fn_that_never_returns_and_everything_it_started(
    tmp_path: Path,
) -> None:
    pids_file = tmp_path / "pids"
    out = built_model(tmp_path, hanging_model_fn(pids_file))

    started = time.monotonic()
    result = run_cli("verify", str(out), "--load-timeout", "3")

    assert time.monotonic() - started < 30
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines[1:] == [
        "FAIL  model did not load: model_fn did not return within 3 s (--load-timeout); the model"
        " was stopped. If loading really takes longer, raise it with --load-timeout SECONDS",
        "verify failed: the model did not load",
    ]
    pids = [int(pid) for pid in pids_file.read_text().split()]
    assert len(pids) == 2
    assert wait_until_gone(pids) == []


def test_verify_names_the_import_when_the_entry_point_itself_hangs(tmp_path: Path) -> None:
    out = built_model(tmp_path, "import time\ntime.sleep(3600)\n")

    report = verify(out, progress=False, timeouts=Timeouts(load=2))

    assert not report.ok
    assert report.load_error == (
        "importing code/inference.py did not finish within 2 s (--load-timeout); the model was"
        " stopped. If loading really takes longer, raise it with --load-timeout SECONDS"
    )


SLOW_ON_SEVEN = """
import time

class Summer:
    def predict(self, data):
        if data.sum() == 7:
            time.sleep(3600)
        return data.reshape(1, -1).sum(axis=1)

def model_fn(model_dir):
    return Summer()
"""


def test_verify_stops_at_a_sample_without_a_response_and_names_it(tmp_path: Path) -> None:
    samples = [sample("fast", "1,2"), sample("stuck", "3,4"), sample("after", "5,6")]
    out = built_model(tmp_path, SLOW_ON_SEVEN, samples)

    started = time.monotonic()
    report = verify(out, progress=False, timeouts=Timeouts(request=2))

    assert time.monotonic() - started < 30
    assert [(s.name, s.ok, s.problem) for s in report.samples] == [
        ("fast", True, None),
        (
            "stuck",
            False,
            "no response within 2 s (--request-timeout; SageMaker allows 60 s); raise it with"
            " --request-timeout SECONDS",
        ),
        ("after", False, "not run: the model was stopped"),
    ]
    assert report.lines()[-1] == "verify failed: 2 of 3 samples differ: stuck, after"


def test_timeouts_are_above_zero_and_at_most_sagemakers_longest(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match=r"^--load-timeout 0: must be a number of seconds"):
        Timeouts(load=0)
    with pytest.raises(PackagingError, match=r"^--request-timeout 3601: .* at most 3600$"):
        Timeouts(request=3601)
    with pytest.raises(PackagingError, match=r"^--load-timeout 1e\+12: .* at most 3600$"):
        make_server(tmp_path, load_timeout=1e12)
    for command, value in (("verify", "-1"), ("serve", "nan"), ("verify", "inf")):
        result = run_cli(command, str(tmp_path), "--request-timeout", value)
        assert result.returncode == 2
        assert (
            "--request-timeout: must be a number of seconds above 0 and at most 3600,"
            f" got '{value}'"
        ) in result.stderr


def test_serve_gives_up_on_a_model_fn_that_never_returns(tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    code = (
        "import os, time\n\ndef model_fn(model_dir):\n"
        f"    open({str(pids_file)!r}, 'w').write(str(os.getpid()))\n    time.sleep(3600)\n"
    )
    out = built_model(tmp_path, code)

    result = run_cli("serve", str(out), "--port", str(free_port()), "--load-timeout", "2")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {out / 'model.tar.gz'}: model did not load: model_fn did not return within 2 s"
        " (--load-timeout); the model was stopped. If loading really takes longer, raise it with"
        " --load-timeout SECONDS"
    )
    serve_pid = int(pids_file.read_text())
    assert wait_until_gone([serve_pid]) == []


SLEEPY = """
import time

class Sleeper:
    def predict(self, data):
        time.sleep(float(data.sum()))
        return data.reshape(1, -1).sum(axis=1)

def model_fn(model_dir):
    return Sleeper()
"""


def test_serve_answers_504_when_a_request_runs_out_of_time_and_recovers(tmp_path: Path) -> None:
    server = make_server(built_model(tmp_path, SLEEPY), request_timeout=1)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def invoke(body: bytes) -> tuple[int, bytes]:
        request = urllib.request.Request(
            f"{server.url}/invocations", data=body, headers={"Content-Type": "text/csv"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    try:
        started = time.monotonic()
        assert invoke(b"4,0") == (
            504,
            b"no response within 1 s (--request-timeout; SageMaker allows 60 s); raise it with"
            b" --request-timeout SECONDS\n",
        )
        assert time.monotonic() - started < 1.9
        # The slow call still holds the model: the next request waits its turn, then times out.
        assert invoke(b"0,0") == (
            504,
            b"the model is still busy with an earlier request that ran out of time\n",
        )
        time.sleep(2.5)
        assert invoke(b"0,0") == (200, b"[0.0]")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_nothing_is_left_running_by_verify(tmp_path: Path) -> None:
    """The sample run's interpreter is gone once verify returns, success or not."""
    out = built_model(
        tmp_path,
        "import os\n\nclass M:\n    def predict(self, data):\n        return [float(os.getpid())]"
        "\n\ndef model_fn(model_dir):\n    return M()\n",
    )

    report = verify(out, progress=False)

    found = re.search(r"got ([0-9.]+)", str(report.samples[0].problem))
    assert found, report.samples[0].problem
    pid = int(float(found.group(1)))
    assert pid != os.getpid()
    assert wait_until_gone([pid], seconds=2) == []
