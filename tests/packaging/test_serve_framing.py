"""serve's HTTP framing over raw sockets: a refused body is not read as a new request, a body
shorter than its Content-Length is a 400, and neither leaves a traceback in the server's log."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from model_packaging.artifact.serve import MAX_PAYLOAD_BYTES, ModelServer, make_server


@pytest.fixture
def server(built: Path) -> Iterator[ModelServer]:
    """A server per test, so each test's log holds only its own requests."""
    server = make_server(built, host="127.0.0.1", port=0, request_timeout=5)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def connect(server: ModelServer) -> socket.socket:
    host, port = server.server_address[:2]
    sock = socket.create_connection((str(host), int(port)), timeout=5)
    return sock


def read_to_end(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection, or within the socket's
    timeout when it keeps the connection open."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        pass
    return received


def settle() -> None:
    """Give the handler thread time to finish writing its log lines."""
    time.sleep(0.3)


def test_a_refused_body_closes_the_connection_instead_of_being_read_as_a_request(
    server: ModelServer, capfd: pytest.CaptureFixture[str]
) -> None:
    # What follows the headers looks like a second request: read as one, it would be answered.
    smuggled = b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n" + b"garbage \x00\xff" * 4000
    with connect(server) as sock:
        sock.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
            + f"Content-Length: {MAX_PAYLOAD_BYTES + 1}\r\n\r\n".encode()
            + smuggled
        )
        response = read_to_end(sock)
    settle()

    assert response.startswith(b"HTTP/1.1 413 ")
    assert response.count(b"HTTP/1.") == 1
    assert b"Connection: close" in response
    assert b"payload exceeds 6 MB" in response
    log = capfd.readouterr().err
    assert '"POST /invocations HTTP/1.1" 413' in log
    assert "GET /ping" not in log
    assert "Bad request" not in log
    assert "Traceback" not in log


def test_a_post_to_an_unknown_path_does_not_leave_its_body_to_be_parsed(
    server: ModelServer,
) -> None:
    body = b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"
    with connect(server) as sock:
        sock.sendall(
            b"POST /nowhere HTTP/1.1\r\nHost: x\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        response = read_to_end(sock)

    assert response.startswith(b"HTTP/1.1 404 ")
    assert response.count(b"HTTP/1.") == 1


def test_a_body_shorter_than_its_content_length_is_a_400_without_a_traceback(
    server: ModelServer, capfd: pytest.CaptureFixture[str]
) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
            b"Content-Length: 100\r\n\r\n2,95.5,4,1"
        )
        sock.shutdown(socket.SHUT_WR)
        response = read_to_end(sock)
    settle()

    assert response.startswith(b"HTTP/1.1 400 ")
    assert response.count(b"HTTP/1.") == 1
    assert b"the body ended after 10 of the 100 bytes its Content-Length announced" in response
    log = capfd.readouterr().err
    assert '"POST /invocations HTTP/1.1" 400' in log
    assert "Traceback" not in log


def test_a_client_that_goes_away_mid_body_leaves_one_log_line_not_a_traceback(
    server: ModelServer, capfd: pytest.CaptureFixture[str]
) -> None:
    sock = connect(server)
    sock.sendall(
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
        b"Content-Length: 100\r\n\r\n2,95"
    )
    # An abortive close (RST), as when a client process is killed.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()
    settle()

    log = capfd.readouterr().err
    assert "Traceback" not in log


def test_a_well_formed_request_after_another_on_the_same_connection_is_still_answered(
    server: ModelServer,
) -> None:
    request = (
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
        b"Accept: text/csv\r\nContent-Length: 10\r\n\r\n2,95.5,4,1"
    )
    with connect(server) as sock:
        sock.sendall(request + request + b"GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n")
        response = read_to_end(sock)

    assert response.count(b"HTTP/1.1 200 OK") == 3
    assert response.count(b"0.985337\n") == 2
