"""The demo's local AWS: a moto server on 127.0.0.1, with what the release flow needs of SageMaker.

    python -m demo.moto_server [--host 127.0.0.1] [--port 0]

prints ``listening on http://HOST:PORT`` once it accepts connections (port 0: a free one, chosen
by the kernel, so two demos never race for a port), then serves until SIGTERM or SIGINT, or until
the process that started it is gone. :class:`MotoServer` starts and stops it from the demo.

Every request is answered in one account, ``MOTO_ACCOUNT_ID``, which moto reads first when it
decides whose resources a request sees (``BaseResponse.get_current_account``). The launcher sets
it to the shared account of ``infra.review.mocks.ACCOUNTS``, so the registry versions that
``publish`` registers have the ARNs the stack files pin
(``arn:aws:sagemaker:<region>:111111111111:...``).

moto 5 implements CreateEndpoint but not UpdateEndpoint, and its CreateEndpointConfig drops
ShadowProductionVariants. Both are added here, to the server only, the way SageMaker answers
them (botocore's sagemaker model: UpdateEndpoint takes EndpointName and EndpointConfigName and
returns EndpointArn; DescribeEndpointConfig returns ShadowProductionVariants). A real update goes
through ``Updating`` for minutes; here it is ``InService`` at once, as moto's CreateEndpoint is.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
READY = "listening on "


class ServerError(Exception):
    """The server did not start, or stopped on its own."""


def _extend_sagemaker() -> None:
    """Add UpdateEndpoint and shadow variants to moto's SageMaker, in this process only."""
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import FakeEndpoint
    from moto.sagemaker.responses import SageMakerResponse

    create_endpoint_config = SageMakerResponse.create_endpoint_config

    def create_endpoint_config_with_shadows(self: Any) -> Any:
        shadows = self._get_param("ShadowProductionVariants") or []
        # Their Models must exist, as for production variants; checked before moto stores the
        # configuration, since SageMaker refuses the whole request.
        self.sagemaker_backend.validate_production_variants(shadows)
        result = create_endpoint_config(self)
        if shadows:
            name = self._get_param("EndpointConfigName")
            self.sagemaker_backend.endpoint_configs[name].shadow_production_variants = shadows
        return result

    def update_endpoint(self: Any) -> Any:
        backend = self.sagemaker_backend
        name = self._get_param("EndpointName")
        endpoint = backend.endpoints.get(name)
        if endpoint is None:
            arn = FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
            raise ValidationError(message=f"Could not find endpoint '{arn}'.")
        config_name = self._get_param("EndpointConfigName")
        config = backend.describe_endpoint_config(config_name)  # refuses an unknown one
        endpoint.endpoint_config_name = config_name
        endpoint.production_variants = endpoint._process_production_variants(
            config["ProductionVariants"]
        )
        endpoint.data_capture_config = config.get("DataCaptureConfig", {})
        endpoint.endpoint_status = "InService"
        endpoint.last_modified_time = utcnow()
        return ActionResult({"EndpointArn": endpoint.arn})

    SageMakerResponse.create_endpoint_config = create_endpoint_config_with_shadows  # type: ignore[method-assign]
    SageMakerResponse.update_endpoint = update_endpoint  # type: ignore[attr-defined]


def serve(host: str, port: int) -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    _extend_sagemaker()
    # One log line per request would bury the demo's log file; errors still show.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever to return, so it must not run on its thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _watch_parent(server.shutdown)
    print(f"{READY}http://{host}:{server.server_port}", flush=True)
    server.serve_forever()


def _watch_parent(shutdown: Any) -> None:
    """Stop when the starting process is gone, however it ended (even SIGKILL)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        shutdown()

    threading.Thread(target=watch, daemon=True).start()


class MotoServer:
    """``python -m demo.moto_server`` in a child process: started, asked for its URL, stopped.

    The log (the server's stdout and stderr) goes to ``log``. Stopping is registered with
    ``atexit`` as well, and the child stops by itself when this process dies, so no server
    outlives the demo.
    """

    def __init__(self, log: Path, *, account: str, host: str = "127.0.0.1") -> None:
        self.log = log
        self.account = account
        self.host = host
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> str:
        env = {**os.environ, "MOTO_ACCOUNT_ID": self.account, "PYTHONUNBUFFERED": "1"}
        with self.log.open("wb") as out:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "demo.moto_server", "--host", self.host, "--port", "0"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log.read_text(errors="replace").splitlines():
                if line.startswith(READY):
                    self.url = line[len(READY) :].strip()
                    return self.url
            if self._process.poll() is not None:
                raise ServerError(
                    f"the moto server exited with status {self._process.returncode}: {self._tail()}"
                )
            time.sleep(0.1)
        self.stop()
        raise ServerError(f"the moto server did not start within {timeout:.0f} s: {self._tail()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _tail(self) -> str:
        lines = self.log.read_text(errors="replace").strip().splitlines()
        return lines[-1] if lines else "no output"

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m demo.moto_server",
        description="A local moto server with SageMaker UpdateEndpoint and shadow variants.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    args = parser.parse_args(argv)
    serve(args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
