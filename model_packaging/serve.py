"""``serve``: an artifact behind SageMaker's HTTP contract, on this machine.

- ``GET /ping``: 200 once the model is loaded (it is loaded before the port opens).
- ``POST /invocations``: the body goes through the model's handlers. The request's
  Content-Type must be one the manifest declares (else 415), the Accept header must allow one
  it declares (else 406; no Accept or ``*/*`` means the container's default accept), and a
  failing handler gives 400 with the handler's message.

A small standard-library threaded server, not the sagemaker SDK's in-process mode: that mode
serves a FastAPI app on a fixed port (9007) at ``/invoke`` for ``InferenceSpec`` objects built
by ``ModelBuilder``; it neither speaks ``/ping`` and ``/invocations`` nor loads inference.py
handlers, which are exactly what this command is meant to exercise.
"""

from __future__ import annotations

import signal
import sys
import tempfile
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from model_packaging.container import (
    CONTAINER_DEFAULT_ACCEPT,
    HandlerError,
    InferenceModel,
    UnsupportedMediaType,
    load,
)
from model_packaging.errors import PackagingError
from model_packaging.manifest import Manifest, load_artifact, unpack
from model_packaging.progress import progress_bar

# SageMaker real-time endpoints refuse request payloads above 6 MB; so does this server.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024


def negotiate(accept: str | None, offered: list[str], default: str) -> str | None:
    """The media type to answer with, or None when the Accept header allows none offered.

    Like the containers, a missing Accept or a bare ``*/*`` means ``default``. Otherwise the
    listed types are tried by quality (``q=``), most preferred first, with wildcards.
    """
    if not accept or accept.strip() == "*/*":
        return default
    choices = []
    for position, item in enumerate(accept.split(",")):
        media_type, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media_type and quality > 0:
            choices.append((-quality, position, media_type.lower()))
    for _, _, wanted in sorted(choices):
        if wanted == "*/*":
            return default if default in offered else offered[0]
        kind = wanted.removesuffix("/*")
        for media_type in offered:
            if media_type == wanted or (
                wanted.endswith("/*") and media_type.startswith(kind + "/")
            ):
                return media_type
    return None


class ModelServer(ThreadingHTTPServer):
    """A bound server with its model loaded; run ``serve_forever()`` and later ``shutdown()``.

    It owns the temporary folder the artifact was unpacked into; ``server_close()`` removes it.
    """

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        model: InferenceModel,
        manifest: Manifest,
        workdir: tempfile.TemporaryDirectory[str],
    ) -> None:
        self.model = model
        self.manifest = manifest
        self.default_accept = manifest.environment.get(
            "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", CONTAINER_DEFAULT_ACCEPT
        )
        # The real container runs one model per worker process; one request at a time here
        # keeps handlers that are not thread-safe correct.
        self.lock = threading.Lock()
        self._workdir = workdir
        self.model_dir = Path(workdir.name, "model")
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def server_close(self) -> None:
        super().server_close()
        self._workdir.cleanup()


class _Handler(BaseHTTPRequestHandler):
    server: ModelServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/ping":
            self._reply(HTTPStatus.OK, b"", "text/plain")
        else:
            self._error(HTTPStatus.NOT_FOUND, "only GET /ping and POST /invocations exist")

    def do_POST(self) -> None:
        if self.path.split("?")[0] != "/invocations":
            self._error(HTTPStatus.NOT_FOUND, "only GET /ping and POST /invocations exist")
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._error(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
            return
        if int(length) > MAX_PAYLOAD_BYTES:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "payload exceeds 6 MB")
            return
        body = self.rfile.read(int(length))
        declared = self.server.manifest.content_types
        content_type = (self.headers.get("Content-Type") or CONTAINER_DEFAULT_ACCEPT).split(";")[0]
        content_type = content_type.strip().lower()
        if content_type not in declared.request:
            allowed = ", ".join(declared.request)
            self._error(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"Content-Type {content_type} is not supported; use one of {allowed}",
            )
            return
        accept = negotiate(
            self.headers.get("Accept"), declared.response, self.server.default_accept
        )
        if accept is None:
            allowed = ", ".join(declared.response)
            self._error(HTTPStatus.NOT_ACCEPTABLE, f"this model responds with {allowed}")
            return
        try:
            with self.server.lock:
                response, response_type = self.server.model.invoke(body, content_type, accept)
        except UnsupportedMediaType as exc:
            status = (
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE
                if exc.direction == "request"
                else HTTPStatus.NOT_ACCEPTABLE
            )
            self._error(status, str(exc))
            return
        except HandlerError as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
            return
        self._reply(HTTPStatus.OK, response, response_type)

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._reply(status, (message + "\n").encode("utf-8"), "text/plain; charset=utf-8")

    def _reply(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def make_server(
    artifact: Path, *, host: str = "127.0.0.1", port: int = 0, progress: bool = False
) -> ModelServer:
    """Unpack (checking digests), load the model in this process, bind; not yet serving.

    ``port=0`` binds a free port; read it from ``server.server_address``.
    """
    loaded = load_artifact(artifact)
    manifest = loaded.manifest
    workdir = tempfile.TemporaryDirectory(prefix="serve-")
    try:
        model_dir = Path(workdir.name, "model")
        model_dir.mkdir()
        with progress_bar(manifest.artifact.size, f"unpack {manifest.name}", progress) as bar:
            unpack(loaded, model_dir, bar.update)
        try:
            model = load(model_dir, manifest.entry_point)
        except HandlerError as exc:
            raise PackagingError(f"{loaded.artifact_path}: model did not load: {exc}") from None
        try:
            return ModelServer((host, port), model, manifest, workdir)
        except OSError as exc:
            raise PackagingError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    except BaseException:
        workdir.cleanup()
        raise


def serve(artifact: Path, *, host: str, port: int) -> None:
    """Serve ``artifact`` until interrupted (Ctrl-C stops it cleanly)."""
    server = make_server(artifact, host=host, port=port, progress=True)
    manifest = server.manifest
    print(
        f"serving {manifest.name} sha256:{manifest.digest} on {server.url} (Ctrl-C to stop)",
        file=sys.stderr,
    )
    # SIGTERM (docker stop, kill) gets the same clean shutdown as Ctrl-C: the unpacked copy
    # of the artifact is removed either way.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
