"""The models behind the demo's endpoints: one local ``python -m model_packaging serve`` per
artifact, in the moto server's process tree.

SageMaker runs an endpoint variant's container on the model data its Model names: the container's
``ModelDataUrl``, or the registry version's (``ModelPackageName``). The demo's moto server does
the same on this machine: :class:`Serves` copies the artifact and its ``manifest.json`` from the
server's own S3 into a folder (what publish put under the artifact prefix), and starts
``python -m model_packaging serve`` on it, on a free local port. ``serve`` checks every digest as
it unpacks, loads the model, and answers SageMaker's ``/ping`` and ``/invocations``. One serve per
artifact, shared by every endpoint and variant that deploys it; started when an endpoint is
created or updated onto it (as SageMaker provisions a variant before the endpoint is in service),
or else at the first request.

No serve outlives the server: :meth:`Serves.stop` ends them all when the server stops, and each
is started with the parent-death signal set (Linux ``prctl(PR_SET_PDEATHSIG)``, kept across
``exec``), by one thread that lives as long as the server, so that it gets SIGTERM even if the
server is killed.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The longest a serve may take to unpack and load its model before requests give up on it.
READY_SECONDS = 60.0
# What a forwarded request may take: SageMaker's limit for a real-time invocation.
REQUEST_SECONDS = 60.0
# Runs in the child before the serve: asks the kernel for SIGTERM when the thread that started it
# ends (PR_SET_PDEATHSIG is 1, linux/prctl.h), gives up if that parent is already gone, then
# becomes the serve (the setting survives execv). Elsewhere than Linux it only execs.
_DIE_WITH_PARENT = """\
import ctypes, os, signal, sys
prctl = getattr(ctypes.CDLL(None), "prctl", None)
if prctl is not None:
    prctl(1, signal.SIGTERM)
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)
os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""

ReadObject = Callable[[str, str], bytes | None]
"""(bucket, key) -> the object's bytes, or None when there is no such object."""


class ServeError(Exception):
    """A serve could not be started or did not become ready; the message says why."""


@dataclass
class _Serve:
    data_url: str
    folder: Path
    url: str = ""
    process: subprocess.Popen[bytes] | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    failure: str | None = None


class _Launcher:
    """The one thread that starts serves: PR_SET_PDEATHSIG follows the thread that forked, so
    it must outlive them."""

    def __init__(self) -> None:
        self._requests: queue.Queue[tuple[list[str], Path, queue.Queue[object]]] = queue.Queue()
        threading.Thread(target=self._run, name="serve-launcher", daemon=True).start()

    def start(self, command: list[str], log: Path) -> subprocess.Popen[bytes]:
        answer: queue.Queue[object] = queue.Queue()
        self._requests.put((command, log, answer))
        started = answer.get()
        if isinstance(started, BaseException):
            raise started
        assert isinstance(started, subprocess.Popen)
        return started

    def _run(self) -> None:
        while True:
            command, log, answer = self._requests.get()
            try:
                with log.open("ab") as out:
                    answer.put(
                        subprocess.Popen(
                            command,
                            cwd=ROOT,
                            stdin=subprocess.DEVNULL,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                        )
                    )
            except OSError as exc:
                answer.put(exc)


