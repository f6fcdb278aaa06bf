"""How ``python -m infra plan-diff`` prints a diff: ``text``, ``markdown`` (a pull request
comment) or ``json``, each from the same ``StackDiff`` list."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence

from infra.capacity.render import change_markdown, change_text
from infra.review.diff_model import (
    ADDED,
    KINDS,
    REMOVED,
    REPLACED,
    UPDATED,
    FieldChange,
    ResourceChange,
    StackDiff,
)

_TITLES = {
    REPLACED: "Replaced",
    UPDATED: "Updated",
    ADDED: "Added",
    REMOVED: "Removed",
}
_SIGNS = {REPLACED: "+-", UPDATED: "~", ADDED: "+", REMOVED: "-"}


def _summary(diff: StackDiff) -> str:
    counts = diff.counts
    parts = [f"{counts[kind]} {kind}" for kind in KINDS if counts[kind]]
    parts.append(f"{diff.unchanged} unchanged")
    return ", ".join(parts)


def _notes(diff: StackDiff) -> Iterator[str]:
    if not diff.base_has_stack:
        yield f"The stack file does not exist at {diff.base}: every resource is new."
    if diff.outputs is None:
        yield f"The plan at {diff.base} does not list stack outputs: outputs are not compared."


def _collision_line(r: ResourceChange) -> str:
    return f"REPLACEMENT WILL FAIL: {r.label}: {r.collision}"


def _refusal_line(r: ResourceChange) -> str:
    return f"UPDATE WILL FAIL: {r.label}: {r.refusal}"


def _failures(diff: StackDiff) -> list[str]:
    """The changes that cannot succeed, one line each, for the head of a stack's section."""
    return [_collision_line(r) for r in diff.collisions] + [_refusal_line(r) for r in diff.refusals]


def render_text(diffs: Sequence[StackDiff]) -> str:
    lines: list[str] = []
    for diff in diffs:
        if lines:
            lines.append("")
        lines += _text_stack(diff)
    return "\n".join(lines)


def _text_stack(diff: StackDiff) -> list[str]:
    if not diff.changed:
        return [
            f"Stack {diff.stack}: no changes from {diff.base} ({_summary(diff)})",
            *_notes(diff),
        ]
    lines = [f"Stack {diff.stack}: changes from {diff.base}: {_summary(diff)}", *_notes(diff)]
    lines += [f"!! {line}" for line in _failures(diff)]
    for kind in KINDS:
        changed = diff.of_kind(kind)
        if changed:
            lines.append(f"{_TITLES[kind]}:")
            for r in changed:
                lines += _text_resource(kind, r)
    if diff.outputs:
        lines.append("Outputs:")
        lines += [f"  ~ {f.as_text()}" for f in diff.outputs]
    if diff.capacity:
        lines += change_text(diff.capacity)
    return lines


def _text_resource(kind: str, r: ResourceChange) -> list[str]:
    head = f"  {_SIGNS[kind]} {r.label}"
    if r.replaced_properties:
        head += f": replaced for {', '.join(r.replaced_properties)}"
    lines = [head]
    if r.collision:
        lines.append(f"      !! {r.collision}")
    if r.refusal:
        lines.append(f"      !! {r.refusal}")
    if r.note:
        lines.append(f"      ?? {r.note}")
    return lines + [f"      {f.as_text()}" for f in r.fields]


# A resource whose changed fields exceed either limit has them folded away in markdown.
_FOLD_FIELDS = 4
_FOLD_CHARACTERS = 400


def render_markdown(diffs: Sequence[StackDiff]) -> str:
    """For a pull request comment: a section per stack, a list per kind of change."""
    out: list[str] = []
    for diff in diffs:
        if out:
            out.append("")
        if not diff.changed:
            out.append(f"### Stack `{diff.stack}`: no changes")
            out.append("")
            out.append(f"No resource or output changes from `{diff.base}` ({_summary(diff)}).")
            out += [f"\n_{note}_" for note in _notes(diff)]
            continue
        out.append(f"### Stack `{diff.stack}`: {_summary(diff)}")
        out.append("")
        out.append(f"From `{diff.base}` to this change.")
        out += [f"\n_{note}_" for note in _notes(diff)]
        failures = _failures(diff)
        if failures:
            out.append("")
            out.append("> [!CAUTION]")
            out += [f"> **{_md(line)}**  " for line in failures]
        for kind in KINDS:
            changed = diff.of_kind(kind)
            if not changed:
                continue
            out.append("")
            out.append(f"#### {_TITLES[kind]} ({len(changed)})")
            out.append("")
            for r in changed:
                out += _markdown_resource(r)
        if diff.outputs:
            out.append("")
            out.append(f"#### Outputs ({len(diff.outputs)} changed)")
            out.append("")
            out += _markdown_fields(diff.outputs, indent="")
        if diff.capacity:
            out += change_markdown(diff.capacity)
    return "\n".join(out)


def _markdown_resource(r: ResourceChange) -> list[str]:
    where = f" in `{r.parent}`" if r.parent else ""
    line = f"- `{r.name}` (`{r.type}`){where}"
    if r.replaced_properties:
        line += ": replaced for " + ", ".join(f"`{p}`" for p in r.replaced_properties)
    if r.collision:
        line += f". **{_md(r.collision)}**"
    if r.refusal:
        line += f". **{_md(r.refusal)}**"
    if r.note:
        line += f". _{_md(r.note)}_"
    return [line, *_markdown_fields(r.fields, indent="  ")]


def _markdown_fields(fields: list[FieldChange], indent: str) -> list[str]:
    if not fields:
        return []
    texts = [f.as_text() for f in fields]
    fence = "`" * max(3, _longest_backtick_run(texts) + 1)
    block = [f"{indent}{fence}", *(f"{indent}{t}" for t in texts), f"{indent}{fence}"]
    if len(texts) < _FOLD_FIELDS and sum(map(len, texts)) < _FOLD_CHARACTERS:
        return ["", *block, ""]
    summary = f"{len(texts)} changed field{'s' if len(texts) > 1 else ''}"
    return [
        "",
        f"{indent}<details><summary>{summary}</summary>",
        "",
        *block,
        "",
        f"{indent}</details>",
        "",
    ]


def _longest_backtick_run(texts: list[str]) -> int:
    return max((len(run) for t in texts for run in re.findall(r"`+", t)), default=0)


def _md(text: str) -> str:
    """Text safe inside markdown emphasis: no stray markup from resource names or values."""
    return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", text)


def render_json(diffs: Sequence[StackDiff]) -> str:
    return json.dumps({"stacks": [d.as_json() for d in diffs]}, indent=2, ensure_ascii=False)


RENDERERS: dict[str, Callable[[Sequence[StackDiff]], str]] = {
    "text": render_text,
    "markdown": render_markdown,
    "json": render_json,
}
