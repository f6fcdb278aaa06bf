"""Lambda functions and their schedules: logs that expire, dead letters that are encrypted, and
roles that name every action they may take."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from infra.resource_types import LAMBDA_FUNCTION, LOG_GROUP, QUEUE, ROLE, ROLE_POLICY, SCHEDULE
from policy.model import UNKNOWN, Resource, Violation, stack_rule
from policy.properties import (
    as_list,
    customer_key,
    document,
    known,
    number,
    sid,
    statements,
    value_at,
)

# Services whose roles run the drift engine: the function's and its schedule's.
FUNCTION_SERVICES = frozenset({"lambda.amazonaws.com", "scheduler.amazonaws.com"})


def _depends(resource: Resource, on: Resource) -> bool:
    return on.urn in resource.dependencies


def _log_groups(resources: Sequence[Resource], function: Resource) -> list[Resource]:
    """The log groups that hold ``function``'s logs: the one its loggingConfig names, or else
    ``/aws/lambda/<name>``, where Lambda writes by default (Lambda developer guide, "Sending
    Lambda function logs to CloudWatch Logs"). A group whose name is not known yet counts when it
    is derived from the function (it depends on it)."""
    named = value_at(function.props, "loggingConfig", "logGroup")
    name = function.props.get("name")
    expected = named if isinstance(named, str) and named else None
    if expected is None and isinstance(name, str) and name:
        expected = f"/aws/lambda/{name}"
    return [
        group
        for group in resources
        if group.type == LOG_GROUP
        and (
            (expected is not None and group.props.get("name") == expected)
            or _depends(group, function)
        )
    ]


@stack_rule(
    "function-log-retention",
    "Every Lambda function has a log group of its own in the stack that expires its events "
    "(otherwise Lambda creates /aws/lambda/<name> on the first run, kept forever and "
    "unencrypted).",
    "mandatory",
    "MLOPS06-BP02 Enable model observability and tracking",
)
def function_log_retention(
    resources: Sequence[Resource], config: Mapping[str, Any]
) -> list[Violation]:
    violations = []
    for function in resources:
        if function.type != LAMBDA_FUNCTION:
            continue
        groups = _log_groups(resources, function)
        if not groups:
            violations.append(
                Violation(
                    function.urn,
                    "function has no log group in the stack: create /aws/lambda/<name> (or the "
                    "group loggingConfig.logGroup names) with retentionInDays",
                )
            )
            continue
        for group in groups:
            days = group.props.get("retentionInDays")
            if known(days) and not (number(days) or 0) > 0:
                violations.append(
                    Violation(function.urn, "function's log group keeps its events forever")
                )
    return violations


def _dead_letter_queues(resources: Sequence[Resource], schedule: Resource) -> list[Resource]:
    """The queues a schedule sends what it cannot deliver to: those its dead-letter ARN is
    taken from (it depends on them), or whose ARN it names."""
    arn = value_at(schedule.props, "target", "deadLetterConfig", "arn")
    return [
        q
        for q in resources
        if q.type == QUEUE
        and (_depends(schedule, q) or (isinstance(arn, str) and q.props.get("arn") == arn))
    ]


@stack_rule(
    "schedule-dead-letter-encryption",
    "Every EventBridge Scheduler schedule has a dead-letter queue, encrypted with a customer "
    "managed KMS key (a run that cannot start is kept, and what it carried is encrypted).",
    "mandatory",
    "MLSEC03-BP02 Secure data and modeling environment",
)
def schedule_dead_letter_encryption(
    resources: Sequence[Resource], config: Mapping[str, Any]
) -> list[Violation]:
    violations = []
    for schedule in resources:
        if schedule.type != SCHEDULE:
            continue
        target = schedule.props.get("target")
        if target is UNKNOWN:
            continue
        if value_at(target, "deadLetterConfig", "arn") is None:
            violations.append(
                Violation(
                    schedule.urn,
                    "schedule has no dead-letter queue: set target.deadLetterConfig.arn, or a "
                    "run that cannot start leaves no trace",
                )
            )
            continue
        for queue in _dead_letter_queues(resources, schedule):
            for problem in customer_key(queue.props.get("kmsMasterKeyId"), "dead-letter queue"):
                violations.append(Violation(queue.urn, problem))
    return violations


def _trusted_by(role: Resource) -> set[str]:
    services = set()
    for statement in statements(document(role.props.get("assumeRolePolicy"))):
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        if isinstance(principal, dict):
            services |= {s for s in as_list(principal.get("Service")) if isinstance(s, str)}
    return services


def _role_documents(
    resources: Sequence[Resource], role: Resource
) -> Iterator[tuple[Resource, str, Any]]:
    """(resource, where, document) for every identity policy of ``role``: its inline policies
    and the role policies attached to it (they depend on it, or name it)."""
    for i, inline in enumerate(as_list(role.props.get("inlinePolicies"))):
        yield role, f"inlinePolicies[{i}]", document(value_at(inline, "policy"))
    name = role.props.get("name")
    for policy in resources:
        if policy.type != ROLE_POLICY:
            continue
        attached = _depends(policy, role) or (
            isinstance(name, str) and name and policy.props.get("role") == name
        )
        if attached:
            yield policy, "policy", document(policy.props.get("policy"))


@stack_rule(
    "function-role-no-wildcard-actions",
    "The roles Lambda and EventBridge Scheduler assume name every action in full: no * in an "
    "action (s3:*, s3:Get*), so a service added to a prefix is never granted unseen.",
    "mandatory",
    "MLSEC03-BP01 Provide least privilege access",
)
def function_role_no_wildcard_actions(
    resources: Sequence[Resource], config: Mapping[str, Any]
) -> list[Violation]:
    violations = []
    for role in resources:
        if role.type != ROLE or not _trusted_by(role) & FUNCTION_SERVICES:
            continue
        for resource, where, policy in _role_documents(resources, role):
            for i, statement in enumerate(statements(policy)):
                if statement.get("Effect") != "Allow":
                    continue
                wild = [a for a in as_list(statement.get("Action")) if "*" in str(a)]
                if wild:
                    violations.append(
                        Violation(
                            resource.urn,
                            f"{where} {sid(statement, i)} of a function's role allows "
                            f"{', '.join(map(str, wild))}: name each action",
                        )
                    )
                if "NotAction" in statement:
                    violations.append(
                        Violation(
                            resource.urn,
                            f"{where} {sid(statement, i)} of a function's role allows "
                            "everything but NotAction: name each action",
                        )
                    )
    return violations
