"""``python -m infra plan-diff``: what a change does to a stack, as a reviewer reads it.

The end-to-end tests copy the project (the files git would commit) into a git repository of
their own, commit it, change a stack file and diff against that commit; the plan at the base
revision runs from a temporary worktree with that revision's own code.
"""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.runtime import MockResourceArgs

from demo.workspace import Workspace
from infra.resource_types import (
    DRIFT_ENGINE,
    ENDPOINT,
    ENDPOINT_CONFIG,
    LAMBDA_FUNCTION,
    MODEL,
    MODEL_ENDPOINT,
    RANDOM_ID,
    ROLE_POLICY,
    TOPIC,
)
from infra.review import replacement
from infra.review.diff_model import ABSENT, REPLACED, UPDATED, FieldChange, StackDiff
from infra.review.diff_render import render_markdown, render_text
from infra.review.mocks import AwsMocks
from infra.review.plan import ROOT, canonical, plan_document
from infra.review.plan_diff import RENDERERS, diff_plans, field_changes, normalised
from tests.helpers import git
from tests.infra.plan_checks import component_children

NEW_PACKAGE = "arn:aws:sagemaker:us-east-1:111111111111:model-package/churn/4"
NEW_DIGEST = "sha256:" + "4" * 64


# --- a copy of the project in a repository of its own -------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return Workspace.copy_of(ROOT, tmp_path / "project").root


def plan_diff(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra", "plan-diff", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )


def edit_stack(repo: Path, stack: str, edit: Any) -> None:
    path = repo / "stacks" / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text())
    edit(document["config"])
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def bump_churn(config: dict[str, Any]) -> None:
    config["mlserve:models"]["churn"]["version"] = {"package": NEW_PACKAGE, "digest": NEW_DIGEST}


def changed(stack_diff: dict[str, Any]) -> dict[str, str]:
    """URN -> change kind, for every resource the diff lists."""
    return {
        r["urn"]: kind
        for kind in ("added", "removed", "updated", "replaced")
        for r in stack_diff[kind]
    }


# --- end to end ---------------------------------------------------------------------------


def test_a_version_bump_changes_only_that_models_resources(repo, plans, stack_configs):
    edit_stack(repo, "prod", bump_churn)

    result = plan_diff(repo, "prod", "--base", "HEAD", "--format", "json")

    assert result.returncode == 0, result.stderr
    (diff,) = json.loads(result.stdout)["stacks"]
    kinds = changed(diff)
    # The working tree of the copy is the project's plus the bump: URNs are the project's.
    plan = plans["prod"]
    churn = {r.urn: r for r in component_children(plan, "churn")}
    drift = {r.urn: r for r in component_children(plan, "churn-drift", DRIFT_ENGINE)}
    outside = sorted(set(kinds) - set(churn) - set(drift))
    assert not outside, f"resources outside the churn component changed: {outside}"
    assert not diff["added"] and not diff["removed"], diff
    by_urn = {r["urn"]: r for r in diff["replaced"] + diff["updated"]}

    pinned = [
        urn
        for urn, r in churn.items()
        if r.type == MODEL
        and (r.inputs.get("primaryContainer") or {}).get("modelPackageName")
        == stack_configs["prod"]["mlserve:models"]["churn"]["version"]["package"]
    ]
    assert len(pinned) == 1, pinned
    (model,) = pinned
    assert kinds.get(model) == REPLACED, f"{model}: {kinds.get(model)}"
    assert "primaryContainer" in by_urn[model]["replacedProperties"]
    untouched_models = [u for u, r in churn.items() if r.type == MODEL and u != model]
    assert not [u for u in untouched_models if u in kinds], "a Model that serves another version"

    config = next(u for u, r in churn.items() if r.type == ENDPOINT_CONFIG)
    endpoint = next(u for u, r in churn.items() if r.type == ENDPOINT)
    assert kinds.get(config) == REPLACED, f"{config}: {kinds.get(config)}"
    assert kinds.get(endpoint) == UPDATED, f"{endpoint}: {kinds.get(endpoint)}"
    assert any(c["path"] == "endpointConfigName" for c in by_urn[endpoint]["changes"])
    # The drift analysis moves to the new version's baseline: the function's environment and
    # its role's policy are updated in place.
    function = next(u for u, r in drift.items() if r.type == LAMBDA_FUNCTION)
    assert kinds.get(function) == UPDATED, f"{function}: {kinds.get(function)}"
    role_policy = next(
        u for u, r in drift.items() if r.type == ROLE_POLICY and r.name == "churn-drift-role-policy"
    )
    assert kinds.get(role_policy) == UPDATED, f"{role_policy}: {kinds.get(role_policy)}"
    assert all(r["collision"] is None for r in diff["replaced"]), diff["replaced"]

    outputs = {c["path"]: c for c in diff["outputs"]}
    assert outputs["models.churn.version.package"]["new"] == NEW_PACKAGE
    assert outputs["models.churn.version.digest"]["new"] == NEW_DIGEST
    assert not [p for p in outputs if p.startswith("models.fraud")], sorted(outputs)


