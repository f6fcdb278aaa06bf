"""Offline plan: evaluate the real program for a stack under Pulumi's mocks.

``evaluate`` validates the stack's config once and runs the program's body
(``infra.program.run``) with those settings, as ``__main__.py`` does under ``pulumi up``, with
the config set and a recording mock monitor instead of the engine. It returns every resource
the program registered and the stack outputs. Reviewers without cloud credentials read this;
tests assert on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime
import gc
import json
import runpy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.capacity import render as capacity_render
from infra.capacity.fleet import StackCapacity, stack_capacity
from infra.capacity.prices import Prices
from infra.resource_types import (
    ALARM,
    BUCKET,
    BUCKET_LIFECYCLE,
    DASHBOARD,
    ENDPOINT,
    ENDPOINT_CONFIG,
    KMS_ALIAS,
    KMS_KEY,
    LOG_GROUP,
    MODEL,
    MODEL_PACKAGE_GROUP,
    RANDOM_ID,
    ROLE,
    SCALABLE_TARGET,
    SCALING_POLICY,
    SCHEDULED_ACTION,
    TOPIC_SUBSCRIPTION,
)
from infra.review.mocks import ACCOUNTS, AwsMocks, RecordingMonitor, Registration
from infra.settings import (
    PROJECT,
    SECRET,
    EnvironmentSettings,
    Settings,
    SettingsError,
    load_settings,
    read_stack_file,
)

ROOT = Path(__file__).resolve().parents[2]
# The entry point ``pulumi up`` runs; the offline plan runs ``infra.program.run`` directly.
ENTRY_POINT = ROOT / "__main__.py"
STACKS_DIR = ROOT / "stacks"

# Inputs shown in the table, per resource type: what a reviewer checks first.
KEY_INPUTS: dict[str, tuple[str, ...]] = {
    ENDPOINT: ("name", "endpointConfigName", "deploymentConfig"),
    ENDPOINT_CONFIG: (
        "productionVariants",
        "shadowProductionVariants",
        "dataCaptureConfig",
    ),
    MODEL: ("primaryContainer", "enableNetworkIsolation", "vpcConfig"),
    SCALABLE_TARGET: ("resourceId", "minCapacity", "maxCapacity"),
    SCALING_POLICY: ("name", "targetTrackingScalingPolicyConfiguration"),
    SCHEDULED_ACTION: ("schedule", "scalableTargetAction"),
    ALARM: (
        "name",
        "alarmDescription",
        "threshold",
        "dimensions",
    ),
    LOG_GROUP: ("name", "retentionInDays"),
    DASHBOARD: ("dashboardName",),
    ROLE: ("path",),
    TOPIC_SUBSCRIPTION: ("protocol", "endpoint"),
    MODEL_PACKAGE_GROUP: ("modelPackageGroupName",),
    BUCKET_LIFECYCLE: ("rules",),
    KMS_KEY: ("enableKeyRotation",),
    KMS_ALIAS: ("name",),
    RANDOM_ID: ("byteLength", "keepers"),
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
        """The resource as ``--json`` prints it: canonical inputs and the options a review reads."""
        options: dict[str, Any] = {
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "ignoreChanges": sorted(self.ignore_changes),
        }
        if self.dependencies:
            options["dependsOn"] = sorted(self.dependencies)
        if self.custom_timeouts:
            options["customTimeouts"] = canonical(self.custom_timeouts)
        return {
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "urn": self.urn,
            "inputs": canonical(self.inputs),
            "options": options,
        }


@dataclass(frozen=True)
class Plan:
    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, Any]
    # The settings the program ran with, as ``evaluate`` validated them (None for a plan built
    # otherwise); not part of what the plan prints or compares.
    settings: Settings | None = field(default=None, compare=False, repr=False)

    def of_type(self, type_token: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_token]

    def by_urn(self, urn: str) -> PlannedResource:
        return next(r for r in self.resources if r.urn == urn)


def stack_file(stack: str) -> Path:
    return STACKS_DIR / f"Pulumi.{stack}.yaml"


def shared_stack_region() -> str | None:
    """The region of the shared stack's file in the checkout, if it has one."""
    path = stack_file("shared")
    if not path.is_file():
        return None
    region = read_stack_file(path).get("aws:region")
    return region if isinstance(region, str) else None


