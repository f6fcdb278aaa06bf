"""Runs a model's inference code the way SageMaker's framework containers do.

The container imports ``code/<entry_point>`` and takes these handlers from it, falling back
to the scikit-learn container's defaults for any the script omits:

- ``model_fn(model_dir)`` once at start-up (no default: the container cannot guess a loader);
- per request ``input_fn(body, content_type)`` -> ``predict_fn(data, model)`` ->
  ``output_fn(prediction, accept)``, or a single ``transform_fn(model, body, content_type,
  accept)`` instead of those three;
- request bodies of type application/json and text/csv arrive as ``str``, others as bytes;
- a handler may take one extra trailing ``context`` argument (passed as None here);
- ``output_fn`` returns the body, or a ``(body, content_type)`` tuple.

verify runs this module in a fresh interpreter (``python -m model_packaging.artifact.container``) so
that nothing already imported by the tool can hide a missing import in the model's code;
serve uses :func:`load` in process.
"""

from __future__ import annotations

import base64
import csv
import importlib.util
import inspect
import io
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from model_packaging.artifact.paths import CODE_DIR

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
# The containers decode these to str before input_fn; everything else stays bytes.
UTF8_TYPES = (JSON, CSV)
# What the containers answer with when a request has no Accept (or */*), unless
# SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT says otherwise.
CONTAINER_DEFAULT_ACCEPT = JSON
CONTAINER_MODEL_DIR = "/opt/ml/model"
# How long verify and serve wait for the model to load. SageMaker's own limit is the production
# variant's ContainerStartupHealthCheckTimeoutInSeconds, 60..3600 s (API reference,
# ProductionVariant); five minutes covers what a local load of a deployable model takes.
DEFAULT_LOAD_TIMEOUT_SECONDS = 300.0
# "A customer's model containers must respond to requests within 60 seconds" (API reference,
# InvokeEndpoint): a sample slower than that would time out on the endpoint too.
DEFAULT_REQUEST_TIMEOUT_SECONDS = 60.0
# No wait is longer than SageMaker's longest: a start-up of at most 3600 s
# (ProductionVariantContainerStartupHealthCheckTimeoutInSeconds) and an invocation of at most
# 3600 s even when asynchronous (InvokeEndpointAsync's InvocationTimeoutSeconds), both in
# botocore's API models.
MAX_TIMEOUT_SECONDS = 3600.0


def serving_environment(entry_point: str, default_accept: str) -> dict[str, str]:
    """The environment the real container needs to find and run the inference code."""
    return {
        "SAGEMAKER_PROGRAM": entry_point,
        "SAGEMAKER_SUBMIT_DIRECTORY": f"{CONTAINER_MODEL_DIR}/{CODE_DIR}",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": default_accept,
    }


def local_environment(environment: dict[str, str], model_dir: Path) -> dict[str, str]:
    """The manifest's environment with container paths pointed at a local unpacked copy."""
    return {
        **environment,
        "SAGEMAKER_SUBMIT_DIRECTORY": str(model_dir / CODE_DIR),
        "SM_MODEL_DIR": str(model_dir),
    }


class UnsupportedMediaType(Exception):
    """A handler cannot read the request's type (HTTP 415) or write the accepted one (406)."""

    def __init__(self, media_type: str, direction: Literal["request", "response"]) -> None:
        super().__init__(f"unsupported {direction} media type {media_type!r}")
        self.media_type = media_type
        self.direction = direction


class HandlerError(Exception):
    """The model's code failed; the message names the handler and the exception."""


def timeout_problem(seconds: float) -> str | None:
    """Why ``seconds`` cannot be a load or request timeout, or None when it can."""
    if 0 < seconds <= MAX_TIMEOUT_SECONDS:
        return None
    return f"must be a number of seconds above 0 and at most {MAX_TIMEOUT_SECONDS:g}"


