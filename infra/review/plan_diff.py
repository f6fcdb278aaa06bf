"""What a change does to a stack: the offline plan at a git revision against the working tree's.

``python -m infra plan-diff STACK... --base REV`` checks ``REV`` out into a temporary worktree,
runs that tree's own ``python -m infra plan STACK --json`` there (its code and its stack files),
evaluates the working tree's plan in this process, and lists the resources added, removed,
updated and replaced, each changed field as ``path: old → new``. Resources are matched by URN,
which names the type, the parent chain and the logical name.

The changes found are ``infra.review.diff_model``'s; ``infra.review.worktree`` checks the base
out; ``infra.review.diff_render`` prints them (``RENDERERS``, one per ``--format``).

A resource is replaced when one of the inputs that force replacement changes
(``infra.review.replacement``). The mocks derive an auto-named resource's physical name from those
inputs, so the new name shows on every resource that refers to it, as in a real ``pulumi up``.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from infra.capacity import quotas
from infra.capacity.change import CapacityChange
from infra.capacity.fleet import stack_capacity
from infra.capacity.prices import Prices
from infra.resource_types import ENDPOINT
from infra.review import endpoint_updates, replacement
from infra.review.diff_model import (
    ABSENT,
    ADDED,
    REMOVED,
    REPLACED,
    UPDATED,
    FieldChange,
    PlanDiffError,
    ResourceChange,
    StackDiff,
)
from infra.review.diff_render import RENDERERS
from infra.review.plan import (
    Plan,
    canonical,
    evaluate_file,
    plan_document,
    problem_report,
    stack_file,
)
from infra.review.worktree import PROGRAM, Worktree, resolve
from infra.settings import PROJECT, EnvironmentSettings, Settings, SettingsError, load_stack_file

# What infra/__main__.py and the tests take from here; the model and the renderers live apart.
__all__ = [
    "RENDERERS",
    "PlanDiffError",
    "diff_plans",
    "field_changes",
    "normalised",
    "plan_diff",
]


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
    updates = _endpoint_update_problems(old_resources, new_resources)
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
            refusal, note = updates.get((r["type"], r.get("parent")), (None, None))
            note = "; ".join(n for n in (note, _ignored(r, fields)) if n) or None
            changes.append(_resource_change(UPDATED, r, fields, refusal=refusal, note=note))
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


def _endpoint_update_problems(
    old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> dict[tuple[str, str | None], tuple[str | None, str | None]]:
    """(type, parent) of an updated endpoint -> why AWS refuses the update, and what the diff
    cannot tell about it (``infra.review.endpoint_updates``)."""
    found: dict[tuple[str, str | None], tuple[list[str], list[str]]] = {}
    for problem in endpoint_updates.update_problems(old, new):
        refused, unsure = found.setdefault((ENDPOINT, problem.parent), ([], []))
        (refused if problem.refused else unsure).append(problem.message)
    return {
        key: ("; ".join(refused) or None, "; ".join(unsure) or None)
        for key, (refused, unsure) in found.items()
    }


def _resource_change(
    kind: str,
    r: dict[str, Any],
    fields: list[FieldChange] | None = None,
    forcing: list[str] | None = None,
    clash: str | None = None,
    note: str | None = None,
    refusal: str | None = None,
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
        refusal=refusal,
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


def _ignored(r: dict[str, Any], fields: list[FieldChange]) -> str | None:
    """The changed inputs that the resource's ``ignoreChanges`` keeps Pulumi from applying."""
    ignore = set((r.get("options") or {}).get("ignoreChanges") or [])
    changed = {re.split(r"[.\[]", f.path, maxsplit=1)[0] for f in fields}
    ignored = sorted(changed & ignore)
    if not ignored:
        return None
    return f"ignoreChanges covers {', '.join(ignored)}: Pulumi leaves the live values as they are"


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


# --- the two plans ------------------------------------------------------------------------


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


def _head_plan(stack: str) -> Plan | None:
    path = stack_file(stack)
    if not path.is_file():
        return None
    try:
        return evaluate_file(path, stack)
    except SettingsError as exc:
        raise PlanDiffError(problem_report(path, exc)) from None


