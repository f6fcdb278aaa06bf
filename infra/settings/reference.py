"""The key tables of docs/stack-config.md, generated from the schema so that they cannot drift.

    python -m infra.settings.reference            # print the tables
    python -m infra.settings.reference --write    # rewrite them in docs/stack-config.md
    python -m infra.settings.reference --check    # exit 1 when the file differs

A key's type, default, limits and meaning come from its pydantic field in ``schema``: the
annotation, the default, the ``Field`` constraints and the description. A model's defaults are
read per environment from ``defaults``, as ``loading`` applies them. Limits that only the rules
check (``rules``, across fields or against AWS's lists) are in ``RULES`` below, written with the
constants the rules use. Each table sits between ``<!-- BEGIN GENERATED: <name> -->`` and
``<!-- END GENERATED -->``; the prose around the tables is written by hand.

The walk and the rendering are generic: ``model_packaging.artifact.reference`` makes the
model.yaml table of docs/model-packaging.md with them.
"""

from __future__ import annotations

import argparse
import re
import sys
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, JsonValue
from pydantic.fields import FieldInfo

from infra.settings import limits, rules
from infra.settings.artifacts import DIGEST_RE, model_prefix
from infra.settings.defaults import with_defaults
from infra.settings.loading import SETTING_KEYS
from infra.settings.schedules import AT_SHAPE, CRON_SHAPE, RATE_SHAPE
from infra.settings.schema import (
    ENVIRONMENTS,
    PROJECT,
    EnvironmentSettings,
    ModelSettings,
    SharedSettings,
)

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "stack-config.md"

# What a row of every table shows, in this order.
HEADERS = ("key", "type", "default", "limits", "meaning")

_BEGIN = "<!-- BEGIN GENERATED: {name} -->"
_END = "<!-- END GENERATED -->"
_SECTION = re.compile(
    r"^<!-- BEGIN GENERATED: (?P<name>[^\n]*?) -->\n(?P<body>.*?)^<!-- END GENERATED -->$",
    re.DOTALL | re.MULTILINE,
)

# The name a table gives the keys of a free mapping (``models.<name>``), by its key path.
PLACEHOLDERS = {"models": "name", "drift.alarms": "feature"}

# Defaults that are not the schema's: what the loader assumes for a key left out.
DEFAULTS = {"environment": "the stack name"}


def _choices(values: Sequence[Any]) -> str:
    shown = [f"`{value}`" for value in values]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + f" or {shown[-1]}"


def _model_name_rule() -> str:
    return (
        f"lowercase letters, digits and single hyphens (`{rules.MODEL_NAME_RE.pattern}`), at "
        f"most {rules.MODEL_NAME_MAX} characters"
    )


def _rollout_rule() -> str:
    return (
        f"the worst-case rollout takes at most {limits.ROLLOUT_LIMIT_SECONDS // 60} minutes "
        f"(see the rules below)"
    )


