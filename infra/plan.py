"""Offline plan: evaluate the real program for a stack under Pulumi's mocks.

``evaluate`` runs ``__main__.py`` exactly as ``pulumi up`` would, with the stack's config set
and a recording mock monitor instead of the engine, and returns every resource it registered
and the stack outputs. Reviewers without cloud credentials read this; tests assert on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import json
import runpy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.mocks import ACCOUNTS, AwsMocks, RecordingMonitor, Registration
from infra.settings import PROJECT, SECRET, Settings, load_settings, read_stack_file

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "__main__.py"
STACKS_DIR = ROOT / "stacks"

# Inputs shown in the table, per resource type: what a reviewer checks first.
KEY_INPUTS: dict[str, tuple[str, ...]] = {
    "aws:sagemaker/endpoint:Endpoint": ("name", "deploymentConfig"),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": (
        "productionVariants",
        "shadowProductionVariants",
    ),
    "aws:sagemaker/model:Model": ("primaryContainer", "enableNetworkIsolation"),
    "aws:appautoscaling/target:Target": ("resourceId", "minCapacity", "maxCapacity"),
    "aws:appautoscaling/policy:Policy": ("name",),
    "aws:appautoscaling/scheduledAction:ScheduledAction": ("schedule", "scalableTargetAction"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("name", "threshold", "dimensions"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays"),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboardName",),
    "aws:iam/role:Role": ("path",),
    "aws:sns/topicSubscription:TopicSubscription": ("protocol", "endpoint"),
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": ("modelPackageGroupName",),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ("rules",),
    "aws:kms/key:Key": ("enableKeyRotation",),
    "aws:kms/alias:Alias": ("name",),
}


@dataclass(frozen=True)
class PlannedResource:
    type: str
    name: str
    parent: str | None
    inputs: dict[str, Any]
    urn: str
    custom: bool
    dependencies: tuple[str, ...]
    custom_timeouts: dict[str, str]
    retain_on_delete: bool
    protect: bool = False
    ignore_changes: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "parent": self.parent, "inputs": self.inputs}


@dataclass(frozen=True)
class Plan:
    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, Any]

    def of_type(self, type_token: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_token]

    def by_urn(self, urn: str) -> PlannedResource:
        return next(r for r in self.resources if r.urn == urn)


def stack_file(stack: str) -> Path:
    return STACKS_DIR / f"Pulumi.{stack}.yaml"


def shared_outputs(region: str) -> dict[str, Any]:
    """What the shared stack exports, as its program names things under the same mocks."""
    account = ACCOUNTS["shared"]
    mocks = AwsMocks("shared", region, {})
    bucket = mocks.new_resource(
        pulumi.runtime.MockResourceArgs("aws:s3/bucket:Bucket", "mlserve-artifacts", {})
    )[0]
    key = mocks.new_resource(
        pulumi.runtime.MockResourceArgs("aws:kms/key:Key", "mlserve-artifacts-kms-key", {})
    )[0]
    return {
        "artifact_bucket_name": bucket,
        "artifact_bucket_arn": f"arn:aws:s3:::{bucket}",
        "artifact_key_arn": f"arn:aws:kms:{region}:{account}:key/{key}",
        "region": region,
    }


def evaluate(config: Mapping[str, Any], stack: str) -> Plan:
    """Run the program for ``stack`` with ``config`` (full keys, decoded values).

    Raises ``SettingsError`` before anything is registered when the config is invalid.

    Each evaluation runs in a context and an event loop of its own. Pulumi keeps its runtime
    state in context variables, and the loop's handles keep the context they were made in: a
    shared loop would keep every earlier evaluation's resources alive.
    """
    settings = load_settings(config, stack)
    with _collector_paused():
        return contextvars.Context().run(_evaluate_isolated, config, stack, settings)


def _evaluate_isolated(config: Mapping[str, Any], stack: str, settings: Settings) -> Plan:
    mocks = AwsMocks(stack, settings.region, shared_outputs(settings.region))
    monitor = RecordingMonitor(mocks)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        runtime_settings.reset_options(project=PROJECT, stack=stack)
        pulumi.runtime.set_all_config(
            {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
        )
        pulumi.runtime.set_mocks(
            mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor
        )
        runtime_settings.SETTINGS.rpc_manager.clear()
        runtime_settings.SETTINGS.outputs.clear()

        def program() -> None:
            runpy.run_path(str(PROGRAM), run_name="__main__")

        _sync_await(run_pulumi_func(program))
        root = runtime_settings.get_root_resource()
        exported = getattr(root, "outputs", {})
        outputs = _sync_await(pulumi.Output.from_input(exported).future()) or {}
        return Plan(stack=stack, resources=_planned(monitor.registrations), outputs=outputs)
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        asyncio.set_event_loop(None)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No garbage collection while the program's object graph is built and read.

    Collections during the run would walk that growing graph again and again (50 models cost
    about 55 times one model with them, about 26 times without). ``__main__.py`` turns the
    collector off for a real run, whose process then exits.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        # Move what the run allocated to the oldest generation without scanning it (freeze,
        # then unfreeze): its garbage is freed by the caller's next full collection, rather
        # than by a young collection walking the whole graph the moment collection resumes.
        gc.freeze()
        gc.unfreeze()
        if collecting:
            gc.enable()


def evaluate_file(path: Path, stack: str) -> Plan:
    return evaluate(read_stack_file(path), stack)


def _redacted(value: Any) -> Any:
    """Secrets read as ``[secret]``, as ``pulumi preview`` shows them."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return SECRET
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value