def shared_outputs(region: str) -> dict[str, Any]:
    """What the shared stack exports, as its program names things under the same mocks."""
    account = ACCOUNTS["shared"]
    mocks = AwsMocks("shared", region, {})
    bucket = mocks.new_resource(pulumi.runtime.MockResourceArgs(BUCKET, "mlserve-artifacts", {}))[0]
    key = mocks.new_resource(
        pulumi.runtime.MockResourceArgs(KMS_KEY, "mlserve-artifacts-kms-key", {})
    )[0]
    return {
        "artifact_bucket_name": bucket,
        "artifact_bucket_arn": f"arn:aws:s3:::{bucket}",
        "artifact_key_arn": f"arn:aws:kms:{region}:{account}:key/{key}",
        "region": region,
    }


def evaluate(config: Mapping[str, Any], stack: str) -> Plan:
    """Run the program for ``stack`` with ``config`` (full keys, decoded values).

    Raises ``SettingsError`` before anything is registered when the config is invalid. The
    config is validated here, once: the program receives these settings and reads no config.
    """
    settings = load_settings(config, stack)
    store_region = settings.region
    if isinstance(settings, EnvironmentSettings):
        store_region = shared_stack_region() or settings.region
        if store_region != settings.region:
            # What the program refuses at preview (infra.program.shared_store), said before
            # anything is registered, as a problem of the stack file.
            raise SettingsError(
                [
                    f"aws:region: {settings.region} is not the artifact store's region, "
                    f"{store_region} ({stack_file('shared')}): SageMaker reads model artifacts "
                    "only from a bucket in the endpoint's region"
                ],
                f"stack {stack}",
            )
    # Imported on first use: pulumi_aws and the components are the slowest imports of the
    # offline plan, and an invalid config, or a command that never evaluates, needs neither.
    from infra import program

    try:
        plan = run_under_mocks(
            config, stack, settings.region, lambda: program.run(settings), store_region
        )
    except pulumi.RunError as exc:
        # A refusal the program makes at preview (a Lambda subscription in another account,
        # infra.components.alerting): one line, reported like any problem of the stack file.
        raise SettingsError([str(exc)], f"stack {stack}") from None
    return replace(plan, settings=settings)


def evaluate_entry_point(config: Mapping[str, Any], stack: str, region: str) -> Plan:
    """Run ``__main__.py`` itself under the mocks, as ``pulumi up`` runs it: it reads the config
    (as Pulumi hands it over, structured values as JSON) and validates it on its own.

    Not the offline plan's way (``evaluate`` is): this is how a test checks that the entry point
    builds what ``evaluate`` builds, and refuses an invalid config before registering anything.
    """

    def entry_point() -> None:
        runpy.run_path(str(ENTRY_POINT), run_name="__main__")

    return run_under_mocks(config, stack, region, entry_point)


def run_under_mocks(
    config: Mapping[str, Any],
    stack: str,
    region: str,
    body: Callable[[], None],
    store_region: str | None = None,
) -> Plan:
    """Run ``body`` as the engine runs a stack's program, with ``config`` set and the mocks
    answering as AWS in ``region`` would; return what it registered and exported. The shared
    stack's outputs name its artifact store in ``store_region`` (by default ``region``).

    Each run has a context and an event loop of its own. Pulumi keeps its runtime state in
    context variables, and the loop's handles keep the context they were made in: a shared
    loop would keep every earlier run's resources alive.
    """
    with _collector_paused():
        return contextvars.Context().run(
            _run_isolated, config, stack, region, body, store_region or region
        )


def _run_isolated(
    config: Mapping[str, Any],
    stack: str,
    region: str,
    body: Callable[[], None],
    store_region: str,
) -> Plan:
    mocks = AwsMocks(stack, region, shared_outputs(store_region))
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
        _sync_await(run_pulumi_func(body))
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

    Collections during the run would walk that growing graph again and again
    (``bench/plan_scaling.py`` measures it; the README gives the figures). ``__main__.py`` turns
    the collector off for a real run, whose process then exits.
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