class Serves:
    """The local serves of the artifacts the endpoints deploy, one per artifact."""

    def __init__(self, folder: Path, read_object: ReadObject) -> None:
        self.folder = folder
        self._read = read_object
        self._lock = threading.Lock()
        self._serves: dict[str, _Serve] = {}
        self._launcher = _Launcher()
        self._stopped = False

    def prepare(self, data_url: str) -> None:
        """Start the serve of ``data_url`` in the background, if it is not started yet."""
        self._serve(data_url)

    def url(self, data_url: str) -> str:
        """The serve of ``data_url``, started if need be, once it answers ``/ping``."""
        serve = self._serve(data_url)
        if not serve.ready.wait(READY_SECONDS):
            raise ServeError(f"the serve of {data_url} is not ready after {READY_SECONDS:g} s")
        if serve.failure is not None:
            raise ServeError(serve.failure)
        return serve.url

    def stop(self) -> None:
        """End every serve (SIGTERM: serve removes its unpacked copy), killing any that lingers."""
        with self._lock:
            self._stopped = True
            processes = [s.process for s in self._serves.values() if s.process is not None]
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for process in processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _serve(self, data_url: str) -> _Serve:
        with self._lock:
            if self._stopped:
                raise ServeError("the server is stopping")
            serve = self._serves.get(data_url)
            if serve is None:
                folder = self.folder / f"artifact-{len(self._serves) + 1}"
                serve = self._serves[data_url] = _Serve(data_url, folder)
                threading.Thread(
                    target=self._start, args=(serve,), name="serve-start", daemon=True
                ).start()
        return serve

    def _start(self, serve: _Serve) -> None:
        try:
            self._copy(serve.data_url, serve.folder)
            for _ in range(3):  # a port found free may be taken before serve binds it
                port = _free_port()
                command = [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid())]
                command += ["-m", "model_packaging", "serve", str(serve.folder)]
                command += ["--host", "127.0.0.1", "--port", str(port)]
                with self._lock:
                    if self._stopped:
                        raise ServeError("the server is stopping")
                    serve.process = self._launcher.start(command, serve.folder / "serve.log")
                serve.url = f"http://127.0.0.1:{port}"
                if _wait_ready(serve.process, serve.url):
                    return
                if "cannot listen" not in _last_line(serve.folder / "serve.log"):
                    break
            raise ServeError(
                f"the serve of {serve.data_url} did not start:"
                f" {_last_line(serve.folder / 'serve.log')}"
            )
        except ServeError as exc:
            serve.failure = str(exc)
        except Exception as exc:  # a manifest that does not validate, a folder not writable
            serve.failure = (
                f"the serve of {serve.data_url} did not start: {type(exc).__name__}: {exc}"
            )
        finally:
            serve.ready.set()

    def _copy(self, data_url: str, folder: Path) -> None:
        """The artifact and its manifest, from the store into ``folder``, as build wrote them."""
        from model_packaging.artifact.manifest import ARTIFACT_PATHS, MANIFEST_NAME, Manifest

        if not data_url.startswith("s3://"):
            raise ServeError(f"{data_url} is not an s3:// URI")
        bucket, _, key = data_url.removeprefix("s3://").partition("/")
        paths = sorted(ARTIFACT_PATHS.values(), key=len, reverse=True)
        path = next((p for p in paths if key.endswith(p)), None)
        if path is None:
            raise ServeError(f"{data_url} is not model.tar.gz or model/ under an artifact prefix")
        prefix = key[: -len(path)]
        manifest_data = self._object(bucket, prefix + MANIFEST_NAME)
        manifest = Manifest.model_validate_json(manifest_data)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MANIFEST_NAME).write_bytes(manifest_data)
        names = [path] if not path.endswith("/") else [path + f.path for f in manifest.files]
        for name in names:
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self._object(bucket, prefix + name))

    def _object(self, bucket: str, key: str) -> bytes:
        data = self._read(bucket, key)
        if data is None:
            raise ServeError(f"s3://{bucket}/{key} is missing")
        return data


def forward(url: str, body: bytes, content_type: str, accept: str) -> tuple[int, bytes, str]:
    """POST ``body`` to the serve's ``/invocations``: its status, body and Content-Type."""
    request = urllib.request.Request(
        f"{url}/invocations",
        data=body,
        headers={"Content-Type": content_type, "Accept": accept},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_SECONDS) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Content-Type", "")


def _wait_ready(process: subprocess.Popen[bytes], url: str) -> bool:
    """Whether the serve answers ``/ping`` within READY_SECONDS (False once it has exited)."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                if response.status == 200:
                    return True
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.05)
    return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _last_line(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no output"
    return lines[-1] if lines else "no output"
