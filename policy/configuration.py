"""A rule's config: the engine's (``args.get_config()``) and a stack's policy config file
(``policy/config/<stack>.json``, ``--policy-pack-config``), checked against each rule's settings
and reported by key path. ``check_policy_config`` is the one check of a whole config: the tests
run it on each file, and the pack on what the CLI passes to ``Configure`` (``policy/pack.py``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy.model import LEVELS, Level, Rule
from policy.properties import number
from policy.rules import RULES, RULES_BY_NAME


class PolicyConfigError(ValueError):
    """A policy config that does not fit the rules' schemas; the message names the key path."""


def _check_value(path: str, schema: Mapping[str, Any], value: Any) -> None:
    kind = schema["type"]
    if kind == "array":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PolicyConfigError(f"{path}: must be a list of strings, not {value!r}")
    elif kind == "integer":
        found = number(value)
        if found is None or not found.is_integer():
            raise PolicyConfigError(f"{path}: must be an integer, not {value!r}")
        if found < schema.get("minimum", found):
            raise PolicyConfigError(f"{path}: must be at least {schema['minimum']}, not {value!r}")
    elif kind == "boolean" and not isinstance(value, bool):
        raise PolicyConfigError(f"{path}: must be true or false, not {value!r}")


def settings(
    rule: Rule, given: Mapping[str, Any] | None, where: str = "policy config"
) -> dict[str, Any]:
    """The rule's config: ``given`` (the policy config's properties) over the defaults.

    Integers arrive as floats through the engine (protobuf Struct), and are turned back.
    """
    merged = rule.defaults()
    for key, value in (given or {}).items():
        if key == "enforcementLevel":
            continue
        path = f"{where}: {rule.name}.{key}"
        if key not in rule.settings:
            known = ", ".join(rule.settings) or "none"
            raise PolicyConfigError(f"{path}: unknown setting (settings: {known})")
        _check_value(path, rule.settings[key].schema, value)
        merged[key] = int(value) if rule.settings[key].schema["type"] == "integer" else value
    return merged


@dataclass(frozen=True)
class RuleConfig:
    level: Level
    settings: dict[str, Any]


def read_policy_config(path: Path) -> dict[str, RuleConfig]:
    """A stack's policy config file (``--policy-pack-config``), for every rule."""
    where = str(path)
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise PolicyConfigError(f"{where}: not a readable JSON document ({exc})") from exc
    return check_policy_config(document, where)


def check_policy_config(document: Any, where: str) -> dict[str, RuleConfig]:
    """A policy config, as a file holds it or as the CLI passes it to the pack, for every rule.

    The config maps a rule's name to its enforcement level, or to an object with
    ``enforcementLevel`` and settings, as the Pulumi CLI reads it. A stack may relax advisory
    rules and set any rule's settings; it may not lower a mandatory rule's level, name a rule
    the pack does not have, or give ``all`` one level (the CLI applies ``all`` to every rule:
    pulumi/pulumi, pkg/resource/analyzer/config.go, ``applyConfig``). ``where`` starts each
    message: the file, or the pack's config as the CLI passed it.
    """
    if not isinstance(document, dict):
        raise PolicyConfigError(f"{where}: must be a JSON object of rule names")
    if "all" in document:
        raise PolicyConfigError(
            f"{where}: all: one level for every rule is not accepted; name each advisory rule"
        )
    unknown = sorted(set(document) - set(RULES_BY_NAME))
    if unknown:
        raise PolicyConfigError(f"{where}: {unknown[0]}: no such rule")
    return {rule.name: _rule_config(rule, document.get(rule.name, {}), where) for rule in RULES}


def _rule_config(rule: Rule, entry: Any, where: str) -> RuleConfig:
    entry = {"enforcementLevel": entry} if isinstance(entry, str) else entry
    if not isinstance(entry, dict):
        raise PolicyConfigError(f"{where}: {rule.name}: must be a level or an object")
    level = entry.get("enforcementLevel", rule.enforcement)
    if level not in LEVELS:
        raise PolicyConfigError(
            f"{where}: {rule.name}.enforcementLevel: must be one of {', '.join(LEVELS)}"
        )
    if rule.enforcement == "mandatory" and level != "mandatory":
        raise PolicyConfigError(
            f"{where}: {rule.name}.enforcementLevel: the rule is mandatory; a stack's "
            "policy config may relax advisory rules only"
        )
    return RuleConfig(level, settings(rule, entry, where))


def config_schema(rule: Rule) -> dict[str, dict[str, Any]]:
    """The rule's settings as JSON schema properties, for ``PolicyConfigSchema``."""
    return {
        key: {**setting.schema, "default": setting.default, "description": setting.description}
        for key, setting in rule.settings.items()
    }
