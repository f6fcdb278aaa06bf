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

moto's InvokeEndpoint answers with canned results. Here the demo's endpoints answer from their
real models instead, as SageMaker routes a request (botocore's sagemaker-runtime model,
InvokeEndpointInput): to the production variant ``TargetVariant`` names, or else to one drawn by
the variants' weights; through the variant's Model to its model data (the container's
``ModelDataUrl``, or its registry version's); to a local ``python -m model_packaging serve`` of
that artifact (:mod:`demo.serving`, started when an endpoint is created or updated onto it). The
answer comes back with its Content-Type and ``x-Amzn-Invoked-Production-Variant``; an error of the
model as a ``ModelError`` (HTTP 424) with ``OriginalStatusCode`` and ``OriginalMessage``; an
endpoint or variant that does not exist as a ``ValidationError``. Shadow variants get no copies
of the requests here: nothing in the demo reads their answers.

moto 5 lists the default Service Quotas of vpc only; here ListServiceQuotas and
ListAWSDefaultServiceQuotas also answer for sagemaker, with the SAMPLE endpoint-usage quotas of
``DEMO_QUOTAS``, for the demo's quota check.
"""

from __future__ import annotations

import argparse
import atexit
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from demo.serving import ServeError, Serves, forward

ROOT = Path(__file__).resolve().parent.parent
READY = "listening on "
# moto's account when MOTO_ACCOUNT_ID is not set.
DEFAULT_ACCOUNT = "123456789012"


# SAMPLE Service Quotas of the demo's account for endpoint usage (service code sagemaker, quota
# "<type> for endpoint usage"), invented for the demo: the applied values, and the defaults of
# the types without one. staging's update peak fits; prod's ml.c5.xlarge does not.
DEMO_QUOTAS = {
    "applied": {"ml.m5.xlarge": 20, "ml.c5.xlarge": 8},
    "default": {
        "ml.t2.medium": 2,
        "ml.m5.large": 6,
        "ml.c5.large": 4,
        "ml.m5.xlarge": 2,
        "ml.c5.xlarge": 2,
    },
}


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


def _extend_runtime(serves: Serves) -> None:
    """InvokeEndpoint answered by the endpoints' models (module docstring), in this process."""
    from moto.core.exceptions import JsonRESTError
    from moto.sagemaker.models import sagemaker_backends
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    def invoke_endpoint(self: Any) -> Any:
        # The endpoint is the path's: /endpoints/<EndpointName>/invocations.
        name = self.path.split("/")[2]
        backend = sagemaker_backends[self.current_account][self.region]
        endpoint = backend.endpoints.get(name)
        if endpoint is None:
            raise JsonRESTError(
                "ValidationError", f"Endpoint {name} of account {self.current_account} not found."
            )
        variants = backend.endpoint_configs[endpoint.endpoint_config_name].production_variants
        target = self.headers.get("X-Amzn-SageMaker-Target-Variant")
        if target:
            chosen = next((v for v in variants if v["VariantName"] == target), None)
            if chosen is None:
                raise JsonRESTError(
                    "ValidationError",
                    f"The variant {target} is not a production variant of endpoint {name}.",
                )
        else:
            weights = [float(v.get("InitialVariantWeight", 1.0)) for v in variants]
            chosen = random.choices(variants, weights=weights)[0]
        try:
            url = serves.url(_model_data(backend, chosen["ModelName"]))
        except (ServeError, KeyError) as exc:
            raise JsonRESTError("ValidationError", f"{name}: {exc}") from exc
        status, body, kind = forward(
            url,
            self.raw_body or b"",
            self.headers.get("Content-Type", ""),
            self.headers.get("Accept", ""),
        )
        if status != 200:
            text = body.decode("utf-8", "replace").strip()
            error = JsonRESTError(
                "ModelError", f'Received client error ({status}) from primary with message "{text}"'
            )
            error.code = 424
            error.description = json.dumps(
                {
                    "__type": "ModelError",
                    "message": error.message,
                    "OriginalStatusCode": status,
                    "OriginalMessage": text,
                }
            )
            raise error
        headers = {"Content-Type": kind, "x-Amzn-Invoked-Production-Variant": chosen["VariantName"]}
        return 200, headers, body

    SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint  # type: ignore[method-assign]


def _extend_service_quotas() -> None:
    """Service Quotas' ListServiceQuotas and ListAWSDefaultServiceQuotas for SageMaker, with
    DEMO_QUOTAS (moto 5 lists the default quotas of vpc only), in the shape botocore's
    service-quotas model gives (ServiceQuota: QuotaName, QuotaCode, Value, Adjustable...)."""
    from moto.servicequotas.responses import ServiceQuotasResponse

    listed_defaults = ServiceQuotasResponse.list_aws_default_service_quotas

    def quotas(self: Any, which: str) -> str:
        values = DEMO_QUOTAS[which]
        found = [
            {
                "ServiceCode": "sagemaker",
                "ServiceName": "Amazon SageMaker",
                "QuotaCode": f"L-DEMO-{instance_type.removeprefix('ml.').upper()}",
                "QuotaName": f"{instance_type} for endpoint usage",
                "Value": float(value),
                "Unit": "None",
                "Adjustable": True,
                "GlobalQuota": False,
            }
            for instance_type, value in sorted(values.items())
        ]
        return json.dumps({"Quotas": found})

    def list_service_quotas(self: Any) -> str:
        return quotas(self, "applied")

    def list_aws_default_service_quotas(self: Any) -> Any:
        if json.loads(self.body).get("ServiceCode") == "sagemaker":
            return quotas(self, "default")
        return listed_defaults(self)

    ServiceQuotasResponse.list_service_quotas = list_service_quotas  # type: ignore[attr-defined]
    ServiceQuotasResponse.list_aws_default_service_quotas = list_aws_default_service_quotas  # type: ignore[method-assign]


def _model_data(backend: Any, model_name: str) -> str:
    """The model data a SageMaker Model deploys: its container's ModelDataUrl, or its registry
    version's (ModelDataUrl, or the S3Uri of ModelDataSource for an uncompressed build)."""
    model = backend._models[model_name]
    container: dict[str, Any] = model.primary_container or next(iter(model.containers), {})
    package = container.get("ModelPackageName")
    if package:
        spec = backend.describe_model_package(package).inference_specification
        container = spec["Containers"][0]
    url = container.get("ModelDataUrl") or (
        container.get("ModelDataSource", {}).get("S3DataSource", {}).get("S3Uri")
    )
    if not url:
        raise KeyError(f"model {model_name} names no model data")
    return str(url)


def _serve_endpoints(serves: Serves) -> None:
    """Start the serves of an endpoint's production variants when it is created or updated, and
    answer once they are ready: SageMaker has the endpoint InService once its containers answer
    (moto's endpoints are InService at once), so a request never waits for a model to load."""
    from moto.sagemaker.models import sagemaker_backends
    from moto.sagemaker.responses import SageMakerResponse

    def preparing(action: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def run(self: Any) -> Any:
            result = action(self)
            backend = sagemaker_backends[self.current_account][self.region]
            endpoint = backend.endpoints.get(self._get_param("EndpointName"))
            if endpoint is None:
                return result
            config = backend.endpoint_configs[endpoint.endpoint_config_name]
            urls = []
            for variant in config.production_variants:
                try:
                    urls.append(_model_data(backend, variant["ModelName"]))
                except KeyError as exc:
                    logging.getLogger(__name__).warning("not served: %s", exc)
            try:
                for url in urls:
                    serves.prepare(url)
                for url in urls:
                    serves.url(url)
            except ServeError as exc:
                # The endpoint's requests will say so; the update itself went through.
                logging.getLogger(__name__).warning("not served: %s", exc)
            return result

        return run

    SageMakerResponse.create_endpoint = preparing(SageMakerResponse.create_endpoint)  # type: ignore[method-assign,assignment]
    SageMakerResponse.update_endpoint = preparing(SageMakerResponse.update_endpoint)  # type: ignore[attr-defined]


def serve(host: str, port: int, serve_folder: Path | None = None) -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from moto.s3.models import s3_backends
    from werkzeug.serving import make_server

    account = os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT)

    def read_object(bucket: str, key: str) -> bytes | None:
        try:
            found = s3_backends[account]["aws"].get_object(bucket, key)
        except Exception:  # moto's MissingBucket and the like: no such object
            return None
        return None if found is None else bytes(found.value)

    folder = serve_folder or Path(tempfile.mkdtemp(prefix="demo-serves-"))
    serves = Serves(folder, read_object)
    _extend_sagemaker()
    _extend_service_quotas()
    _extend_runtime(serves)
    _serve_endpoints(serves)
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
    try:
        server.serve_forever()
    finally:
        serves.stop()
        if serve_folder is None:
            shutil.rmtree(folder, ignore_errors=True)


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

    def __init__(
        self, log: Path, *, account: str, host: str = "127.0.0.1", serves: Path | None = None
    ) -> None:
        self.log = log
        self.account = account
        self.host = host
        self.serves = serves
        """Where the server copies the artifacts its endpoints serve (default: a folder of its
        own, removed when it stops)."""
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> str:
        env = {**os.environ, "MOTO_ACCOUNT_ID": self.account, "PYTHONUNBUFFERED": "1"}
        with self.log.open("wb") as out:
            command = [sys.executable, "-m", "demo.moto_server", "--host", self.host]
            command += ["--port", "0"]
            if self.serves is not None:
                command += ["--serves", str(self.serves)]
            self._process = subprocess.Popen(
                command,
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
        description="A local moto server with SageMaker UpdateEndpoint and shadow variants, whose"
        " endpoints answer InvokeEndpoint from local serves of their artifacts.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    parser.add_argument(
        "--serves",
        type=Path,
        default=None,
        metavar="DIR",
        help="where to copy the artifacts the endpoints serve (default: a temporary folder)",
    )
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.serves)
    return 0


if __name__ == "__main__":
    sys.exit(main())