def load_timeout_message(entry_point: str, imported: bool, timeout: float) -> str:
    """What a load that ran out of time was doing, and how to allow it more."""
    stage = (
        "model_fn did not return"
        if imported
        else f"importing {CODE_DIR}/{entry_point} did not finish"
    )
    return (
        f"{stage} within {timeout:g} s (--load-timeout); the model was stopped."
        " If loading really takes longer, raise it with --load-timeout SECONDS"
    )


def request_timeout_message(timeout: float) -> str:
    return (
        f"no response within {timeout:g} s (--request-timeout; SageMaker allows 60 s);"
        " raise it with --request-timeout SECONDS"
    )


# The scikit-learn container's default handlers (sagemaker-scikit-learn-container, serving.py).


def default_model_fn(model_dir: str) -> Any:
    raise HandlerError(
        "model_fn is missing: the container has no default model loader; "
        f"define model_fn(model_dir) in {CODE_DIR}/<entry_point>"
    )


def default_input_fn(input_data: str | bytes, content_type: str) -> Any:
    array = _decode(input_data, content_type)
    return array.astype("float32") if content_type in UTF8_TYPES else array


def default_predict_fn(input_data: Any, model: Any) -> Any:
    return model.predict(input_data)


def default_output_fn(prediction: Any, accept: str) -> bytes | str:
    return _encode(prediction, accept)


def _decode(data: str | bytes, content_type: str) -> Any:
    import numpy as np

    if content_type == JSON:
        return np.array(json.loads(data))
    if content_type == CSV:
        text = data if isinstance(data, str) else data.decode("utf-8")
        rows = list(csv.reader(io.StringIO(text), delimiter=",", quotechar='"', strict=True))
        # squeeze() like the container: one CSV row becomes a 1-D array.
        return np.array(rows).squeeze()
    if content_type == NPY:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        return np.load(io.BytesIO(raw), allow_pickle=False)
    raise UnsupportedMediaType(content_type, "request")


def _encode(value: Any, accept: str) -> bytes | str:
    import numpy as np

    if accept == JSON:
        return json.dumps(value, default=lambda item: item.tolist())
    if accept == CSV:
        array = np.array(value)
        if array.ndim == 1:
            array = array.reshape(array.shape[0], 1)
        stream = io.StringIO()
        csv.writer(stream, lineterminator="\n").writerows(array.tolist())
        return stream.getvalue()
    if accept == NPY:
        buffer = io.BytesIO()
        np.save(buffer, value)
        return buffer.getvalue()
    raise UnsupportedMediaType(accept, "response")


