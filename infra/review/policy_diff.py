"""What a change does to the policy pack: the rules and stack policy configs at a git revision
against the working tree's.

Previews judge a pull request with the base branch's pack and configs (docs/ci.md), so a change
to ``policy/`` does not judge itself; reviewers read what it would change here instead.
``python -m infra policy-diff --base REV`` lists the rules added and removed, each rule whose
enforcement level or setting defaults change, and, per stack policy config
(``policy/config/<stack>.json``), each rule whose level or settings change. A change that lowers
a level (mandatory to advisory, anything to disabled, or a rule removed) is a relaxation.

Each tree's rules are read by importing that tree's ``policy.rules`` in a child process (the
rules are plain Python: ``policy/model.py``), so the base's own code describes the base.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.review.diff_model import PlanDiffError
from infra.review.plan import ROOT
from infra.review.worktree import Worktree, resolve

# Run in a tree with that tree on sys.path: its rules, as plain data.
_DESCRIBE = """
import json
from policy.rules import RULES
print(json.dumps({
    rule.name: {
        "enforcement": rule.enforcement,
        "settings": {key: setting.default for key, setting in rule.settings.items()},
    }
    for rule in RULES
}))
"""

_RANK = {"disabled": 0, "advisory": 1, "mandatory": 2}


@dataclass(frozen=True)
class PolicyChange:
    """One change to the rules, or to a stack's use of them."""

    where: str  # "pack", or "stack <name>"
    text: str
    relaxes: bool


@dataclass(frozen=True)
class Policies:
    """A tree's rules and its stack policy configs."""

    rules: dict[str, dict[str, Any]]
    configs: dict[str, dict[str, Any]]


def describe(tree: Path) -> Policies:
    """The rules and stack configs of the checkout at ``tree`` (none if it has no pack)."""
    if not (tree / "policy").is_dir():
        return Policies({}, {})
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("PYTHONSAFEPATH", None)
    result = subprocess.run(
        [sys.executable, "-c", _DESCRIBE],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        raise PlanDiffError(
            f"error: the policy rules of {tree} cannot be read: {lines[-1] if lines else '?'}", 1
        )
    configs = {}
    for path in sorted((tree / "policy" / "config").glob("*.json")):
        try:
            configs[path.stem] = json.loads(path.read_text())
        except ValueError as exc:
            raise PlanDiffError(f"error: {path}: not valid JSON ({exc})", 1) from None
    return Policies(json.loads(result.stdout), configs)


def _entry(config: dict[str, Any], rule: str, default_level: str) -> tuple[str, dict[str, Any]]:
    """A rule's level and settings in a stack's policy config, as the CLI reads the file."""
    entry = config.get(rule, {})
    if isinstance(entry, str):
        return entry, {}
    if not isinstance(entry, dict):
        return default_level, {}
    level = entry.get("enforcementLevel", default_level)
    return str(level), {k: v for k, v in entry.items() if k != "enforcementLevel"}


def _level_change(where: str, name: str, old: str, new: str) -> PolicyChange:
    relaxes = _RANK.get(new, 0) < _RANK.get(old, 0)
    return PolicyChange(where, f"`{name}`: {old} → {new}", relaxes)


def _setting_changes(
    where: str, name: str, old: dict[str, Any], new: dict[str, Any]
) -> list[PolicyChange]:
    return [
        PolicyChange(
            where,
            f"`{name}.{key}`: {json.dumps(old.get(key))} → {json.dumps(new.get(key))}",
            False,
        )
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    ]


def _pack_changes(old: Policies, new: Policies) -> list[PolicyChange]:
    changes = []
    for name in sorted(old.rules.keys() | new.rules.keys()):
        before, after = old.rules.get(name), new.rules.get(name)
        if before is None and after is not None:
            changes.append(PolicyChange("pack", f"`{name}` added ({after['enforcement']})", False))
        elif before is not None and after is None:
            relaxes = before["enforcement"] != "disabled"
            changes.append(PolicyChange("pack", f"`{name}` removed", relaxes))
        elif before is not None and after is not None:
            if before["enforcement"] != after["enforcement"]:
                changes.append(
                    _level_change("pack", name, before["enforcement"], after["enforcement"])
                )
            changes += _setting_changes("pack", name, before["settings"], after["settings"])
    return changes


def _stack_changes(old: Policies, new: Policies) -> list[PolicyChange]:
    changes = []
    for stack in sorted(old.configs.keys() | new.configs.keys()):
        where = f"stack {stack}"
        before_config, after_config = old.configs.get(stack, {}), new.configs.get(stack, {})
        for name in sorted(old.rules.keys() & new.rules.keys()):
            old_level, old_settings = _entry(before_config, name, old.rules[name]["enforcement"])
            new_level, new_settings = _entry(after_config, name, new.rules[name]["enforcement"])
            if old_level != new_level:
                changes.append(_level_change(where, name, old_level, new_level))
            changes += _setting_changes(where, name, old_settings, new_settings)
    return changes


def compare(old: Policies, new: Policies) -> list[PolicyChange]:
    """Every change from ``old`` to ``new``: the pack's rules, then each stack's config."""
    return _pack_changes(old, new) + _stack_changes(old, new)


def policy_diff(rev: str) -> list[PolicyChange]:
    """The policy changes from revision ``rev`` to the working tree."""
    with Worktree(resolve(rev)) as tree:
        old = describe(tree.path)
    return compare(old, describe(ROOT))


def render(changes: list[PolicyChange], base: str, markdown: bool) -> str:
    if not changes:
        return f"No change to the policy rules or stack policy configs from {base}."
    relaxed = sum(c.relaxes for c in changes)
    head = f"Policy changes from {base}: {len(changes)}, {relaxed} relaxing a rule."
    if markdown:
        head = f"### Policy pack\n\n{head} Previews judge this change with the rules of {base}."
    lines = [head, ""] if markdown else [head]
    for change in changes:
        mark = "RELAXES " if change.relaxes else ""
        text = f"{mark}{change.where}: {change.text}"
        lines.append(f"- {'**' + text + '**' if markdown and change.relaxes else text}")
    return "\n".join(lines)
