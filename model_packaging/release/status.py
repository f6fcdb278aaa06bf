"""status: what each stage pins, whether the registry approves it, and what is live.

``status`` is a table of model x stage; ``check_deployed`` compares one environment's live
endpoints with its stack file and says, per model, ``ok`` or what differs. The latter catches a
blue/green update that SageMaker rolled back while ``pulumi up`` reported success
(terraform-provider-aws #48997, #46663): the endpoint then serves an older endpoint
configuration than the newest one the program created for it.

Two kinds of failure are kept apart:

- a stack file that cannot be read or does not validate is the user's to fix: both commands
  refuse with :class:`StackFileError`, one line per problem naming the file and the line;
- a service that cannot be asked (no credentials, access denied, no answer, an answer that is not
  the API's) is reported where it belongs: an ``unreachable`` row for that stage in ``status``,
  which still prints every other row; ``check_deployed`` raises ``live.Unreachable`` (nothing
  was verified).

Every query of a command runs within ``live.DEADLINE_SECONDS`` together: ``status`` asks the
stages and the registry at the same time, each in a thread of its own, and a stage that has not
answered by then gets an ``unreachable`` row saying so.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from infra import naming
from infra.settings import (
    PROJECT,
    EnvironmentSettings,
    ModelSettings,
    ModelVersion,
    SettingsError,
    artifacts,
    load_stack_file,
)
from model_packaging.errors import PackagingError
from model_packaging.release import live, smoke, stackfile
from model_packaging.release.stackfile import STAGES
from model_packaging.store import aws, registry

# Statuses in which an endpoint serves traffic from its configuration (DescribeEndpoint's
# EndpointStatus, botocore's sagemaker model). Any other status fails check-deployed: RollingBack,
# Failed and UpdateRollbackFailed above all, but also OutOfService, Creating and Deleting.
# Updating is "UpdateEndpoint or UpdateEndpointWeightsAndCapacities is executing": autoscaling
# changing the instance count is the latter, and the endpoint keeps serving its configuration.
# An update that moves it to another configuration shows a PendingDeploymentSummary, and fails
# the check until it is done (_check_model).
SERVING = {"InService", "Updating", "SystemUpdating"}
# The variants a stack file may pin besides the champion (infra.naming), in table order.
OTHER_VARIANTS = (naming.CHALLENGER, naming.SHADOW)
# The approval of a version the registry could not be asked about.
UNKNOWN = "unknown"


class StackFileError(PackagingError):
    """Stack files that cannot be used; ``lines`` holds one line per problem, each starting
    with ``<file>:<line>:`` (or ``<file>:`` when there is no line to name)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        super().__init__("; ".join(lines))


@dataclass(frozen=True)
class VariantRow:
    """A challenger or shadow pinned in a stage, beside the champion of its row."""

    version: int | None
    package: str | None
    digest: str
    approval: str | None
    serves: int | None
    """The version the live endpoint's variant of that name serves."""
    serves_package: str | None


@dataclass(frozen=True)
class Row:
    """One model in one stage; the champion's pin in the top-level fields."""

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
    """Why the live columns are empty: the stage (or this model's endpoint) cannot be queried."""
    challenger: VariantRow | None = None
    shadow: VariantRow | None = None


@dataclass(frozen=True)
class Check:
    """The verdict on one model's live endpoint; ``line`` is what the command prints."""

    model: str
    ok: bool
    line: str
    environment: str = ""
    reason: str | None = None
    """Why it failed (the problems of ``line``, joined by "; "); None when ok."""
    endpoint: str | None = None
    endpoint_status: str | None = None
    config: str | None = None
    """The endpoint configuration the endpoint runs."""
    newest_config: str | None = None
    """A configuration of this model and environment newer than ``config``, if there is one."""
    pending_config: str | None = None
    """The configuration an update in progress moves the endpoint to."""
    expected: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Variant -> what the stack file pins: version, package, artifact_uri, digest, approval."""
    served: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Variant -> what the endpoint serves: version, package, model_data_url, model, approval."""
    invocations: tuple[smoke.VariantResult, ...] | None = None
    """The smoke test of each variant the stack file pins (``--invoke``); None when not asked."""

    def lines(self) -> list[str]:
        """What the command prints: ``line``, then the smoke test's lines of each variant."""
        return [self.line] + [text for result in self.invocations or () for text in result.lines()]

    def as_json(self) -> dict[str, Any]:
        found = {
            "model": self.model,
            "environment": self.environment,
            "ok": self.ok,
            "reason": self.reason,
            "endpoint": self.endpoint,
            "endpoint_status": self.endpoint_status,
            "config": self.config,
            "newest_config": self.newest_config,
            "pending_config": self.pending_config,
            "expected": self.expected,
            "served": self.served,
            "line": self.line,
        }
        if self.invocations is not None:
            found["invocations"] = {r.variant: r.as_json() for r in self.invocations}
        return found


