"""``serve``: an artifact behind SageMaker's HTTP contract, on this machine.

- ``GET /ping``: 200 once the model is loaded (it is loaded before the port opens).
- ``POST /invocations``: the body goes through the model's handlers. The request's
  Content-Type must be one the manifest declares (else 415), the Accept header must allow one
  it declares (else 406; no Accept or ``*/*`` means the container's default accept), and a
  failing handler gives 400 with the handler's message, and one without a response within the
  request timeout 504.
- A request whose body is refused unread (404, 411, 413), cut short (400) or too slow (408) closes
  its connection: what follows it on the connection cannot be told apart from the body.

A small standard-library threaded server, not the sagemaker SDK's in-process mode: that mode
serves a FastAPI app on a fixed port (9007) at ``/invoke`` for ``InferenceSpec`` objects built
by ``ModelBuilder``; it neither speaks ``/ping`` and ``/invocations`` nor loads inference.py
handlers, which are exactly what this command is meant to exercise.
"""

from __future__ import annotations

import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from model_packaging.artifact.container import (
    CONTAINER_DEFAULT_ACCEPT,
    DEFAULT_LOAD_TIMEOUT_SECONDS,
    DEFAULT_REQUEST_TIMEOUT_SECONDS,
    HandlerError,
    InferenceModel,
    UnsupportedMediaType,
    load,
    load_timeout_message,
    request_timeout_message,
    timeout_problem,
)
from model_packaging.artifact.manifest import Manifest, load_artifact, unpack
from model_packaging.errors import PackagingError
from model_packaging.progress import progress_bar

# SageMaker real-time endpoints refuse request payloads above 6 MB; so does this server.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
# A client that stops sending mid-request must not hold a connection (and its thread) forever.
READ_TIMEOUT_SECONDS = 60
# After a refusal the connection is closed; what the client already sent is read and dropped
# for this long first, because closing a socket with unread input resets the connection, and
# the client may lose the refusal before it reads it.
_LINGER_SECONDS = 2.0
_LINGER_BYTES = MAX_PAYLOAD_BYTES + 65536


def negotiate(accept: str | None, offered: list[str], default: str) -> str | None:
    """The media type to answer with, or None when the Accept header allows none offered.

    Like the containers, a missing Accept or a bare ``*/*`` means ``default``. Otherwise the
    listed types are tried by quality (``q=``), most preferred first, with wildcards.
    """
    if not accept or accept.strip() == "*/*":
        return default
    for wanted in _by_preference(accept):
        if wanted == "*/*":
            return default if default in offered else offered[0]
        kind = wanted.removesuffix("/*")
        for media_type in offered:
            if media_type == wanted or (
                wanted.endswith("/*") and media_type.startswith(kind + "/")
            ):
                return media_type
    return None


def _by_preference(accept: str) -> list[str]:
    """The media types an Accept header lists, most preferred first; those of quality 0 left
    out, ties in the order given."""
    choices = []
    for position, item in enumerate(accept.split(",")):
        media_type, *params = (part.strip() for part in item.split(";"))
        quality = _quality(params)
        if media_type and quality > 0:
            choices.append((-quality, position, media_type.lower()))
    return [media_type for _, _, media_type in sorted(choices)]


def _quality(params: list[str]) -> float:
    """An Accept item's ``q=`` value: 1 when absent, 0 when unreadable."""
    quality = 1.0
    for param in params:
        key, _, value = param.partition("=")
        if key.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
    return quality


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
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self.model = model
        self.request_timeout = request_timeout
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

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that went away is one log line; anything else keeps the traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            print(f"{client_address}: connection lost: {error}", file=sys.stderr)
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        """One request through the model, one at a time, within the request timeout.

        A request that runs out of time raises TimeoutError; its handler call cannot be
        interrupted, so it keeps the model until it returns, and requests meanwhile wait.
        """
        deadline = time.monotonic() + self.request_timeout
        if not self.lock.acquire(timeout=self.request_timeout):
            raise TimeoutError(
                "the model is still busy with an earlier request that ran out of time"
            )
        outcome: list[tuple[bytes, str] | BaseException] = []

        def run() -> None:
            try:
                outcome.append(self.model.invoke(body, content_type, accept))
            except BaseException as exc:
                outcome.append(exc)
            finally:
                self.lock.release()

        worker = threading.Thread(target=run, name="invocation", daemon=True)
        worker.start()
        worker.join(max(0.0, deadline - time.monotonic()))
        if not outcome:
            raise TimeoutError(request_timeout_message(self.request_timeout))
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0]


