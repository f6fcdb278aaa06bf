"""publish when the network fails: a local TCP proxy in front of the moto server cuts it.

What must hold after a cut mid-upload: a one-line error, nothing visible under the final keys,
no registry version, and a re-run that ends with exactly one version. botocore's retries would
hide a single cut, so these tests set ``AWS_MAX_ATTEMPTS=1``: the same environment variable a
user would set, read by the same default session the product code always uses.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infra.settings.artifacts import artifact_prefix
from model_packaging.cli import main
from model_packaging.store import upload
from model_packaging.store.publish import publish
from tests.packaging.conftest import BUCKET, ArtifactFactory, Store, free_port

MiB = upload.MiB


class CuttingProxy:
    """Forwards 127.0.0.1 TCP connections to a target until clients have sent ``budget`` bytes.

    The connection whose bytes cross the budget is closed on both sides. With ``outage=False``
    that is all (a blip: later connections pass, so an abort can still get through); with
    ``outage=True`` every open connection is closed too and new ones are closed on accept, as
    when a laptop drops off the network.
    """

    def __init__(self, target_port: int, budget: int, *, outage: bool) -> None:
        self.target_port = target_port
        self.budget = budget
        self.outage = outage
        self.cut = threading.Event()
        self._lock = threading.Lock()
        self._sent = 0
        self._open: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for sock in list(self._open):
                _close(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.outage and self.cut.is_set():
                _close(client)
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._open.update((client, upstream))
            for source, sink, counted in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(
                    target=self._pump, args=(source, sink, counted), daemon=True
                ).start()

    def _pump(self, source: socket.socket, sink: socket.socket, counted: bool) -> None:
        try:
            while data := source.recv(65536):
                if counted and self._over_budget(len(data)):
                    self._cut(source, sink)
                    return
                sink.sendall(data)
        except OSError:
            pass
        _close(source)
        _close(sink)

    def _over_budget(self, n: int) -> bool:
        with self._lock:
            if self.cut.is_set() and not self.outage:
                return False
            self._sent += n
            return self._sent > self.budget

    def _cut(self, source: socket.socket, sink: socket.socket) -> None:
        self.cut.set()
        with self._lock:
            victims = set(self._open) if self.outage else {source, sink}
        for sock in victims:
            _close(sock)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


@pytest.fixture
def big_artifact(make_artifact: ArtifactFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """12 MiB in 5 MiB parts (S3's minimum): three parts, so a cut at 7 MiB is mid-upload."""
    monkeypatch.setattr(upload, "PART_SIZE", 5 * MiB)
    return make_artifact(size=12 * MiB)


ProxyFactory = Callable[..., CuttingProxy]


@pytest.fixture
def through_proxy(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ProxyFactory]:
    """Make a CuttingProxy in front of the moto server and route new clients through it."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    proxies: list[CuttingProxy] = []

    def make(budget: int, *, outage: bool) -> CuttingProxy:
        proxy = CuttingProxy(int(moto_endpoint.rsplit(":", 1)[1]), budget, outage=outage)
        proxies.append(proxy)
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()


def publish_cli(artifact: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(["publish", str(artifact), "--bucket", BUCKET, "--quiet"])
    return status, capsys.readouterr().err


def final_objects(store: Store, artifact: Path) -> list[str]:
    digest = json.loads((artifact / "manifest.json").read_text())["digest"]
    listing = store.s3.list_objects_v2(Bucket=BUCKET, Prefix=artifact_prefix("churn", digest))
    return [o["Key"] for o in listing.get("Contents", [])]


def incomplete_uploads(store: Store) -> list[str]:
    return [u["Key"] for u in store.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])]


def version_count(store: Store) -> int:
    listing = store.sagemaker.list_model_packages(ModelPackageGroupName="churn")
    return len(listing["ModelPackageSummaryList"])


def rerun_directly(artifact: Path, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    result = publish(artifact, bucket=BUCKET, progress=False)
    assert result.created is True
    assert result.uploaded_bytes == 12 * MiB + (artifact / "manifest.json").stat().st_size


def test_cut_mid_upload_leaves_nothing_and_a_rerun_converges(
    server_store: Store,
    big_artifact: Path,
    through_proxy: ProxyFactory,
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proxy = through_proxy(7 * MiB, outage=False)

    status, err = publish_cli(big_artifact, capsys)

    assert proxy.cut.is_set()
    assert status == 1
    assert err.count("\n") == 1
    assert err.startswith(f"error: upload of s3://{BUCKET}/models/churn/sha256-")
    assert "failed at part" in err
    assert final_objects(server_store, big_artifact) == []
    assert (
        incomplete_uploads(server_store) == []
    )  # the connection came back: the abort went through
    assert version_count(server_store) == 0

    rerun_directly(big_artifact, moto_endpoint, monkeypatch)
    assert version_count(server_store) == 1
    assert len(final_objects(server_store, big_artifact)) == 2


def test_outage_mid_upload_leaves_an_upload_the_rerun_aborts(
    server_store: Store,
    big_artifact: Path,
    through_proxy: ProxyFactory,
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    through_proxy(7 * MiB, outage=True)

    status, err = publish_cli(big_artifact, capsys)

    assert status == 1
    assert err.count("\n") == 1
    assert "could not be aborted: the next publish aborts it" in err
    assert final_objects(server_store, big_artifact) == []
    assert len(incomplete_uploads(server_store)) == 1
    assert version_count(server_store) == 0

    rerun_directly(big_artifact, moto_endpoint, monkeypatch)
    assert incomplete_uploads(server_store) == []
    assert version_count(server_store) == 1


def test_unreachable_endpoint_is_one_line_naming_the_group(
    make_artifact: ArtifactFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")

    status, err = publish_cli(make_artifact(), capsys)

    assert status == 1
    assert err.count("\n") == 1
    assert err.startswith("error: cannot reach SageMaker for model package group 'churn': ")
    assert "Could not connect to the endpoint URL" in err