def status(
    model: str | None = None,
    *,
    stacks: Path = Path("stacks"),
    note: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
    deadline: float = live.DEADLINE_SECONDS,
) -> list[Row]:
    """Rows for ``model`` (or every model any stage configures) in dev, staging and prod.

    Raises StackFileError when a stage's stack file cannot be used; a stage or a registry that
    cannot be asked shows in the rows (``unreachable``, approval ``unknown``) and in ``note``.
    """
    aws.request_timeouts()  # a bad setting is an error before anything is asked
    loaded = _load_all(stacks)
    names = sorted({name for settings in loaded.values() for name in settings.models})
    if model is not None:
        if model not in names:
            raise PackagingError(f"no stack file in {stacks} configures model {model!r}")
        names = [model]
    stages = {
        stage: _Stage(stage, settings, [n for n in names if n in settings.models])
        for stage, settings in loaded.items()
    }
    approvals = {
        region: _Registry(region, sorted(packages))
        for region, packages in _packages(loaded.values(), names).items()
    }
    aws.warm_up("sagemaker", loaded[STAGES[0]].region)
    _run_all([*stages.values(), *approvals.values()], deadline)
    for registry_query in approvals.values():
        for warning in registry_query.warnings:
            note(f"warning: {warning}")
    rows = []
    for name in names:
        for stage in STAGES:
            settings = loaded[stage]
            rows.append(_row(name, stage, settings, stages[stage], approvals[settings.region]))
    return rows


def problems(rows: list[Row]) -> str | None:
    """What ``status`` could not read, in one line, or None when it read everything."""
    stages = sorted({row.stage for row in rows if row.unreachable}, key=STAGES.index)
    unknown = {
        package for row in rows for package, approval in _approvals(row) if approval == UNKNOWN
    }
    parts = []
    if stages:
        parts.append(f"could not query {', '.join(stages)} (the LIVE column says why)")
    if unknown:
        versions = f"{len(unknown)} version{'s' if len(unknown) > 1 else ''}"
        parts.append(f"the approval of {versions} is unknown (the warnings say why)")
    return "; ".join(parts) if parts else None


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
        for name in OTHER_VARIANTS:
            variant: VariantRow | None = getattr(row, name)
            if variant is not None:
                lines.append(
                    (
                        row.model,
                        row.stage,
                        "-" if variant.version is None else str(variant.version),
                        artifacts.short_digest(variant.digest),
                        variant.approval or "-",
                        _variant_live_text(row, name, variant),
                    )
                )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(line[:-1], widths, strict=True)), line[-1]])
        for line in lines
    )


def render_json(rows: list[Row]) -> str:
    return json.dumps([asdict(row) for row in rows], indent=2)


def render_checks_json(checks: list[Check]) -> str:
    return json.dumps([check.as_json() for check in checks], indent=2)


def check_deployed(
    environment: str,
    *,
    model: str | None = None,
    stacks: Path = Path("stacks"),
    deadline: float = live.DEADLINE_SECONDS,
    invoke: bool = False,
) -> list[Check]:
    """One Check per model of ``environment`` (or just ``model``): does its live endpoint serve
    what is pinned, and is none of it Rejected? With ``invoke``, each variant the stack file
    pins is also sent the pinned version's samples, and must answer them as expected
    (:mod:`model_packaging.release.smoke`).

    Raises StackFileError for a stack file that cannot be used. An environment that cannot be
    queried, or that has not answered within ``deadline`` seconds, raises ``live.Unreachable``:
    nothing is verified.
    """
    aws.request_timeouts()  # a bad setting is an error before anything is asked
    path = stackfile.stack_path(stacks, environment)
    settings = load_environment(path, environment)
    if model is not None and model not in settings.models:
        raise PackagingError(f"{path} does not configure model {model!r}")
    pinned = {
        name: pinned_model
        for name, pinned_model in settings.models.items()
        if model is None or name == model
    }

    end = time.monotonic() + deadline

    def check_all() -> list[Check]:
        sagemaker = live.environment_client(environment, settings.region)
        approvals = _EnvironmentApprovals(sagemaker, environment)
        smoke_test = (
            smoke.SmokeTest(environment, settings.region, sagemaker, end) if invoke else None
        )
        return [
            _check_model(sagemaker, name, pinned_model, environment, approvals, smoke_test)
            for name, pinned_model in pinned.items()
        ]

    return live.within(deadline, environment, check_all)


