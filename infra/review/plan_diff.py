"""What a change does to a stack: the offline plan at a git revision against the working tree's.

``python -m infra plan-diff STACK... --base REV`` checks ``REV`` out into a temporary worktree,
runs that tree's own ``python -m infra plan STACK --json`` there (its code and its stack files),
evaluates the working tree's plan in this process, and lists the resources added, removed,
updated and replaced, each changed field as ``path: old → new``. Resources are matched by URN,
which names the type, the parent chain and the logical name.

A resource is replaced when one of the inputs that force replacement changes
(``infra.review.replacement``). The mocks derive an auto-named resource's physical name from those
inputs, so the new name shows on every resource that refers to it, as in a real ``pulumi up``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.review import replacement
from infra.review.plan import (
    ROOT,
    STACKS_DIR,
    canonical,
    evaluate_file,
    plan_document,
    problem_report,
    stack_file,
)
from infra.settings import PROJECT, SettingsError

ADDED, REMOVED, UPDATED, REPLACED = "added", "removed", "updated", "replaced"
KINDS = (REPLACED, UPDATED, ADDED, REMOVED)


class PlanDiffError(Exception):
    """A diff that cannot be made; ``status`` is the exit status the CLI gives it."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


class _Absent:
    """A field that one side does not have (``null`` is a value of its own)."""

    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class FieldChange:
    path: str
    old: Any
    new: Any

    def as_text(self) -> str:
        return f"{self.path}: {_value(self.old)} → {_value(self.new)}"

    def as_json(self) -> dict[str, Any]:
        found = {"path": self.path}
        if self.old is not ABSENT:
            found["old"] = self.old
        if self.new is not ABSENT:
            found["new"] = self.new
        return found


@dataclass(frozen=True)
class ResourceChange:
    kind: str
    type: str
    name: str
    parent: str | None
    urn: str | None
    fields: list[FieldChange] = field(default_factory=list)
    # Replace-forcing properties that changed, and why the replacement cannot succeed, if so.
    replaced_properties: list[str] = field(default_factory=list)
    collision: str | None = None
    # What the diff cannot tell about this change.
    note: str | None = None

    @property
    def label(self) -> str:
        where = f" (in {self.parent})" if self.parent else ""
        return f"{self.type} {self.name}{where}"

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "urn": self.urn,
        }
        if self.kind == REPLACED:
            found["replacedProperties"] = self.replaced_properties
            found["collision"] = self.collision
        if self.kind in (UPDATED, REPLACED):
            found["changes"] = [f.as_json() for f in self.fields]
        if self.note:
            found["note"] = self.note
        return found


@dataclass(frozen=True)
class StackDiff:
    stack: str
    base: str
    resources: list[ResourceChange]
    # None when the base revision's plan does not list the stack outputs.
    outputs: list[FieldChange] | None
    unchanged: int
    base_has_stack: bool = True

    def of_kind(self, kind: str) -> list[ResourceChange]:
        return [r for r in self.resources if r.kind == kind]

    @property
    def counts(self) -> dict[str, int]:
        return {kind: len(self.of_kind(kind)) for kind in KINDS}

    @property
    def collisions(self) -> list[ResourceChange]:
        return [r for r in self.resources if r.collision]

    @property
    def changed(self) -> bool:
        return bool(self.resources or self.outputs)

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "base": self.base,
            "baseHasStack": self.base_has_stack,
            "counts": {**self.counts, "unchanged": self.unchanged},
            **{kind: [r.as_json() for r in self.of_kind(kind)] for kind in KINDS},
            "outputs": None if self.outputs is None else [f.as_json() for f in self.outputs],
        }


# --- comparing plans ----------------------------------------------------------------------


def normalised(document: Any) -> dict[str, Any]:
    """A plan as ``plan --json`` prints it, in today's form whatever revision printed it.

    Before the plan carried its stack, URNs, options and outputs, ``--json`` printed a bare list
    of ``{type, name, parent, inputs}``: such a plan has ``outputs`` None and no URNs.
    """
    if isinstance(document, list):
        document = {"stack": None, "resources": document, "outputs": None}
    if not isinstance(document, dict) or not isinstance(document.get("resources"), list):
        raise PlanDiffError("not a plan: expected the JSON of python -m infra plan --json", 1)
    resources = [
        {
            "type": r["type"],
            "name": r["name"],
            "parent": r.get("parent"),
            "urn": r.get("urn"),
            "inputs": canonical(r.get("inputs") or {}),
            "options": r.get("options"),
        }
        for r in document["resources"]
    ]
    outputs = document.get("outputs")
    return {
        "stack": document.get("stack"),
        "resources": resources,
        "outputs": None if outputs is None else canonical(outputs),
    }