def _planned(registrations: list[Registration]) -> list[PlannedResource]:
    """Resources grouped under their top-level component, in a stable order.

    Registration order depends on when outputs resolve; a review diff must not.
    """
    names = {r.urn: r.name for r in registrations}
    parents = {r.urn: r.parent_urn for r in registrations}
    first_seen = {r.urn: i for i, r in enumerate(registrations)}

    def lineage(urn: str) -> list[str]:
        chain = [urn]
        while parents.get(chain[-1]) in parents:
            chain.append(parents[chain[-1]])
        return chain[::-1]

    def order(r: Registration) -> tuple[int, int, str, str]:
        chain = lineage(r.urn)
        return (first_seen[chain[0]], len(chain), r.type, r.name)

    registrations = sorted(registrations, key=order)
    return [
        PlannedResource(
            type=r.type,
            name=r.name,
            parent=names.get(r.parent_urn),
            inputs=_redacted(r.inputs),
            urn=r.urn,
            custom=r.custom,
            dependencies=tuple(r.dependencies),
            custom_timeouts=r.custom_timeouts,
            retain_on_delete=r.retain_on_delete,
            protect=r.protect,
            ignore_changes=tuple(r.ignore_changes),
        )
        for r in registrations
    ]


def render_table(plan: Plan) -> str:
    rows = [("TYPE", "NAME", "PARENT", "KEY INPUTS")]
    for r in plan.resources:
        keys = KEY_INPUTS.get(r.type, ())
        shown = "; ".join(f"{k}={_compact(r.inputs[k])}" for k in keys if r.inputs.get(k))
        rows.append((r.type, r.name, r.parent or "-", shown))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"Stack {plan.stack}: {len(plan.resources)} resources"]
    for row in rows:
        lines.append(
            "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3]
        )
    lines.append("")
    lines.append("Outputs:")
    lines.append(json.dumps(plan.outputs, indent=2, sort_keys=True, default=str))
    return "\n".join(lines)


def render_json(plan: Plan) -> str:
    return json.dumps([r.as_json() for r in plan.resources], indent=2, default=str)


def _compact(value: Any, limit: int = 110) -> str:
    text = (
        value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
    )
    return text if len(text) <= limit else text[: limit - 3] + "..."
