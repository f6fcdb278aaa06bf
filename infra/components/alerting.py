"""An environment's alert topic: KMS-encrypted SNS, subscriptions from config."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import iam
from infra.resource_types import ALERTING
from infra.settings import AlertSubscription


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
