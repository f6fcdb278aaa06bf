"""A lambda alert subscription to a function of another account is refused when the program runs.

The permission that lets SNS invoke the function goes into the function's resource-based policy,
which only the function's account can change (botocore lambda ``AddPermission``). The program
compares the function ARN's account with the account it deploys to, on the decrypted endpoint,
before the permission is registered.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest

from infra.resource_types import LAMBDA_PERMISSION, TOPIC_SUBSCRIPTION
from infra.review.mocks import ACCOUNTS, DEFAULT_ACCOUNT
from infra.review.plan import evaluate
from infra.settings import SECRET, SettingsError
from tests.infra.plan_checks import only, resources_of

OTHER_ACCOUNT = "999999999999"
FUNCTION = "arn:aws:lambda:us-east-1:{account}:function:alerts-to-chat"


def with_function(config: Mapping[str, Any], endpoint: str) -> tuple[dict[str, Any], int]:
    """The config with a lambda subscription to ``endpoint`` added, and its index."""
    changed = copy.deepcopy(dict(config))
    subscriptions = changed["mlserve:alerts"]["subscriptions"]
    subscriptions.append({"protocol": "lambda", "endpoint": endpoint})
    return changed, len(subscriptions) - 1


def test_a_function_in_another_account_is_refused(stack_configs, dev_stack):
    config, index = with_function(stack_configs[dev_stack], FUNCTION.format(account=OTHER_ACCOUNT))
    # The offline plan reports it like any problem of the stack file, one line, no traceback.
    with pytest.raises(SettingsError, match="only the function's account") as caught:
        evaluate(config, dev_stack)
    (message,) = caught.value.problems
    account = ACCOUNTS.get(dev_stack, DEFAULT_ACCOUNT)
    assert message == (
        f"mlserve:alerts.subscriptions[{index}].endpoint: the function is in account "
        f"{OTHER_ACCOUNT}, this stack deploys to {account}, and only the function's account can "
        "let the alert topic invoke it; deploy the function (or one that forwards to it) in "
        f"{account}, or have its owner allow sns.amazonaws.com to invoke it with SourceArn this "
        "stack's alert topic and subscribe it from their account, which the topic's policy "
        "would also have to let them do"
    )
    # The endpoint may be a secret: its ARN is not repeated.
    assert "alerts-to-chat" not in message


def test_a_function_in_the_stacks_account_plans_its_permission(stack_configs, dev_stack):
    config, _ = with_function(
        stack_configs[dev_stack], FUNCTION.format(account=ACCOUNTS.get(dev_stack, DEFAULT_ACCOUNT))
    )
    plan = evaluate(config, dev_stack)
    permission = only(resources_of(plan, LAMBDA_PERMISSION), "lambda permission")
    assert permission.inputs["function"] == SECRET
    assert permission.inputs["principal"] == "sns.amazonaws.com"
    assert permission.inputs["sourceArn"] == plan.outputs["alert_topic_arn"]
    lambdas = [
        s for s in resources_of(plan, TOPIC_SUBSCRIPTION) if s.inputs["protocol"] == "lambda"
    ]
    assert only(lambdas, "lambda subscription").inputs["endpoint"] == SECRET


def test_an_encrypted_function_plans_offline(stack_configs, dev_stack):
    # The offline plan cannot decrypt the endpoint; pulumi preview checks the decrypted value.
    config, _ = with_function(stack_configs[dev_stack], SECRET)
    plan = evaluate(config, dev_stack)
    assert only(resources_of(plan, LAMBDA_PERMISSION), "lambda permission")
