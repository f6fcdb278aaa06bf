"""Reading a stack's config: from a stack file or from Pulumi, validated into ``Settings``.

Every problem is collected before anything is raised: schema errors of each model on its own,
then the cross-field rules of whatever validated.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from infra.settings import rules
from infra.settings.defaults import with_defaults
from infra.settings.problems import Problems, SettingsError
from infra.settings.schema import (
    ENVIRONMENTS,
    PROJECT,
    SECRET,
    EnvironmentSettings,
    ModelSettings,
    Settings,
    SharedSettings,
)

# Namespaces a stack file may use besides the project's own. A key in any other namespace is
# almost always a typo of the project name, which would silently drop that setting.
FOREIGN_NAMESPACES = ("aws", "pulumi")

# Settings fields read from another namespace: problems name the key as the stack file does.
SETTING_KEYS = {"region": "aws:region"}


def read_stack_file(path: Path) -> dict[str, Any]:
    """The ``config:`` map of a Pulumi stack file, keys as written (``mlserve:models``)."""
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SettingsError([f"not valid YAML: {exc}".replace("\n", " ")], str(path)) from exc
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise SettingsError(["config: must be a mapping of keys to values"], str(path))
    return {key: _hide_secrets(value) for key, value in (document.get("config") or {}).items()}


def _hide_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET
        return {key: _hide_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_hide_secrets(item) for item in value]
    return value


def decode_runtime_config(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Pulumi hands structured config to programs as JSON strings; decode those."""
    decoded: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and value[:1] in ("{", "["):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass
        decoded[key] = value
    return decoded


def load_settings(config: Mapping[str, Any], stack: str, source: str | None = None) -> Settings:
    """Validate a stack's whole config and return typed settings, or raise ``SettingsError``.

    ``config`` maps full keys (``mlserve:models``, ``aws:region``) to decoded values.
    """
    problems = Problems()
    project: dict[str, Any] = {}
    for key, value in config.items():
        namespace, _, name = str(key).partition(":")
        if not name:
            problems.add(str(key), f"must be namespaced, e.g. {PROJECT}:{key}")
        elif namespace == PROJECT:
            project[name] = value
        elif namespace not in FOREIGN_NAMESPACES:
            problems.add(str(key), f"unknown namespace {namespace!r} (did you mean {PROJECT}:?)")

    environment = project.pop("environment", stack)
    if environment not in ENVIRONMENTS:
        problems.add(
            "environment", f"must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}"
        )
        raise SettingsError(problems.lines, source or f"stack {stack}")

    for name in SETTING_KEYS.keys() & project.keys():
        problems.add(name, f"unknown key (the setting is {SETTING_KEYS[name]})")
        del project[name]
    data: dict[str, Any] = {"environment": environment, **project}
    if "aws:region" in config:
        data["region"] = config["aws:region"]

    settings: Settings | None
    if environment == "shared":
        shared: SharedSettings | None = _validate(SharedSettings, data, problems)
        if shared is not None:
            rules.check_shared(shared, problems)
        settings = shared
    else:
        data["models"] = _validate_models(data.get("models"), environment, problems)
        env: EnvironmentSettings | None = _validate(EnvironmentSettings, data, problems)
        if env is not None:
            rules.check_environment(env, problems)
        settings = env

    if problems.lines or settings is None:
        raise SettingsError(problems.lines, source or f"stack {stack}")
    return settings


def load_stack_file(path: Path, stack: str | None = None) -> Settings:
    """Read and validate ``stacks/Pulumi.<stack>.yaml`` (or any file in that format)."""
    stack = stack or path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    return load_settings(read_stack_file(path), stack, source=str(path))


def _validate(
    schema: type[BaseModel], data: Any, problems: Problems, prefix: tuple[str, ...] = ()
) -> Any:
    """Validate ``data``; on failure record every error and return None.

    When the only errors are unknown keys, the value is validated again without them so that
    the cross-field checks still run: a typo must not hide the problems next to it.
    """
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        # A default derived from other fields is not computed when one of them is invalid;
        # that says nothing the other field's own error does not.
        errors = [e for e in exc.errors() if e["type"] != "default_factory_not_called"]
    for error in errors:
        loc = [str(part) for part in (*prefix, *error["loc"])]
        path = ".".join([SETTING_KEYS.get(loc[0], loc[0]), *loc[1:]] if loc else [])
        problems.add(path or "config", _message(error))
    if any(error["type"] != "extra_forbidden" for error in errors):
        return None
    pruned = copy.deepcopy(data)
    for error in errors:
        *parents, key = error["loc"]
        node = pruned
        for part in parents:
            node = node[part]
        node.pop(key, None)
    try:
        return schema.model_validate(pruned)
    except ValidationError:
        return None


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "is required"
    if kind in ("literal_error", "enum"):
        expected = error.get("ctx", {}).get("expected", "")
        return f"must be one of {expected}, got {error['input']!r}"
    message = str(error["msg"])
    return message[:1].lower() + message[1:]


def _validate_models(models: Any, environment: str, problems: Problems) -> Any:
    """Validate each model on its own, so one broken model does not hide another's problems."""
    models = with_defaults(models, environment)
    if not isinstance(models, Mapping):
        return models  # the schema reports the wrong type
    parsed = {}
    for name, model in models.items():
        value = _validate(ModelSettings, model, problems, prefix=("models", str(name)))
        if value is not None:
            parsed[name] = value
    return parsed
