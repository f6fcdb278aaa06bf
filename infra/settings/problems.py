"""How problems in a config are collected and reported: all at once, by key path.

A key path is written the way ``pulumi config set --path`` takes one: dots between keys,
brackets around list indexes (``alerts.subscriptions[0].endpoint``). The release tool names the
keys of ``model.yaml`` the same way, and words pydantic's errors with ``describe``.
"""

from __future__ import annotations

import difflib
import functools
import re
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

KeyPath = Sequence[str | int]

# A key that would read as several keys, as an index or as two words is quoted, ["a.b"], as
# Pulumi's property paths allow any key to be (pulumi/pulumi
# sdk/go/common/resource/properties_path.go, ParsePropertyPath).
_PLAIN_KEY = re.compile(r'^[^.\[\]"\s]+$')
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_SHOULD = re.compile(r"^(Input|String|Value|List|Dictionary|Object|Tuple) should ")
# pydantic's last part of the location of an error in a mapping's key.
KEY_MARK = "[key]"


class SettingsError(Exception):
    """A stack config has problems; ``problems`` holds one ``"path: message"`` per problem.

    A problem is one line, but for one the YAML loader finds (a syntax error, a key written
    twice), whose next lines show the line of the file with a caret under the place.
    """

    def __init__(self, problems: list[str], source: str = "stack config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(
            f"{source} has {len(problems)} problem(s):\n" + "\n".join(f"  {p}" for p in problems)
        )


class Problems:
    """Problems found so far, each as ``key.path: message``, in the order they were found.

    A path may be given as its parts, or as text with dots only (``alerts.subscriptions.0``),
    whose numeric parts under a list of the schema are written as indexes.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, path: str | KeyPath, message: str) -> None:
        text = key_path(path) if not isinstance(path, str) else _bracket_indexes(path)
        self.lines.append(f"{text}: {message}")


def key_path(parts: Iterable[str | int]) -> str:
    """``("alerts", "subscriptions", 0, "endpoint")`` -> ``alerts.subscriptions[0].endpoint``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not _PLAIN_KEY.match(part):
            quoted = part.replace('"', '\\"')  # the only escape the path parser reads
            text += f'["{quoted}"]'
        else:
            text += f".{part}" if text else part
    return text


def _bracket_indexes(path: str) -> str:
    parts: list[str | int] = []
    for part in path.split("."):
        after_list = bool(parts) and isinstance(parts[-1], str) and parts[-1] in _list_keys()
        parts.append(int(part) if part.isdigit() and after_list else part)
    return key_path(parts)


@functools.cache
def _list_keys() -> frozenset[str]:
    """The keys of any stack section whose values are lists: their items are named by index."""
    from infra.settings.schema import EnvironmentSettings, SharedSettings

    keys: set[str] = set()
    pending: list[Any] = [EnvironmentSettings, SharedSettings]
    seen: set[Any] = set()
    while pending:
        model = _model_in(pending.pop())
        if model is None or model in seen:
            continue
        seen.add(model)
        for name, field in _fields(model).items():
            for option in _options(field.annotation):
                if get_origin(option) is list:
                    keys.add(name)
                pending.extend([option, *get_args(option)])
    return frozenset(keys)


def did_you_mean(key: str, allowed: Iterable[str]) -> str:
    """`` (did you mean X?)`` for the allowed key closest to ``key``, or nothing."""
    match = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
    return f" (did you mean {match[0]}?)" if match else ""


def allowed_keys(model: type[BaseModel], at: KeyPath) -> list[str]:
    """The keys a mapping at ``at`` (a path inside ``model``) may have; none when it is free."""
    node: Any = model
    for part in at:
        node = _step(node, part)
        if node is None:
            return []
    model_type = _model_in(node)
    if model_type is None:
        return []
    return [field.alias or name for name, field in _fields(model_type).items()]


def _step(node: Any, part: str | int) -> Any:
    for option in _options(node):
        origin = get_origin(option)
        if isinstance(part, int) and origin in (list, tuple):
            return get_args(option)[0]
        if isinstance(part, str) and origin is dict:
            return get_args(option)[1]
        if isinstance(part, str) and isinstance(option, type) and issubclass(option, BaseModel):
            for name, field in _fields(option).items():
                if part in (name, field.alias):
                    return field.annotation
    return None


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    # A model whose annotations name a model declared further down is completed on first use;
    # until then its fields' annotations are unresolved names.
    if not model.__pydantic_complete__:
        model.model_rebuild()
    return dict(model.model_fields)