def diff_plans(stack: str, base: str, old: dict[str, Any] | None, new: dict[str, Any]) -> StackDiff:
    """Compare two normalised plans; ``old`` None means the stack did not exist at ``base``."""
    old_resources = (old or {}).get("resources") or []
    new_resources = new["resources"]
    by_urn = all(r.get("urn") for r in [*old_resources, *new_resources])

    def identity(r: dict[str, Any]) -> Any:
        # Plans from before URNs were printed match on type, name and parent name.
        return r["urn"] if by_urn else (r["type"], r["name"], r["parent"])

    before = {identity(r): r for r in old_resources}
    after = {identity(r): r for r in new_resources}
    changes: list[ResourceChange] = []
    unchanged = 0
    for key, r in after.items():
        if key not in before:
            changes.append(_resource_change(ADDED, r))
            continue
        previous = before[key]
        fields = field_changes(previous["inputs"], r["inputs"])
        if previous.get("options") is not None and r.get("options") is not None:
            # dependsOn is bookkeeping: the engine changes no resource for it.
            fields += field_changes(
                _without(previous["options"], "dependsOn"),
                _without(r["options"], "dependsOn"),
                "options",
            )
        if not fields:
            unchanged += 1
            continue
        if r["type"] not in replacement.REPLACE_FORCING:
            changes.append(_resource_change(UPDATED, r, fields, note=_unknown_type(r["type"])))
            continue
        forcing = replacement.replaced_properties(r["type"], previous["inputs"], r["inputs"])
        if forcing:
            clash = replacement.collision(r["type"], previous["inputs"], r["inputs"])
            changes.append(_resource_change(REPLACED, r, fields, forcing, clash))
        else:
            changes.append(_resource_change(UPDATED, r, fields))
    changes += [_resource_change(REMOVED, r) for key, r in before.items() if key not in after]
    outputs = None
    if old is None:
        outputs = field_changes({}, new.get("outputs") or {})
    elif old.get("outputs") is not None:
        outputs = field_changes(old["outputs"], new.get("outputs") or {})
    return StackDiff(
        stack=stack,
        base=base,
        resources=changes,
        outputs=outputs,
        unchanged=unchanged,
        base_has_stack=old is not None,
    )


def _resource_change(
    kind: str,
    r: dict[str, Any],
    fields: list[FieldChange] | None = None,
    forcing: list[str] | None = None,
    clash: str | None = None,
    note: str | None = None,
) -> ResourceChange:
    return ResourceChange(
        kind=kind,
        type=r["type"],
        name=r["name"],
        parent=r.get("parent"),
        urn=r.get("urn"),
        fields=fields or [],
        replaced_properties=list(forcing or []),
        collision=clash,
        note=note,
    )


def _unknown_type(type_token: str) -> str | None:
    """Why an update of a type the replacement table does not know may be a replacement.

    The program's own components (``mlserve:...``) are never replaced: the engine has nothing
    to create for them.
    """
    if type_token.startswith(f"{PROJECT}:"):
        return None
    return f"{type_token} has no entry in infra/review/replacement.py: this may be a replacement"


def _without(options: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k != key}


