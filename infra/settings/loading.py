"""Reading a stack's config: from a stack file or from Pulumi, validated into ``Settings``.

Every problem is collected before anything is raised: schema errors of each model on its own,
then the cross-field rules of whatever validated.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from infra.settings import rules
from infra.settings.defaults import with_defaults
from infra.settings.problems import Problems, SettingsError, describe, error_path, key_path
from infra.settings.schema import (
    ENVIRONMENTS,
    PROJECT,
    SECRET,
    EnvironmentSettings,
    ModelSettings,
    Settings,
    SharedSettings,
)
from infra.settings.yaml_loader import YamlError, load_yaml

# Namespaces a stack file may use besides the project's own. A key in any other namespace is
# almost always a typo of the project name, which would silently drop that setting.
FOREIGN_NAMESPACES = ("aws", "pulumi")

# Settings fields read from another namespace: problems name the key as the stack file does.
SETTING_KEYS = {"region": "aws:region"}


def read_stack_file(path: Path) -> dict[str, Any]:
    """The ``config:`` map of a Pulumi stack file, keys as written (``mlserve:models``).

    A key written twice is refused (YAML would keep the last one silently); a syntax error keeps
    its line with a caret under the place, on the lines after the problem's own.
    """
    try:
        document = load_yaml(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise SettingsError(
            [f"not UTF-8 text: {exc.reason} at byte {exc.start}"], str(path)
        ) from None
    except YamlError as exc:
        if exc.path is not None:
            problem = f"{config_key_path(exc.path)}: {exc.message}"
        else:
            problem = f"not valid YAML: {exc.message}"
        raise SettingsError(["\n".join([problem, *exc.snippet.splitlines()])], str(path)) from None
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise SettingsError(["config: must be a mapping of keys to values"], str(path))
    return {key: _hide_secrets(value) for key, value in (document.get("config") or {}).items()}


def config_key_path(path: Sequence[str | int]) -> str:
    """A path in a stack file as problems name it: project keys without their namespace."""
    if len(path) < 2 or path[0] != "config":
        return key_path(path)
    head = str(path[1])
    namespace, _, name = head.partition(":")
    return key_path([name if namespace == PROJECT and name else head, *path[2:]])


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
    project = _project_keys(config, problems)
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
        settings = _shared_settings(data, problems)
    else:
        settings = _environment_settings(data, environment, problems)
    if problems.lines or settings is None:
        raise SettingsError(problems.lines, source or f"stack {stack}")
    return settings


def _project_keys(config: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    """The project's own keys, without their namespace; a key of no known namespace is a
    problem."""
    project: dict[str, Any] = {}
    for key, value in config.items():
        namespace, _, name = str(key).partition(":")
        if not name:
            problems.add(str(key), f"must be namespaced, e.g. {PROJECT}:{key}")
        elif namespace == PROJECT:
            project[name] = value
        elif namespace not in FOREIGN_NAMESPACES:
            problems.add(str(key), f"unknown namespace {namespace!r} (did you mean {PROJECT}:?)")
    return project


def _shared_settings(data: dict[str, Any], problems: Problems) -> SharedSettings | None:
    shared: SharedSettings | None = _validate(SharedSettings, data, problems)
    if shared is not None:
        rules.check_shared(shared, problems)
    return shared


def _environment_settings(
    data: dict[str, Any], environment: str, problems: Problems
) -> EnvironmentSettings | None:
    models = with_defaults(data.get("models", {}), environment)
    parsed: dict[str, ModelSettings] = {}
    if isinstance(models, Mapping):
        # Each model is validated on its own, so one broken model does not hide another's
        # problems; the environment's own keys are validated without them.
        parsed = _validate_models(models, problems)
        data["models"] = {}
    env: EnvironmentSettings | None = _validate(EnvironmentSettings, data, problems)
    if env is not None and parsed:
        env = env.model_copy(update={"models": parsed})
    if env is not None:
        rules.check_environment(env, problems)
    return env


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
        return _strictly(schema, data)
    except ValidationError as exc:
        # A default derived from other fields is not computed when one of them is invalid;
        # that says nothing the other field's own error does not.
        errors = [e for e in exc.errors() if e["type"] != "default_factory_not_called"]
    for error in errors:
        loc: list[str | int] = [*prefix, *error_path(error)]
        if loc and isinstance(loc[0], str):
            loc[0] = SETTING_KEYS.get(loc[0], loc[0])
        message = describe(error, schema)
        if error["type"] == "extra_forbidden" and len(loc) == 1:
            # A top-level setting of another namespace is suggested as the file writes it.
            for name, setting in SETTING_KEYS.items():
                message = message.replace(f"(did you mean {name}?)", f"(did you mean {setting}?)")
        problems.add(loc or "config", message)
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
        return _strictly(schema, pruned)
    except ValidationError:
        return None


def _strictly(schema: type[BaseModel], data: Any) -> Any:
    """Validate as Pulumi hands config to the program, as JSON, and strictly: a number is a
    number. Lax validation would read a quoted ``'10'`` as 10 and ``true`` as 1, so a typo would
    deploy as something nobody wrote; in JSON, an enum is still written as its value.
    """
    return schema.model_validate_json(json.dumps(_plain(data), default=str), strict=True)


def _plain(value: Any) -> Any:
    """YAML's values as JSON has them: keys are strings (dates become strings on dumping)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _validate_models(models: Mapping[Any, Any], problems: Problems) -> dict[str, ModelSettings]:
    """Each model that validates; the others' problems are recorded."""
    parsed = {}
    for name, model in models.items():
        value = _validate(ModelSettings, model, problems, prefix=("models", str(name)))
        if value is not None:
            parsed[str(name)] = value
    return parsed