# Limits the rules check rather than the fields' constraints, by key path (a model's keys
# relative to the model). Each says what ``rules`` refuses, with the constants it uses.
_TAG_RULE = (
    f"not blank; at most {limits.TAG_VALUE_MAX} letters, digits, spaces and "
    f"`{''.join(sorted(rules.TAG_VALUE_SYMBOLS))}`"
)
RULES: dict[str, str] = {
    # every stack
    "owner": _TAG_RULE,
    "cost_center": _TAG_RULE,
    # shared stack
    "models.<name>": _model_name_rule(),
    "artifact_store.reader_accounts": "12-digit account ids",
    # environment stacks
    "shared_stack": "a fully qualified stack name, `<org>/<project>/<stack>`",
    "alerts.subscriptions": "prod needs at least one",
    "alerts.subscriptions[].protocol": "`sqs` is refused (see the rules below)",
    "alerts.subscriptions[].endpoint": (
        "`email`: an email address; `https`: an `https://` URL; `lambda`: a function ARN, "
        "`arn:<partition>:lambda:<region>:<account>:function:<name>` (a version or alias may "
        "follow) in the stack's account (see the rules below)"
    ),
    # a model
    "version.package": (
        "a model package version ARN of group `<name>` in the stack's region; not with "
        "`artifact_uri` and `image`"
    ),
    "version.artifact_uri": (
        f"`s3://<bucket>/{model_prefix('<name>')}...`, the only prefix the model's execution "
        f"role can read; with `image`"
    ),
    "version.image": "with `artifact_uri`",
    "version.digest": f"`{DIGEST_RE.pattern}`",
    "instance_type": (
        "a hosting instance type of botocore's SageMaker model; required unless `serverless` is set"
    ),
    "scaling.min_instances": "prod: >= 2",
    "scaling.max_instances": ">= `min_instances`",
    "scaling.schedules": "names unique",
    "scaling.schedules[].schedule": (
        f"{_choices([AT_SHAPE, RATE_SHAPE, CRON_SHAPE])}; its shape is checked (see the "
        f"rules below)"
    ),
    "scaling.schedules[].timezone": (
        "a canonical IANA time zone name, e.g. `Europe/London`; an alias such as `US/Eastern` "
        "is refused (see the rules below)"
    ),
    "scaling.schedules[].max_instances": ">= `min_instances`",
    "serverless": (
        "not with `instance_type`, `scaling`, `challenger`, `shadow`, `network` settings or "
        "`data_capture.enabled`; `deployment.strategy` must be `all_at_once`"
    ),
    "serverless.memory_mb": f"one of {', '.join(map(str, limits.SERVERLESS_MEMORY_MB))}",
    "serverless.provisioned_concurrency": "<= `max_concurrency`",
    "challenger": "not with `shadow`, not for serverless models",
    "shadow": "not with `challenger`, not for serverless models",
    "deployment.strategy": (
        "prod: `canary` or `linear`; not on `ml.inf1` instances, where SageMaker falls back to "
        "all at once"
    ),
    "deployment.canary_percent": "at least one instance of `scaling.min_instances`",
    "deployment.linear_step_percent": "at least one instance of `scaling.min_instances`",
    "deployment.wait_seconds": (
        f"with `auto_rollback`: at least `alarms.period_seconds` x "
        f"`alarms.evaluation_periods` + {limits.METRIC_DELAY_SECONDS} s; {_rollout_rule()}"
    ),
    "deployment.termination_wait_seconds": _rollout_rule(),
    "deployment.maximum_execution_timeout_seconds": (
        "more than every wait interval plus the termination wait"
    ),
    "deployment.auto_rollback": "prod: `true`",
    "data_capture.sampling_percent": "above 0 with `drift.enabled`",
    "data_capture.csv_content_types": (
        "types as SageMaker's capture header takes them (`type/subtype`); none also in "
        "`json_content_types`"
    ),
    "data_capture.json_content_types": (
        "types as SageMaker's capture header takes them (`type/subtype`); none also in "
        "`csv_content_types`"
    ),
    "drift.enabled": "needs `data_capture.enabled`; not for serverless models",
    "drift.engine": "`model-monitor`: the region needs a Model Monitor analyzer image",
    "drift.memory_mb": "only with the `mlserve` engine",
    "drift.timeout_seconds": "only with the `mlserve` engine",
    "drift.instance_type": (
        "a processing instance type of botocore's SageMaker model; only with the "
        "`model-monitor` engine"
    ),
    "drift.instance_count": "only with the `model-monitor` engine",
    "drift.volume_size_gb": "only with the `model-monitor` engine",
    "drift.max_runtime_seconds": "only with the `model-monitor` engine",
    "network.subnet_ids": (
        f"subnet ids (`{rules.SUBNET_RE.pattern}`); with `security_group_ids`; not for "
        f"serverless models"
    ),
    "network.security_group_ids": (
        f"security group ids (`{rules.SECURITY_GROUP_RE.pattern}`); with `subnet_ids`"
    ),
    "network.isolation": "not for serverless models",
    "log_retention_days": (
        f"one of CloudWatch's periods: {', '.join(map(str, limits.LOG_RETENTION_DAYS))}"
    ),
}


# --- the walk -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One documented key: a field of a model, or a free mapping's or a list's items."""

    key: str
    kind: str  # the type column
    default: str
    limits: str
    meaning: str
    # The field the row documents (its model and name), for the tests.
    source: tuple[type[BaseModel], str] = field(compare=False)

    def cells(self, key: str | None = None) -> list[str]:
        return [f"`{key or self.key}`", self.kind, self.default, self.limits, self.meaning]


