"""status and status --check-deployed never hang, and tell a bad stack file from a service that
cannot be asked: local servers that never answer or answer 404, short timeouts through
MLSERVE_AWS_TIMEOUT_SECONDS, a short deadline through the functions' argument, and stack files
with problems. Nothing here uses moto."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from model_packaging.errors import PackagingError
from model_packaging.release import live, status
from model_packaging.store import aws
from tests.helpers import release
from tests.packaging.conftest import REGION, Published, write_stack

CHURN = Published(
    f"arn:aws:sagemaker:{REGION}:123456789012:model-package/churn/2", "sha256:" + "a" * 64
)
FRAUD = Published(
    f"arn:aws:sagemaker:{REGION}:123456789012:model-package/fraud/1", "sha256:" + "b" * 64
)


@pytest.fixture
def stacks(tmp_path: Path) -> Path:
    folder = tmp_path / "stacks"
    write_stack(folder, "dev", {"churn": CHURN, "fraud": FRAUD})
    write_stack(folder, "staging", {"churn": CHURN})
    write_stack(folder, "prod", {"churn": CHURN})
    return folder


class Silent:
    """A TCP server that accepts every connection and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self) -> None:
        # Closing what it holds lets a request still waiting on it end at once.
        self.sock.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def silent(monkeypatch: pytest.MonkeyPatch) -> Iterator[Silent]:
    server = Silent()
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    try:
        yield server
    finally:
        server.close()


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = b"<html>\n<body>Not Found</body>\n</html>\n"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def not_found(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An HTTP server that answers every request 404 with an HTML page."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


# --- the limits themselves --------------------------------------------------------------------


def test_every_client_has_timeouts_and_bounded_retries_by_default() -> None:
    for service, read in (("sagemaker", 10.0), ("sts", 10.0), ("s3", 60.0)):
        config = aws.client(aws.session(), service).meta.config
        assert (config.connect_timeout, config.read_timeout) == (5.0, read), service
        assert config.retries == {"total_max_attempts": 3, "mode": "standard"}, service


def test_the_defaults_answer_within_a_minute() -> None:
    """A request that gets no answer gives up, naming its cause, before the deadline; the
    deadline bounds everything else, and a command that starts in a few seconds still answers
    within 60 s."""
    per_request = aws.MAX_ATTEMPTS * (aws.CONNECT_TIMEOUT_SECONDS + aws.READ_TIMEOUT_SECONDS) + (
        aws.RETRY_BACKOFF_SECONDS
    )
    assert (aws.MAX_ATTEMPTS, aws.CONNECT_TIMEOUT_SECONDS, aws.READ_TIMEOUT_SECONDS) == (3, 5, 10)
    assert per_request == 48
    assert per_request <= live.DEADLINE_SECONDS == 50
    assert live.DEADLINE_SECONDS + 10 <= 60


def test_the_timeout_variable_sets_both_timeouts_and_the_aws_retry_settings_still_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLSERVE_AWS_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    config = aws.client(aws.session(), "sagemaker").meta.config
    assert (config.connect_timeout, config.read_timeout) == (0.5, 0.5)
    assert config.retries == {"total_max_attempts": 1, "mode": "adaptive"}
    # S3's reads keep their longer floor.
    assert aws.client(aws.session(), "s3").meta.config.read_timeout == 60.0


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "inf"])
def test_a_bad_timeout_is_an_error_before_any_request(
    value: str, stacks: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLSERVE_AWS_TIMEOUT_SECONDS", value)
    with pytest.raises(PackagingError) as raised:
        aws.client(aws.session(), "sagemaker")
    message = (
        f"MLSERVE_AWS_TIMEOUT_SECONDS must be a number of seconds greater than 0, got {value!r}:"
        " set it to one, or unset it for the defaults (5 s to connect, 10 s for an answer)"
    )
    assert str(raised.value) == message
    code, out, err = release(capsys, "status", "--stacks", str(stacks))
    assert (code, out, err) == (1, "", f"error: {message}\n")


# --- a server that never answers ----------------------------------------------------------------


def test_status_gives_each_stage_that_never_answers_its_own_row(
    stacks: Path,
    silent: Silent,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MLSERVE_AWS_TIMEOUT_SECONDS", "0.2")
    started = time.monotonic()

    code, out, err = release(capsys, "status", "--json", "--stacks", str(stacks))

    # Three attempts of 0.2 s, the stages and the registry asked at the same time: about a
    # second (the bound leaves room for a loaded machine; the default timeouts take 30 s).
    assert time.monotonic() - started < 10
    assert code == 1
    rows = json.loads(out)
    timeout = f'ReadTimeoutError: Read timeout on endpoint URL: "{silent.url}/"'
    assert [(r["model"], r["stage"], r["unreachable"]) for r in rows] == [
        ("churn", "dev", f"cannot query dev: {timeout}"),
        ("churn", "staging", f"cannot query staging: {timeout}"),
        ("churn", "prod", f"cannot query prod: {timeout}"),
        ("fraud", "dev", f"cannot query dev: {timeout}"),
        ("fraud", "staging", None),
        ("fraud", "prod", None),
    ]
    assert [r["approval"] for r in rows] == ["unknown"] * 4 + [None] * 2
    # The registry is given up after its first request gets no answer: one warning.
    assert err.splitlines() == [
        f"warning: cannot read model package {CHURN.arn}: {timeout}",
        "error: could not query dev, staging, prod (the LIVE column says why); the approval of"
        " 2 versions is unknown (the warnings say why)",
    ]


def test_check_deployed_against_a_server_that_never_answers(
    stacks: Path,
    silent: Silent,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MLSERVE_AWS_TIMEOUT_SECONDS", "0.2")
    started = time.monotonic()

    code, out, err = release(capsys, "status", "--check-deployed", "dev", "--stacks", str(stacks))

    assert time.monotonic() - started < 10
    assert (code, out) == (1, "")
    timeout = f'ReadTimeoutError: Read timeout on endpoint URL: "{silent.url}/"'
    assert err == f"error: cannot query dev: {timeout}\n"


def test_the_deadline_bounds_the_whole_command(stacks: Path, silent: Silent) -> None:
    """Requests that would each wait 3 x 10 s: the deadline answers first, for every stage."""
    started = time.monotonic()

    rows = status.status(stacks=stacks, note=lambda _: None, deadline=0.3)

    assert time.monotonic() - started < 5
    no_answer = "no answer within 0.3 s: check the network, a proxy or AWS_ENDPOINT_URL"
    assert {r.unreachable for r in rows if r.package} == {
        f"cannot query {stage}: {no_answer}" for stage in ("dev", "staging", "prod")
    }
    with pytest.raises(live.Unreachable) as raised:
        status.check_deployed("prod", stacks=stacks, deadline=0.3)
    assert str(raised.value) == f"cannot query prod: {no_answer}"
    assert time.monotonic() - started < 8


# --- an answer that is not the API's --------------------------------------------------------


def test_an_http_404_is_an_unreachable_row_not_the_end_of_the_table(
    stacks: Path, not_found: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = release(capsys, "status", "churn", "--stacks", str(stacks))

    cause = (
        f"HTTP 404 from {not_found} without an AWS error: not an answer of the SageMaker API"
        " (check AWS_ENDPOINT_URL)"
    )
    assert code == 1
    assert [line.split("  ")[0] for line in out.splitlines()] == ["MODEL"] + ["churn"] * 3
    for stage, line in zip(("dev", "staging", "prod"), out.splitlines()[1:], strict=True):
        assert line.endswith(f"unreachable: cannot query {stage}: {cause}"), line
    assert err.splitlines()[-1] == (
        "error: could not query dev, staging, prod (the LIVE column says why); the approval of"
        " 1 version is unknown (the warnings say why)"
    )

    code, out, err = release(capsys, "status", "--check-deployed", "prod", "--stacks", str(stacks))
    assert (code, out, err) == (1, "", f"error: cannot query prod: {cause}\n")


def test_a_refused_request_about_one_model_fails_that_model_only() -> None:
    """A ValidationException about one endpoint is that model's problem, not the stage's."""
    from botocore.stub import Stubber

    sagemaker = boto3.session.Session().client("sagemaker", region_name=REGION)
    with Stubber(sagemaker) as stub:
        stub.add_client_error("list_endpoints", "ValidationException", "bad request", 400)
        with pytest.raises(PackagingError) as raised:
            live.find_endpoint(sagemaker, "churn", "dev")
    assert not isinstance(raised.value, live.Unreachable)
    assert str(raised.value) == (
        "cannot read the endpoints of churn in dev: ValidationException: bad request"
    )
    with Stubber(sagemaker) as stub:
        stub.add_client_error("list_endpoints", "ServiceUnavailable", "try later", 503)
        with pytest.raises(live.Unreachable, match="cannot query dev: ServiceUnavailable"):
            live.find_endpoint(sagemaker, "churn", "dev")


# --- stack files with problems ----------------------------------------------------------------


def test_stack_file_problems_are_errors_naming_file_and_line(
    stacks: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prod = stacks / "Pulumi.prod.yaml"
    prod.write_text(prod.read_text().replace("us-east-1:123456789012", "eu-west-1:123456789012"))
    (stacks / "Pulumi.staging.yaml").unlink()
    dev = stacks / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text() + "    ranker: {version: [\n")

    for args in (["status"], ["status", "--json"], ["status", "--check-deployed", "prod"]):
        code, out, err = release(capsys, *args, "--stacks", str(stacks))

        assert (code, out) == (2, ""), args
        region = (
            f"error: {prod}:15: models.churn.version.package: is in eu-west-1, the stack is in"
            " us-east-1"
        )
        if "--check-deployed" in args:
            assert err.splitlines() == [region]
            continue
        assert err.splitlines() == [
            f"error: {dev}:23: not valid YAML: line 23, column 1: expected the node content, but"
            " found '<stream end>'",
            f"error: {stacks / 'Pulumi.staging.yaml'}: no such stack file (each stage needs one)",
            region,
        ]


def test_the_line_of_a_key_path(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(
        "config:\n"
        "  aws:region: us-east-1\n"
        "  mlserve:alerts:\n"
        "    subscriptions:\n"
        "      - protocol: email\n"
        "        endpoint: x\n"
        "  mlserve:models:\n"
        '    "a.b":\n'
        "      version: {}\n"
    )
    assert status.located(path, "alerts.subscriptions[0].endpoint: bad") == f"{path}:6: " + (
        "alerts.subscriptions[0].endpoint: bad"
    )
    assert status.located(path, 'models["a.b"].version.digest: is required') == (
        f'{path}:9: models["a.b"].version.digest: is required'
    )
    assert status.located(path, "aws:region: no") == f"{path}:2: aws:region: no"
    assert status.located(path, "owner: is required") == f"{path}:1: owner: is required"
    assert status.located(path, "duplicate key 'x' at lines 3 and 5\n  3 | x") == (
        f"{path}:3: duplicate key 'x' at lines 3 and 5"
    )