def field_changes(old: Any, new: Any, path: str = "") -> list[FieldChange]:
    """Every leaf that differs: objects by key (``a.b``), lists by index (``a[0]``)."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(old.keys() | new.keys()):
            found += field_changes(old.get(key, ABSENT), new.get(key, ABSENT), _join(path, key))
        return found
    if isinstance(old, list) and isinstance(new, list):
        found = []
        for i in range(max(len(old), len(new))):
            found += field_changes(
                old[i] if i < len(old) else ABSENT,
                new[i] if i < len(new) else ABSENT,
                f"{path}[{i}]",
            )
        return found
    return [FieldChange(path or "(value)", old, new)]


_PLAIN_KEY = re.compile(r"[A-Za-z_][\w-]*")


def _join(path: str, key: str) -> str:
    step = key if _PLAIN_KEY.fullmatch(key) else f"[{json.dumps(key)}]"
    if step.startswith("["):
        return f"{path}{step}"
    return f"{path}.{step}" if path else step


def _value(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- the two plans ------------------------------------------------------------------------


def resolve(rev: str) -> str:
    """The commit ``rev`` names, or a one-line error."""
    found = _git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    if found.returncode != 0:
        raise PlanDiffError(f"error: {rev!r} is not a revision git can resolve in {ROOT}")
    return found.stdout.strip()


def _git(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
        )
    except FileNotFoundError:
        raise PlanDiffError("error: git is not installed") from None


def _checked_git(*args: str) -> None:
    result = _git(*args)
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()
        raise PlanDiffError(
            f"error: git {args[0]} {args[1]} failed: {detail[-1] if detail else result.returncode}"
        )


class Worktree:
    """The tree of a commit, checked out into a temporary folder, removed on exit."""

    def __init__(self, commit: str) -> None:
        self.commit = commit
        self._folder = Path(tempfile.mkdtemp(prefix="mlserve-plan-diff-"))
        self.path = self._folder / "tree"

    def __enter__(self) -> Worktree:
        try:
            _checked_git("worktree", "add", "--detach", "--quiet", str(self.path), self.commit)
        except BaseException:
            self._remove()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._remove()

    def _remove(self) -> None:
        if self.path.exists():
            _git("worktree", "remove", "--force", str(self.path))
        shutil.rmtree(self._folder, ignore_errors=True)
        _git("worktree", "prune")

    def has_stack(self, stack: str) -> bool:
        return (self.path / STACKS_DIR.relative_to(ROOT) / f"Pulumi.{stack}.yaml").is_file()

    def plan(self, stack: str) -> subprocess.Popen[str]:
        """Start ``python -m infra plan STACK --json`` with the checked-out tree's own code."""
        env = {**os.environ, "PYTHONPATH": str(self.path)}
        env.pop("PYTHONSAFEPATH", None)
        return subprocess.Popen(
            [sys.executable, "-m", "infra", "plan", stack, "--json"],
            cwd=self.path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def _base_plan(process: subprocess.Popen[str], stack: str, rev: str) -> dict[str, Any]:
    try:
        out, err = process.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise PlanDiffError(
            f"error: the plan of {stack} at {rev} took over 10 minutes", 1
        ) from None
    if process.returncode != 0:
        detail = "\n".join(f"  {line}" for line in err.strip().splitlines()[-20:])
        raise PlanDiffError(
            f"error: the plan of {stack} at {rev} failed (exit {process.returncode}):\n{detail}",
            1,
        )
    try:
        return normalised(json.loads(out))
    except ValueError:
        raise PlanDiffError(f"error: the plan of {stack} at {rev} printed no JSON", 1) from None


def _head_plan(stack: str) -> dict[str, Any] | None:
    path = stack_file(stack)
    if not path.is_file():
        return None
    try:
        return normalised(plan_document(evaluate_file(path, stack)))
    except SettingsError as exc:
        raise PlanDiffError(problem_report(path, exc)) from None


def plan_diff(stacks: Sequence[str], rev: str) -> list[StackDiff]:
    """The diff of each stack's plan from revision ``rev`` to the working tree.

    Raises ``PlanDiffError`` for anything that stops the diff, an invalid stack file included.
    """
    commit = resolve(rev)
    diffs = []
    with Worktree(commit) as tree:
        for stack in stacks:
            base = tree.plan(stack) if tree.has_stack(stack) else None
            try:
                # The base evaluates in its process while this one evaluates the working tree.
                new = _head_plan(stack)
                old = None if base is None else _base_plan(base, stack, rev)
            finally:
                if base is not None and base.poll() is None:
                    base.kill()
                    base.communicate()
            if new is None and old is None:
                raise PlanDiffError(
                    f"error: no stack file for {stack}, neither at {rev} nor in the working tree"
                )
            if new is None:
                assert old is not None
                diffs.append(_removed_stack(stack, rev, old))
            else:
                diffs.append(diff_plans(stack, rev, old, new))
    return diffs


def _removed_stack(stack: str, rev: str, old: dict[str, Any]) -> StackDiff:
    removed = [_resource_change(REMOVED, r) for r in old["resources"]]
    outputs = None if old.get("outputs") is None else field_changes(old["outputs"], {})
    return StackDiff(stack=stack, base=rev, resources=removed, outputs=outputs, unchanged=0)


# --- rendering ----------------------------------------------------------------------------

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


def render_text(diffs: Sequence[StackDiff]) -> str:
    lines: list[str] = []
    for diff in diffs:
        if lines:
            lines.append("")
        if not diff.changed:
            lines.append(f"Stack {diff.stack}: no changes from {diff.base} ({_summary(diff)})")
            lines += list(_notes(diff))
            continue
        lines.append(f"Stack {diff.stack}: changes from {diff.base}: {_summary(diff)}")
        lines += list(_notes(diff))
        lines += [f"!! {_collision_line(r)}" for r in diff.collisions]
        for kind in KINDS:
            changed = diff.of_kind(kind)
            if not changed:
                continue
            lines.append(f"{_TITLES[kind]}:")
            for r in changed:
                head = f"  {_SIGNS[kind]} {r.label}"
                if r.replaced_properties:
                    head += f": replaced for {', '.join(r.replaced_properties)}"
                lines.append(head)
                if r.collision:
                    lines.append(f"      !! {r.collision}")
                if r.note:
                    lines.append(f"      ?? {r.note}")
                lines += [f"      {f.as_text()}" for f in r.fields]
        if diff.outputs:
            lines.append("Outputs:")
            lines += [f"  ~ {f.as_text()}" for f in diff.outputs]
    return "\n".join(lines)


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
        if diff.collisions:
            out.append("")
            out.append("> [!CAUTION]")
            out += [f"> **{_md(_collision_line(r))}**  " for r in diff.collisions]
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
    return "\n".join(out)


def _markdown_resource(r: ResourceChange) -> list[str]:
    where = f" in `{r.parent}`" if r.parent else ""
    line = f"- `{r.name}` (`{r.type}`){where}"
    if r.replaced_properties:
        line += ": replaced for " + ", ".join(f"`{p}`" for p in r.replaced_properties)
    if r.collision:
        line += f". **{_md(r.collision)}**"
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


RENDERERS = {"text": render_text, "markdown": render_markdown, "json": render_json}