@dataclass
class Walk:
    """How to document one model: the table's extra facts and, for a model, its environments.

    ``environments`` maps an environment to what it assumes for the model's keys; a key's
    default is then one per environment. Models in ``elsewhere`` are documented in a table of
    their own: a key of that type gets a row, not rows for its keys.
    """

    rules: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, str] = field(default_factory=dict)
    placeholders: Mapping[str, str] = field(default_factory=dict)
    elsewhere: tuple[type[BaseModel], ...] = ()
    environments: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Each model documented so far, by the key its rows are under.
    _seen: dict[type[BaseModel], str] = field(default_factory=dict, init=False, repr=False)

    def rows(self, model: type[BaseModel], names: Sequence[str] | None = None) -> list[Row]:
        """Rows for ``model``'s fields (or those of ``names``), then for their keys, in order."""
        fields = model_fields(model)
        return [
            row
            for name in (names if names is not None else list(fields))
            for row in self._field(model, name, fields[name], "", ())
        ]

    def _field(
        self,
        model: type[BaseModel],
        name: str,
        info: FieldInfo,
        prefix: str,
        data: tuple[str, ...] | None,
    ) -> Iterator[Row]:
        key = prefix + (info.alias or name)
        data = None if data is None else (*data, name)
        value = _plain(info.annotation)
        origin = get_origin(value)
        if _is_model(value):
            if value in self._seen:
                first = self._seen[value]
                yield self._row(model, name, info, key, data, f"mapping, keys as `{first}`")
                return
            if info.description:
                yield self._row(model, name, info, key, data, "mapping")
            yield from self._model(value, key, data)
        elif origin is list and _is_model(get_args(value)[0]):
            yield self._row(model, name, info, key, data, "list of mappings")
            yield from self._model(get_args(value)[0], f"{key}[]", None)
        elif origin is dict:
            key = f"{key}.<{self.placeholders[key]}>"
            item = _plain(get_args(value)[1])
            if _is_model(item):
                yield self._row(model, name, info, key, data, "mapping")
                if item not in self.elsewhere:
                    yield from self._model(item, key, None)
            else:
                yield self._row(model, name, info, key, data, type_text(item))
        else:
            yield self._row(model, name, info, key, data, type_text(info.annotation))

    def _model(self, model: Any, key: str, data: tuple[str, ...] | None) -> Iterator[Row]:
        self._seen[model] = key
        for name, info in model_fields(model).items():
            yield from self._field(model, name, info, f"{key}.", data)

    def _row(
        self,
        model: type[BaseModel],
        name: str,
        info: FieldInfo,
        key: str,
        data: tuple[str, ...] | None,
        kind: str,
    ) -> Row:
        found = constraints_text(info)
        if key in self.rules:
            found.append(self.rules[key])
        return Row(
            key=key,
            kind=kind,
            default=self.defaults.get(key) or self._default(model, name, info, data),
            limits="; ".join(found),
            meaning=" ".join((info.description or "").split()),
            source=(model, name),
        )

    def _default(
        self, model: type[BaseModel], name: str, info: FieldInfo, data: tuple[str, ...] | None
    ) -> str:
        if not self.environments or data is None:
            return _field_default(model, name, info, None)
        shown = [
            _environment_default(model, name, info, data, assumed)
            for assumed in self.environments.values()
        ]
        return shown[0] if len(set(shown)) == 1 else " / ".join(shown)


def model_fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    # A model whose annotations name a model declared further down is completed on first use.
    if not model.__pydantic_complete__:
        model.model_rebuild()
    return dict(model.model_fields)


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _plain(annotation: Any) -> Any:
    """The type a key holds: ``Annotated`` unwrapped, ``None`` left out of a union."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _plain(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        options = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(options) == 1:
            return _plain(options[0])
    return annotation


_TYPE_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string"}


def type_text(annotation: Any) -> str:
    """A key's type in words: ``integer``, ``list of strings``, `` `a`, `b` or `c` ``."""
    value = _plain(annotation)
    origin = get_origin(value)
    if value is JsonValue:
        return "any YAML value"
    if origin is Literal:
        return _choices(get_args(value))
    if isinstance(value, type) and issubclass(value, Enum):
        return _choices([member.value for member in value])
    if origin is list:
        return f"list of {type_text(get_args(value)[0])}s"
    if origin is dict or _is_model(value):
        return "mapping"
    if origin in (Union, types.UnionType):
        return " or ".join(type_text(arg) for arg in get_args(value))
    return _TYPE_NAMES[value]


