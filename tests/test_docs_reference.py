"""The key tables of docs/stack-config.md and docs/model-packaging.md are the schema's.

The generators (``infra.settings.reference``, ``model_packaging.artifact.reference``) write the
tables; these tests fail while a document differs from what they print, and check, against the
pydantic models read here on their own, that every field has a row showing its type, its
default and every limit its constraints set.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
from pydantic import BaseModel, JsonValue
from pydantic.fields import FieldInfo

from infra.settings import reference
from infra.settings.defaults import with_defaults
from infra.settings.schema import ENVIRONMENTS, EnvironmentSettings, SharedSettings
from model_packaging.artifact import reference as model_yaml
from model_packaging.artifact.descriptor import Descriptor

GENERATORS: dict[str, tuple[Path, Callable[[], dict[str, str]], Callable[..., int]]] = {
    "stack-config": (reference.DOCUMENT, reference.sections, reference.main),
    "model-packaging": (model_yaml.DOCUMENT, model_yaml.sections, model_yaml.main),
}


def _all_rows() -> dict[str, list[reference.Row]]:
    return {**reference.stack_rows(), "model.yaml": model_yaml.rows()}


def _doc_rows(document: Path) -> dict[str, list[str]]:
    """The generated rows of a document as it is, cells by key (the key without backticks)."""
    rows = {}
    for line in document.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            cells = [c.replace("\\|", "|") for c in re.split(r" (?<!\\)\| ", line[2:-2])]
            rows[cells[0].strip("`")] = cells
    return rows


# --- the documents are what the generators print --------------------------------------------


@pytest.mark.parametrize("name", GENERATORS)
def test_document_holds_what_the_generator_prints(name: str) -> None:
    document, sections, main = GENERATORS[name]
    text = document.read_text(encoding="utf-8")
    assert reference.replace_sections(text, sections()) == text, (
        f"{document.name} differs from the schema: run make docs"
    )
    assert main(["--check"]) == 0


@pytest.mark.parametrize("name", GENERATORS)
def test_check_refuses_a_stale_table_and_write_repairs_it(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document, sections, _ = GENERATORS[name]
    copy = tmp_path / document.name
    shutil.copy(document, copy)
    good = copy.read_text(encoding="utf-8")
    stale = good.replace(" | required | ", " | 42 | ", 1)
    assert stale != good
    copy.write_text(stale, encoding="utf-8")

    def run(*argv: str) -> int:
        return reference.run(list(argv), prog="docs", document=copy, generate=sections)

    assert run("--check") == 1
    assert "differs from the schema; run make docs" in capsys.readouterr().err
    assert run("--write") == 0
    assert copy.read_text(encoding="utf-8") == good
    assert run("--check") == 0


def test_a_document_without_its_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="must be marked once: model"):
        reference.replace_sections("no tables here\n", {"model": "| key |"})


def test_printing_shows_every_section_between_its_markers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert reference.main([]) == 0
    out = capsys.readouterr().out
    for name, text in reference.sections().items():
        assert f"<!-- BEGIN GENERATED: {name} -->\n\n{text}\n\n<!-- END GENERATED -->" in out


# --- every field, with its type, default and limits ------------------------------------------


def _plain(annotation: Any) -> Any:
    if get_origin(annotation) is Annotated:
        return _plain(get_args(annotation)[0])
    if get_origin(annotation) in (Union, type(int | None)):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return _plain(options[0])
    return annotation


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _nested(annotation: Any) -> Iterator[Any]:
    yield annotation
    for arg in get_args(annotation):
        if not isinstance(arg, FieldInfo):
            yield from _nested(arg)


def _fields(*roots: type[BaseModel]) -> Iterator[tuple[type[BaseModel], str, FieldInfo]]:
    pending, seen = list(roots), set()
    while pending:
        model = pending.pop(0)
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            yield model, name, info
            pending += [t for t in _nested(info.annotation) if _is_model(t)]


def _constraints(info: FieldInfo) -> list[str]:
    """Every bound and pattern the field's constraints set, its type's parts' too."""
    metadata = list(info.metadata)
    for part in _nested(info.annotation):
        if get_origin(part) is Annotated:
            for extra in get_args(part)[1:]:
                metadata += extra.metadata if isinstance(extra, FieldInfo) else [extra]
    names = ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern")
    return [
        str(getattr(item, name))
        for item in metadata
        for name in names
        if getattr(item, name, None) is not None
    ]


def _type_words(annotation: Any) -> list[str]:
    value = _plain(annotation)
    if get_origin(value) is dict:
        item = _plain(get_args(value)[1])
        return ["mapping"] if _is_model(item) else _type_words(item)
    if get_origin(value) is list:
        return ["list of"]
    if get_origin(value) is Literal:
        return [f"`{v}`" for v in get_args(value)]
    if isinstance(value, type) and issubclass(value, Enum):
        return [f"`{member.value}`" for member in value]
    if value is JsonValue:
        return ["any"]
    if _is_model(value):
        return ["mapping"]
    return [{bool: "boolean", int: "integer", float: "number", str: "string"}[value]]


def _shown(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Enum):
        return f"`{value.value}`"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    if isinstance(value, list | dict):
        return f"`{value}`"
    return str(value)


