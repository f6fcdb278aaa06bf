"""The rules of ``policy.rules`` as ``pulumi_policy`` policies.

Building the policies starts nothing; ``policy/__main__.py`` hands them to ``PolicyPack``,
which serves them to the CLI. The wrappers turn what the engine passes into what the rules
take: plain dicts and lists, with every value not known during a preview as ``UNKNOWN``
(``pulumi_policy`` wraps properties in proxies that raise ``UnknownValueError`` when such a
value is read).

The server ``PolicyPack`` starts applies whatever enforcement level the CLI's config gives a
policy, ``disabled`` included; ``ConfigCheckingServicer`` refuses, in ``Configure``, a config
that lowers a mandatory rule, and the CLI stops before it analyzes anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import grpc
import pulumi_policy.policy
from google.protobuf import empty_pb2, json_format
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from policy.configuration import PolicyConfigError, check_policy_config, config_schema, settings
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


# How a refused config is named: the CLI passes the pack its config, not the file's path.
ENGINE_CONFIG = "policy pack config (--policy-pack-config)"


def engine_config(request: analyzer_pb2.ConfigureAnalyzerRequest) -> dict[str, Any]:
    """The config the CLI passes to ``Configure`` as a policy config file holds it.

    The CLI sends every policy of the pack, its level and settings filled in from the pack's
    defaults, then any ``all`` level and every key of the file, known rule or not, each with its
    level (pulumi/pulumi, pkg/resource/analyzer/config.go, ``ReconcilePolicyPackConfig`` and
    ``applyConfig``; pkg/engine/update.go, ``installAndLoadPolicyPlugins``). The level is the
    proto ``EnforcementLevel`` (pulumi/pulumi, proto/pulumi/analyzer.proto), whose names are the
    file's levels in capitals; settings come as a protobuf ``Struct``, numbers as floats.
    """
    return {
        name: {
            **json_format.MessageToDict(config.properties),
            "enforcementLevel": analyzer_pb2.EnforcementLevel.Name(config.enforcementLevel).lower(),
        }
        for name, config in request.policyConfig.items()
    }


class ConfigCheckingServicer(pulumi_policy.policy._PolicyAnalyzerServicer):
    """pulumi_policy's analyzer server, which first checks the config the CLI passes.

    A config ``check_policy_config`` refuses (a mandatory rule lowered, ``all``, a rule the pack
    does not have) ends ``Configure`` with ``INVALID_ARGUMENT`` and the message naming the key;
    the CLI then fails the preview (``configuring policy pack ...``) and keeps no config.
    """

    def Configure(self, request: Any, context: Any) -> empty_pb2.Empty:
        try:
            check_policy_config(engine_config(request), ENGINE_CONFIG)
        except PolicyConfigError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise  # abort raises; never apply a refused config
        result: empty_pb2.Empty = super().Configure(request, context)  # type: ignore[no-untyped-call]
        return result


def check_config_on_configure() -> None:
    """Have the ``PolicyPack`` constructed next serve ``ConfigCheckingServicer``.

    ``PolicyPack.__init__`` builds its server's servicer from the module's
    ``_PolicyAnalyzerServicer`` (pulumi_policy/policy.py) and offers no other way to change it;
    if a later pulumi_policy builds it otherwise, the pack refuses to start rather than run
    without the check.
    """
    if "_PolicyAnalyzerServicer" not in PolicyPack.__init__.__code__.co_names:
        raise RuntimeError(
            "pulumi_policy.PolicyPack no longer builds _PolicyAnalyzerServicer; the policy "
            "config check cannot be installed"
        )
    pulumi_policy.policy._PolicyAnalyzerServicer = ConfigCheckingServicer  # type: ignore[misc]
