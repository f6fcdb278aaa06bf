"""What the rules work on and what they are: resources as the engine passes them, violations,
and the rule itself with its settings.

A resource rule is ``check(type, props, config) -> [message]``; a stack rule is
``check(resources, config) -> [Violation]`` over every resource of the stack, for what needs
more than one resource (a bucket and its encryption, an endpoint and its configuration).
Properties are the engine's: camelCase names, policy documents as JSON strings. A value that is
not known yet (a preview of a resource that does not exist) is ``UNKNOWN``; no rule fails on it.

Each rule is declared on its check with ``resource_rule`` or ``stack_rule``, in the module of
its theme (``policy/rules/``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, TypeVar


class _Unknown:
    """A value the engine does not know during a preview (an output of a resource to create)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()

Enforcement = Literal["mandatory", "advisory"]
Level = Literal["mandatory", "advisory", "disabled"]
LEVELS: tuple[Level, ...] = ("mandatory", "advisory", "disabled")


@dataclass(frozen=True)
class Resource:
    type: str
    props: Mapping[str, Any]
    urn: str
    dependencies: tuple[str, ...] = ()

    @property
    def stack(self) -> str:
        """The stack's name, from ``urn:pulumi:<stack>::<project>::...``."""
        return self.urn.split("::", 1)[0].removeprefix("urn:pulumi:")


@dataclass(frozen=True)
class Violation:
    urn: str | None
    message: str


ResourceCheck = Callable[[str, Mapping[str, Any], Mapping[str, Any]], list[str]]
StackCheck = Callable[[Sequence[Resource], Mapping[str, Any]], list[Violation]]
Check = TypeVar("Check", ResourceCheck, StackCheck)


@dataclass(frozen=True)
class Setting:
    """One property of a rule's config: its JSON schema (``array`` of strings, ``integer``,
    ``boolean``) and its default."""

    schema: dict[str, Any]
    default: Any
    description: str


# The schema of a setting that lists names (tags, instance types, stacks, models).
STRINGS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    enforcement: Enforcement
    # The Well-Architected Machine Learning Lens practice and the scanner controls of the same
    # intent (docs/security.md maps them).
    ml_lens: str
    controls: tuple[str, ...]
    resource_check: ResourceCheck | None = None
    stack_check: StackCheck | None = None
    settings: Mapping[str, Setting] = field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        return {key: setting.default for key, setting in self.settings.items()}

    def run(self, resources: Sequence[Resource], config: Mapping[str, Any]) -> list[Violation]:
        """Every violation in ``resources``, as the engine would report them."""
        if self.stack_check is not None:
            return self.stack_check(resources, config)
        assert self.resource_check is not None
        return [
            Violation(r.urn, message)
            for r in resources
            for message in self.resource_check(r.type, r.props, config)
        ]


class _Declare(Generic[Check]):
    """A decorator factory: ``@resource_rule(name, description, enforcement, ml_lens, controls,
    settings)`` declares the check below it as a rule, and the name the check is bound to holds
    the ``Rule``."""

    def __init__(self, check_field: str) -> None:
        self._check_field = check_field

    def __call__(
        self,
        name: str,
        description: str,
        enforcement: Enforcement,
        ml_lens: str,
        controls: tuple[str, ...] = (),
        settings: Mapping[str, Setting] | None = None,
    ) -> Callable[[Check], Rule]:
        declared = Rule(
            name, description, enforcement, ml_lens, controls, settings=dict(settings or {})
        )
        field_name = self._check_field

        def declare(check: Check) -> Rule:
            given: dict[str, Any] = {field_name: check}
            return replace(declared, **given)

        return declare


# A check that judges one resource at a time, and one that judges every resource of the stack
# together (a bucket and its configurations, an endpoint and its configuration).
resource_rule: _Declare[ResourceCheck] = _Declare("resource_check")
stack_rule: _Declare[StackCheck] = _Declare("stack_check")