def constraints_text(info: FieldInfo) -> list[str]:
    """The limits a field's constraints set, its own and those of its type's parts."""
    value = _plain(info.annotation)
    found = _limits(_metadata(info.metadata, info.annotation), _unit(value))
    if get_origin(value) is dict:
        key, item = get_args(value)
        found += _limits(_metadata([], item), _unit(_plain(item)))
        keys = _limits(_metadata([], key), "characters")
        if keys:
            found.append("keys: " + ", ".join(keys))
    return found


def _metadata(own: Sequence[Any], annotation: Any) -> list[Any]:
    """``own`` and the constraints of an ``Annotated`` type, inside an optional one too."""
    found = list(own)
    origin = get_origin(annotation)
    if origin is Annotated:
        for extra in get_args(annotation)[1:]:
            found += extra.metadata if isinstance(extra, FieldInfo) else [extra]
    elif origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            found += _metadata([], arg)
    return found


def _unit(value: Any) -> str:
    return "characters" if value is str else "items"


def _limits(metadata: Sequence[Any], unit: str) -> list[str]:
    bounds = {
        name: getattr(item, name)
        for item in metadata
        for name in ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern")
        if getattr(item, name, None) is not None
    }
    found = []
    if "ge" in bounds and "le" in bounds:
        found.append(f"{bounds.pop('ge')}..{bounds.pop('le')}")
    signs = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
    numbers = [f"{sign} {bounds.pop(name)}" for name, sign in signs if name in bounds]
    if numbers:
        found.append(" and ".join(numbers))
    low, high = bounds.pop("min_length", None), bounds.pop("max_length", None)
    if low is not None and high is not None:
        found.append(f"{low}..{high} {unit}")
    elif high is not None:
        found.append(f"at most {high} {unit}")
    elif low is not None:
        found.append(f"at least {low} {unit if low != 1 else unit.removesuffix('s')}")
    if "pattern" in bounds:
        found.append(f"`{bounds.pop('pattern')}`")
    return found


def _field_default(
    model: type[BaseModel], name: str, info: FieldInfo, section: Mapping[str, Any] | None
) -> str:
    """What a key is when left out; a default derived from other keys needs their values."""
    if info.default_factory is not None:
        if section is None:
            raise ValueError(f"{model.__name__}.{name}: a derived default needs DEFAULTS")
        return value_text(getattr(model.model_validate(section), name))
    if info.is_required():
        return "required"
    return value_text(info.default)


def _environment_default(
    model: type[BaseModel],
    name: str,
    info: FieldInfo,
    data: tuple[str, ...],
    assumed: Mapping[str, Any],
) -> str:
    node: Any = assumed
    for part in data[:-1]:
        node = node.get(part, {}) if isinstance(node, Mapping) else {}
    if isinstance(node, Mapping) and name in node:
        return value_text(node[name])
    return _field_default(model, name, info, node)


def value_text(value: Any) -> str:
    """A default as a stack file or model.yaml would write it."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return f"`{value.value}`"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | dict) and not value:
        return f"`{value}`"
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        # A YAML flow sequence of quoted strings, as a stack file may write it.
        return f"`{value}`"
    raise ValueError(f"no way to show the default {value!r}")


# --- the tables ---------------------------------------------------------------------------


def table(
    rows: Sequence[Row], headers: Sequence[str] = HEADERS, key: Callable[[str], str] = str
) -> str:
    lines = [_line(headers), _line(["---"] * len(headers))]
    lines += [_line(row.cells(key(row.key))) for row in rows]
    return "\n".join(lines)


def _line(cells: Sequence[str]) -> str:
    # A pipe ends a cell even inside a code span, unless escaped (GitHub Flavored Markdown,
    # "Tables").
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def stack_key(path: str) -> str:
    """A key as a stack file writes it: in the project's namespace, or the one it belongs to."""
    return SETTING_KEYS.get(path) or f"{PROJECT}:{path}"


