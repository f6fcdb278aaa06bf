"""Fixtures every test folder may use: a moto server on a free local port; and the order the
tests start in.

The server runs once per test session (once per worker, each on its own port), started by the
first test that asks for it; ``moto_endpoint`` empties it for each test that uses it.
"""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

DEMO_TESTS = Path(__file__).resolve().parent / "test_demo.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The demo's tests first, otherwise in the order collected: the demo runs for over a minute,
    far longer than any other module, so started last it would leave the other workers idle.
    Its tests stay together at the head of one worker's queue, which the other workers' steals
    (from the end) never reach while the demo runs."""
    items.sort(key=lambda item: item.path != DEMO_TESTS)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One moto server for the run (for each worker), on a local port the system picks as the
    server binds it, so that two workers never race for one; yields its URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The server, emptied, with ``AWS_ENDPOINT_URL`` pointing this process's clients at it."""
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server
