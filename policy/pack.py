"""The rules of ``policy.rules`` as ``pulumi_policy`` policies.

Building the policies starts nothing; ``policy/__main__.py`` hands them to ``PolicyPack``,
which serves them to the CLI. The wrappers turn what the engine passes into what the rules
take: plain dicts and lists, with every value not known during a preview as ``UNKNOWN``
(``pulumi_policy`` wraps properties in proxies that raise ``UnknownValueError`` when such a
value is read).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from policy.configuration import config_schema, settings
from policy.model import UNKNOWN, Resource, Rule
from policy.rules import RULES

PACK_NAME = "mlserve"

_LEVELS = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}


def plain(value: Any) -> Any:
    """Engine properties as plain data; a value not known yet becomes ``UNKNOWN``."""
    if isinstance(value, Mapping):
        result = {}
        for key in value:
            try:
                result[key] = plain(value[key])
            except UnknownValueError:
                result[key] = UNKNOWN
        return result
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def _resource_policy(rule: Rule) -> ResourceValidationPolicy:
    check = rule.resource_check
    assert check is not None

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        config = settings(rule, args.get_config())
        for message in check(args.resource_type, plain(args.props), config):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=_LEVELS[rule.enforcement],
        config_schema=_schema(rule),
    )


def _stack_policy(rule: Rule) -> StackValidationPolicy:
    check = rule.stack_check
    assert check is not None

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        config = settings(rule, args.get_config())
        resources = [
            Resource(
                r.resource_type,
                plain(r.props),
                r.urn,
                tuple(dependency.urn for dependency in r.dependencies),
            )
            for r in args.resources
        ]
        for violation in check(resources, config):
            report_violation(violation.message, violation.urn)

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=_LEVELS[rule.enforcement],
        config_schema=_schema(rule),
    )


def _schema(rule: Rule) -> PolicyConfigSchema | None:
    return PolicyConfigSchema(config_schema(rule)) if rule.settings else None


def policies() -> list[Policy]:
    """One policy per rule, in the rules' order."""
    return [
        _stack_policy(rule) if rule.stack_check is not None else _resource_policy(rule)
        for rule in RULES
    ]
