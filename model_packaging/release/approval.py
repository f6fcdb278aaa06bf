"""approve / reject: decide whether a registered version may be deployed, and record who did.

SageMaker deploys only Approved versions, and every promotion gate checks the status, so this is
the one step that lets a version reach any environment. The decision is written with its reason
(ApprovalDescription), the caller's identity and the time (customer metadata), in one request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from model_packaging.errors import PackagingError
from model_packaging.store import aws, registry


@dataclass(frozen=True)
class Decision:
    arn: str
    status: str
    previous_status: str
    who: str
    when: str


def decide(model: str, number: int, status: str, reason: str) -> Decision:
    """Set version ``number`` of ``model`` to ``status`` (Approved or Rejected) with ``reason``.

    The registry is reached through the default session, like publish: the same credentials and
    region that registered the version.
    """
    if status not in (registry.APPROVED, registry.REJECTED):
        raise ValueError(f"status must be Approved or Rejected, got {status!r}")
    reason = reason.strip()
    if not reason:
        raise PackagingError("a reason is required")
    clients = aws.connect()
    arn = registry.version_arn(clients.sagemaker, model, number)
    version = registry.describe_version(clients.sagemaker, arn)
    if version is None:
        raise PackagingError(f"{model} has no version {number} ({arn})")
    who = caller_arn(clients.sagemaker.meta.region_name)
    when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    registry.set_approval(clients.sagemaker, version, status, reason, who, when)
    return Decision(arn, status, version.approval_status, who, when)


def caller_arn(region: str) -> str:
    """The ARN of the identity making the requests.

    GetCallerIdentity needs no IAM permission (AWS STS API reference, GetCallerIdentity), so any
    credentials that can approve can say whose they are.
    """
    sts = aws.client(aws.session(region=region), "sts")
    with aws.reporting("cannot tell who is calling (sts:GetCallerIdentity)"):
        return str(sts.get_caller_identity()["Arn"])
