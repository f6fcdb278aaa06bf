"""Encrypted stack values and secret inputs: hidden in the plan, never in clear in diffs."""

from __future__ import annotations

from pathlib import Path

import yaml

from infra.resource_types import TOPIC_SUBSCRIPTION
from infra.review.plan import evaluate_file, stack_file
from infra.settings import SECRET, read_stack_file
from tests.infra.plan_checks import resources_of


def test_an_encrypted_value_reads_as_a_placeholder(tmp_path: Path) -> None:
    document = yaml.safe_load(stack_file("prod").read_text())
    subscriptions = document["config"]["mlserve:alerts"]["subscriptions"]
    subscriptions[1]["endpoint"] = {"secure": "AAABAKx0bm90LXJlYWwtY2lwaGVydGV4dA=="}
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(document))

    config = read_stack_file(path)
    assert config["mlserve:alerts"]["subscriptions"][1]["endpoint"] == SECRET

    plan = evaluate_file(path, "prod")  # the https check does not judge what it cannot read
    endpoints = {r.name: r.inputs["endpoint"] for r in resources_of(plan, TOPIC_SUBSCRIPTION)}
    assert endpoints == {
        "mlserve-prod-alerts-email-0": SECRET,
        "mlserve-prod-alerts-https-1": SECRET,
    }


def test_subscription_endpoints_are_secret_inputs(plans, env_stack) -> None:
    plan = plans[env_stack]
    subscriptions = resources_of(plan, TOPIC_SUBSCRIPTION)
    assert subscriptions, f"{env_stack}: no subscriptions"
    for subscription in subscriptions:
        assert subscription.inputs["endpoint"] == SECRET, subscription.urn