def _check_model(
    sagemaker: Any,
    name: str,
    pinned_model: ModelSettings,
    environment: str,
    approvals: _EnvironmentApprovals,
    smoke_test: smoke.SmokeTest | None = None,
) -> Check:
    """Does the live endpoint of one model serve what its stack file pins (and, given a
    ``smoke_test``, answer its samples as expected)?

    A request about this model that is refused (not the environment being unreachable) fails
    this model's check, naming the request; the other models are still checked.
    """
    asked = () if smoke_test is not None else None
    pinned = _describe_pin(pinned_model.version)
    expected_versions = naming.variant_versions(pinned_model)
    try:
        endpoint = live.describe_live(sagemaker, name, environment)
        expected = {
            variant: _pin_json(version, approvals) for variant, version in expected_versions.items()
        }
        served = {v.name: _served_json(v, approvals) for v in endpoint.variants} if endpoint else {}
    except live.Unreachable:
        raise
    except PackagingError as exc:
        line = f"FAIL {name} {environment}: pinned {pinned}; {exc}"
        return Check(name, False, line, environment, reason=str(exc), invocations=asked)
    problems = _rejected(expected)
    if endpoint is None:
        prefix = naming.endpoint_name_prefix(name, environment)
        problems.insert(0, f"no endpoint {prefix}*")
        missing = "; ".join(problems)
        line = f"FAIL {name} {environment}: pinned {pinned}; live: {missing}"
        return Check(
            name, False, line, environment, reason=missing, expected=expected, invocations=asked
        )
    if endpoint.status not in SERVING:
        cause = f" ({endpoint.failure_reason})" if endpoint.failure_reason else ""
        problems.append(f"endpoint is {endpoint.status}{cause}")
    newer = None
    if endpoint.pending_config is not None:
        # What the endpoint serves is about to change; the check says so instead of comparing
        # what it is leaving.
        problems.append(
            f"an update to {endpoint.pending_config} is in progress: wait until the endpoint is"
            " InService and run the check again"
        )
        problems += [
            f"{variant} serves version {live_variant['version']}, which is Rejected"
            for variant, live_variant in served.items()
            if live_variant["approval"] == registry.REJECTED
            and live_variant["package"] != expected.get(variant, {}).get("package")
        ]
    else:
        problems += _variant_problems(endpoint, expected_versions, served)
        newer = live.newer_config(sagemaker, name, environment, endpoint)
        if newer is not None:
            problems.append(
                f"configuration {endpoint.config} is older than {newer}, the newest made for it:"
                " SageMaker rolled the update back"
            )
    invocations = _smoke(smoke_test, pinned_model, endpoint)
    problems += [failed for r in invocations or () if (failed := r.failure())]
    champion = endpoint.variant(naming.CHAMPION)
    serving = _describe_variant(champion) if champion else "nothing"
    where = f"{serving} on {endpoint.name} ({endpoint.config}, {endpoint.status})"
    reason = "; ".join(problems) if problems else None
    if problems:
        line = f"FAIL {name} {environment}: pinned {pinned}; live {where}: {reason}"
    else:
        line = f"ok {name} {environment}: live {where}"
    return Check(
        name,
        not problems,
        line,
        environment,
        reason=reason,
        endpoint=endpoint.name,
        endpoint_status=endpoint.status,
        config=endpoint.config,
        newest_config=newer,
        pending_config=endpoint.pending_config,
        expected=expected,
        served=served,
        invocations=invocations,
    )


def _smoke(
    smoke_test: smoke.SmokeTest | None, pinned_model: ModelSettings, endpoint: live.LiveEndpoint
) -> tuple[smoke.VariantResult, ...] | None:
    """The smoke test of the endpoint's pinned variants, when asked for. An endpoint that takes
    no requests now, which the rest of the check fails already, is sent none."""
    if smoke_test is None:
        return None
    not_now = None
    if endpoint.pending_config is not None:
        not_now = "an update of the endpoint is in progress"
    elif endpoint.status not in SERVING:
        not_now = f"the endpoint is {endpoint.status}"
    return tuple(smoke_test.run(pinned_model, endpoint, not_now=not_now))