def test_markdown_and_text_name_the_replacement(repo):
    edit_stack(repo, "prod", bump_churn)

    markdown = plan_diff(repo, "prod", "--base", "HEAD", "--format", "markdown")
    text = plan_diff(repo, "prod", "--base", "HEAD")

    assert markdown.returncode == 0, markdown.stderr
    assert text.returncode == 0, text.stderr
    # Replaced: the Model and the endpoint configuration; updated: the endpoint, and the drift
    # function's environment and its role's policy (the new baseline).
    assert markdown.stdout.startswith("### Stack `prod`: 2 replaced, 3 updated, ")
    assert "#### Replaced (2)" in markdown.stdout and "#### Updated (3)" in markdown.stdout
    assert "#### Outputs" in markdown.stdout
    assert f'"{NEW_PACKAGE}"' in markdown.stdout
    assert "replaced for primaryContainer" in text.stdout
    assert f'→ "{NEW_PACKAGE}"' in text.stdout


def test_no_change_says_so(repo):
    result = plan_diff(repo, "dev", "--base", "HEAD")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Stack dev: no changes from HEAD")


def test_a_stack_new_since_the_base_is_all_added(repo):
    dev = yaml.safe_load((repo / "stacks" / "Pulumi.dev.yaml").read_text())
    dev["config"]["mlserve:environment"] = "dev"
    (repo / "stacks" / "Pulumi.qa.yaml").write_text(yaml.safe_dump(dev))

    result = plan_diff(repo, "qa", "--base", "HEAD", "--format", "json")

    assert result.returncode == 0, result.stderr
    (diff,) = json.loads(result.stdout)["stacks"]
    assert diff["baseHasStack"] is False
    assert diff["counts"]["added"] == len(diff["added"]) > 0
    assert not diff["removed"] and not diff["updated"] and not diff["replaced"]
    assert diff["outputs"] and all("old" not in c for c in diff["outputs"])


def test_an_unknown_revision_is_one_line_and_exit_2(repo):
    result = plan_diff(repo, "prod", "--base", "no-such-branch")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"error: 'no-such-branch' is not a revision git can resolve in {repo}\n"


def test_worktrees_are_removed(repo, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    result = plan_diff(repo, "shared", "--base", "HEAD")
    assert result.returncode == 0, result.stderr
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert not list(tmp_path.glob("mlserve-plan-diff-*"))


def test_an_invalid_working_tree_stack_is_reported_like_plan(repo):
    edit_stack(repo, "dev", lambda c: c["mlserve:models"]["churn"].update(scalng={}))
    result = plan_diff(repo, "dev", "--base", "HEAD")
    path = repo / "stacks" / "Pulumi.dev.yaml"
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {path} has 1 problem(s):",
        "  models.churn.scalng: unknown key (did you mean scaling?)",
    ]


# --- comparing plans ----------------------------------------------------------------------


