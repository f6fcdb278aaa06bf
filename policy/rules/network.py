"""Models kept off the network: isolated containers in a VPC (advisory, with exempt models)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.resource_types import MODEL
from policy.model import STRINGS, UNKNOWN, Setting, resource_rule
from policy.properties import as_list, known, tag, value_at


def _exempt(props: Mapping[str, Any], config: Mapping[str, Any]) -> bool:
    """Whether the model's ``model`` tag is exempt; a tag not known yet cannot be held to it."""
    model = tag(props, "model")
    return model is UNKNOWN or model in config["exemptModels"]


@resource_rule(
    "sagemaker-model-network-isolation",
    "SageMaker models run with network isolation (Security Hub SageMaker.5, checkov CKV_AWS_370).",
    "advisory",
    "MLSEC04-BP01 Secure governed ML environment",
    ("SageMaker.5", "CKV_AWS_370"),
    settings={
        "exemptModels": Setting(STRINGS, [], "models (their model tag) that need no isolation")
    },
)
def sagemaker_model_network_isolation(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    if type_ != MODEL or _exempt(props, config):
        return []
    isolation = props.get("enableNetworkIsolation")
    if known(isolation) and isolation is not True:
        return ["model container may reach the network: set enableNetworkIsolation"]
    return []


@resource_rule(
    "sagemaker-model-in-vpc",
    "SageMaker models run in a VPC (AWS Config sagemaker-model-in-vpc).",
    "advisory",
    "MLSEC04-BP01 Secure governed ML environment",
    ("sagemaker-model-in-vpc",),
    settings={"exemptModels": Setting(STRINGS, [], "models (their model tag) that need no VPC")},
)
def sagemaker_model_in_vpc(
    type_: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    if type_ != MODEL or _exempt(props, config):
        return []
    vpc = props.get("vpcConfig")
    if vpc is UNKNOWN:
        return []
    if not (as_list(value_at(vpc, "subnets")) and as_list(value_at(vpc, "securityGroupIds"))):
        return ["model does not run in a VPC: set vpcConfig (subnets and security groups)"]
    return []
