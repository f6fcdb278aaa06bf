"""status: what each stage pins, whether the registry approves it, and what is live.

``status`` is a table of model x stage; ``check_deployed`` compares one environment's live
endpoints with its stack file and says, per model, ``ok`` or what differs. The latter catches a
blue/green update that SageMaker rolled back while ``pulumi up`` reported success
(terraform-provider-aws #48997, #46663): the endpoint then serves an older endpoint
configuration than the newest one the program created for it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from infra import naming
from infra.settings import EnvironmentSettings, ModelSettings, ModelVersion, artifacts
from model_packaging.errors import PackagingError
from model_packaging.release import live, stackfile
from model_packaging.release.stackfile import STAGES
from model_packaging.store import aws, registry

# Statuses in which an endpoint serves traffic from its configuration (DescribeEndpoint's
# EndpointStatus, botocore's sagemaker model). Any other status fails check-deployed: RollingBack,
# Failed and UpdateRollbackFailed above all, but also OutOfService, Creating and Deleting.
SERVING = {"InService", "Updating", "SystemUpdating"}


@dataclass(frozen=True)
class Row:
    """One model in one stage."""

    model: str
    stage: str
    version: int | None
    package: str | None
    digest: str | None
    approval: str | None
    endpoint: str | None
    endpoint_status: str | None
    serves: int | None
    serves_package: str | None
    unreachable: str | None
    """Why the live columns are empty: the stage cannot be queried, or its stack file is bad."""


@dataclass(frozen=True)
class Check:
    model: str
    ok: bool
    line: str


def status(
    model: str | None = None,
    *,
    stacks: Path = Path("stacks"),
    note: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> list[Row]:
    """Rows for ``model`` (or every model any stage configures) in dev, staging and prod."""
    loaded: dict[str, EnvironmentSettings | PackagingError] = {}
    for stage in STAGES:
        try:
            loaded[stage] = stackfile.load(stackfile.stack_path(stacks, stage), stage)
        except PackagingError as exc:
            loaded[stage] = exc
    names = sorted(
        {name for s in loaded.values() if isinstance(s, EnvironmentSettings) for name in s.models}
    )
    if model is not None:
        if model not in names:
            raise PackagingError(f"no stack file in {stacks} configures model {model!r}")
        names = [model]
    approvals = _Approvals(note)
    environments = {stage: _Environment(stage, s) for stage, s in loaded.items()}
    rows = []
    for name in names:
        for stage in STAGES:
            rows.append(_row(name, stage, loaded[stage], environments[stage], approvals))
    return rows


def render_table(rows: list[Row]) -> str:
    header = ("MODEL", "STAGE", "VERSION", "DIGEST", "APPROVAL", "LIVE")
    lines = [header]
    for row in rows:
        lines.append(
            (
                row.model,
                row.stage,
                "-" if row.version is None else str(row.version),
                "-" if row.digest is None else artifacts.short_digest(row.digest),
                row.approval or "-",
                _live_text(row),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(line[:-1], widths, strict=True)), line[-1]])
        for line in lines
    )


def render_json(rows: list[Row]) -> str:
    return json.dumps([asdict(row) for row in rows], indent=2)


def check_deployed(
    environment: str, *, model: str | None = None, stacks: Path = Path("stacks")
) -> list[Check]:
    """One Check per model of ``environment`` (or just ``model``): does its live endpoint serve
    what is pinned?

    An environment that cannot be queried raises ``live.Unreachable``: nothing is verified.
    """
    path = stackfile.stack_path(stacks, environment)
    settings = stackfile.load(path, environment)
    if model is not None and model not in settings.models:
        raise PackagingError(f"{path} does not configure model {model!r}")
    sagemaker = live.environment_client(environment, settings.region)
    return [
        _check_model(sagemaker, name, pinned_model, environment)
        for name, pinned_model in settings.models.items()
        if model is None or name == model
    ]


def _check_model(sagemaker: Any, name: str, pinned_model: ModelSettings, environment: str) -> Check:
    """Does the live endpoint of one model serve what its stack file pins?"""
    pinned = _describe_pin(pinned_model.version)
    endpoint = live.describe_live(sagemaker, name, environment)
    if endpoint is None:
        prefix = naming.endpoint_name_prefix(name, environment)
        line = f"FAIL {name} {environment}: pinned {pinned}; live: no endpoint {prefix}*"
        return Check(name, False, line)
    problems = []
    if endpoint.status not in SERVING:
        reason = f" ({endpoint.failure_reason})" if endpoint.failure_reason else ""
        problems.append(f"endpoint is {endpoint.status}{reason}")
    problems += _variant_problems(endpoint, naming.variant_versions(pinned_model))
    newer = live.newer_config(sagemaker, name, environment, endpoint)
    if newer is not None:
        problems.append(
            f"configuration {endpoint.config} is older than {newer}, the newest made for it:"
            " SageMaker rolled the update back"
        )
    champion = endpoint.variant(naming.CHAMPION)
    serving = _describe_variant(champion) if champion else "nothing"
    where = f"{serving} on {endpoint.name} ({endpoint.config}, {endpoint.status})"
    if problems:
        line = f"FAIL {name} {environment}: pinned {pinned}; live {where}: {'; '.join(problems)}"
    else:
        line = f"ok {name} {environment}: live {where}"
    return Check(name, not problems, line)


def _variant_problems(endpoint: live.LiveEndpoint, expected: dict[str, ModelVersion]) -> list[str]:
    problems = []
    for variant, version in expected.items():
        served = endpoint.variant(variant)
        if served is None:
            problems.append(f"no {variant} variant")
        elif not _serves(served, version):
            problems.append(f"{variant} serves {_describe_variant(served)}")
    return problems


# --- internals ----------------------------------------------------------------------------


class _Approvals:
    """Approval statuses from the registry, one request per version, errors reported once."""

    def __init__(self, note: Callable[[str], None]) -> None:
        self._note = note
        self._cache: dict[str, str] = {}
        self._clients: dict[str, Any] = {}

    def of(self, package: str, region: str) -> str:
        if package not in self._cache:
            self._cache[package] = self._fetch(package, region)
        return self._cache[package]

    def _fetch(self, package: str, region: str) -> str:
        try:
            if region not in self._clients:
                self._clients[region] = aws.client(aws.session(region=region), "sagemaker")
            info = registry.describe_version(self._clients[region], package)
        except PackagingError as exc:
            self._note(f"warning: {exc}")
            return "unknown"
        return info.approval_status if info is not None else "not registered"


class _Environment:
    """One stage's live endpoints, queried lazily; once unreachable, not asked again."""

    def __init__(self, stage: str, settings: EnvironmentSettings | PackagingError) -> None:
        self.stage = stage
        self.settings = settings
        self.unreachable: str | None = (
            None if isinstance(settings, EnvironmentSettings) else (str(settings))
        )
        self._client: Any = None

    def endpoint(self, model: str) -> live.LiveEndpoint | None:
        assert isinstance(self.settings, EnvironmentSettings)
        try:
            if self._client is None:
                self._client = live.environment_client(self.stage, self.settings.region)
            return live.describe_live(self._client, model, self.stage)
        except live.Unreachable as exc:
            self.unreachable = str(exc)
            return None


