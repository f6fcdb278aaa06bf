"""The quota check: Service Quotas' endpoint-usage quotas against a stack's update peak, with
botocore's Stubber answering in the service's own shapes."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from infra.capacity import quotas

M5 = "ml.m5.xlarge"
C5 = "ml.c5.xlarge"


def quota(instance_type: str, value: float, code: str, adjustable: bool = True) -> dict[str, Any]:
    return {
        "ServiceCode": "sagemaker",
        "ServiceName": "Amazon SageMaker",
        "QuotaArn": f"arn:aws:servicequotas:us-east-1:111111111111:sagemaker/{code}",
        "QuotaCode": code,
        "QuotaName": quotas.quota_name(instance_type),
        "Value": value,
        "Unit": "None",
        "Adjustable": adjustable,
        "GlobalQuota": False,
    }


@pytest.fixture
def client() -> Any:
    return boto3.client(
        "service-quotas",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def expect(
    stub: Stubber,
    operation: str,
    items: list[dict[str, Any]],
    token: str | None = None,
    after: str | None = None,
) -> None:
    request: dict[str, Any] = {"ServiceCode": "sagemaker", "MaxResults": 100}
    if after:
        request["NextToken"] = after
    response: dict[str, Any] = {"Quotas": items}
    if token:
        response["NextToken"] = token
    stub.add_response(operation, response, request)


def test_applied_values_first_then_defaults_across_pages(client):
    with Stubber(client) as stub:
        expect(stub, "list_service_quotas", [quota("ml.t2.medium", 3, "L-T2")], token="p2")
        expect(stub, "list_service_quotas", [quota(M5, 8, "L-M5")], after="p2")
        expect(
            stub, "list_aws_default_service_quotas", [quota(C5, 0, "L-C5"), quota(M5, 2, "L-M5")]
        )
        found = quotas.endpoint_quotas(client, [M5, C5])
        stub.assert_no_pending_responses()
    assert found[M5] == quotas.Quota(quotas.quota_name(M5), "L-M5", 8.0, True, True)
    assert found[C5].value == 0 and not found[C5].applied


def test_no_default_call_when_every_type_has_an_applied_value(client):
    with Stubber(client) as stub:
        expect(stub, "list_service_quotas", [quota(M5, 8, "L-M5")])
        assert set(quotas.endpoint_quotas(client, [M5])) == {M5}
        stub.assert_no_pending_responses()


def test_a_need_over_the_quota_fails_naming_quota_value_need_and_request():
    found = {M5: quotas.Quota(quotas.quota_name(M5), "L-M5", 4.0, True, True)}
    [check] = quotas.check({M5: 6}, found)
    assert not check.ok
    line = check.line("eu-west-1")
    assert line.startswith("FAIL ml.m5.xlarge: needs 6")
    assert "'ml.m5.xlarge for endpoint usage' (L-M5) is 4 (applied)" in line
    assert (
        "aws service-quotas request-service-quota-increase --service-code sagemaker"
        " --quota-code L-M5 --desired-value 6 --region eu-west-1" in line
    )
    [fits] = quotas.check({M5: 4}, found)
    assert fits.ok and fits.line("eu-west-1").startswith("ok ")


def test_a_type_without_a_quota_is_not_ok():
    [check] = quotas.check({"ml.x9.huge": 2}, {})
    assert not check.ok
    assert "has no quota 'ml.x9.huge for endpoint usage'" in check.line("us-east-1")


def test_a_refusal_is_one_line_naming_the_permissions(client):
    with Stubber(client) as stub:
        stub.add_client_error("list_service_quotas", "AccessDeniedException", "not authorized", 400)
        with pytest.raises(quotas.QuotaError) as raised:
            quotas.endpoint_quotas(client, [M5])
    message = str(raised.value)
    assert "\n" not in message
    assert "servicequotas:ListServiceQuotas" in message
