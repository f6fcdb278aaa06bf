"""Whether an account's SageMaker quotas hold a stack's update peak, per instance type.

Each hosting instance type has an account quota in Service Quotas (ServiceCode ``sagemaker``)
named ``<type> for endpoint usage``: the instances of that type all endpoints of the account
may run at once in the region. New accounts often have 0 for many types, and an endpoint
update that needs more fails half way. The check compares the peak an update needs
(``infra.capacity.fleet``, ``infra.capacity.change``) with the quota's value:

- the applied value (ListServiceQuotas: "Lists the applied quota values ... If the applied
  quota value is not available for a quota, the quota is not retrieved"),
- else the default (ListAWSDefaultServiceQuotas: "A default value does not reflect any quota
  increases").

Both are read-only calls (``servicequotas:ListServiceQuotas``,
``servicequotas:ListAWSDefaultServiceQuotas``; Service Authorization Reference, "Actions
defined by Service Quotas"). The need counts this stack's endpoints only: instances other
endpoints of the account run count against the same quota (docs/cost.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SERVICE_CODE = "sagemaker"
PERMISSIONS = "servicequotas:ListServiceQuotas and servicequotas:ListAWSDefaultServiceQuotas"
_DENIED = {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"}


def quota_name(instance_type: str) -> str:
    return f"{instance_type} for endpoint usage"


class QuotaError(Exception):
    """The quotas cannot be read; one line that says why."""


@dataclass(frozen=True)
class Quota:
    name: str
    code: str
    value: float
    # True for the account's applied value, False for AWS's default.
    applied: bool
    adjustable: bool


@dataclass(frozen=True)
class QuotaCheck:
    instance_type: str
    need: int
    quota: Quota | None

    @property
    def ok(self) -> bool:
        return self.quota is not None and self.need <= self.quota.value

    def as_json(self) -> dict[str, Any]:
        return {
            "instanceType": self.instance_type,
            "need": self.need,
            "quotaName": quota_name(self.instance_type),
            "quotaCode": self.quota.code if self.quota else None,
            "value": self.quota.value if self.quota else None,
            "applied": self.quota.applied if self.quota else None,
            "ok": self.ok,
        }

    def line(self, region: str) -> str:
        name = quota_name(self.instance_type)
        if self.quota is None:
            return (
                f"unknown {self.instance_type}: needs {self.need}; Service Quotas has no quota"
                f" {name!r} for {SERVICE_CODE} in {region} (is the type offered for hosting"
                f" there?)"
            )
        quota = self.quota
        kind = "applied" if quota.applied else "default"
        head = (
            f"{self.instance_type}: needs {self.need}, quota {name!r} ({quota.code}) is"
            f" {quota.value:g} ({kind})"
        )
        if self.ok:
            return f"ok {head}"
        if not quota.adjustable:
            return f"FAIL {head}; the quota is not adjustable: use fewer instances or another type"
        return (
            f"FAIL {head}; request an increase: aws service-quotas"
            f" request-service-quota-increase --service-code {SERVICE_CODE}"
            f" --quota-code {quota.code} --desired-value {self.need} --region {region}"
        )


def endpoint_quotas(client: Any, instance_types: Sequence[str]) -> dict[str, Quota]:
    """The quota of each of ``instance_types`` that Service Quotas knows, applied or default.

    ``client`` is a ``service-quotas`` client of the account and region to check.
    """
    wanted = {quota_name(t): t for t in instance_types}
    found: dict[str, Quota] = {}
    for operation, applied in (
        ("list_service_quotas", True),
        ("list_aws_default_service_quotas", False),
    ):
        missing = {name for name in wanted if wanted[name] not in found}
        if not missing:
            break
        for item in _pages(client, operation):
            name = item.get("QuotaName")
            if name in missing and item.get("Value") is not None:
                found[wanted[name]] = Quota(
                    name=name,
                    code=str(item.get("QuotaCode", "")),
                    value=float(item["Value"]),
                    applied=applied,
                    adjustable=bool(item.get("Adjustable", True)),
                )
                missing.discard(name)
    return found


def check(need: Mapping[str, int], quotas: Mapping[str, Quota]) -> list[QuotaCheck]:
    return [QuotaCheck(t, n, quotas.get(t)) for t, n in sorted(need.items()) if n > 0]


def _pages(client: Any, operation: str) -> list[dict[str, Any]]:
    from botocore.exceptions import BotoCoreError, ClientError

    items: list[dict[str, Any]] = []
    token: str | None = None
    try:
        while True:
            request: dict[str, Any] = {"ServiceCode": SERVICE_CODE, "MaxResults": 100}
            if token:
                request["NextToken"] = token
            response = getattr(client, operation)(**request)
            items += response.get("Quotas", [])
            token = response.get("NextToken")
            if not token:
                return items
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        if code in _DENIED:
            raise QuotaError(
                f"error: Service Quotas refused to list the {SERVICE_CODE} quotas ({code}):"
                f" the credentials need {PERMISSIONS}"
            ) from None
        raise QuotaError(
            f"error: Service Quotas: {code or 'error'}: {error.get('Message', exc)}"
        ) from None
    except BotoCoreError as exc:
        raise QuotaError(f"error: Service Quotas could not be reached: {exc}") from None