def _model_in(node: Any) -> type[BaseModel] | None:
    for option in _options(node):
        if isinstance(option, type) and issubclass(option, BaseModel):
            return option
    return None


def _options(node: Any) -> list[Any]:
    """The types a value at ``node`` may have: unions and ``Annotated`` unwrapped."""
    origin = get_origin(node)
    if origin is Annotated:
        return _options(get_args(node)[0])
    if origin in (Union, types.UnionType):
        return [option for arg in get_args(node) for option in _options(arg)]
    return [node]


# --- pydantic's errors, in this project's words -----------------------------------------------


def describe(error: Any, model: type[BaseModel] | None = None) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) as a message for people.

    With the ``model`` validated, an unknown key gets the closest allowed one as a suggestion.
    Never names a class of the schema: people know keys, not ``ModelSettings``.
    """
    kind, value = error["type"], error.get("input")
    loc = tuple(error["loc"])
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else ""
        allowed = allowed_keys(model, loc[:-1]) if model is not None else []
        return "unknown key" + did_you_mean(key, allowed)
    message = _type_message(kind, value) or _constraint_message(kind, value, error.get("ctx") or {})
    if message is not None:
        return message
    message = _SHOULD.sub("must ", str(error["msg"]).removeprefix("Value error, "))
    if "instance of" in message:
        message = f"is not valid here: {_kind(value)}"
    if loc and loc[-1] == KEY_MARK:
        return f"is not a valid key: {message}"
    return message[:1].lower() + message[1:]


def _type_message(kind: str, value: Any) -> str | None:
    """The message for a value that is missing or of the wrong type; None for other errors."""
    if kind == "missing":
        return "is required"
    if kind in ("model_type", "model_attributes_type", "dict_type", "dataclass_type"):
        return f"must be a mapping of keys to values, not {_kind(value)}"
    if kind in ("list_type", "tuple_type", "set_type"):
        return f"must be a list, not {_kind(value)}"
    if kind in ("int_type", "int_parsing", "int_from_float", "float_type", "float_parsing"):
        return _number_message(value, whole=kind.startswith("int"))
    if kind in ("bool_type", "bool_parsing"):
        return _bool_message(value)
    if kind == "string_type":
        if isinstance(value, bool | int | float):
            kind_of = "a boolean" if isinstance(value, bool) else "a number"
            return f"must be a string, not {kind_of} (quote it in YAML: '{_yaml(value)}')"
        return f"must be a string, not {_kind(value)}"
    return None


def _constraint_message(kind: str, value: Any, ctx: Mapping[str, Any]) -> str | None:
    """The message for a value outside its choices or lengths; None for other errors."""
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", ""))
        message = f"must be one of {expected}, got {_shown(value)}"
        if isinstance(value, str) and _NUMBER.fullmatch(value):
            return f"{message}, a string; write it without quotes"
        if isinstance(value, str):
            message += did_you_mean(value, re.findall(r"'([^']*)'", expected))
        return message
    if kind in ("too_short", "list_too_short"):
        return f"must have at least {ctx.get('min_length', 1)} item(s)"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    return None


def error_path(error: Any) -> list[str | int]:
    """Where a pydantic error is: for a mapping's key, the key (not pydantic's marker)."""
    loc = list(error["loc"])
    return loc[:-1] if loc and loc[-1] == KEY_MARK else loc


def _number_message(value: Any, whole: bool) -> str:
    number = "a whole number" if whole else "a number"
    if isinstance(value, str):
        return f"must be {number}, not a string ({value!r}); write it without quotes"
    if isinstance(value, bool):
        return f"must be {number}, not a boolean ({_yaml(value)})"
    if isinstance(value, float):
        return f"must be {number}, got {value!r}"
    return f"must be {number}, not {_kind(value)}"


def _bool_message(value: Any) -> str:
    if isinstance(value, str):
        return f"must be true or false, not a string ({value!r}); write it without quotes"
    return f"must be true or false, not {_kind(value)}"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({_yaml(value)})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "a value of another type"


def _shown(value: Any) -> str:
    return _yaml(value) if isinstance(value, bool) or value is None else repr(value)


def _yaml(value: Any) -> str:
    """A scalar as YAML writes it (``true``, not ``True``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