def _variant_problems(
    endpoint: live.LiveEndpoint,
    expected: dict[str, ModelVersion],
    served: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[str]:
    """What the endpoint's variants serve that the stack file does not pin; a served version
    that is Rejected (``served``: the check's record of each variant) says so."""
    problems = []

    def serving(variant: live.Variant) -> str:
        rejected = (served or {}).get(variant.name, {}).get("approval") == registry.REJECTED
        return _describe_variant(variant) + (", which is Rejected" if rejected else "")

    for name, version in expected.items():
        found = endpoint.variant(name)
        if found is None:
            problems.append(f"no {name} variant")
        elif not _serves(found, version):
            problems.append(f"{name} serves {serving(found)}")
    for found in endpoint.variants:
        if found.name not in expected:
            problems.append(
                f"{found.name} variant serves {serving(found)}, which the stack file does not pin"
            )
    return problems


def _rejected(expected: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """A Rejected version pinned by any variant: the check fails naming it (one served but not
    pinned is named by :func:`_variant_problems`)."""
    return [
        f"{variant} pins version {pin['version']}, which is Rejected"
        for variant, pin in expected.items()
        if pin["approval"] == registry.REJECTED
    ]


# --- stack files ----------------------------------------------------------------------------


def _load_all(stacks: Path) -> dict[str, EnvironmentSettings]:
    """Every stage's settings, or one StackFileError with the problems of all of them."""
    loaded: dict[str, EnvironmentSettings] = {}
    lines: list[str] = []
    for stage in STAGES:
        try:
            loaded[stage] = load_environment(stackfile.stack_path(stacks, stage), stage)
        except StackFileError as exc:
            lines += exc.lines
    if lines:
        raise StackFileError(lines)
    return loaded


def load_environment(path: Path, stage: str) -> EnvironmentSettings:
    """The settings of the environment stack file at ``path``; StackFileError, one line per
    problem at its line, if it cannot be used."""
    if not path.is_file():
        raise StackFileError([f"{path}: no such stack file (each stage needs one)"])
    try:
        settings = load_stack_file(path, stack=stage)
    except SettingsError as exc:
        raise StackFileError([located(path, problem) for problem in exc.problems]) from exc
    except OSError as exc:
        raise StackFileError([f"{path}: cannot read it: {exc.strerror or exc}"]) from exc
    if not isinstance(settings, EnvironmentSettings):
        raise StackFileError([f"{path}: not an environment stack: its environment is not {stage}"])
    return settings


def located(path: Path, problem: str) -> str:
    """``<path>:<line>: <problem>`` on one line: the line the problem names, or the line of the
    key its key path names (``infra.settings`` names keys, not lines)."""
    first = problem.splitlines()[0] if problem else problem
    named = re.search(r"\blines? (\d+)", first)
    if named:
        return f"{path}:{named.group(1)}: {first}"
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        root = None
    line = _line_of(root, _key_path(first.split(": ", 1)[0])) if root is not None else None
    return f"{path}:{line}: {first}" if line else f"{path}: {first}"


_PATH_PART = re.compile(r'\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]|\.?([^.\[\]]+)')


def _key_path(text: str) -> list[str | int]:
    """``models.churn.alerts[0]`` -> ``["models", "churn", "alerts", 0]`` (the key paths of
    ``infra.settings.problems``)."""
    parts: list[str | int] = []
    for quoted, index, plain in _PATH_PART.findall(text):
        if index:
            parts.append(int(index))
        else:
            parts.append(quoted.replace('\\"', '"') if quoted else plain)
    return parts


def _line_of(root: Node, path: list[str | int]) -> int | None:
    """The 1-based line of the deepest key of ``path`` the file has, below ``config:``.

    Project keys are written without their namespace in key paths (``models`` for
    ``mlserve:models``); others keep theirs (``aws:region``).
    """
    node, line = _child(root, "config")
    if node is None or line is None:
        return None
    for position, part in enumerate(path):
        if position == 0 and isinstance(part, str) and part != "config" and ":" not in part:
            part = f"{PROJECT}:{part}"
        if position == 0 and part == "config":
            continue
        found, found_line = _child(node, part)
        if found is None or found_line is None:
            break
        node, line = found, found_line
    return line


def _child(node: Node, part: str | int) -> tuple[Node | None, int | None]:
    if isinstance(node, MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == part:
                return value, key.start_mark.line + 1
    if isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return item, item.start_mark.line + 1
    return None, None


# --- queries, all at once within the deadline ----------------------------------------------


class _Query:
    """Work for one thread; what it found so far stays readable once the deadline has passed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open = True
        self.crash: BaseException | None = None

    def run(self) -> None:
        try:
            self.work()
        except BaseException as exc:  # raised again in the caller's thread
            self.crash = exc

    def work(self) -> None:
        raise NotImplementedError

    def give_up(self, deadline: float) -> None:
        """The deadline passed: what is still missing is marked as unanswered."""
        raise NotImplementedError


def _run_all(queries: list[_Query], deadline: float) -> None:
    """Run every query in a daemon thread of its own and wait at most ``deadline`` seconds in
    all; those still running are given up (their threads end on their own timeouts)."""
    threads = [threading.Thread(target=q.run, name="status-query", daemon=True) for q in queries]
    for thread in threads:
        thread.start()
    end = time.monotonic() + deadline
    for thread, query in zip(threads, queries, strict=True):
        thread.join(max(0.0, end - time.monotonic()))
        with query.lock:
            query.open = False
            if thread.is_alive():
                query.give_up(deadline)
        if query.crash is not None:
            raise query.crash


class _Stage(_Query):
    """One stage's live endpoints, for the models it pins; once unreachable, not asked again."""

    def __init__(self, stage: str, settings: EnvironmentSettings, models: list[str]) -> None:
        super().__init__()
        self.stage = stage
        self.settings = settings
        self.models = models
        self.endpoints: dict[str, live.LiveEndpoint | None] = {}
        self.errors: dict[str, str] = {}
        self.unreachable: str | None = None

    def work(self) -> None:
        if not self.models:
            return
        try:
            client = live.environment_client(self.stage, self.settings.region)
            for name in self.models:
                try:
                    found = live.describe_live(client, name, self.stage)
                except live.Unreachable:
                    raise
                except PackagingError as exc:
                    self._keep(name, error=str(exc))
                else:
                    self._keep(name, endpoint=found)
        except live.Unreachable as exc:
            with self.lock:
                if self.open:
                    self.unreachable = str(exc)

    def _keep(
        self, name: str, *, endpoint: live.LiveEndpoint | None = None, error: str | None = None
    ) -> None:
        with self.lock:
            if not self.open:
                return
            if error is not None:
                self.errors[name] = error
            else:
                self.endpoints[name] = endpoint

    def give_up(self, deadline: float) -> None:
        if self.unreachable is None:
            self.unreachable = str(live.Unreachable(self.stage, live.no_answer(deadline)))

    def problem(self, model: str) -> str | None:
        """Why the live columns of ``model`` are empty, if they are."""
        if model in self.endpoints:
            return None
        return self.errors.get(model) or self.unreachable


class _Registry(_Query):
    """Approval statuses of the versions pinned in one region, from the registry (the default
    session); once the registry cannot be asked, the rest are ``unknown`` with one warning."""

    def __init__(self, region: str, packages: list[str]) -> None:
        super().__init__()
        self.region = region
        self.packages = packages
        self.statuses: dict[str, str] = {}
        self.warnings: list[str] = []

    def work(self) -> None:
        try:
            client = aws.client(aws.session(region=self.region), "sagemaker")
        except PackagingError as exc:
            self._fail_rest(f"cannot read the registry in {self.region}: {exc}")
            return
        for package in self.packages:
            try:
                info = registry.describe_version(client, package)
            except PackagingError as exc:
                if live.cannot_reach(exc):
                    self._fail_rest(str(exc))
                    return
                self._keep(package, UNKNOWN, warning=str(exc))
                continue
            self._keep(package, info.approval_status if info is not None else "not registered")

    def _keep(self, package: str, approval: str, warning: str | None = None) -> None:
        with self.lock:
            if self.open:
                self.statuses[package] = approval
                if warning:
                    self.warnings.append(warning)

    def _fail_rest(self, warning: str) -> None:
        with self.lock:
            if self.open:
                self.warnings.append(warning)
                for package in self.packages:
                    self.statuses.setdefault(package, UNKNOWN)

    def give_up(self, deadline: float) -> None:
        missing = [p for p in self.packages if p not in self.statuses]
        if missing:
            self.warnings.append(
                f"the registry in {self.region} did not answer for {len(missing)} version(s):"
                f" {live.no_answer(deadline)}"
            )

    def of(self, package: str) -> str:
        return self.statuses.get(package, UNKNOWN)


class _EnvironmentApprovals:
    """Approval statuses as the environment's own credentials read them (check-deployed), one
    request per version."""

    def __init__(self, sagemaker: Any, environment: str) -> None:
        self._sagemaker = sagemaker
        self._environment = environment
        self._cache: dict[str, str] = {}

    def of(self, package: str) -> str:
        if package not in self._cache:
            info = live.registered_version(self._sagemaker, package, self._environment)
            self._cache[package] = info.approval_status if info is not None else "not registered"
        return self._cache[package]


def _packages(stages: Iterable[EnvironmentSettings], names: list[str]) -> dict[str, set[str]]:
    """Region -> the registry versions pinned there by any variant of ``names``; every region of
    a stage is present, with no versions when it pins none."""
    found: dict[str, set[str]] = {}
    for settings in stages:
        packages = found.setdefault(settings.region, set())
        for name in names:
            if name in settings.models:
                versions = naming.variant_versions(settings.models[name]).values()
                packages.update(v.package for v in versions if v.package is not None)
    return found


def _row(
    model: str, stage: str, settings: EnvironmentSettings, query: _Stage, approvals: _Registry
) -> Row:
    empty = dict.fromkeys(
        (
            "version",
            "package",
            "digest",
            "approval",
            "endpoint",
            "endpoint_status",
            "serves",
            "serves_package",
            "unreachable",
        ),
        None,
    )
    if model not in settings.models:
        return Row(model, stage, **empty)
    pinned_model = settings.models[model]
    pinned = pinned_model.version
    endpoint = query.endpoints.get(model)
    serves = endpoint.champion if endpoint else None
    variants: dict[str, VariantRow | None] = dict.fromkeys(OTHER_VARIANTS)
    for name, version in naming.variant_versions(pinned_model).items():
        if name == naming.CHAMPION:
            continue
        served = endpoint.variant(name) if endpoint else None
        variants[name] = VariantRow(
            version=artifacts.version_or_none(version.package),
            package=version.package,
            digest=version.digest,
            approval=approvals.of(version.package) if version.package else None,
            serves=artifacts.version_or_none(served.package) if served else None,
            serves_package=served.package if served else None,
        )
    return Row(
        model=model,
        stage=stage,
        version=artifacts.version_or_none(pinned.package),
        package=pinned.package,
        digest=pinned.digest,
        approval=approvals.of(pinned.package) if pinned.package else None,
        endpoint=endpoint.name if endpoint else None,
        endpoint_status=endpoint.status if endpoint else None,
        serves=artifacts.version_or_none(serves),
        serves_package=serves,
        unreachable=query.problem(model),
        challenger=variants[naming.CHALLENGER],
        shadow=variants[naming.SHADOW],
    )


def _approvals(row: Row) -> list[tuple[str | None, str | None]]:
    """(package, approval) of every variant the row pins."""
    return [
        (row.package, row.approval),
        *((v.package, v.approval) for v in (row.challenger, row.shadow) if v is not None),
    ]


def _live_text(row: Row) -> str:
    if row.unreachable is not None:
        return f"unreachable: {row.unreachable}"
    if row.package is None and row.digest is None:
        return "-"
    if row.endpoint is None:
        return "no endpoint"
    serves = "-" if row.serves is None else f"version {row.serves}"
    return f"{row.endpoint_status}, serves {serves} ({row.endpoint})"


def _variant_live_text(row: Row, name: str, variant: VariantRow) -> str:
    """The LIVE cell of a challenger's or shadow's row, which names the variant: the row's
    other cells are laid out as the champion's."""
    if row.unreachable is not None:
        return f"{name}: unreachable"
    if row.endpoint is None:
        return f"{name}: no endpoint"
    if variant.serves_package is None:
        return f"{name}: no {name} variant"
    return f"{name}: serves version {variant.serves}"


def _pin_json(version: ModelVersion, approvals: _EnvironmentApprovals) -> dict[str, Any]:
    return {
        "version": artifacts.version_or_none(version.package),
        "package": version.package,
        "artifact_uri": version.artifact_uri,
        "digest": version.digest,
        "approval": approvals.of(version.package) if version.package else None,
    }


def _served_json(variant: live.Variant, approvals: _EnvironmentApprovals) -> dict[str, Any]:
    return {
        "version": artifacts.version_or_none(variant.package),
        "package": variant.package,
        "model_data_url": variant.model_data_url,
        "model": variant.model_name,
        "approval": approvals.of(variant.package) if variant.package else None,
    }


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
