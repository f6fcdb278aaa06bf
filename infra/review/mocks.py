"""Pulumi mocks that answer like AWS: realistic names, ARNs and account ids.

Used by the offline plan and the tests. The monitor records every registration with its parent,
dependencies and options, which ``MockResourceArgs`` alone does not carry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor

from infra.resource_types import (
    ALARM,
    BUCKET,
    DASHBOARD,
    ENDPOINT,
    ENDPOINT_CONFIG,
    KMS_KEY,
    LOG_GROUP,
    MODEL,
    MODEL_PACKAGE_GROUP,
    RANDOM_ID,
    ROLE,
    SCALABLE_TARGET,
    STACK,
    STACK_REFERENCE,
    TOPIC,
)
from infra.review.replacement import REPLACE_FORCING, input_value

# A believable account per stack, matching the reader accounts in stacks/Pulumi.shared.yaml.
ACCOUNTS = {
    "shared": "111111111111",
    "dev": "222222222222",
    "staging": "333333333333",
    "prod": "444444444444",
}
DEFAULT_ACCOUNT = "123456789012"


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent_urn: str
    custom: bool
    inputs: dict[str, Any]
    dependencies: list[str] = field(default_factory=list)
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    retain_on_delete: bool = False
    # As the SDK sends it: a child registered without ``protect`` takes its parent's.
    protect: bool = False
    # Engine property names (camelCase), as the SDK translates them.
    ignore_changes: list[str] = field(default_factory=list)


def _suffix(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:7]


def _seed(typ: str, name: str, inputs: Mapping[str, Any]) -> str:
    """What a resource's generated names and ids derive from: its logical name and the values
    of its replace-forcing inputs (``infra.review.replacement``).

    The provider replaces a resource when one of those changes, and the replacement gets a new
    auto-name or id, which every resource referring to it then shows. A resource none of whose
    replace-forcing inputs is set keeps the name its logical name alone gives.
    """
    forcing = {}
    for path in sorted(REPLACE_FORCING.get(typ, ())):
        value = input_value(inputs, path)
        if value is not None:
            forcing[path] = value
    if not forcing:
        return name
    return f"{name}\n{json.dumps(forcing, sort_keys=True, separators=(',', ':'), default=str)}"


def _random_bytes(seed: str, length: int) -> bytes:
    drawn = b""
    counter = 0
    while len(drawn) < length:
        drawn += hashlib.sha256(f"{counter}:{seed}".encode()).digest()
        counter += 1
    return drawn[:length]


class AwsMocks(pulumi.runtime.Mocks):
    def __init__(self, stack: str, region: str, shared_outputs: dict[str, Any]) -> None:
        self.account = ACCOUNTS.get(stack, DEFAULT_ACCOUNT)
        self.region = region
        self.shared_outputs = shared_outputs
        # The monitor calls new_resource on the thread that handles the registration; keeping
        # the decoded inputs here spares the recorder decoding them a second time.
        self._seen = threading.local()

    def last_inputs(self) -> dict[str, Any]:
        """The inputs of the latest new_resource call on this thread."""
        return dict(self._seen.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:  # a dict: the mock monitor allows it
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account,
                "arn": f"arn:aws:sts::{self.account}:assumed-role/deployer/pulumi",
                "userId": "AROAEXAMPLEDEPLOYER:pulumi",
                "id": self.account,
            }
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}
        return {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        # Only the properties AWS computes are returned: the SDK takes every other output from
        # the inputs, so echoing them would only be serialised and decoded again.
        self._seen.inputs = args.inputs
        inputs = args.inputs
        if args.typ == STACK_REFERENCE:
            return args.name, {"outputs": self.shared_outputs}
        # Auto-names and generated ids change when a replace-forcing input does (_seed).
        seed = _seed(args.typ, args.name, inputs)
        physical = f"{args.name}-{_suffix(seed)}"
        state: dict[str, Any] = {}
        region, account = self.region, self.account
        typ = args.typ
        if typ == BUCKET:
            name = inputs.get("bucket") or physical
            state.update(bucket=name, arn=f"arn:aws:s3:::{name}")
            return name, state
        if typ == KMS_KEY:
            key_id = str(uuid.UUID(hashlib.md5(seed.encode()).hexdigest()))
            state.update(key_id=key_id, arn=f"arn:aws:kms:{region}:{account}:key/{key_id}")
            return key_id, state
        if typ == ROLE:
            name = inputs.get("name") or physical
            path = inputs.get("path", "/")
            state.update(name=name, arn=f"arn:aws:iam::{account}:role{path}{name}")
            return name, state
        if typ == TOPIC:
            name = inputs.get("name") or physical
            arn = f"arn:aws:sns:{region}:{account}:{name}"
            state.update(name=name, arn=arn)
            return arn, state
        if typ == LOG_GROUP:
            name = inputs.get("name") or physical
            state.update(name=name, arn=f"arn:aws:logs:{region}:{account}:log-group:{name}")
            return name, state
        if typ == ALARM:
            name = inputs.get("name") or physical
            state.update(name=name, arn=f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}")
            return name, state
        if typ == DASHBOARD:
            name = inputs["dashboardName"]
            state["dashboardArn"] = f"arn:aws:cloudwatch::{account}:dashboard/{name}"
            return name, state
        if typ == MODEL_PACKAGE_GROUP:
            name = inputs["modelPackageGroupName"]
            state["arn"] = f"arn:aws:sagemaker:{region}:{account}:model-package-group/{name}"
            return name, state
        if typ.startswith("aws:sagemaker/"):
            kind = {
                MODEL: "model",
                ENDPOINT_CONFIG: "endpoint-config",
                ENDPOINT: "endpoint",
            }.get(typ, typ.rsplit(":", 1)[-1].lower())
            name = inputs.get("name") or physical
            state.update(name=name, arn=f"arn:aws:sagemaker:{region}:{account}:{kind}/{name}")
            return name, state
        if typ == RANDOM_ID:
            # As terraform-provider-random internal/provider/resource_id.go encodes its bytes:
            # id is unpadded URL-safe base64 without the prefix, the others carry the prefix.
            # The bytes are drawn again when keepers, byteLength or prefix change (all three
            # replace the resource), and only then.
            drawn = _random_bytes(seed, int(inputs["byteLength"]))
            prefix = inputs.get("prefix") or ""
            random_id = base64.urlsafe_b64encode(drawn).decode().rstrip("=")
            state.update(
                b64Url=prefix + random_id,
                b64Std=prefix + base64.b64encode(drawn).decode(),
                hex=prefix + drawn.hex(),
                dec=prefix + str(int.from_bytes(drawn, "big")),
            )
            return random_id, state
        if typ == SCALABLE_TARGET:
            state["arn"] = (
                f"arn:aws:application-autoscaling:{region}:{account}:scalable-target/"
                f"{_suffix(seed)}"
            )
            return inputs.get("resourceId", physical), state
        state.setdefault("arn", f"arn:aws:mock:{region}:{account}:{physical}")
        return physical, state


class RecordingMonitor(MockMonitor):
    """A mock monitor that keeps every registration, in order."""

    def __init__(self, mocks: AwsMocks) -> None:
        super().__init__(mocks)
        self.aws = mocks
        self.registrations: list[Registration] = []

    def _record(self, request: Any, urn: str, **options: Any) -> None:
        self.registrations.append(
            Registration(
                urn=urn,
                type=request.type,
                name=request.name,
                parent_urn=request.parent,
                inputs=self.aws.last_inputs(),
                dependencies=list(request.dependencies),
                **options,
            )
        )

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        # pulumi's MockMonitor declares no types for its gRPC methods.
        response = super().ReadResource(request)  # type: ignore[no-untyped-call]
        self._record(request, response.urn, custom=True)
        return response

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == STACK:
            return response
        timeouts = request.customTimeouts
        self._record(
            request,
            response.urn,
            custom=bool(request.custom),
            custom_timeouts={
                k: v
                for k, v in (
                    ("create", timeouts.create),
                    ("update", timeouts.update),
                    ("delete", timeouts.delete),
                )
                if v
            },
            retain_on_delete=bool(request.retainOnDelete),
            protect=bool(request.protect),
            ignore_changes=list(request.ignoreChanges),
        )
        return response