def common_fields() -> list[str]:
    """The keys every stack has the same way: both kinds of stack, none a mapping."""
    shared = model_fields(SharedSettings)
    return [
        name
        for name, info in model_fields(EnvironmentSettings).items()
        if name in shared
        and get_origin(_plain(info.annotation)) is not dict
        and get_origin(_plain(shared[name].annotation)) is not dict
    ]


def stack_rows() -> dict[str, list[Row]]:
    """Every table's rows, by the name of its section in the document."""
    common = common_fields()
    every = Walk(RULES, defaults=DEFAULTS).rows(SharedSettings, common)
    # ``environment`` is one key with the values of both kinds of stack.
    every = [
        replace(row, kind=_choices(ENVIRONMENTS)) if row.key == "environment" else row
        for row in every
    ]
    shared = [n for n in model_fields(SharedSettings) if n not in common]
    environment = [n for n in model_fields(EnvironmentSettings) if n not in common]
    assumed = {env: with_defaults({"model": {}}, env)["model"] for env in ENVIRONMENTS[1:]}
    return {
        "every stack": every,
        "shared stack": Walk(RULES, placeholders=PLACEHOLDERS).rows(SharedSettings, shared),
        "environment stacks": Walk(
            RULES, placeholders=PLACEHOLDERS, elsewhere=(ModelSettings,)
        ).rows(EnvironmentSettings, environment),
        "model": Walk(RULES, placeholders=PLACEHOLDERS, environments=assumed).rows(ModelSettings),
    }


def sections() -> dict[str, str]:
    """The text of each generated section of docs/stack-config.md."""
    found = stack_rows()
    model_headers = ("key", "type", f"default ({' / '.join(ENVIRONMENTS[1:])})", *HEADERS[3:])
    return {
        name: table(rows, model_headers) if name == "model" else table(rows, key=stack_key)
        for name, rows in found.items()
    }


# --- the document -------------------------------------------------------------------------


def marked(name: str, text: str) -> str:
    """A generated section: its text between its markers, set apart by blank lines so that
    Markdown never reads a marker as a last table row."""
    return f"{_BEGIN.format(name=name)}\n\n{text}\n\n{_END}"


def replace_sections(text: str, generated: Mapping[str, str]) -> str:
    """``text`` with each generated section's body replaced; every section must be there once."""
    found: list[str] = []

    def body(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in generated:
            raise ValueError(f"no generator for the section {name!r}")
        found.append(name)
        return marked(name, generated[name])

    replaced = _SECTION.sub(body, text)
    missing = [name for name in generated if found.count(name) != 1]
    if missing:
        raise ValueError(
            f"each of these sections must be marked once: {', '.join(missing)} "
            f"({_BEGIN.format(name='NAME')} ... {_END})"
        )
    return replaced


def run(
    argv: Sequence[str] | None,
    *,
    prog: str,
    document: Path,
    generate: Callable[[], dict[str, str]],
) -> int:
    """The command: print the sections, or rewrite (``--write``) or check (``--check``) them."""
    name = document.relative_to(ROOT) if document.is_relative_to(ROOT) else document
    parser = argparse.ArgumentParser(prog=prog, description=f"The generated key tables of {name}.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite them in the document")
    mode.add_argument("--check", action="store_true", help="exit 1 if the document's tables differ")
    args = parser.parse_args(argv)
    generated = generate()
    if not (args.write or args.check):
        for section, text in generated.items():
            print(marked(section, text), end="\n\n")
        return 0
    current = document.read_text(encoding="utf-8")
    wanted = replace_sections(current, generated)
    if args.check:
        if wanted != current:
            print(f"error: {name} differs from the schema; run make docs", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        document.write_text(wanted, encoding="utf-8")
        print(f"rewrote {name}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(
        argv, prog="python -m infra.settings.reference", document=DOCUMENT, generate=sections
    )


if __name__ == "__main__":
    sys.exit(main())
