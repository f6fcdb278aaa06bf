"""approve / reject: decide whether a registered version may be deployed, and keep every decision.

SageMaker deploys only Approved versions, and every promotion gate checks the status, so this is
the one step that lets a version reach any environment. One UpdateModelPackage request sets the
status, its reason (ApprovalDescription, which the SageMaker console shows) and the version's
customer metadata, where each decision is added as numbered entries of its own, so a later
decision never replaces an earlier one:

- ``decision-<n>``: ``<status> <time> <caller ARN>``, the time in UTC as
  ``YYYY-MM-DDTHH:MM:SSZ``;
- ``decision-<n>-reason``, continued in ``decision-<n>-reason-2``, ``-3``, ... : the reason.

The registry's limits shape this (botocore's sagemaker service-2.json): CustomerMetadataMap holds
at most 50 entries; a CustomerMetadataValue is 1 to 256 characters of letters, numbers, spaces and
``_.:/=+-@``. So a reason takes as many values as it needs, and any other character is written as
``=XX`` for each byte of its UTF-8 encoding (``=`` itself as ``=3D``), which gives the text back
exactly; the caller's ARN is cut to what fits beside the status and the time (an assumed role's
ARN, at most about 180 characters, always fits). A decision that would take the map past 50
entries is refused before anything is written.

Asking for the status a version already has records nothing: the decision that set it stands.

A status that has no ``decision-<n>`` record yet is recorded before the new decision, so it is
not lost either: releases before this history kept one decision, in ``approval-by`` and
``approval-at`` (which are then removed), and a status set in the SageMaker console or another
tool has only ApprovalDescription, LastModifiedBy and LastModifiedTime (who last updated the
version, and when) to go by.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model_packaging.errors import PackagingError
from model_packaging.store import aws, registry

if TYPE_CHECKING:
    from model_packaging.release.versions import Place

DECISION_PREFIX = "decision-"
_DECISION_KEY = re.compile(r"^decision-([1-9][0-9]*)$")
# Where a decision came from: a decision-<n> record, approval-by and approval-at of an earlier
# release, or nothing but what the registry says of the version's last update.
RECORDED = "recorded"
LEGACY = "approval-by"
OUTSIDE = "outside"
UNKNOWN = "unknown"
LEGACY_KEYS = (registry.APPROVAL_BY_KEY, registry.APPROVAL_AT_KEY)
# Characters a CustomerMetadataValue takes as they are (its pattern's \p{L}\p{Z}\p{N}_.:/=+-@,
# without ``=``, which starts an escape). Letters and numbers beyond ASCII are kept too, in the
# Basic Multilingual Plane only, where one character is one UTF-16 unit of the length limit.
_PLAIN = frozenset(string.ascii_letters + string.digits + " _.:/+-@")
_ESCAPED = re.compile(r"(?:=[0-9A-F]{2})+")


@dataclass(frozen=True)
class Record:
    """One decision: the status it set, when, by whom and why."""

    status: str
    when: str
    who: str
    reason: str
    number: int | None = None
    """Its ``decision-<n>``; None for a decision not recorded as one (yet)."""
    source: str = RECORDED

    def entries(self, number: int) -> dict[str, str]:
        """The metadata entries recording this decision as ``decision-<number>``."""
        key = f"{DECISION_PREFIX}{number}"
        room = registry.METADATA_VALUE_MAX - len(self.status) - len(self.when) - 2
        who = registry.metadata_value(self.who)[:room] or UNKNOWN
        found = {key: f"{self.status} {self.when} {who}"}
        for index, part in enumerate(_parts(self.reason), start=1):
            found[f"{key}-reason" if index == 1 else f"{key}-reason-{index}"] = part
        return found

    def text(self) -> str:
        name = {
            RECORDED: f"decision {self.number}",
            LEGACY: "decision (recorded in approval-by, approval-at)",
            OUTSIDE: "decision (outside approve/reject; who and when of the last update)",
        }[self.source]
        reason = f": {self.reason}" if self.reason else ""
        return f"{name}: {self.status} at {self.when} by {self.who}{reason}"

    def as_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "status": self.status,
            "when": self.when,
            "who": self.who,
            "reason": self.reason,
            "source": self.source,
        }


@dataclass(frozen=True)
class Decision:
    """What approve or reject did, or would do with ``dry_run``."""

    model: str
    number: int
    arn: str
    status: str
    previous_status: str
    changed: bool
    """False when the version already had ``status``: nothing was recorded."""
    record: Record | None
    """The decision recorded now; for a version that already had the status, the one that set
    it (None if the registry knows of none)."""
    request: Mapping[str, Any] | None = None
    """The UpdateModelPackage arguments sent, or that would be with ``dry_run``."""
    dry_run: bool = False
    pinned: list[Place] | None = None
    """reject: the stages and variants whose stack file pins the version; None if not read."""
    stack_problems: Mapping[str, str] = field(default_factory=dict)
    """reject: stage -> why its stack file could not be read."""

    @property
    def who(self) -> str | None:
        return self.record.who if self.record else None

    @property
    def when(self) -> str | None:
        return self.record.when if self.record else None

    def lines(self) -> list[str]:
        """What the command prints on stdout."""
        label = f"{self.model} version {self.number}"
        if not self.changed:
            standing = ""
            if self.record is not None:
                by = f"decision {self.record.number} " if self.record.number else ""
                standing = f" ({by}by {self.record.who} at {self.record.when})"
            return [f"{label} is already {self.status}{standing}: nothing changed"]
        assert self.record is not None
        lines = [
            f"{label}: {self.previous_status} -> {self.status} by {self.record.who}"
            f" at {self.record.when}"
        ]
        if self.dry_run and self.request is not None:
            written = self.request["CustomerMetadataProperties"]
            lines += [f"  set {key} = {value}" for key, value in written.items() if _ours(key)]
            lines += [
                f"  remove {key}"
                for key in self.request.get("CustomerMetadataPropertiesToRemove", [])
            ]
        return lines

    def warnings(self) -> list[str]:
        """What the command prints on stderr: the stages a rejected version is pinned in."""
        label = f"{self.model} version {self.number}"
        found = [
            f"warning: cannot tell whether {stage} pins {label}: {problem}"
            for stage, problem in self.stack_problems.items()
        ]
        if self.pinned:
            where = ", ".join(place.text() for place in self.pinned)
            found.append(
                f"warning: {label} is {self.status} but pinned by {where}: promote another"
                " version there or roll back (SageMaker deploys only Approved versions)"
            )
        return found

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.number,
            "arn": self.arn,
            "status": self.status,
            "previous_status": self.previous_status,
            "changed": self.changed,
            "dry_run": self.dry_run,
            "decision": self.record.as_json() if self.record else None,
            "request": dict(self.request) if self.request is not None else None,
            "pinned": (
                None
                if self.pinned is None
                else [{"stage": p.stage, "variant": p.variant} for p in self.pinned]
            ),
            "stack_problems": dict(self.stack_problems),
        }


def decide(
    model: str,
    number: int,
    status: str,
    reason: str,
    *,
    stacks: Path | None = None,
    dry_run: bool = False,
) -> Decision:
    """Set version ``number`` of ``model`` to ``status`` (Approved or Rejected) with ``reason``,
    adding the decision to its record; see the module docstring.

    The registry is reached through the default session, like publish: the same credentials and
    region that registered the version. With ``stacks``, a rejection names the stages whose
    stack file in that folder pins the version. With ``dry_run`` nothing is written.
    """
    if status not in (registry.APPROVED, registry.REJECTED):
        raise ValueError(f"status must be Approved or Rejected, got {status!r}")
    reason = reason.strip()
    if not reason:
        raise PackagingError("a reason is required")
    if len(reason) > registry.APPROVAL_DESCRIPTION_MAX:
        raise PackagingError(
            f"the reason is longer than {registry.APPROVAL_DESCRIPTION_MAX} characters"
        )
    clients = aws.connect()
    arn = registry.version_arn(clients.sagemaker, model, number)
    version = registry.describe_version(clients.sagemaker, arn)
    if version is None:
        raise PackagingError(f"{model} has no version {number} ({arn})")
    pinned, problems = _pins(stacks, model, arn) if status == registry.REJECTED else (None, {})
    past = history(version)
    unchanged = version.approval_status == status
    request = None
    if unchanged:
        record = past[-1] if past else None
    else:
        request = _request(version, past, Record(status, now(), caller_arn(clients.region), reason))
        if not dry_run:
            registry.update_approval(clients.sagemaker, request)
        # As recorded: numbered, and the caller's ARN as the metadata keeps it.
        record = history(_updated(version, request))[-1]
    return Decision(
        model,
        number,
        arn,
        status,
        version.approval_status,
        not unchanged,
        record,
        request,
        dry_run,
        pinned,
        problems,
    )


def history(version: registry.VersionInfo) -> list[Record]:
    """Every decision on ``version``, oldest first: its records, then the decision that set its
    current status if no record says so (see the module docstring)."""
    records = recorded(version.metadata)
    standing = _standing(version, records)
    return records + ([standing] if standing is not None else [])


def recorded(metadata: Mapping[str, str]) -> list[Record]:
    """The ``decision-<n>`` records of a version's metadata, by number."""
    records = []
    for key, value in metadata.items():
        match = _DECISION_KEY.match(key)
        if match is None:
            continue
        status, when, who = (value.split(" ", 2) + [UNKNOWN, UNKNOWN])[:3]
        parts = _reason_keys(metadata, key)
        reason = unescape("".join(metadata[part] for part in parts))
        records.append(Record(status, when, who, reason, int(match[1])))
    return sorted(records, key=lambda record: record.number or 0)


