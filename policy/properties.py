"""Reading the engine's properties: nested values, lists, numbers, policy documents and KMS keys,
each with values a preview does not know yet (``UNKNOWN``) kept apart from absent ones."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from policy.model import UNKNOWN


def known(value: Any) -> bool:
    return value is not UNKNOWN


def as_list(value: Any) -> list[Any]:
    """A list property as a list: a single value as one element, absent or unknown as none."""
    if value is None or value is UNKNOWN:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def value_at(value: Any, *path: str) -> Any:
    """``value[path[0]][path[1]]...``; None where a level is missing, UNKNOWN where unknown."""
    for key in path:
        if value is UNKNOWN:
            return UNKNOWN
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def tag(props: Mapping[str, Any], key: str) -> Any:
    return value_at(props, "tags", key)


def customer_key(value: Any, what: str) -> list[str]:
    """A problem unless ``value`` names a customer managed KMS key (or is not known yet).

    AWS managed keys are the ``alias/aws/<service>`` aliases (KMS developer guide, "AWS managed
    keys"); a customer's own aliases cannot start with ``alias/aws/`` (CreateAlias, botocore
    ``kms`` AliasName documentation).
    """
    if value is UNKNOWN:
        return []
    if not isinstance(value, str) or not value:
        return [f"{what} has no KMS key: name a customer managed key"]
    if value.startswith("alias/aws/") or ":alias/aws/" in value:
        return [f"{what} uses the AWS managed key {value}, not a customer managed key"]
    return []


def serverless_only(props: Mapping[str, Any]) -> bool:
    """Whether every variant of an endpoint configuration is serverless."""
    variants = as_list(props.get("productionVariants")) + as_list(
        props.get("shadowProductionVariants")
    )
    return bool(variants) and all(value_at(v, "serverlessConfig") for v in variants)


# --- policy documents -----------------------------------------------------------------------


def document(value: Any) -> Any:
    """A policy document: parsed when a JSON string, UNKNOWN when not known, None when absent."""
    if value is None or value is UNKNOWN or isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        # A string that is no JSON document is refused by the provider before AWS sees it.
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, Mapping) else None
    return None


def statements(document: Any) -> list[Mapping[str, Any]]:
    if not isinstance(document, Mapping):
        return []
    return [s for s in as_list(document.get("Statement")) if isinstance(s, Mapping)]


def sid(statement: Mapping[str, Any], index: int) -> str:
    """How a message names a statement: its Sid, else its position."""
    found = statement.get("Sid")
    return f"statement {found}" if isinstance(found, str) and found else f"statement {index}"


def principals(statement: Mapping[str, Any]) -> list[Any]:
    principal = statement.get("Principal")
    if isinstance(principal, Mapping):
        return [p for value in principal.values() for p in as_list(value)]
    return as_list(principal)
