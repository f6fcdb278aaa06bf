"""``python -m infra policy-diff``: what a change does to the policy rules and the stack policy
configs, relaxations marked (previews judge a change with the base branch's rules, so this is
where reviewers see a change to them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from demo.workspace import Workspace
from infra.review import policy_diff
from infra.review.diff_model import PlanDiffError
from infra.review.plan import ROOT
from policy.rules import RULES
from tests.helpers import git


def fake_tree(
    root: Path, rules: dict[str, tuple[str, dict[str, object]]], configs: dict[str, object]
) -> Path:
    """A checkout whose ``policy.rules.RULES`` holds ``rules`` (name -> level, setting defaults)."""
    package = root / "policy" / "rules"
    package.mkdir(parents=True)
    (root / "policy" / "__init__.py").write_text("")
    (package / "__init__.py").write_text(
        "from types import SimpleNamespace as N\n"
        f"RULES = [N(name=n, enforcement=e, settings={{k: N(default=v) for k, v in s.items()}})"
        f" for n, (e, s) in {rules!r}.items()]\n"
    )
    (root / "policy" / "config").mkdir()
    for stack, config in configs.items():
        (root / "policy" / "config" / f"{stack}.json").write_text(json.dumps(config))
    return root


def test_levels_lowered_and_rules_removed_are_relaxations(tmp_path):
    old = policy_diff.describe(
        fake_tree(
            tmp_path / "old",
            {
                "tags": ("mandatory", {}),
                "logs": ("advisory", {"days": 30}),
                "gone": ("advisory", {}),
            },
            {"dev": {"logs": {"days": 7}}},
        )
    )
    new = policy_diff.describe(
        fake_tree(
            tmp_path / "new",
            {
                "tags": ("advisory", {}),
                "logs": ("advisory", {"days": 60}),
                "fresh": ("mandatory", {}),
            },
            {"dev": {"logs": "disabled"}},
        )
    )
    changes = {(c.where, c.text): c.relaxes for c in policy_diff.compare(old, new)}
    assert changes == {
        ("pack", "`fresh` added (mandatory)"): False,
        ("pack", "`gone` removed"): True,
        ("pack", "`logs.days`: 30 → 60"): False,
        ("pack", "`tags`: mandatory → advisory"): True,
        ("stack dev", "`logs`: advisory → disabled"): True,
        ("stack dev", "`logs.days`: 7 → null"): False,
        ("stack dev", "`tags`: mandatory → advisory"): True,
    }


def test_rules_that_cannot_be_imported_are_one_line_naming_the_tree(tmp_path):
    tree = fake_tree(tmp_path / "broken", {}, {})
    (tree / "policy" / "rules" / "__init__.py").write_text("raise ValueError('broken rule')\n")
    with pytest.raises(PlanDiffError) as caught:
        policy_diff.describe(tree)
    assert str(caught.value) == (
        f"error: the policy rules of {tree} cannot be read: ValueError: broken rule"
    )
    assert caught.value.status == 1


def test_a_stack_config_that_is_not_json_is_named(tmp_path):
    tree = fake_tree(tmp_path / "tree", {"tags": ("mandatory", {})}, {})
    (tree / "policy" / "config" / "dev.json").write_text("{not json")
    with pytest.raises(PlanDiffError, match=r"dev\.json: not valid JSON \("):
        policy_diff.describe(tree)


def test_a_tree_without_a_pack_has_no_rules(tmp_path):
    assert policy_diff.describe(tmp_path) == policy_diff.Policies({}, {})


def test_the_project_describes_its_own_rules():
    described = policy_diff.describe(ROOT)
    assert {name: r["enforcement"] for name, r in described.rules.items()} == {
        rule.name: rule.enforcement for rule in RULES
    }
    assert set(described.configs) == {p.stem for p in (ROOT / "policy" / "config").glob("*.json")}


def test_the_command_marks_a_stack_that_disables_a_rule(tmp_path):
    repo = Workspace.copy_of(ROOT, tmp_path / "project").root
    config = repo / "policy" / "config" / "prod.json"
    document = json.loads(config.read_text())
    rule = next(r.name for r in RULES if r.enforcement == "advisory" and r.name not in document)
    document[rule] = "disabled"
    config.write_text(json.dumps(document))
    assert git(repo, "status", "--porcelain") == "M policy/config/prod.json"

    result = subprocess.run(
        [sys.executable, "-m", "infra", "policy-diff", "--base", "HEAD", "--format", "markdown"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("### Policy pack")
    assert f"- **RELAXES stack prod: `{rule}`: advisory → disabled**" in result.stdout