def test_field_changes_name_nested_paths_and_list_indices():
    old = {"a": {"b": [1, {"c": "x"}], "gone": 1}, "tags": {"cost-center": "1", "k.x": 2}}
    new = {"a": {"b": [1, {"c": "y"}, 3]}, "tags": {"cost-center": "2", "k.x": 2}}
    assert field_changes(old, new) == [
        FieldChange("a.b[1].c", "x", "y"),
        FieldChange("a.b[2]", ABSENT, 3),
        FieldChange("a.gone", 1, ABSENT),
        FieldChange("tags.cost-center", "1", "2"),
    ]
    assert field_changes({"k.x": 1}, {"k.x": 2}) == [FieldChange('["k.x"]', 1, 2)]
    assert FieldChange("a.gone", 1, ABSENT).as_text() == "a.gone: 1 → (absent)"


def test_plans_printed_before_urns_and_outputs_still_compare(plans):
    """A base revision whose ``--json`` was a bare list of resources with raw inputs."""
    plan = plans["prod"]
    old = [
        {"type": r.type, "name": r.name, "parent": r.parent, "inputs": r.inputs}
        for r in reversed(plan.resources)
    ]
    diff = diff_plans("prod", "old", normalised(old), normalised(plan_document(plan)))
    assert diff.resources == [] and diff.unchanged == len(plan.resources)
    assert diff.outputs is None
    assert "outputs are not compared" in render_text([diff])


def endpoint_doc(**inputs: Any) -> dict[str, Any]:
    resource = {
        "type": ENDPOINT,
        "name": "churn-endpoint",
        "parent": "churn",
        "urn": f"urn:pulumi:prod::mlserve::{MODEL_ENDPOINT}${ENDPOINT}::churn-endpoint",
        "inputs": inputs,
        "options": {"protect": False, "retainOnDelete": False, "ignoreChanges": []},
    }
    return {"stack": "prod", "resources": [resource], "outputs": {}}


def test_a_replacement_under_a_fixed_name_is_flagged():
    rollback = {"alarms": [{"alarmName": "a"}]}
    old = endpoint_doc(name="churn-prod", deploymentConfig={"autoRollbackConfiguration": rollback})
    new = endpoint_doc(name="churn-prod", deploymentConfig={})
    assert replacement.collision(ENDPOINT, old["resources"][0]["inputs"], {"name": "churn-prod"})

    diff = diff_plans("prod", "main", normalised(old), normalised(new))

    (change,) = diff.resources
    assert change.kind == REPLACED and change.collision
    assert change.replaced_properties == ["deploymentConfig.autoRollbackConfiguration"]
    text = render_text([diff])
    assert text.splitlines()[1].startswith("!! REPLACEMENT WILL FAIL: ")
    assert "> [!CAUTION]" in render_markdown([diff])


def test_secrets_stay_redacted_in_a_diff():
    old = endpoint_doc(name="e", tags={"token": "[secret]", "owner": "a"})
    new = endpoint_doc(name="e", tags={"token": "[secret]", "owner": "b"})
    (change,) = diff_plans("prod", "main", normalised(old), normalised(new)).resources
    assert change.kind == UPDATED
    assert [f.as_text() for f in change.fields] == ['tags.owner: "a" → "b"']


def test_types_the_replacement_table_does_not_know():
    component = endpoint_doc()
    component["resources"][0].update(type=MODEL_ENDPOINT, name="churn", parent=None)
    protected = copy.deepcopy(component)
    protected["resources"][0]["options"]["protect"] = True
    (change,) = diff_plans("prod", "main", normalised(component), normalised(protected)).resources
    assert (change.kind, change.note) == (UPDATED, None)
    assert [f.as_text() for f in change.fields] == ["options.protect: false → true"]

    queue = endpoint_doc(name="q")
    queue["resources"][0]["type"] = "aws:dynamodb/table:Table"
    renamed = copy.deepcopy(queue)
    renamed["resources"][0]["inputs"]["name"] = "r"
    (change,) = diff_plans("prod", "main", normalised(queue), normalised(renamed)).resources
    assert change.kind == UPDATED
    assert change.note == (
        "aws:dynamodb/table:Table has no entry in infra/review/replacement.py: this may be a "
        "replacement"
    )
    assert f"?? {change.note}" in render_text(
        [diff_plans("p", "m", normalised(queue), normalised(renamed))]
    )


