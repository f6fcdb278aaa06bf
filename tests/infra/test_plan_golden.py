"""The offline plans of the shipped stack files, byte for byte, against recorded ones.

``tests/data/plans/<stack>.json`` and ``<stack>.txt`` hold ``python -m infra plan STACK --json``
and ``python -m infra plan STACK`` as they printed when they were last reviewed. A change to the
code that alters what any stack registers, or how the plan prints it, fails here; a change meant
to alter a plan records the new output in the same commit (``make golden-plans``), so the
difference is reviewed with the code that made it.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from infra.review.plan import Plan, render_json, render_table
from tests.infra.plan_checks import stack_files

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "plans"
RENDERERS = {"json": render_json, "txt": render_table}


def first_difference(expected: str, actual: str) -> str:
    diff = difflib.unified_diff(
        expected.splitlines(), actual.splitlines(), "recorded", "now", n=1, lineterm=""
    )
    return "\n".join(list(diff)[:40])


def test_every_stack_file_has_recorded_plans() -> None:
    recorded = {path.stem for path in GOLDEN.glob("*.json")}
    assert recorded == set(stack_files())


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_plan_matches_the_recorded_bytes(stack: str, fmt: str, plans: dict[str, Plan]) -> None:
    expected = (GOLDEN / f"{stack}.{fmt}").read_text(encoding="utf-8")
    actual = RENDERERS[fmt](plans[stack]) + "\n"
    assert actual == expected, first_difference(expected, actual)
