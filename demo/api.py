"""A Pulumi resource's inputs, as the offline plan records them, turned into an AWS API request.

The pulumi-aws inputs are terraform-provider-aws's attributes in camelCase, and the provider
passes them to the API's members of the same name (``initialVariantWeight`` becomes
``InitialVariantWeight``). The request is built by walking botocore's shape of the operation's
input, so every member name, nesting and type is the API's own: a key is matched to the member
whose name is the same ignoring case (``memorySizeInMb`` is ``MemorySizeInMB``). A few
attributes are named differently from their member; the resource passes those in ``renamed``.
Anything that matches no member is an error, never dropped: a request that silently lost an
input would create something other than what the plan describes.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from infra.settings.limits import service_model


class RequestError(Exception):
    """An input that the operation's shape has no place for."""


@cache
def operation(service: str, name: str) -> OperationModel:
    return service_model(service).operation_model(name)


def request(
    service: str,
    name: str,
    inputs: Mapping[str, Any],
    *,
    renamed: Mapping[str, str] | None = None,
    **fixed: Any,
) -> dict[str, Any]:
    """The parameters of ``service``'s ``name`` operation for ``inputs``, plus ``fixed`` ones.

    ``renamed`` maps a top-level input to the member it fills; an input mapped to ``""`` is one
    the operation does not take (a physical name that goes elsewhere).
    """
    shape = operation(service, name).input_shape
    assert shape is not None
    renamed = dict(renamed or {})
    kept = {}
    for key, value in inputs.items():
        target = renamed.get(key, key)
        if target:
            kept[target] = value
    params = _structure(shape, kept, name)
    for member, value in fixed.items():
        if member not in shape.members:
            raise RequestError(f"{name}: {shape.name} has no member {member}")
        params[member] = value
    return params


def _structure(shape: StructureShape, inputs: Mapping[str, Any], path: str) -> dict[str, Any]:
    members = {member.lower(): member for member in shape.members}
    params: dict[str, Any] = {}
    for key, value in inputs.items():
        if value is None:
            continue
        member = members.get(key.lower())
        if member is None:
            raise RequestError(f"{path}.{key}: {shape.name} has no member of that name")
        params[member] = _value(shape.members[member], value, f"{path}.{key}")
    return params


def _value(shape: Shape, value: Any, path: str) -> Any:
    if isinstance(shape, StructureShape):
        if not isinstance(value, Mapping):
            raise RequestError(f"{path}: {shape.name} needs an object, got {value!r}")
        return _structure(shape, value, path)
    if isinstance(shape, ListShape):
        if isinstance(value, Mapping) and _is_tag(shape.member):
            # Pulumi's tags are a map; the API takes a list of {Key, Value}
            # (terraform-provider-aws internal/tags: KeyValueTags to the service's Tag list).
            return [{"Key": str(k), "Value": str(v)} for k, v in sorted(value.items())]
        if not isinstance(value, list | tuple):
            raise RequestError(f"{path}: {shape.name} needs a list, got {value!r}")
        return [_value(shape.member, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(shape, MapShape):
        if not isinstance(value, Mapping):
            raise RequestError(f"{path}: {shape.name} needs a map, got {value!r}")
        # Map keys are data (environment variable names, tag keys), never member names.
        return {str(k): _value(shape.value, v, f"{path}.{k}") for k, v in value.items()}
    if shape.type_name in ("integer", "long"):
        return int(value)
    if shape.type_name in ("float", "double"):
        return float(value)
    return value


def _is_tag(shape: Shape) -> bool:
    return isinstance(shape, StructureShape) and set(shape.members) == {"Key", "Value"}
