"""promote and rollback: change which registry version a stage pins, behind gates.

A version moves dev -> staging -> prod. ``promote --to dev`` pins a chosen (or the latest
Approved) version; staging and prod can only take what the stage below pins. ``rollback`` re-pins
the version a stage ran before, from the stack file's git history.

Gates, in the order they run (cheap first); the first one that fails refuses the change, and
the stack file is left untouched:

- ``stage-below`` (promote to staging/prod): the stage below pins this version;
- ``registered``: the version exists in the model's package group and is usable;
- ``approved``: it is Approved (SageMaker deploys only approved versions);
- ``digest``: its stored artifact still has the pinned digest
  (:mod:`model_packaging.store.integrity`);
- ``live`` (promote to staging/prod): the stage below's endpoint is InService and serves this
  version. An environment that cannot be queried is reported on stderr and the gate is skipped,
  unless ``require_live`` makes that a refusal.

A rollback returns to a version this stage already ran, so ``stage-below`` and ``live`` (which
is about the stage below's endpoint) do not apply to it; the other three do. It re-pins the pin
that stood before the current one was first promoted (:mod:`model_packaging.release.history`),
or with ``version`` a version the stage pinned before.

Before any gate, both commands check that the stack file can be edited in place and that it
holds no uncommitted change: a pin written over an unrelated edit would ship that edit as a
"promotion" with the next ``git commit -a``. ``allow_dirty`` lets the change go ahead (a dry run
only warns). The "before" a command reports is the pin it replaced, read under the stack file's
lock; when another command changed the model's pin while this one ran, the result says so.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from infra import naming
from infra.settings import artifacts
from model_packaging.errors import PackagingError
from model_packaging.release import gitrepo, history, live, stackfile
from model_packaging.release.stackfile import STAGES, Edit, Pin
from model_packaging.store import aws, integrity, registry
from model_packaging.store.aws import Clients

Warn = Callable[[str], None]


class Refused(PackagingError):
    """A gate said no: ``<action> refused by gate '<gate>': <reason>``."""

    def __init__(self, action: str, gate: str, reason: str) -> None:
        self.gate = gate
        super().__init__(f"{action} refused by gate '{gate}': {reason}")


@dataclass(frozen=True)
class Result:
    action: str
    """``promote`` or ``rollback``."""
    model: str
    environment: str
    before: Pin
    """The pin this command replaced: what the file held when it wrote (or would write)."""
    after: Pin
    edit: Edit
    started: Pin
    """The pin the file held when this command started."""
    dry_run: bool = False
    commit: str | None = None
    """For a rollback: the newest commit that held the restored pin."""
    warnings: list[str] = field(default_factory=list)

    @property
    def replaced_concurrent_write(self) -> bool:
        """Another command changed the model's pin while this one ran, and this one replaced
        that pin."""
        return self.edit.changed and self.before != self.started

    def summary(self) -> str:
        where = self.edit.path
        if not self.edit.changed:
            return f"{where}: {self.model} already pins {self.after.describe()}"
        line = f"{where}: {self.model} {self.before.describe()} -> {self.after.describe()}"
        if self.replaced_concurrent_write:
            line += (
                f" (replacing {self.before.describe()}, which another command wrote while this"
                f" one ran; it started from {self.started.describe()})"
            )
        return line

    def as_json(self) -> dict[str, object]:
        """The fields ``--json`` prints (docs/promotion.md)."""
        return {
            "action": self.action,
            "model": self.model,
            "stage": self.environment,
            "file": str(self.edit.path),
            "changed": self.edit.changed,
            "dry_run": self.dry_run,
            "before": _pin_json(self.before),
            "after": _pin_json(self.after),
            "started_from": _pin_json(self.started),
            "replaced_concurrent_write": self.replaced_concurrent_write,
            "restored_commit": self.commit,
            "warnings": list(self.warnings),
            "diff": self.edit.diff(),
        }


def _pin_json(pin: Pin) -> dict[str, object]:
    return {"version": pin.number, "package": pin.package, "digest": pin.digest}


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def promote(
    model: str,
    to: str,
    *,
    version: int | None = None,
    stacks: Path = Path("stacks"),
    dry_run: bool = False,
    require_live: bool = False,
    allow_dirty: bool = False,
    warn: Warn = _stderr,
    lock_timeout: float = stackfile.LOCK_TIMEOUT_SECONDS,
) -> Result:
    """Pin in ``to`` the version the gates allow; see the module docstring."""
    if to not in STAGES:
        raise PackagingError(f"unknown stage {to!r}: promote to one of {', '.join(STAGES)}")
    action = "promote"
    path = stackfile.stack_path(stacks, to)
    settings = stackfile.load(path, to)
    current = stackfile.pin_of(settings, model, path)
    warnings: list[str] = []
    _ready(path, model, current, action, allow_dirty, dry_run, _collect(warn, warnings))
    clients = _registry(settings.region)
    below = STAGES[STAGES.index(to) - 1] if to != STAGES[0] else None
    below_region = ""

    if below is None:
        info = _chosen(clients, model, version, action)
        candidate = Pin(info.arn, info.digest or "")
    else:
        below_path = stackfile.stack_path(stacks, below)
        below_settings = stackfile.load(below_path, below)
        below_region = below_settings.region
        try:
            candidate = stackfile.pin_of(below_settings, model, below_path)
        except PackagingError as exc:
            raise Refused(action, "stage-below", str(exc)) from exc
        if version is not None and version != candidate.number:
            raise Refused(
                action,
                "stage-below",
                f"{model} version {version} is not what {below} pins ({candidate.describe()})",
            )
        info = _registered(clients, model, candidate.package, action)
    _approved(info, action)
    _digest(clients, info, candidate, action)
    if below is not None:
        note = _live(model, below, below_region, candidate, require_live, action)
        if note:
            _collect(warn, warnings)(note)

    edit = _write(path, to, model, candidate, dry_run, _collect(warn, warnings), lock_timeout)
    return Result(
        action,
        model,
        to,
        _replaced(edit, model, current),
        candidate,
        edit,
        current,
        dry_run=dry_run,
        warnings=warnings,
    )


def rollback(
    model: str,
    environment: str,
    *,
    version: int | None = None,
    stacks: Path = Path("stacks"),
    dry_run: bool = False,
    allow_dirty: bool = False,
    warn: Warn = _stderr,
    lock_timeout: float = stackfile.LOCK_TIMEOUT_SECONDS,
) -> Result:
    """Re-pin the pin that stood before ``environment``'s current one was first promoted, or
    ``version``, a version it pinned before."""
    if environment not in STAGES:
        raise PackagingError(f"unknown stage {environment!r}: one of {', '.join(STAGES)}")
    action = "rollback"
    path = stackfile.stack_path(stacks, environment)
    settings = stackfile.load(path, environment)
    current = stackfile.pin_of(settings, model, path)
    warnings: list[str] = []
    _ready(path, model, current, action, allow_dirty, dry_run, _collect(warn, warnings))
    if version is None:
        previous = history.previous_pin(path, model, current)
    else:
        previous = history.pinned_before(path, model, current, version)
    clients = _registry(settings.region)
    info = _registered(clients, model, previous.pin.package, action)
    _approved(info, action)
    _digest(clients, info, previous.pin, action)
    edit = _write(
        path, environment, model, previous.pin, dry_run, _collect(warn, warnings), lock_timeout
    )
    return Result(
        action,
        model,
        environment,
        _replaced(edit, model, current),
        previous.pin,
        edit,
        current,
        dry_run=dry_run,
        commit=previous.commit,
        warnings=warnings,
    )


# --- the stack file -----------------------------------------------------------------------


def _collect(warn: Warn, warnings: list[str]) -> Warn:
    """``warn``, also keeping each message for the result."""

    def both(message: str) -> None:
        warn(message)
        warnings.append(message)

    return both


def _ready(
    path: Path,
    model: str,
    current: Pin,
    action: str,
    allow_dirty: bool,
    dry_run: bool,
    warn: Warn,
) -> None:
    """Refuse, before any gate, a file that cannot be edited in place or holds uncommitted
    changes (unless ``allow_dirty``; a dry run writes nothing, so it only warns)."""
    stackfile.check_editable(path, model, current)
    problem = gitrepo.uncommitted(path)
    if problem is None:
        return
    if allow_dirty:
        warn(f"warning: {path} {problem}: they go into the same commit as this {action}")
    elif dry_run:
        warn(
            f"warning: {path} {problem}: without --dry-run, {action} refuses unless given"
            " --allow-dirty"
        )
    else:
        fix = "commit it" if problem.startswith("is not committed") else "commit or revert them"
        raise PackagingError(
            f"{path} {problem}: {fix} first, or pass --allow-dirty to {action} anyway"
        )


def _write(
    path: Path,
    environment: str,
    model: str,
    pin: Pin,
    dry_run: bool,
    warn: Warn,
    lock_timeout: float,
) -> Edit:
    def waiting(message: str) -> None:
        warn(f"note: {message}")

    return stackfile.write_pin(
        path, environment, model, pin, dry_run=dry_run, warn=waiting, lock_timeout=lock_timeout
    )


def _replaced(edit: Edit, model: str, started: Pin) -> Pin:
    """The pin the edit replaced: what the file held when it was written."""
    return stackfile.pin_in_text(edit.before, model) or started


# --- gates --------------------------------------------------------------------------------


def _registry(region: str) -> Clients:
    """Registry and artifact store clients: the default session, in the stack's region (a
    pinned version's ARN is in the stack's region; infra.settings checks it)."""
    session = aws.session(region=region)
    return Clients(s3=aws.client(session, "s3"), sagemaker=aws.client(session, "sagemaker"))


def _chosen(clients: Clients, model: str, number: int | None, action: str) -> registry.VersionInfo:
    """The version ``promote --to dev`` pins: ``number``, or the newest Approved one."""
    if number is None:
        info = registry.latest_approved(clients.sagemaker, model)
        if info is None:
            raise Refused(action, "approved", f"{model} has no Approved version to pin")
        return _registered(clients, model, info.arn, action)
    try:
        arn = registry.version_arn(clients.sagemaker, model, number)
    except PackagingError as exc:
        raise Refused(action, "registered", str(exc)) from exc
    return _registered(clients, model, arn, action)


def _registered(clients: Clients, model: str, arn: str, action: str) -> registry.VersionInfo:
    info = registry.describe_version(clients.sagemaker, arn)
    label = f"{model} version {artifacts.version_or_none(arn)}"
    if info is None:
        raise Refused(action, "registered", f"{label} does not exist ({arn})")
    if info.group != model:
        raise Refused(action, "registered", f"{arn} belongs to {info.group!r}, not {model!r}")
    if info.status in ("Failed", "Deleting"):
        raise Refused(action, "registered", f"{label} is {info.status}")
    return info


def _approved(info: registry.VersionInfo, action: str) -> None:
    if info.approval_status != registry.APPROVED:
        raise Refused(
            action, "approved", f"{info.group} version {info.number} is {info.approval_status}"
        )


def _digest(clients: Clients, info: registry.VersionInfo, pin: Pin, action: str) -> None:
    try:
        integrity.check_version_artifact(clients.s3, info, pin.digest)
    except integrity.Mismatch as exc:
        raise Refused(action, "digest", str(exc)) from exc


def _live(
    model: str, below: str, region: str, pin: Pin, require_live: bool, action: str
) -> str | None:
    """Refuse unless the stage below serves ``pin``; a note when it cannot be asked."""
    try:
        sagemaker = live.environment_client(below, region)
        endpoint = live.describe_live(sagemaker, model, below)
    except live.Unreachable as exc:
        if require_live:
            raise Refused(action, "live", str(exc)) from exc
        return f"warning: gate 'live' not checked: {exc}"
    if endpoint is None:
        prefix = naming.endpoint_name_prefix(model, below)
        raise Refused(action, "live", f"{below} has no endpoint for {model} ({prefix}*)")
    if endpoint.status != live.IN_SERVICE:
        raise Refused(action, "live", f"{below} endpoint {endpoint.name} is {endpoint.status}")
    if endpoint.champion != pin.package:
        raise Refused(
            action,
            "live",
            f"{below} endpoint {endpoint.name} serves {endpoint.champion or 'no registry version'},"
            f" not {model} {pin.describe()}",
        )
    return None