def _call(name: str, func: Callable[..., Any], *args: Any) -> Any:
    """Call a handler, passing the optional trailing context argument if it takes one."""
    try:
        wanted = len(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        wanted = len(args)
    if wanted == len(args) + 1:
        args = (*args, None)
    elif wanted != len(args):
        raise HandlerError(f"{name} takes {wanted} arguments, the container passes {len(args)}")
    try:
        return func(*args)
    except (HandlerError, UnsupportedMediaType):
        raise
    except Exception as exc:
        raise HandlerError(f"{name} failed: {type(exc).__name__}: {exc}") from exc


class InferenceModel:
    """A loaded model and its handlers; :meth:`invoke` is one /invocations request."""

    def __init__(self, module: Any, model_dir: Path) -> None:
        self.transform_fn = getattr(module, "transform_fn", None)
        self.input_fn = getattr(module, "input_fn", None) or default_input_fn
        self.predict_fn = getattr(module, "predict_fn", None) or default_predict_fn
        self.output_fn = getattr(module, "output_fn", None) or default_output_fn
        overlapping = [n for n in ("input_fn", "predict_fn", "output_fn") if hasattr(module, n)]
        if self.transform_fn is not None and overlapping:
            raise HandlerError(
                f"transform_fn cannot be combined with {', '.join(overlapping)} (the container "
                "refuses this too)"
            )
        model_fn = getattr(module, "model_fn", None) or default_model_fn
        self.model = _call("model_fn", model_fn, str(model_dir))

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        """Run the handlers on one request; returns the response body and its media type."""
        data: str | bytes = body
        if content_type in UTF8_TYPES:
            try:
                data = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise HandlerError(f"request body is not UTF-8: {exc}") from None
        if self.transform_fn is not None:
            args = (self.model, data, content_type, accept)
            result = _call("transform_fn", self.transform_fn, *args)
        else:
            features = _call("input_fn", self.input_fn, data, content_type)
            prediction = _call("predict_fn", self.predict_fn, features, self.model)
            result = _call("output_fn", self.output_fn, prediction, accept)
        response_type = accept
        if isinstance(result, tuple) and len(result) == 2:
            result, response_type = result
        if isinstance(result, str):
            result = result.encode("utf-8")
        if not isinstance(result, bytes | bytearray):
            raise HandlerError(
                f"output_fn returned {type(result).__name__}; expected bytes, str or "
                "(body, content_type)"
            )
        return bytes(result), str(response_type)


def load(
    model_dir: Path, entry_point: str, on_imported: Callable[[], None] | None = None
) -> InferenceModel:
    """Import ``code/<entry_point>`` from an unpacked artifact and run its ``model_fn``.

    The code folder goes first on ``sys.path`` so the script can import its own helpers, as
    in the container. One model per process: a second load replaces the first module.
    ``on_imported`` is called between the import and ``model_fn``, so that whoever times the
    load can tell which of the two did not finish.
    """
    code_dir = model_dir / CODE_DIR
    module_name = entry_point.removesuffix(".py")
    if str(code_dir) not in sys.path:
        sys.path.insert(0, str(code_dir))
    spec = importlib.util.spec_from_file_location(module_name, code_dir / entry_point)
    if spec is None or spec.loader is None:
        raise HandlerError(f"{CODE_DIR}/{entry_point} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise HandlerError(
            f"importing {CODE_DIR}/{entry_point} failed: {type(exc).__name__}: {exc}"
        ) from exc
    if on_imported is not None:
        on_imported()
    return InferenceModel(module, model_dir)


Event = dict[str, Any]


def run_requests(
    model_dir: Path,
    entry_point: str,
    requests: list[dict[str, str]],
    emit: Callable[[Event], None],
) -> None:
    """Load the model and run each request, timing each one; errors are events, not raises.

    Events, in order: ``imported``; then ``loaded`` (with ``load_ms``) or ``load_error`` (with
    ``message``); then one ``result`` per request; then ``done``. They are emitted as they
    happen, so a watcher that stops waiting knows how far the model got.
    """
    started = time.perf_counter()
    try:
        model = load(model_dir, entry_point, lambda: emit({"event": "imported"}))
    except HandlerError as exc:
        emit({"event": "load_error", "message": str(exc)})
        return
    emit({"event": "loaded", "load_ms": (time.perf_counter() - started) * 1000})
    for request in requests:
        body = base64.b64decode(request["body_base64"])
        started = time.perf_counter()
        try:
            response, response_type = model.invoke(body, request["content_type"], request["accept"])
            result = {"body_base64": base64.b64encode(response).decode(), "error": None}
        except (HandlerError, UnsupportedMediaType) as exc:
            result = {"body_base64": None, "error": str(exc)}
            response_type = None
        latency_ms = (time.perf_counter() - started) * 1000
        emit(
            {
                "event": "result",
                **result,
                "name": request["name"],
                "content_type": response_type,
                "ms": latency_ms,
            }
        )
    emit({"event": "done"})


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m model_packaging.artifact.container DIR ENTRY_POINT REQUESTS.json EVENTS_FD``

    Events go as JSON lines to the inherited file descriptor EVENTS_FD, not to stdout, so
    whatever the model's code prints cannot corrupt them.
    """
    model_dir, entry_point, requests_path, events_fd = argv or sys.argv[1:]
    requests = json.loads(Path(requests_path).read_text(encoding="utf-8"))
    with open(int(events_fd), "wb", buffering=0) as events:

        def emit(event: Event) -> None:
            events.write(json.dumps(event).encode("utf-8") + b"\n")

        run_requests(Path(model_dir), entry_point, requests, emit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