def _row(
    model: str,
    stage: str,
    settings: EnvironmentSettings | PackagingError,
    environment: _Environment,
    approvals: _Approvals,
) -> Row:
    empty = dict.fromkeys(
        ("version", "package", "digest", "approval", "endpoint", "endpoint_status", "serves"),
        None,
    )
    if not isinstance(settings, EnvironmentSettings):
        return Row(model, stage, **empty, serves_package=None, unreachable=str(settings))
    pinned = settings.models[model].version if model in settings.models else None
    package = pinned.package if pinned else None
    endpoint = None
    if pinned is not None and environment.unreachable is None:
        endpoint = environment.endpoint(model)
    serves = endpoint.champion if endpoint else None
    return Row(
        model=model,
        stage=stage,
        version=artifacts.version_or_none(package),
        package=package,
        digest=pinned.digest if pinned else None,
        approval=approvals.of(package, settings.region) if package else None,
        endpoint=endpoint.name if endpoint else None,
        endpoint_status=endpoint.status if endpoint else None,
        serves=artifacts.version_or_none(serves),
        serves_package=serves,
        unreachable=environment.unreachable if pinned is not None else None,
    )


def _live_text(row: Row) -> str:
    if row.unreachable is not None:
        return f"unreachable: {row.unreachable}"
    if row.package is None and row.digest is None:
        return "-"
    if row.endpoint is None:
        return "no endpoint"
    serves = "-" if row.serves is None else f"version {row.serves}"
    return f"{row.endpoint_status}, serves {serves} ({row.endpoint})"


def _serves(variant: live.Variant, version: ModelVersion) -> bool:
    if version.package is not None:
        return variant.package == version.package
    return variant.package is None and variant.model_data_url == version.artifact_uri


def _describe_pin(version: ModelVersion) -> str:
    short = artifacts.short_digest(version.digest)
    if version.package is not None:
        return f"version {artifacts.version_or_none(version.package)} (sha256:{short})"
    return f"{version.artifact_uri} (sha256:{short})"


def _describe_variant(variant: live.Variant) -> str:
    if variant.package is not None:
        number = artifacts.version_or_none(variant.package)
        return f"version {number}" if number is not None else variant.package
    return variant.model_data_url or f"model {variant.model_name}"
