"""A stack's config is validated once on every path that evaluates the program.

``evaluate`` validates the config and hands the settings to ``infra.program.run``; ``__main__.py``
validates Pulumi's config and calls the same ``run``; the demo's stand-in reuses the settings of
the plan it evaluated. ``validations`` counts every call of ``load_settings``, whichever module
made it: each validation of a whole config goes through it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import pytest

import infra.settings
import infra.settings.loading
from demo.standin import up
from infra.review.plan import Plan, evaluate_entry_point, evaluate_file, plan_document, stack_file
from infra.settings import Settings, load_stack_file


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stack of each validation from here on, in order."""
    original = infra.settings.loading.load_settings
    # The package resolves its names on first use: resolve this one now, so that it is patched.
    assert infra.settings.load_settings is original
    made: list[str] = []

    def counted(config: Mapping[str, Any], stack: str, source: str | None = None) -> Settings:
        made.append(stack)
        return original(config, stack, source)

    for module in list(sys.modules.values()):
        if getattr(module, "__dict__", {}).get("load_settings") is original:
            monkeypatch.setattr(module, "load_settings", counted)
    return made


def test_the_offline_plan_validates_once(validations: list[str]) -> None:
    path = stack_file("prod")
    plan = evaluate_file(path, "prod")
    assert validations == ["prod"]
    assert plan.settings == load_stack_file(path, "prod")


def test_the_entry_point_validates_once_and_builds_what_the_plan_builds(
    validations: list[str], stack_configs: Mapping[str, dict[str, Any]], plans: Mapping[str, Plan]
) -> None:
    config = stack_configs["dev"]
    plan = evaluate_entry_point(config, "dev", config["aws:region"])
    assert validations == ["dev"]
    assert plan_document(plan) == plan_document(plans["dev"])


def test_the_stand_in_validates_once(
    validations: list[str], moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    outcome = up(stack_file("shared"), "shared")
    assert validations == ["shared"]
    assert outcome.bucket and outcome.key_arn