def escape(text: str) -> str:
    """``text`` in the characters a metadata value takes: any other one becomes ``=XX`` for
    each byte of its UTF-8 encoding."""
    return "".join(_token(ch) for ch in text)


def unescape(text: str) -> str:
    """The text :func:`escape` was given."""
    return _ESCAPED.sub(
        lambda match: bytes.fromhex(match[0].replace("=", "")).decode("utf-8", "replace"), text
    )


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def timestamp(value: Any) -> str | None:
    """An aware datetime (as boto3 returns times) as UTC ``YYYY-MM-DDTHH:MM:SSZ``."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return None if value is None else str(value)


def caller_arn(region: str) -> str:
    """The ARN of the identity making the requests.

    GetCallerIdentity needs no IAM permission (AWS STS API reference, GetCallerIdentity), so any
    credentials that can approve can say whose they are.
    """
    sts = aws.client(aws.session(region=region), "sts")
    with aws.reporting("cannot tell who is calling (sts:GetCallerIdentity)"):
        return str(sts.get_caller_identity()["Arn"])


# --- internals ----------------------------------------------------------------------------


def _request(version: registry.VersionInfo, past: list[Record], record: Record) -> dict[str, Any]:
    """The UpdateModelPackage arguments adding ``record``, and a decision not yet recorded, to
    the version's record; refused when the registry's metadata limit leaves no room."""
    kept = {key: value for key, value in version.metadata.items() if key not in LEGACY_KEYS}
    number = max((r.number for r in past if r.number is not None), default=0)
    added: dict[str, str] = {}
    for new in [*(r for r in past if r.number is None), record]:
        number += 1
        added.update(new.entries(number))
    free = registry.METADATA_ENTRIES_MAX - len(kept)
    if len(added) > free:
        # The least a decision takes: its own entry and one of reason.
        least = len(added) - len(record.entries(number)) + 2
        remedy = (
            f"shorten the reason (an entry holds {registry.METADATA_VALUE_MAX} characters)"
            if least <= free
            else "its decision history is full; set the status by hand and record why elsewhere"
        )
        raise PackagingError(
            f"cannot record the decision: {version.group} version {version.number} has {free} of"
            f" the registry's {registry.METADATA_ENTRIES_MAX} metadata entries free"
            f" (CustomerMetadataMap) and it needs {len(added)}; {remedy}"
        )
    remove = [key for key in LEGACY_KEYS if key in version.metadata]
    return registry.approval_request(
        version.arn, record.status, record.reason, {**kept, **added}, remove
    )


def _updated(version: registry.VersionInfo, request: Mapping[str, Any]) -> registry.VersionInfo:
    """``version`` as ``request`` leaves it."""
    return registry.VersionInfo(
        arn=version.arn,
        group=version.group,
        number=version.number,
        approval_status=str(request["ModelApprovalStatus"]),
        status=version.status,
        metadata=dict(request["CustomerMetadataProperties"]),
        model_data_uri=version.model_data_uri,
        created=version.created,
        approval_description=str(request["ApprovalDescription"]),
    )


def _standing(version: registry.VersionInfo, records: list[Record]) -> Record | None:
    """The decision that set the current status, when no record says so."""
    status = version.approval_status
    if status not in (registry.APPROVED, registry.REJECTED):
        return None
    if records and records[-1].status == status:
        return None
    by = version.metadata.get(registry.APPROVAL_BY_KEY)
    at = version.metadata.get(registry.APPROVAL_AT_KEY)
    if by or at:
        return Record(
            status, at or UNKNOWN, by or UNKNOWN, version.approval_description, None, LEGACY
        )
    return Record(
        status,
        timestamp(version.modified) or UNKNOWN,
        version.modified_by or UNKNOWN,
        version.approval_description,
        None,
        OUTSIDE,
    )


def _pins(stacks: Path | None, model: str, arn: str) -> tuple[list[Place] | None, dict[str, str]]:
    if stacks is None:
        return None, {}
    from model_packaging.release.versions import stage_pins

    pins = stage_pins(stacks, model)
    return pins.of(arn), dict(pins.problems)


def _reason_keys(metadata: Mapping[str, str], key: str) -> list[str]:
    first = f"{key}-reason"
    if first not in metadata:
        return []
    found = [first]
    while f"{first}-{len(found) + 1}" in metadata:
        found.append(f"{first}-{len(found) + 1}")
    return found


def _ours(key: str) -> bool:
    return key.startswith(DECISION_PREFIX)


def _token(ch: str) -> str:
    if ch in _PLAIN or (
        not ch.isascii() and ord(ch) <= 0xFFFF and unicodedata.category(ch)[0] in "LN"
    ):
        return ch
    return "".join(f"={byte:02X}" for byte in ch.encode("utf-8"))


def _parts(text: str) -> list[str]:
    """``text``, escaped, cut into metadata values, never inside a character's escape."""
    parts = [""]
    for token in map(_token, text):
        if len(parts[-1]) + len(token) > registry.METADATA_VALUE_MAX:
            parts.append("")
        parts[-1] += token
    return [part for part in parts if part]