def test_long_field_lists_fold_in_markdown():
    old = endpoint_doc(name="e", tags={f"k{i}": "a" for i in range(6)})
    new = endpoint_doc(name="e", tags={f"k{i}": "b" for i in range(6)})
    markdown = render_markdown([diff_plans("prod", "main", normalised(old), normalised(new))])
    assert "<details><summary>6 changed fields</summary>" in markdown


# --- what each format prints -------------------------------------------------------------

# The output of each format for every_kind_of_diff(), as it printed when last reviewed: a
# change meant to alter what a format prints records it again in the same commit.
RENDERED = Path(__file__).resolve().parents[1] / "data" / "plan_diff"
# A type the program never registers, so the replacement table does not know it.
QUEUE = "aws:dynamodb/table:Table"


def resource_doc(type_: str, logical: str, parent: str | None, **inputs: Any) -> dict[str, Any]:
    chain = f"{MODEL_ENDPOINT}${type_}" if parent else type_
    return {
        "type": type_,
        "name": logical,
        "parent": parent,
        "urn": f"urn:pulumi:prod::mlserve::{chain}::{logical}",
        "inputs": inputs,
        "options": {"protect": False, "retainOnDelete": False, "ignoreChanges": []},
    }


def every_kind_of_diff() -> list[StackDiff]:
    """Stacks with each kind of change, a collision, notes, folded fields and markup in values;
    one without changes, one new since the base, one whose base printed a bare list."""
    rollback = {"autoRollbackConfiguration": {"alarms": [{"alarmName": "a"}]}}
    old: dict[str, Any] = {
        "stack": "prod",
        "outputs": {"endpoint": "churn_prod", "models": {"churn": {"version": "3"}}},
        "resources": [
            resource_doc(MODEL_ENDPOINT, "churn", None),
            resource_doc(
                ENDPOINT, "churn-endpoint", "churn", name="churn_prod", deploymentConfig=rollback
            ),
            resource_doc(
                MODEL, "churn-champion", "churn", primaryContainer={"modelPackageName": "pkg/3"}
            ),
            resource_doc(QUEUE, "q", "churn", name="q", tags={f"k{i}": "a" for i in range(5)}),
            resource_doc(TOPIC, "gone", None, name="gone"),
        ],
    }
    new = copy.deepcopy(old)
    new["outputs"]["models"]["churn"]["version"] = "4"
    new["outputs"]["note"] = "uses `tick` and *stars*_"
    component, endpoint, model, queue, _ = new["resources"]
    component["options"]["protect"] = True
    endpoint["inputs"]["deploymentConfig"] = {}
    model["inputs"]["primaryContainer"]["modelPackageName"] = "pkg/4"
    model["inputs"]["tags"] = {"note": "a ``` fence"}
    queue["inputs"]["tags"] = {f"k{i}": "b" for i in range(5)}
    new["resources"][4] = resource_doc(TOPIC, "new_<topic>", None, name="n|t")
    bare = [{k: r[k] for k in ("type", "name", "parent", "inputs")} for r in old["resources"]]
    return [
        diff_plans("prod", "main", normalised(old), normalised(new)),
        diff_plans("dev", "main", normalised(old), normalised(old)),
        diff_plans("qa", "main", None, normalised({**new, "stack": "qa"})),
        diff_plans("staging", "v1", normalised(bare), normalised({**new, "stack": "staging"})),
    ]


@pytest.mark.parametrize(
    ("fmt", "recorded"), [("text", "diff.txt"), ("markdown", "diff.md"), ("json", "diff.json")]
)
def test_each_format_prints_the_recorded_bytes(fmt, recorded):
    expected = (RENDERED / recorded).read_text(encoding="utf-8")
    assert RENDERERS[fmt](every_kind_of_diff()) + "\n" == expected


# --- replacements reach the plan ----------------------------------------------------------


