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
from collections.abc import Callable, Mapping
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
    LAMBDA_FUNCTION,
    LAMBDA_LAYER,
    LOG_GROUP,
    MODEL,
    MODEL_PACKAGE_GROUP,
    QUEUE,
    RANDOM_ID,
    ROLE,
    SCALABLE_TARGET,
    SCHEDULE,
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


@dataclass(frozen=True)
class _NewResource:
    """What AWS answers a new resource from: its inputs, the seed of its generated names and
    ids (``_seed``), its auto-name, and the region and account it is created in."""

    typ: str
    inputs: Mapping[str, Any]
    seed: str
    physical: str
    region: str
    account: str

    def name(self, key: str = "name") -> str:
        """The name the inputs give, or else the auto-name."""
        name: str = self.inputs.get(key) or self.physical
        return name


# A resource's id, and the outputs AWS computes for it.
_Answer = tuple[str, dict[str, Any]]


def _bucket(new: _NewResource) -> _Answer:
    name = new.name("bucket")
    return name, {"bucket": name, "arn": f"arn:aws:s3:::{name}"}


def _kms_key(new: _NewResource) -> _Answer:
    key_id = str(uuid.UUID(hashlib.md5(new.seed.encode()).hexdigest()))
    arn = f"arn:aws:kms:{new.region}:{new.account}:key/{key_id}"
    return key_id, {"key_id": key_id, "arn": arn}


def _role(new: _NewResource) -> _Answer:
    name = new.name()
    path = new.inputs.get("path", "/")
    return name, {"name": name, "arn": f"arn:aws:iam::{new.account}:role{path}{name}"}


def _topic(new: _NewResource) -> _Answer:
    name = new.name()
    arn = f"arn:aws:sns:{new.region}:{new.account}:{name}"
    return arn, {"name": name, "arn": arn}


def _log_group(new: _NewResource) -> _Answer:
    name = new.name()
    arn = f"arn:aws:logs:{new.region}:{new.account}:log-group:{name}"
    return name, {"name": name, "arn": arn}


def _alarm(new: _NewResource) -> _Answer:
    name = new.name()
    arn = f"arn:aws:cloudwatch:{new.region}:{new.account}:alarm:{name}"
    return name, {"name": name, "arn": arn}


def _dashboard(new: _NewResource) -> _Answer:
    name = new.inputs["dashboardName"]
    return name, {"dashboardArn": f"arn:aws:cloudwatch::{new.account}:dashboard/{name}"}


def _model_package_group(new: _NewResource) -> _Answer:
    name = new.inputs["modelPackageGroupName"]
    arn = f"arn:aws:sagemaker:{new.region}:{new.account}:model-package-group/{name}"
    return name, {"arn": arn}


def _random_id(new: _NewResource) -> _Answer:
    # As terraform-provider-random internal/provider/resource_id.go encodes its bytes:
    # id is unpadded URL-safe base64 without the prefix, the others carry the prefix.
    # The bytes are drawn again when keepers, byteLength or prefix change (all three
    # replace the resource), and only then.
    drawn = _random_bytes(new.seed, int(new.inputs["byteLength"]))
    prefix = new.inputs.get("prefix") or ""
    random_id = base64.urlsafe_b64encode(drawn).decode().rstrip("=")
    return random_id, {
        "b64Url": prefix + random_id,
        "b64Std": prefix + base64.b64encode(drawn).decode(),
        "hex": prefix + drawn.hex(),
        "dec": prefix + str(int.from_bytes(drawn, "big")),
    }


def _scalable_target(new: _NewResource) -> _Answer:
    arn = (
        f"arn:aws:application-autoscaling:{new.region}:{new.account}:scalable-target/"
        f"{_suffix(new.seed)}"
    )
    return new.inputs.get("resourceId", new.physical), {"arn": arn}


def _sagemaker(new: _NewResource) -> _Answer:
    kind = {
        MODEL: "model",
        ENDPOINT_CONFIG: "endpoint-config",
        ENDPOINT: "endpoint",
    }.get(new.typ, new.typ.rsplit(":", 1)[-1].lower())
    name = new.name()
    arn = f"arn:aws:sagemaker:{new.region}:{new.account}:{kind}/{name}"
    return name, {"name": name, "arn": arn}


def _function(new: _NewResource) -> _Answer:
    name = new.name()
    arn = f"arn:aws:lambda:{new.region}:{new.account}:function:{name}"
    return name, {"name": name, "arn": arn, "invokeArn": arn, "qualifiedArn": f"{arn}:$LATEST"}


def _layer_version(new: _NewResource) -> _Answer:
    # PublishLayerVersion numbers each version of a layer; a replaced one is the next number.
    layer = f"arn:aws:lambda:{new.region}:{new.account}:layer:{new.inputs['layerName']}"
    version = 1 + int(_suffix(new.seed), 16) % 97
    arn = f"{layer}:{version}"
    return arn, {"arn": arn, "layerArn": layer, "version": str(version)}


def _queue(new: _NewResource) -> _Answer:
    name = new.name()
    url = f"https://sqs.{new.region}.amazonaws.com/{new.account}/{name}"
    return url, {"name": name, "url": url, "arn": f"arn:aws:sqs:{new.region}:{new.account}:{name}"}


def _schedule(new: _NewResource) -> _Answer:
    name = new.name()
    group = new.inputs.get("groupName") or "default"
    arn = f"arn:aws:scheduler:{new.region}:{new.account}:schedule/{group}/{name}"
    return f"{group}/{name}", {"name": name, "groupName": group, "arn": arn}


def _any_other(new: _NewResource) -> _Answer:
    return new.physical, {"arn": f"arn:aws:mock:{new.region}:{new.account}:{new.physical}"}


_ANSWERS = {
    BUCKET: _bucket,
    KMS_KEY: _kms_key,
    ROLE: _role,
    TOPIC: _topic,
    LOG_GROUP: _log_group,
    ALARM: _alarm,
    DASHBOARD: _dashboard,
    MODEL_PACKAGE_GROUP: _model_package_group,
    RANDOM_ID: _random_id,
    SCALABLE_TARGET: _scalable_target,
    LAMBDA_FUNCTION: _function,
    LAMBDA_LAYER: _layer_version,
    QUEUE: _queue,
    SCHEDULE: _schedule,
}


def _answer_for(typ: str) -> Callable[[_NewResource], _Answer]:
    if typ in _ANSWERS:
        return _ANSWERS[typ]
    return _sagemaker if typ.startswith("aws:sagemaker/") else _any_other


def _plain(value: Any) -> Any:
    """Inputs with each asset and archive as what names it (a file archive's path, relative to
    the project): the objects the SDK hands the mocks print as their memory address."""
    if isinstance(value, pulumi.FileArchive | pulumi.FileAsset):
        return {type(value).__name__: str(value.path)}
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        return {type(value).__name__: "<content>"}
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


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
        inputs = _plain(args.inputs)
        self._seen.inputs = inputs
        if args.typ == STACK_REFERENCE:
            return args.name, {"outputs": self.shared_outputs}
        # Auto-names and generated ids change when a replace-forcing input does (_seed).
        seed = _seed(args.typ, args.name, inputs)
        new = _NewResource(
            typ=args.typ,
            inputs=inputs,
            seed=seed,
            physical=f"{args.name}-{_suffix(seed)}",
            region=self.region,
            account=self.account,
        )
        return _answer_for(args.typ)(new)


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
