"""serve: SageMaker's /ping and /invocations contract over real HTTP on a free local port."""

from __future__ import annotations

import json
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from model_packaging.artifact.serve import ModelServer, make_server, negotiate
from model_packaging.errors import PackagingError


@pytest.fixture(scope="module")
def server(built: Path) -> Iterator[ModelServer]:
    server = make_server(built, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def request(
    server: ModelServer, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str, bytes]:
    """One real HTTP request; returns status, Content-Type and body, errors included."""
    req = urllib.request.Request(f"{server.url}{path}", data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_ping_answers_200_once_loaded(server: ModelServer) -> None:
    assert request(server, "/ping")[0] == 200


def test_invocations_run_the_handlers_and_honour_accept(server: ModelServer) -> None:
    status, content_type, body = request(
        server,
        "/invocations",
        b"2,95.5,4,1",
        {"Content-Type": "text/csv", "Accept": "application/json"},
    )

    assert (status, content_type) == (200, "application/json")
    assert json.loads(body) == {
        "predictions": [{"churn_probability": pytest.approx(0.9853373955224617), "churn": True}]
    }

    status, content_type, body = request(
        server,
        "/invocations",
        b"2,95.5,4,1\n48,55.0,0,24\n",
        {"Content-Type": "text/csv; charset=utf-8", "Accept": "text/plain;q=0.9, text/*"},
    )
    assert (status, content_type, body) == (200, "text/csv", b"0.985337\n0.019653\n")


def test_no_accept_means_the_default_accept(server: ModelServer) -> None:
    status, content_type, _ = request(
        server,
        "/invocations",
        b'{"instances": [[2, 95.5, 4, 1]]}',
        {"Content-Type": "application/json"},
    )

    assert (status, content_type) == (200, "application/json")


@pytest.mark.parametrize(
    ("headers", "body", "status", "message"),
    [
        (
            {"Content-Type": "text/plain"},
            b"2,95.5,4,1",
            415,
            "Content-Type text/plain is not supported; use one of text/csv, application/json\n",
        ),
        (
            {"Content-Type": "text/csv", "Accept": "application/x-npy"},
            b"2,95.5,4,1",
            406,
            "this model responds with application/json, text/csv\n",
        ),
        (
            {"Content-Type": "text/csv"},
            b"1,2",
            400,
            "input_fn failed: ValueError: expected rows of 4 features: tenure_months, "
            "monthly_charges, support_calls_90d, contract_months\n",
        ),
    ],
)
def test_unsupported_types_and_handler_errors_get_their_status_and_a_message(
    server: ModelServer, headers: dict[str, str], body: bytes, status: int, message: str
) -> None:
    got = request(server, "/invocations", body, headers)

    assert got == (status, "text/plain; charset=utf-8", message.encode())


def test_unknown_paths_are_404(server: ModelServer) -> None:
    assert request(server, "/predict", b"x", {"Content-Type": "text/csv"})[0] == 404


def test_closing_the_server_removes_the_unpacked_copy(built: Path) -> None:
    server = make_server(built, port=0)
    unpacked = Path(server.model_dir)

    assert (unpacked / "model.joblib").is_file()
    server.server_close()
    assert not unpacked.exists()


def test_a_tampered_artifact_is_not_served(built: Path, tmp_path: Path) -> None:
    out = Path(shutil.copytree(built, tmp_path / "out"))
    (out / "model.tar.gz").write_bytes((out / "model.tar.gz").read_bytes()[:-8])

    with pytest.raises(PackagingError, match=r"model\.tar\.gz: sha256 .* does not match"):
        make_server(out, port=0)


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("text/csv", "text/csv"),
        ("text/csv;q=0.5, application/json", "application/json"),
        ("text/*", "text/csv"),
        ("application/x-npy, */*;q=0.1", "application/json"),
        ("application/x-npy", None),
        ("text/csv;q=0", None),
    ],
)
def test_accept_negotiation(accept: str | None, chosen: str | None) -> None:
    offered = ["application/json", "text/csv"]

    assert negotiate(accept, offered, "application/json") == chosen
