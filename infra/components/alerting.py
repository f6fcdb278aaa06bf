"""An environment's alert topic: KMS-encrypted SNS, subscriptions from config."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import iam
from infra.resource_types import ALERTING
from infra.settings import PROJECT, AlertSubscription
from infra.settings.limits import lambda_function_arn


@dataclass(frozen=True)
class AlertingArgs:
    kms_key_arn: pulumi.Input[str]
    account: pulumi.Input[str]
    subscriptions: list[AlertSubscription]
    tags: dict[str, str]


class Alerting(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: AlertingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(ALERTING, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        topic = aws.sns.Topic(
            f"{name}-topic", kms_master_key_id=args.kms_key_arn, tags=args.tags, opts=child
        )
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, args.account).apply(
                lambda ta: json.dumps(iam.alarm_publish_policy(ta[0], ta[1]))
            ),
            opts=child,
        )
        for i, subscription in enumerate(args.subscriptions):
            # Contact addresses, webhook URLs and function ARNs stay out of diffs and the state
            # in clear, whether or not the stack file encrypted them.
            endpoint = pulumi.Output.secret(subscription.endpoint)
            subscribed = child
            if subscription.protocol == "lambda":
                # Only a function of this account can be given the permission below.
                endpoint = pulumi.Output.all(args.account, endpoint).apply(
                    functools.partial(_own_function, i)
                )
                # SNS invokes a function only if the function's resource policy lets it, for
                # this topic ("Fanout to Lambda functions", SNS developer guide:
                # https://docs.aws.amazon.com/sns/latest/dg/sns-lambda-as-subscriber.html;
                # Lambda AddPermission with principal sns.amazonaws.com and SourceArn:
                # https://docs.aws.amazon.com/lambda/latest/dg/permissions-function-services.html).
                # Without it the subscription is accepted and every alert is dropped.
                permission = aws.lambda_.Permission(
                    f"{name}-lambda-{i}-invoke",
                    action="lambda:InvokeFunction",
                    function=endpoint,
                    principal="sns.amazonaws.com",
                    source_arn=topic.arn,
                    opts=child,
                )
                subscribed = pulumi.ResourceOptions(parent=self, depends_on=[permission])
            aws.sns.TopicSubscription(
                f"{name}-{subscription.protocol}-{i}",
                topic=topic.arn,
                protocol=subscription.protocol,
                endpoint=endpoint,
                opts=subscribed,
            )
        self.topic_arn = topic.arn
        self.register_outputs({"topic_arn": self.topic_arn})


def _own_function(index: int, values: list[Any]) -> str:
    """The function ARN of subscription ``index``, once it is known to be in the environment's
    account; ``values`` are that account and the ARN.

    The permission SNS needs is a statement of the function's resource-based policy (botocore
    lambda ``AddPermission``: "This operation adds a statement to a resource-based permissions
    policy for the function"), and AddPermission is not among the actions another account can
    be granted on a function (awsdocs/aws-lambda-developer-guide #139): from this account it
    fails, and a subscription without it drops every alert. SNS delivers to a function of
    another account only with grants on both sides (Lambda developer guide, "Using AWS Lambda
    with Amazon SNS": the function's owner lets SNS invoke it, the topic's owner lets that
    account subscribe), and this program makes neither. So the preview stops here, before
    anything is changed.

    The program cannot tell which endpoints the stack file encrypted (settings hold their
    decrypted values), so the message names the key and the two accounts, never the ARN.
    """
    account, function = values
    if not lambda_function_arn().fullmatch(function):
        # The offline plan's placeholder for an encrypted endpoint: it has no account to check.
        # Anything else that is not a function ARN was refused with the settings.
        return str(function)
    owner = function.split(":")[4]
    if owner != account:
        raise pulumi.RunError(
            f"{PROJECT}:alerts.subscriptions[{index}].endpoint: the function is in account "
            f"{owner}, this stack deploys to {account}, and only the function's account can let "
            "the alert topic invoke it; deploy the function (or one that forwards to it) in "
            f"{account}, or have its owner allow sns.amazonaws.com to invoke it with SourceArn "
            "this stack's alert topic and subscribe it from their account, which the topic's "
            "policy would also have to let them do"
        )
    return str(function)
