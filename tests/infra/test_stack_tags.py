"""Tags on everything that takes them: cost reports and ownership depend on it."""

from __future__ import annotations

from infra.resource_types import BUCKET, ENDPOINT, MODEL_ENDPOINT, ROLE_POLICY
from tests.infra.plan_checks import (
    accepts_tags,
    ancestor,
    tag_problems,
    taggable,
    version_tag_problems,
)


def test_taggable_types_are_found_by_introspection():
    # Guards the introspection itself: a wrong mapping would make every type "untaggable".
    assert accepts_tags(ENDPOINT)
    assert accepts_tags(BUCKET)
    assert not accepts_tags(ROLE_POLICY)
    assert not accepts_tags(MODEL_ENDPOINT)


def test_taggable_resources_carry_the_platform_tags(plans, stack_settings, stack):
    plan = plans[stack]
    checked = taggable(plan)
    assert checked, f"stack {stack}: no taggable resource, the check would pass vacuously"
    if stack_settings[stack].environment != "shared":
        assert any(ancestor(plan, r, MODEL_ENDPOINT) for r in checked), (
            f"stack {stack}: no taggable resource inside a ModelEndpoint"
        )
    problems = tag_problems(plan, stack_settings[stack])
    assert not problems, "\n".join(problems)


def test_version_tag_sits_only_on_the_models(plans, env_stack):
    """A promotion replaces the Models; a version tag elsewhere would update more resources."""
    plan = plans[env_stack]
    assert any("model-version" in (r.inputs.get("tags") or {}) for r in plan.resources), (
        f"stack {env_stack}: no resource carries model-version, the check would pass vacuously"
    )
    problems = version_tag_problems(plan)
    assert not problems, "\n".join(problems)
