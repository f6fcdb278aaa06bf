"""Shared fixtures of the policy pack's tests: each stack file's resources, evaluated once."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from infra.review.plan import evaluate_file, stack_file
from policy import configuration
from policy.model import Resource

STACKS = ("shared", "dev", "staging", "prod")
CONFIG_DIR = Path(__file__).resolve().parents[2] / "policy" / "config"


@cache
def stack_resources(stack: str) -> tuple[Resource, ...]:
    """What the real program registers for ``stacks/Pulumi.<stack>.yaml``, as the rules see it."""
    plan = evaluate_file(stack_file(stack), stack)
    return tuple(Resource(r.type, r.inputs, r.urn, r.dependencies) for r in plan.resources)


@cache
def stack_policy_config(stack: str) -> dict[str, configuration.RuleConfig]:
    return configuration.read_policy_config(CONFIG_DIR / f"{stack}.json")