def _capacity_change(
    diff: StackDiff,
    base: Settings | None,
    head: Settings | None,
    prices: Prices | None,
    notes: list[str],
) -> CapacityChange | None:
    """What the change does to the environment's instances and cost (None for the shared
    stack). The endpoints it updates or replaces are those whose ``Endpoint`` resource changes;
    their model is the resource's parent component."""
    before = stack_capacity(diff.stack, base) if isinstance(base, EnvironmentSettings) else None
    after = stack_capacity(diff.stack, head) if isinstance(head, EnvironmentSettings) else None
    if before is None and after is None:
        return None
    updated = frozenset(
        r.parent
        for r in diff.resources
        if r.type == ENDPOINT and r.kind in (UPDATED, REPLACED, ADDED) and r.parent
    )
    return CapacityChange(before, after, updated, prices, notes)


def _base_settings(tree: Worktree, stack: str, rev: str) -> tuple[Settings | None, list[str]]:
    """The base's stack file, read with this code's settings: capacity is computed the same
    way on both sides. A base file these rules refuse counts as no capacity, said in a note."""
    if not tree.has_stack(stack):
        return None, []
    try:
        return load_stack_file(tree.stack_path(stack), stack), []
    except SettingsError as exc:
        return None, [
            f"capacity at {rev} not counted: its stack file has {len(exc.problems)} problem(s)"
            f" under today's rules, the first: {exc.problems[0]}"
        ]


def _with_quotas(capacity: CapacityChange, client: Any) -> CapacityChange:
    """``capacity`` with the peak of its update checked against the account's quotas."""
    peak = capacity.peak()
    try:
        found = quotas.endpoint_quotas(client, sorted(peak))
    except quotas.QuotaError as exc:
        raise PlanDiffError(str(exc), 1) from None
    return replace(capacity, quotas=quotas.check(peak, found))


def plan_diff(
    stacks: Sequence[str],
    rev: str,
    prices: Prices | None = None,
    quota_client: Callable[[str], Any] | None = None,
) -> list[StackDiff]:
    """The diff of each stack's plan from revision ``rev`` to the working tree, with the
    capacity of the environments' endpoints before and after, and their cost with ``prices``.
    With ``quota_client`` (region -> a ``service-quotas`` client), the peak of each stack's
    update is checked against the account's quotas.

    Raises ``PlanDiffError`` for anything that stops the diff, an invalid stack file included.
    """
    commit = resolve(rev)
    diffs = []
    with Worktree(commit) as tree:
        for stack in stacks:
            if tree.has_stack(stack) and not tree.has_program():
                raise PlanDiffError(
                    f"error: the program does not exist at {rev}: it has the stack file of"
                    f" {stack} but no {PROGRAM} to plan it with; give a later --base"
                )
            base = tree.plan(stack) if tree.has_stack(stack) else None
            try:
                # The base evaluates in its process while this one evaluates the working tree.
                head = _head_plan(stack)
                old = None if base is None else _base_plan(base, stack, rev)
            finally:
                if base is not None and base.poll() is None:
                    base.kill()
                    base.communicate()
            if head is None and old is None:
                raise PlanDiffError(
                    f"error: no stack file for {stack}, neither at {rev} nor in the working tree"
                )
            if head is None:
                assert old is not None
                diff = _removed_stack(stack, rev, old)
            else:
                diff = diff_plans(stack, rev, old, normalised(plan_document(head)))
            base_settings, notes = _base_settings(tree, stack, rev)
            capacity = _capacity_change(
                diff, base_settings, head.settings if head else None, prices, notes
            )
            if capacity is not None and capacity.after is not None and quota_client is not None:
                capacity = _with_quotas(capacity, quota_client(capacity.after.region))
            diffs.append(replace(diff, capacity=capacity))
    return diffs


def _removed_stack(stack: str, rev: str, old: dict[str, Any]) -> StackDiff:
    removed = [_resource_change(REMOVED, r) for r in old["resources"]]
    outputs = None if old.get("outputs") is None else field_changes(old["outputs"], {})
    return StackDiff(stack=stack, base=rev, resources=removed, outputs=outputs, unchanged=0)