def mock_resource(typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return AwsMocks("prod", "us-east-1", {}).new_resource(MockResourceArgs(typ, name, inputs))


def test_a_replace_forcing_input_gives_an_auto_named_resource_a_new_name():
    model = {"primaryContainer": {"modelPackageName": "arn:...:model-package/churn/2"}}
    name, _ = mock_resource(MODEL, "churn-champion", model)
    bumped = {"primaryContainer": {"modelPackageName": "arn:...:model-package/churn/3"}}
    assert mock_resource(MODEL, "churn-champion", bumped)[0] != name
    assert name.startswith("churn-champion-")
    # Tags are updated in place: same resource, same name.
    assert mock_resource(MODEL, "churn-champion", {**model, "tags": {"a": "b"}})[0] == name
    # Unset and empty read the same, as the replacement table compares them.
    assert mock_resource(MODEL, "churn-champion", {**model, "vpcConfig": None})[0] == name


def test_a_fixed_name_stays_whatever_forces_replacement():
    old = {"name": "churn-prod", "deploymentConfig": {"autoRollbackConfiguration": {}}}
    new = {"name": "churn-prod", "deploymentConfig": {"autoRollbackConfiguration": {"x": 1}}}
    assert mock_resource(ENDPOINT, "churn-endpoint", old)[0] == "churn-prod"
    assert mock_resource(ENDPOINT, "churn-endpoint", new)[0] == "churn-prod"


def test_random_ids_are_drawn_again_only_when_their_keepers_change():
    inputs = {"byteLength": 4.0, "keepers": {"layout": "champion=ml.m5.large"}}
    id_, state = mock_resource(RANDOM_ID, "churn-endpoint-id", inputs)
    assert mock_resource(RANDOM_ID, "churn-endpoint-id", dict(inputs)) == (id_, state)
    assert mock_resource(RANDOM_ID, "other-id", inputs)[1]["hex"] != state["hex"]
    changed_keepers = {**inputs, "keepers": {"layout": "champion=ml.m5.xlarge"}}
    assert mock_resource(RANDOM_ID, "churn-endpoint-id", changed_keepers)[1]["hex"] != state["hex"]

    drawn = bytes.fromhex(state["hex"])
    assert len(drawn) == 4
    assert state["dec"] == str(int.from_bytes(drawn, "big"))
    assert state["b64Url"] == id_
    assert base64.urlsafe_b64decode(id_ + "=" * (-len(id_) % 4)) == drawn
    assert base64.b64decode(state["b64Std"]) == drawn


def test_a_random_id_prefix_is_on_every_output_but_the_id():
    inputs = {"byteLength": 2.0, "prefix": "ep-"}
    id_, state = mock_resource(RANDOM_ID, "x", inputs)
    assert not id_.startswith("ep-")
    assert all(state[key].startswith("ep-") for key in ("hex", "dec", "b64Url", "b64Std"))
    assert canonical(state)["b64Url"] == "ep-" + id_


@pytest.mark.parametrize("failing", ["collision", "refusal", None])
def test_the_exit_status_says_when_a_change_cannot_succeed(monkeypatch, capsys, failing):
    """A replacement under a fixed name, or an update SageMaker refuses, would fail `pulumi up`
    half way: plan-diff prints the diff and exits 3, so the pull request's check fails."""
    from infra import __main__ as cli
    from infra.review import plan_diff as module
    from infra.review.diff_model import ResourceChange

    change = ResourceChange(
        kind=UPDATED,
        type=ENDPOINT,
        name="churn-endpoint",
        parent="churn",
        urn=None,
        collision="same name" if failing == "collision" else None,
        refusal="variant names differ" if failing == "refusal" else None,
    )
    diff = StackDiff(stack="prod", base="main", resources=[change], outputs=[], unchanged=0)
    monkeypatch.setattr(module, "plan_diff", lambda stacks, rev, *more: [diff])

    status = cli.main(["plan-diff", "prod", "--base", "HEAD"])

    assert status == (cli.CANNOT_SUCCEED if failing else 0)
    assert "Stack prod: changes from main" in capsys.readouterr().out