def _environment_defaults(row: reference.Row, info: FieldInfo) -> list[str]:
    """A model key's default in dev, staging and prod, as the loader would fill it in."""
    parts = row.key.split(".")
    shown = []
    for env in ENVIRONMENTS[1:]:
        node: Any = with_defaults({"m": {}}, env)["m"]
        for part in parts:
            node = node.get(part) if isinstance(node, dict) and "[]" not in part else None
        if node is not None:
            shown.append(_shown(node))
        elif info.is_required():
            shown.append("required")
        else:
            shown.append(_shown(info.get_default(call_default_factory=False)))
    return shown


ROOTS: dict[str, tuple[type[BaseModel], ...]] = {
    "stack files": (SharedSettings, EnvironmentSettings),
    "model.yaml": (Descriptor,),
}


@pytest.mark.parametrize("roots", ROOTS.values(), ids=list(ROOTS))
def test_every_field_has_a_row_with_its_type_default_and_limits(
    roots: tuple[type[BaseModel], ...],
) -> None:
    tables = _all_rows()
    by_source = {row.source: (table, row) for table, rows in tables.items() for row in rows}
    common = reference.common_fields()
    checked = 0
    for model, name, info in _fields(*roots):
        if model in (SharedSettings, EnvironmentSettings) and name in common:
            model = SharedSettings  # one row for the keys every stack has
        if (model, name) not in by_source:
            # A section is documented by its keys' rows.
            assert _is_model(_plain(info.annotation)), f"{model.__name__}.{name} has no row"
            continue
        table, row = by_source[(model, name)]
        where = f"{table}: {row.key}"
        for word in _type_words(info.annotation):
            assert word in row.kind, f"{where}: type {row.kind!r} lacks {word!r}"
        for bound in _constraints(info):
            assert bound in row.limits, f"{where}: limits {row.limits!r} lack {bound!r}"
        if table == "model":
            if info.default_factory is not None:
                # Derived from other keys: within the field's own bounds in each environment.
                low, high = (int(b) for b in _constraints(info))
                assert all(low <= int(v) <= high for v in row.default.split(" / ")), where
            else:
                shown = _environment_defaults(row, info)
                expected = shown[0] if len(set(shown)) == 1 else " / ".join(shown)
                assert row.default == expected, where
        elif row.key in {**reference.DEFAULTS, **model_yaml.DEFAULTS}:
            assert row.default == {**reference.DEFAULTS, **model_yaml.DEFAULTS}[row.key]
        elif info.is_required():
            assert row.default == "required", where
        else:
            assert row.default == _shown(info.default), where
        checked += 1
    assert checked > 20


def test_every_extra_fact_names_a_documented_key() -> None:
    keys = {row.key for rows in _all_rows().values() for row in rows}
    extras = [*reference.RULES, *reference.DEFAULTS, *model_yaml.RULES, *model_yaml.DEFAULTS]
    assert sorted(set(extras) - keys) == []
    assert all(any(f".{p}." in f".{k}" for k in keys) for p in reference.PLACEHOLDERS)


def test_every_row_has_a_meaning() -> None:
    for table, rows in _all_rows().items():
        for row in rows:
            assert row.meaning, f"{table}: {row.key} has no description in its schema"


# Limits and defaults that the hand-written tables once left out, as the documents show them.
STACK_FACTS = [
    ("mlserve:artifact_store.noncurrent_version_days", 3, ">= 1"),
    ("mlserve:artifact_store.abort_incomplete_multipart_days", 3, ">= 1"),
    ("scaling.min_instances", 3, ">= 1"),
    ("scaling.max_instances", 3, ">= 1"),
    ("scaling.max_instances", 3, ">= `min_instances`"),
    ("scaling.target_invocations_per_instance", 3, ">= 1"),
    ("scaling.scale_in_cooldown_seconds", 3, "0..3600"),
    ("scaling.scale_out_cooldown_seconds", 3, "0..3600"),
    ("scaling.schedules[].name", 3, "`^[a-z0-9-]{1,40}$`"),
    ("scaling.schedules", 3, "names unique"),
    ("scaling.schedules[].max_instances", 3, ">= `min_instances`"),
    ("serverless.memory_mb", 2, "2048"),
    ("serverless.max_concurrency", 2, "5"),
    ("serverless.provisioned_concurrency", 3, "1..200"),
    ("serverless.provisioned_concurrency", 3, "<= `max_concurrency`"),
    ("shadow.sampling_percent", 2, "100"),
    ("data_capture.sampling_percent", 3, "0..100"),
    ("alarms.error_5xx_threshold", 3, ">= 1"),
    ("alarms.p99_latency_ms", 3, ">= 1"),
    ("alarms.period_seconds", 1, "`60` or `300`"),
    ("alarms.evaluation_periods", 3, "1..60"),
]


@pytest.mark.parametrize(("key", "column", "text"), STACK_FACTS)
def test_stack_reference_shows_the_limits_it_once_left_out(
    key: str, column: int, text: str
) -> None:
    rows = _doc_rows(reference.DOCUMENT)
    assert text in rows[key][column], rows[key]
