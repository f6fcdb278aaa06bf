"""versions: every registry version of a model, its decisions, and the stages that pin and serve it.

The registry is read like approve reads it (the default session and its region): each version's
approval status, its decisions (:func:`model_packaging.release.approval.history`), its digest
and creation time. The stack files say which stage pins which version, for which variant
(champion, challenger, shadow); each stage's live endpoint says which version each variant
serves, read as ``status`` reads it (:mod:`model_packaging.release.live`). A stack file that
cannot be read, or an environment that cannot be queried, is shown as such: it never fails the
command, which is for finding out what is where.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra import naming
from infra.settings import EnvironmentSettings, artifacts
from model_packaging.errors import PackagingError
from model_packaging.release import live, stackfile
from model_packaging.release.approval import Record, history, timestamp
from model_packaging.release.stackfile import STAGES
from model_packaging.store import aws, registry


@dataclass(frozen=True)
class Place:
    """A variant of a stage that pins or serves a version."""

    stage: str
    variant: str
    endpoint: str | None = None
    """Serving only: the endpoint and its status."""
    endpoint_status: str | None = None

    def text(self) -> str:
        if self.endpoint is None:
            return f"{self.stage} {self.variant}"
        return f"{self.stage} {self.variant} ({self.endpoint}, {self.endpoint_status})"


@dataclass(frozen=True)
class Pins:
    """What the stack files of a folder pin for one model."""

    places: Mapping[str, list[Place]]
    """Registry version ARN -> the stages and variants that pin it."""
    problems: Mapping[str, str]
    """Stage -> why its stack file could not be read."""
    settings: Mapping[str, EnvironmentSettings]
    """The stack files that could be read."""

    def of(self, arn: str) -> list[Place]:
        return list(self.places.get(arn, []))


@dataclass(frozen=True)
class Stage:
    """One stage as ``versions`` saw it."""

    stage: str
    stack_problem: str | None = None
    """Why its stack file could not be read."""
    configured: bool = False
    """Whether its stack file configures the model."""
    endpoint: str | None = None
    endpoint_status: str | None = None
    unreachable: str | None = None
    """Why its endpoint could not be read."""

    def text(self) -> str:
        if self.stack_problem is not None:
            return f"{self.stage}: stack file not read: {self.stack_problem}"
        if not self.configured:
            return f"{self.stage}: the stack file does not configure the model"
        if self.unreachable is not None:
            return f"{self.stage}: unreachable: {self.unreachable}"
        if self.endpoint is None:
            return f"{self.stage}: no endpoint"
        return f"{self.stage}: endpoint {self.endpoint} ({self.endpoint_status})"


@dataclass(frozen=True)
class Version:
    """One registry version, its decisions, and where it is pinned and served."""

    number: int
    arn: str
    approval: str
    status: str
    """ModelPackageStatus."""
    digest: str | None
    created: str | None
    decisions: list[Record]
    pinned: list[Place] = field(default_factory=list)
    serving: list[Place] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    model: str
    region: str
    versions: list[Version]
    stages: list[Stage]


def versions(model: str, *, stacks: Path = Path("stacks")) -> Report:
    """Every version of ``model``'s package group, oldest first, with the stages' pins and
    endpoints; see the module docstring."""
    clients = aws.connect()
    infos = registry.list_versions(clients.sagemaker, model)
    pins = stage_pins(stacks, model)
    stages, serving = _live(model, pins)
    rows = [
        Version(
            number=info.number,
            arn=info.arn,
            approval=info.approval_status,
            status=info.status,
            digest=info.digest,
            created=timestamp(info.created),
            decisions=history(info),
            pinned=pins.of(info.arn),
            serving=serving.get(info.arn, []),
        )
        for info in infos
    ]
    return Report(model, clients.region, rows, stages)


def stage_pins(stacks: Path, model: str) -> Pins:
    """Which version each stage pins for ``model``, per variant; unreadable files noted."""
    places: dict[str, list[Place]] = {}
    problems: dict[str, str] = {}
    loaded: dict[str, EnvironmentSettings] = {}
    for stage in STAGES:
        try:
            settings = stackfile.load(stackfile.stack_path(stacks, stage), stage)
        except PackagingError as exc:
            problems[stage] = str(exc)
            continue
        loaded[stage] = settings
        if model not in settings.models:
            continue
        for variant, version in naming.variant_versions(settings.models[model]).items():
            if version.package is not None:
                places.setdefault(version.package, []).append(Place(stage, variant))
    return Pins(places, problems, loaded)


def render_text(report: Report) -> str:
    lines = [
        f"{report.model}: {len(report.versions)} version(s) in model package group"
        f" {report.model} ({report.region})"
    ]
    for version in report.versions:
        digest = artifacts.short_digest(version.digest) if version.digest else "no digest"
        state = "" if version.status == "Completed" else f" ({version.status})"
        lines.append(
            f"version {version.number}  {version.approval}{state}  sha256:{digest}"
            f"  created {version.created or '-'}"
        )
        lines.append(f"  pinned by: {_places(version.pinned)}")
        lines.append(f"  served by: {_places(version.serving)}")
        if not version.decisions:
            lines.append("  no decision")
        lines += [f"  {record.text()}" for record in version.decisions]
    lines.append("stages:")
    lines += [f"  {stage.text()}" for stage in report.stages]
    return "\n".join(lines)


def render_json(report: Report) -> str:
    return json.dumps(
        {
            "model": report.model,
            "region": report.region,
            "versions": [
                {
                    "version": v.number,
                    "arn": v.arn,
                    "approval": v.approval,
                    "status": v.status,
                    "digest": v.digest,
                    "created": v.created,
                    "decisions": [record.as_json() for record in v.decisions],
                    "pinned": [_place_json(place) for place in v.pinned],
                    "serving": [_place_json(place) for place in v.serving],
                }
                for v in report.versions
            ],
            "stages": [
                {
                    "stage": s.stage,
                    "stack_problem": s.stack_problem,
                    "configured": s.configured,
                    "endpoint": s.endpoint,
                    "endpoint_status": s.endpoint_status,
                    "unreachable": s.unreachable,
                }
                for s in report.stages
            ],
        },
        indent=2,
    )


# --- internals ----------------------------------------------------------------------------


def _live(model: str, pins: Pins) -> tuple[list[Stage], dict[str, list[Place]]]:
    """Each stage's endpoint for ``model``, and version ARN -> the variants that serve it.

    Only a stage whose stack file configures the model has an endpoint for it. Any failure to
    read one (no credentials, access denied, no connection, an error of the service) is kept
    as the stage's ``unreachable`` reason.
    """
    stages: list[Stage] = []
    serving: dict[str, list[Place]] = {}
    for stage in STAGES:
        if stage in pins.problems:
            stages.append(Stage(stage, stack_problem=pins.problems[stage]))
            continue
        settings = pins.settings[stage]
        if model not in settings.models:
            stages.append(Stage(stage))
            continue
        try:
            sagemaker = live.environment_client(stage, settings.region)
            endpoint = live.describe_live(sagemaker, model, stage)
        except PackagingError as exc:
            stages.append(Stage(stage, configured=True, unreachable=str(exc)))
            continue
        if endpoint is None:
            stages.append(Stage(stage, configured=True))
            continue
        stages.append(
            Stage(
                stage,
                configured=True,
                endpoint=endpoint.name,
                endpoint_status=endpoint.status,
            )
        )
        for variant in endpoint.variants:
            if variant.package is not None:
                serving.setdefault(variant.package, []).append(
                    Place(stage, variant.name, endpoint.name, endpoint.status)
                )
    return stages, serving


def _places(places: list[Place]) -> str:
    return ", ".join(place.text() for place in places) or "-"


def _place_json(place: Place) -> dict[str, Any]:
    shown: dict[str, Any] = {"stage": place.stage, "variant": place.variant}
    if place.endpoint is not None:
        shown.update(endpoint=place.endpoint, endpoint_status=place.endpoint_status)
    return shown