class _Handler(BaseHTTPRequestHandler):
    server: ModelServer
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT_SECONDS

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/ping":
            self._reply(HTTPStatus.OK, b"", "text/plain")
        else:
            self._error(HTTPStatus.NOT_FOUND, "only GET /ping and POST /invocations exist")

    def do_POST(self) -> None:
        # A body left unread cannot be told apart from the next request on the connection:
        # every refusal before the body is read closes the connection.
        if self.path.split("?")[0] != "/invocations":
            self._refuse(HTTPStatus.NOT_FOUND, "only GET /ping and POST /invocations exist")
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._refuse(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
            return
        if int(length) > MAX_PAYLOAD_BYTES:
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "payload exceeds 6 MB")
            return
        body = self._read_body(int(length))
        if body is None:
            return
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
            response, response_type = self.server.invoke(body, content_type, accept)
        except TimeoutError as exc:
            self._error(HTTPStatus.GATEWAY_TIMEOUT, str(exc))
            return
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

    def _read_body(self, length: int) -> bytes | None:
        """The body, or None once a short, slow or cut-off body has been answered or dropped."""
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            self._refuse(
                HTTPStatus.REQUEST_TIMEOUT,
                f"the body did not arrive within {READ_TIMEOUT_SECONDS} s",
            )
            return None
        except ConnectionError as exc:
            self.close_connection = True
            self.log_message("connection lost while reading the body: %s", exc)
            return None
        if len(body) < length:
            self._refuse(
                HTTPStatus.BAD_REQUEST,
                f"the body ended after {len(body)} of the {length} bytes its Content-Length"
                " announced",
            )
            return None
        return body

    def _refuse(self, status: HTTPStatus, message: str) -> None:
        """Answer and close: the rest of the body is not read, so it must not be parsed."""
        self._error(status, message, close=True)
        self._linger()

    def _linger(self) -> None:
        """Stop sending, then read and drop what the client still sends, briefly."""
        sock: socket.socket = self.connection
        try:
            self.wfile.flush()
            sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + _LINGER_SECONDS
            dropped = 0
            while dropped < _LINGER_BYTES and (remaining := deadline - time.monotonic()) > 0:
                sock.settimeout(remaining)
                chunk = sock.recv(65536)
                if not chunk:
                    break
                dropped += len(chunk)
        except OSError:
            pass  # the client is gone or slow: the connection closes either way

    def _error(self, status: HTTPStatus, message: str, *, close: bool = False) -> None:
        body = (message + "\n").encode("utf-8")
        self._reply(status, body, "text/plain; charset=utf-8", close=close)

    def _reply(
        self, status: HTTPStatus, body: bytes, content_type: str, *, close: bool = False
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)


def make_server(
    artifact: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    progress: bool = False,
    load_timeout: float = DEFAULT_LOAD_TIMEOUT_SECONDS,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
) -> ModelServer:
    """Unpack (checking digests), load the model in this process, bind; not yet serving.

    ``port=0`` binds a free port; read it from ``server.server_address``. A model that has not
    loaded after ``load_timeout`` seconds is a PackagingError; each request gets
    ``request_timeout`` seconds before it is answered 504.
    """
    for flag, value in (("--load-timeout", load_timeout), ("--request-timeout", request_timeout)):
        if problem := timeout_problem(value):
            raise PackagingError(f"{flag} {value:g}: {problem}")
    loaded = load_artifact(artifact)
    manifest = loaded.manifest
    workdir = tempfile.TemporaryDirectory(prefix="serve-")
    try:
        model_dir = Path(workdir.name, "model")
        model_dir.mkdir()
        with progress_bar(manifest.artifact.size, f"unpack {manifest.name}", progress) as bar:
            unpack(loaded, model_dir, bar.update)
        try:
            model = _load_within(model_dir, manifest.entry_point, load_timeout)
        except HandlerError as exc:
            raise PackagingError(f"{loaded.artifact_path}: model did not load: {exc}") from None
        try:
            return ModelServer((host, port), model, manifest, workdir, request_timeout)
        except OSError as exc:
            raise PackagingError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    except BaseException:
        workdir.cleanup()
        raise


def _load_within(model_dir: Path, entry_point: str, timeout: float) -> InferenceModel:
    """``load`` in a thread that is given up on after ``timeout`` seconds.

    A thread cannot be killed: a load that never returns keeps running until the process
    exits, which the serve command does at once with the error.
    """
    imported = threading.Event()
    outcome: list[InferenceModel | BaseException] = []

    def run(finish: Callable[[InferenceModel | BaseException], None]) -> None:
        try:
            finish(load(model_dir, entry_point, imported.set))
        except BaseException as exc:
            finish(exc)

    worker = threading.Thread(target=run, args=(outcome.append,), name="load", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        raise HandlerError(load_timeout_message(entry_point, imported.is_set(), timeout))
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def serve(
    artifact: Path,
    *,
    host: str,
    port: int,
    load_timeout: float = DEFAULT_LOAD_TIMEOUT_SECONDS,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
) -> None:
    """Serve ``artifact`` until interrupted (Ctrl-C stops it cleanly)."""
    server = make_server(
        artifact,
        host=host,
        port=port,
        progress=True,
        load_timeout=load_timeout,
        request_timeout=request_timeout,
    )
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
