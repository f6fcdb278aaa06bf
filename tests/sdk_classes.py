"""The provider SDK class behind a Pulumi type token, for tests that hold a table of the project
against the installed pulumi_aws and pulumi_random."""

from __future__ import annotations

import importlib
import inspect
import keyword
from collections.abc import Callable
from typing import Any

SDKS = {"aws": "pulumi_aws", "random": "pulumi_random"}


def sdk_class(type_token: str) -> type:
    """The class that registers a type token: ``aws:sagemaker/endpoint:Endpoint`` is
    ``pulumi_aws.sagemaker.Endpoint``, ``random:index/randomId:RandomId`` is
    ``pulumi_random.RandomId``."""
    package, module_path, name = type_token.split(":")
    module = module_path.split("/")[0]
    # The SDK's module for a Python keyword has a trailing underscore (pulumi_aws.lambda_).
    module += "_" if keyword.iskeyword(module) else ""
    sdk = SDKS[package]
    imported = importlib.import_module(sdk if module == "index" else f"{sdk}.{module}")
    cls = getattr(imported, name, None)
    assert isinstance(cls, type), f"no {sdk} class for {type_token}"
    return cls


def internal_init(cls: type) -> Callable[..., Any]:
    """A generated resource class's ``_internal_init``: its ``__init__`` is overloaded over
    ``*args, **kwargs``, while this one names every input and passes the type token on to the
    resource constructor."""
    init: Callable[..., Any] = inspect.getattr_static(cls, "_internal_init")
    return init


def input_names(cls: type) -> set[str]:
    """The Python names of a resource class's inputs (``tags``, ``deployment_config``)."""
    return set(inspect.signature(internal_init(cls)).parameters)