def problem_report(path: Path, exc: SettingsError) -> str:
    """Every problem of an invalid stack file, one a line, under the file's name."""
    return "\n".join(
        [f"error: {path} has {len(exc.problems)} problem(s):", *(f"  {p}" for p in exc.problems)]
    )


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
    """Resources in canonical order: by top-level component, then type and name.

    Registration order depends on when outputs resolve, which varies from run to run; a review
    diff must not. The URN settles the rest (two resources may share a type and a name under
    different parents).
    """
    by_urn = {r.urn: r for r in registrations}

    def top(r: Registration) -> Registration:
        while r.parent_urn in by_urn:
            r = by_urn[r.parent_urn]
        return r

    def order(r: Registration) -> tuple[str, str, str, bool, str, str, str]:
        component = top(r)
        return (
            component.name,
            component.type,
            component.urn,
            r is not component,
            r.type,
            r.name,
            r.urn,
        )

    registrations = sorted(registrations, key=order)
    return [
        PlannedResource(
            type=r.type,
            name=r.name,
            parent=by_urn[r.parent_urn].name if r.parent_urn in by_urn else None,
            inputs=_redacted(r.inputs),
            urn=r.urn,
            custom=r.custom,
            # The SDK collects dependencies in a set: its order changes with the hash seed.
            dependencies=tuple(sorted(r.dependencies)),
            custom_timeouts=r.custom_timeouts,
            retain_on_delete=r.retain_on_delete,
            protect=r.protect,
            ignore_changes=tuple(r.ignore_changes),
        )
        for r in registrations
    ]


def canonical(value: Any) -> Any:
    """``value`` as the plan prints it, the same for the same value whatever built it.

    Keys are sorted. A float with an integral value is an int: the mock monitor decodes every
    protobuf number as a float, so ``retentionInDays`` would read ``7.0``. A string that parses
    as a JSON object (a policy, a dashboard body) is shown as that document, so that it reads,
    and diffs, field by field.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        document = _document(value)
        return value if document is None else canonical(document)
    if isinstance(value, Mapping):
        return {str(key): canonical(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    return value


def _document(text: str) -> dict[str, Any] | None:
    if not text.lstrip().startswith("{"):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def plan_document(plan: Plan) -> dict[str, Any]:
    """The plan as ``--json`` prints it."""
    return {
        "stack": plan.stack,
        "resources": [r.as_json() for r in plan.resources],
        "outputs": canonical(plan.outputs),
    }


def render_json(plan: Plan, prices: Prices | None = None) -> str:
    """``plan --json``: the plan document, and for an environment its capacity and cost."""
    document = plan_document(plan)
    capacity = _capacity(plan)
    if capacity is not None:
        document.update(
            canonical(capacity_render.plan_json(capacity, prices, datetime.date.today()))
        )
    return json.dumps(document, indent=2, default=str)


def render_table(plan: Plan, prices: Prices | None = None) -> str:
    """``plan``: the table, and for an environment its capacity and cost."""
    capacity = _capacity(plan)
    if capacity is None:
        return _resource_table(plan)
    lines = capacity_render.plan_text(capacity, prices, datetime.date.today())
    return "\n".join([_resource_table(plan), "", *lines])


def _capacity(plan: Plan) -> StackCapacity | None:
    if not isinstance(plan.settings, EnvironmentSettings):
        return None
    return stack_capacity(plan.stack, plan.settings)


def _resource_table(plan: Plan) -> str:
    """One row per resource; each key input on a line of its own, in full."""
    header = ("TYPE", "NAME", "PARENT")
    rows = [(r.type, r.name, r.parent or "-") for r in plan.resources]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    indent = " " * (sum(widths) + 2 * 3)

    def line(cells: tuple[str, str, str], key_input: str) -> str:
        return (
            "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + "  " + key_input
        ).rstrip()

    lines = [f"Stack {plan.stack}: {len(plan.resources)} resources", line(header, "KEY INPUTS")]
    for r, row in zip(plan.resources, rows, strict=True):
        shown = [
            f"{key}={_compact(r.inputs[key])}"
            for key in KEY_INPUTS.get(r.type, ())
            if _shown(r.inputs.get(key))
        ]
        lines.append(line(row, shown[0] if shown else ""))
        lines.extend(indent + more for more in shown[1:])
    lines.append("")
    lines.append("Outputs:")
    lines.append(json.dumps(canonical(plan.outputs), indent=2, default=str))
    return "\n".join(lines)


def _shown(value: Any) -> bool:
    """Whether a key input is worth a line: set, and not empty (``false`` and 0 are shown)."""
    return value is not None and value != "" and value != [] and value != {}


def _compact(value: Any) -> str:
    value = canonical(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), default=str)
