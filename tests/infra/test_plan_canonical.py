"""The offline plan is canonical: the same stack file gives byte-identical output, every time.

Registration order, dict key order and the hash seed all vary between runs; reviewers diff
plans, so none of that may reach the output. Numbers print as the program wrote them, JSON
documents held in strings print as documents, and nothing is cut short.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from infra.review.plan import (
    ROOT,
    PlannedResource,
    canonical,
    evaluate_file,
    plan_document,
    render_json,
    render_table,
    shared_outputs,
    stack_file,
)
from tests.infra.plan_checks import ancestors

EVALUATIONS = 3
HASH_SEEDS = ("1", "4242")


def plan_json_in_subprocess(stack: str, seed: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "infra", "plan", stack, "--json"],
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": seed},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from walk(item, f"{path}[{i}]")


def test_same_stack_file_same_bytes(stack):
    # The subprocesses run while this process evaluates the stack itself.
    processes = [plan_json_in_subprocess(stack, seed) for seed in HASH_SEEDS]
    plans = [evaluate_file(stack_file(stack), stack) for _ in range(EVALUATIONS)]
    printed = [process.communicate(timeout=300) for process in processes]

    assert len({render_table(p) for p in plans}) == 1, f"{stack}: the table differs between runs"
    documents = {render_json(p) for p in plans}
    assert len(documents) == 1, f"{stack}: --json differs between evaluations in one process"
    expected = documents.pop() + "\n"
    for seed, process, (out, err) in zip(HASH_SEEDS, processes, printed, strict=True):
        assert process.returncode == 0, err
        assert out == expected, f"plan {stack} --json with PYTHONHASHSEED={seed} differs"


def test_json_carries_stack_resources_options_and_outputs(plans, stack):
    plan = plans[stack]
    document = json.loads(render_json(plan))
    # An environment's capacity, and its cost or how to get prices, follow the plan itself.
    extra = [] if stack == "shared" else ["capacity", "cost", "costHint"]
    assert list(document) == ["stack", "resources", "outputs", *extra]
    assert document["stack"] == stack
    assert document["outputs"] == canonical(plan.outputs) and document["outputs"]
    assert [r["urn"] for r in document["resources"]] == [r.urn for r in plan.resources]
    for entry, resource in zip(document["resources"], plan.resources, strict=True):
        assert list(entry) == ["type", "name", "parent", "urn", "inputs", "options"]
        options = entry["options"]
        assert options["protect"] is resource.protect, resource.urn
        assert options["retainOnDelete"] is resource.retain_on_delete, resource.urn
        assert options["ignoreChanges"] == sorted(resource.ignore_changes), resource.urn
        assert options.get("dependsOn", []) == sorted(resource.dependencies), resource.urn


def test_numbers_print_as_the_program_wrote_them(plans, stack):
    document = plan_document(plans[stack])
    integral_floats = [
        path for path, value in walk(document) if isinstance(value, float) and value.is_integer()
    ]
    assert not integral_floats, f"integers printed as floats: {integral_floats[:5]}"
    assert ".0," not in render_json(plans[stack]) and ".0\n" not in render_json(plans[stack])


def test_documents_in_strings_print_as_documents(plans, stack):
    document = plan_document(plans[stack])
    hidden = []
    for path, value in walk(document):
        if isinstance(value, str) and value.lstrip().startswith("{"):
            try:
                parsed = json.loads(value)
            except ValueError:
                continue
            if isinstance(parsed, dict):
                hidden.append(path)
    assert not hidden, f"JSON documents left as strings: {hidden[:5]}"
    policies = [
        (r["urn"], key)
        for r in document["resources"]
        for key in ("policy", "assumeRolePolicy", "resourcePolicy", "dashboardBody")
        if key in r["inputs"]
    ]
    assert policies, f"stack {stack}: no policy or dashboard to check"
    for urn, key in policies:
        entry = next(r for r in document["resources"] if r["urn"] == urn)
        assert isinstance(entry["inputs"][key], dict), f"{urn}: {key} is not shown as a document"


def test_resources_are_grouped_by_component_then_sorted(plans, stack):
    plan = plans[stack]
    tops = [([r, *ancestors(plan, r)][-1]) for r in plan.resources]
    components: list[PlannedResource] = []
    for top in tops:
        if not components or components[-1] is not top:
            assert top not in components, f"{top.urn}: its resources are split up in the plan"
            components.append(top)
    order = [(c.name, c.type) for c in components]
    assert order == sorted(order), f"stack {stack}: components out of order: {order}"
    for component in components:
        members = [r for r, top in zip(plan.resources, tops, strict=True) if top is component]
        assert members[0] is component, f"{component.urn} is not first among its resources"
        keys = [(r.type, r.name, r.urn) for r in members[1:]]
        assert keys == sorted(keys), f"{component.urn}: resources not sorted by type and name"


def test_table_shows_values_in_full(plans, stack):
    plan = plans[stack]
    table = render_table(plan)
    assert "..." not in table
    rows = table.split("\nOutputs:")[0]
    for r in plan.resources:
        for key in ("productionVariants", "deploymentConfig", "alarmDescription"):
            if key in r.inputs:
                value = canonical(r.inputs[key])
                shown = (
                    value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
                )
                assert f"{key}={shown}" in rows, f"{r.urn}: {key} not shown in full"


def test_canonical_values():
    assert canonical({"b": 7.0, "a": [1.5, 2.0, True, None]}) == {"a": [1.5, 2, True, None], "b": 7}
    assert list(canonical({"b": 1, "a": 2})) == ["a", "b"]
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]})
    assert canonical({"policy": policy}) == {
        "policy": {"Statement": [{"Effect": "Allow"}], "Version": "2012-10-17"}
    }
    # Only objects are documents: a JSON list, number or broken text stays a string.
    for text in ('["a"]', "42", "{not json", "{}x"):
        assert canonical(text) == text
    assert isinstance(canonical(7.0), int) and isinstance(canonical(True), bool)


@pytest.mark.parametrize("key", ["artifact_bucket_name", "artifact_bucket_arn", "artifact_key_arn"])
def test_environment_stacks_read_what_the_shared_stack_exports(plans, stack_settings, key):
    shared = plans["shared"]
    assert shared_outputs(stack_settings["shared"].region)[key] == shared.outputs[key]
