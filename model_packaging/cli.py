"""Command line: ``python -m model_packaging COMMAND ...``.

A thin layer: it parses arguments, calls one plain function, and prints its result. Any
``PackagingError`` becomes a one-line message on stderr and exit status 1; usage errors exit
with status 2 (argparse's convention). Heavy modules are imported only by the command that
needs them, so ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from infra import arguments, command_line
from model_packaging.errors import PackagingError

# The console script (pyproject.toml) that the completion script completes.
COMMAND_NAME = "mlserve-release"

if TYPE_CHECKING:
    from datetime import datetime

    from model_packaging.drift.checks import Report
    from model_packaging.release.promote import Result


def _build(args: argparse.Namespace) -> int:
    # pydantic looks for plugins on its first model, reading the entry points of every
    # installed distribution (about 20 ms). A build's models need none (pydantic's
    # documented switch; a value the user set is kept).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    # numpy (the baseline's, and pyarrow's) loads OpenBLAS, which starts a thread per CPU as it
    # loads, unless OPENBLAS_NUM_THREADS says otherwise (OpenBLAS's README, "Setting the number
    # of threads using environment variables"). A build does no linear algebra; those threads
    # would only take CPU from the compression (about 0.15 s). A value the user set is kept.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from model_packaging.artifact.archive import keep_freed_buffers
    from model_packaging.artifact.build import build

    # This process ends with the build: the buffers it frees may stay its own until then.
    keep_freed_buffers()

    result = build(
        Path(args.model_dir),
        Path(args.out),
        compression=args.compression,
        allow=tuple(args.allow),
        progress=not args.quiet,
    )
    print(f"built {result.artifact_path} sha256:{result.digest}")
    print(f"manifest {result.manifest_path}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from model_packaging.artifact.verify import Timeouts, verify

    report = verify(
        Path(args.artifact),
        rel_tolerance=args.rel_tolerance,
        timeouts=Timeouts(load=args.load_timeout, request=args.request_timeout),
    )
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def _serve(args: argparse.Namespace) -> int:
    from model_packaging.artifact.serve import serve

    serve(
        Path(args.artifact),
        host=args.host,
        port=args.port,
        load_timeout=args.load_timeout,
        request_timeout=args.request_timeout,
    )
    return 0


def _publish(args: argparse.Namespace) -> int:
    import json

    from model_packaging.store.publish import plan, publish

    options = {"bucket": args.bucket, "kms_key": args.kms_key, "progress": not args.quiet}
    if args.dry_run:
        planned = plan(Path(args.artifact), **options)
        if args.json:
            print(json.dumps(planned.as_json(), indent=2))
        else:
            print("\n".join(planned.lines()))
        print(
            f"dry run: nothing written; would send {planned.bytes_to_send} bytes", file=sys.stderr
        )
        return 0
    result = publish(Path(args.artifact), **options)
    # stdout carries only the ARN, for scripts; what happened goes to stderr for people.
    outcome = "registered a new version" if result.created else "version already registered"
    print(f"{outcome}; sent {result.uploaded_bytes} bytes to {result.s3_uri}", file=sys.stderr)
    print(json.dumps(result.as_json(), indent=2) if args.json else result.version_arn)
    return 0


def _decide(args: argparse.Namespace) -> int:
    import json

    from model_packaging.release.approval import decide

    status = "Approved" if args.command == "approve" else "Rejected"
    stacks: Path | None = None
    if status == "Rejected":
        stacks = Path(args.stacks or "stacks")
        if args.stacks is None and not stacks.is_dir():
            print(
                f"warning: cannot tell which stages pin {args.model} version {args.version}:"
                " no stacks folder in the working directory (pass --stacks DIR)",
                file=sys.stderr,
            )
            stacks = None
    decision = decide(
        args.model, args.version, status, args.reason, stacks=stacks, dry_run=args.dry_run
    )
    print(json.dumps(decision.as_json(), indent=2) if args.json else "\n".join(decision.lines()))
    for warning in decision.warnings():
        print(warning, file=sys.stderr)
    if args.dry_run:
        print("dry run: nothing written", file=sys.stderr)
    return 0


def _versions(args: argparse.Namespace) -> int:
    from model_packaging.release import versions

    report = versions.versions(args.model, stacks=Path(args.stacks))
    print(versions.render_json(report) if args.json else versions.render_text(report))
    return 0


def _show_edit(result: Result, args: argparse.Namespace) -> None:
    if args.json:
        import json

        print(json.dumps(result.as_json(), indent=2))
    elif args.dry_run:
        print(result.edit.diff(), end="")
        print(f"{result.summary()} (dry run: nothing written)", file=sys.stderr)
    else:
        print(result.summary())


def _promote(args: argparse.Namespace) -> int:
    from model_packaging.release.promote import promote

    result = promote(
        args.model,
        args.to,
        version=args.version,
        stacks=Path(args.stacks),
        dry_run=args.dry_run,
        require_live=args.require_live,
        allow_dirty=args.allow_dirty,
    )
    _show_edit(result, args)
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from model_packaging.release.promote import rollback

    result = rollback(
        args.model,
        args.env,
        version=args.version,
        stacks=Path(args.stacks),
        dry_run=args.dry_run,
        allow_dirty=args.allow_dirty,
    )
    if not args.json:
        print(f"restoring the pin of commit {result.commit}", file=sys.stderr)
    _show_edit(result, args)
    return 0


def _edit_flags(parser: argparse.ArgumentParser, action: str) -> None:
    """--dry-run, --allow-dirty and --json, shared by promote and rollback."""
    parser.add_argument("--dry-run", action="store_true", help="print the diff, write nothing")
    parser.add_argument(
        "--allow-dirty",
        action="store_true",
        help=f"{action} even though the stack file has uncommitted changes (they go into the"
        " same commit)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the result as JSON (docs/promotion.md)"
    )


def _status(args: argparse.Namespace) -> int:
    from model_packaging.release import status

    # A stack file that cannot be used is bad input (2), one line per problem; a service that
    # cannot be asked is a failure (1), reported after everything that could be read.
    if args.invoke and not args.check_deployed:
        print("error: --invoke goes with --check-deployed ENV", file=sys.stderr)
        return 2
    if args.check_quotas:
        return _check_quotas(args)
    try:
        if args.check_deployed:
            checks = status.check_deployed(
                args.check_deployed,
                model=args.model,
                stacks=Path(args.stacks),
                invoke=args.invoke,
            )
        else:
            rows = status.status(args.model, stacks=Path(args.stacks))
    except status.StackFileError as exc:
        for line in exc.lines:
            print(f"error: {line}", file=sys.stderr)
        return 2
    if args.check_deployed:
        if args.json:
            print(status.render_checks_json(checks))
        else:
            for check in checks:
                print("\n".join(check.lines()))
        return 0 if all(check.ok for check in checks) else 1
    print(status.render_json(rows) if args.json else status.render_table(rows))
    problem = status.problems(rows)
    if problem is not None:
        sys.stdout.flush()
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0


def _check_quotas(args: argparse.Namespace) -> int:
    from infra.capacity.quotas import QuotaError
    from model_packaging.release import status
    from model_packaging.release.quota_check import check_quotas

    if args.check_deployed or args.model:
        print("error: --check-quotas ENV checks a whole environment, alone", file=sys.stderr)
        return 2
    try:
        report = check_quotas(args.check_quotas, stacks=Path(args.stacks))
    except status.StackFileError as exc:
        for line in exc.lines:
            print(f"error: {line}", file=sys.stderr)
        return 2
    except QuotaError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print("\n".join(report.lines()))
    return 0 if report.ok else 1


def _prune(args: argparse.Namespace) -> int:
    from model_packaging.release.prune import prune

    plan = prune(args.env, stacks=Path(args.stacks), keep=args.keep, delete=args.delete)
    for line in plan.lines():
        print(line)
    # The summary follows the lines also where stdout and stderr share one pipe.
    sys.stdout.flush()
    print(plan.summary(), file=sys.stderr)
    return 0


def _completion(args: argparse.Namespace) -> int:
    from infra.completion import bash_script

    print(bash_script(build_parser(), COMMAND_NAME), end="")
    return 0


def _drift_check(args: argparse.Namespace) -> int:
    import json

    from model_packaging.drift.checks import check

    if args.capture is not None:
        return _drift_check_capture(args)
    if args.since or args.until or args.variant:
        print("error: --since, --until and --variant go with --capture", file=sys.stderr)
        return 2
    # Bad input exits 2, apart from the 1 that means "constraints violated": a script can tell a
    # drifted sample from a check that could not run.
    try:
        report = check(Path(args.baseline), Path(args.data))
        if args.report:
            _drift_report_of_sample(args, report)
    except PackagingError as exc:
        command_line.stop_if_interrupted()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        for line in report.lines():
            print(line)
    # The summary follows the lines also where stdout and stderr share one pipe.
    sys.stdout.flush()
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(report.summary(), file=sys.stderr)
    return 0 if report.ok else 1


def _drift_check_capture(args: argparse.Namespace) -> int:
    """drift-check --capture: a window of captured requests, as the drift function reads it."""
    import json

    from model_packaging.drift.engine import check_capture
    from model_packaging.drift.window import Window

    try:
        window = Window(args.since, args.until)
        analysis = check_capture(Path(args.baseline), args.capture, window, args.variant)
        if args.report:
            from model_packaging.drift import report_html

            title = " / ".join(analysis.endpoints + analysis.variants)
            _write_text(
                args.report, report_html.render_analysis(analysis, title=title, window=window)
            )
    except PackagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = analysis.report
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        for line in report.lines():
            print(line)
    sys.stdout.flush()
    for line in analysis.problems.lines():
        print(f"warning: {line}", file=sys.stderr)
    print(analysis.summary(), file=sys.stderr)
    print(report.summary(), file=sys.stderr)
    return 0 if report.ok else 1


def _drift_report_of_sample(args: argparse.Namespace, report: Report) -> None:
    """--report with --data: the page of the sample against the baseline (the sample is read
    a second time, for its statistics)."""
    from model_packaging.drift import baseline, report_html
    from model_packaging.drift.checks import distances, load_baseline

    statistics, constraints = load_baseline(Path(args.baseline))
    sample = baseline.compute(Path(args.data)).statistics
    page = report_html.render(
        title=Path(args.data).name,
        statistics=statistics,
        constraints=constraints,
        sample=sample,
        report=report,
        distances=distances(statistics, constraints, sample),
        facts=[("sample", args.data), ("rows", f"{report.rows:,}")],
    )
    _write_text(args.report, page)


def _write_text(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise PackagingError(f"{path}: cannot write the report: {exc.strerror or exc}") from None


def _moment(text: str) -> datetime:
    """An ISO 8601 date or time (a time without a zone is UTC), for --since and --until."""
    from model_packaging.drift.window import parse_time

    try:
        return parse_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be an ISO 8601 date or time (2024-05-01 or 2024-05-01T10:00:00Z), got {text!r}"
        ) from None


def _keep_count(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"must be a whole number, 0 or more, got {text!r}")
    return int(text)


def _version_number(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a version number (1, 2, ...), got {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    from model_packaging.artifact.container import timeout_problem

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if problem := timeout_problem(value):
        raise argparse.ArgumentTypeError(f"{problem}, got {text!r}")
    return value


def _timeout_flags(parser: argparse.ArgumentParser) -> None:
    """--load-timeout and --request-timeout, shared by verify and serve."""
    from model_packaging.artifact.container import (
        DEFAULT_LOAD_TIMEOUT_SECONDS,
        DEFAULT_REQUEST_TIMEOUT_SECONDS,
    )

    parser.add_argument(
        "--load-timeout",
        type=_seconds,
        default=DEFAULT_LOAD_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"give up when the model has not loaded after this long"
        f" (default {DEFAULT_LOAD_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument(
        "--request-timeout",
        type=_seconds,
        default=DEFAULT_REQUEST_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"give up on a request that has no response after this long"
        f" (default {DEFAULT_REQUEST_TIMEOUT_SECONDS:g}, SageMaker's limit)",
    )


def _reason(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be blank: say why")
    return text.strip()


def _model_name(text: str) -> str:
    """A model as the stack files name it: the settings' rule, so a typo is a usage error."""
    # The settings package is heavy; importing it here keeps --help instant.
    from infra.settings.rules import MODEL_NAME_MAX, MODEL_NAME_RE

    if len(text) > MODEL_NAME_MAX or not MODEL_NAME_RE.match(text):
        raise argparse.ArgumentTypeError(
            "must be a model name: lowercase letters, digits and single hyphens, at most"
            f" {MODEL_NAME_MAX} characters, got {text!r}"
        )
    return text


def _stacks_folder(text: str) -> str:
    try:
        return arguments.existing_folder(text)
    except argparse.ArgumentTypeError as exc:
        # The default is relative to the working directory: say how to point elsewhere.
        raise argparse.ArgumentTypeError(
            f"{exc} (run from the repository root, or pass --stacks DIR)"
        ) from exc


def _stacks_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stacks",
        type=_stacks_folder,
        default="stacks",
        metavar="DIR",
        help="the folder of stack files (default: stacks, in the working directory)",
    )


def _artifact_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "artifact",
        type=arguments.existing_path,
        metavar="ARTIFACT",
        help="build output folder or manifest.json",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m model_packaging",
        description="Build, verify, serve and publish immutable model artifacts, and release them"
        " through dev, staging and prod. Also installed as the mlserve-release command.",
    )
    parser.add_argument("--version", action=arguments.VersionAction)
    # Each command's parser reports its own usage errors (infra.command_line.CommandParser).
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=command_line.CommandParser
    )

    p = commands.add_parser("build", help="build model.tar.gz and manifest.json from a folder")
    p.add_argument(
        "model_dir",
        type=arguments.existing_folder,
        metavar="MODEL_DIR",
        help="folder holding model.yaml",
    )
    p.add_argument(
        "--out",
        required=True,
        type=arguments.output_folder,
        metavar="DIR",
        help="output folder (made if missing)",
    )
    p.add_argument(
        "--compression",
        choices=("gzip", "none"),
        default="gzip",
        help="gzip (default) writes model.tar.gz; none writes an uncompressed model/ folder",
    )
    p.add_argument(
        "--allow",
        action="append",
        default=[],
        type=arguments.word,
        metavar="PATH",
        help="include a file that looks like a credential (repeatable)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_build)

    p = commands.add_parser("verify", help="check digests and run the sample requests")
    _artifact_argument(p)
    p.add_argument(
        "--rel-tolerance",
        type=arguments.non_negative,
        default=1e-6,
        help="relative tolerance for numbers in responses (default 1e-6)",
    )
    _timeout_flags(p)
    p.set_defaults(func=_verify)

    p = commands.add_parser("serve", help="serve an artifact on SageMaker's HTTP contract")
    _artifact_argument(p)
    p.add_argument(
        "--host",
        type=arguments.word,
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1)",
    )
    p.add_argument(
        "--port",
        type=arguments.port,
        default=8080,
        help=f"port, {arguments.PORT_MIN} to {arguments.PORT_MAX} (default 8080)",
    )
    _timeout_flags(p)
    p.set_defaults(func=_serve)

    p = commands.add_parser("publish", help="upload to the artifact store and register a version")
    _artifact_argument(p)
    p.add_argument(
        "--bucket",
        required=True,
        type=arguments.bucket_name,
        help="the shared stack's artifact bucket",
    )
    p.add_argument(
        "--kms-key", type=arguments.word, default=None, help="KMS key id or ARN for SSE-KMS"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="check everything, print what would be uploaded and registered, write nothing",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_publish)

    stages = ("dev", "staging", "prod")
    for name, verb in (("approve", "approve"), ("reject", "reject")):
        p = commands.add_parser(name, help=f"{verb} a registered version, with a reason")
        p.add_argument(
            "model", type=_model_name, metavar="MODEL", help="the model (its package group)"
        )
        p.add_argument("--version", required=True, type=_version_number, metavar="N")
        p.add_argument("--reason", required=True, type=_reason, metavar="TEXT", help="why")
        if name == "reject":
            p.add_argument(
                "--stacks",
                type=_stacks_folder,
                default=None,
                metavar="DIR",
                help="the folder of stack files, to name the stages that pin the version"
                " (default: stacks, in the working directory, if there is one)",
            )
        p.add_argument(
            "--dry-run", action="store_true", help="print what would be recorded, write nothing"
        )
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(func=_decide)

    p = commands.add_parser(
        "versions", help="every registry version: decisions, and the stages that pin and serve it"
    )
    p.add_argument("model", type=_model_name, metavar="MODEL", help="the model (its package group)")
    _stacks_flag(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_versions)

    p = commands.add_parser("promote", help="pin a version in a stage's stack file, behind gates")
    p.add_argument("model", type=_model_name, metavar="MODEL")
    p.add_argument("--to", required=True, choices=stages, help="the stage to pin it in")
    p.add_argument(
        "--version",
        type=_version_number,
        metavar="N",
        help="dev: the version (default: the latest Approved); staging/prod: must be the one"
        " the stage below pins",
    )
    _stacks_flag(p)
    _edit_flags(p, "promote")
    p.add_argument(
        "--require-live",
        action="store_true",
        help="refuse when the stage below's endpoint cannot be queried",
    )
    p.set_defaults(func=_promote)

    p = commands.add_parser(
        "rollback", help="re-pin the version that stood before the current one was promoted"
    )
    p.add_argument("model", type=_model_name, metavar="MODEL")
    p.add_argument("--env", required=True, choices=stages)
    p.add_argument(
        "--version",
        type=_version_number,
        metavar="N",
        help="re-pin version N, one this stage pinned before (default: the pin before the"
        " current one)",
    )
    _stacks_flag(p)
    _edit_flags(p, "roll back")
    p.set_defaults(func=_rollback)

    p = commands.add_parser("status", help="pins, approvals and live endpoints per stage")
    p.add_argument(
        "model", type=_model_name, metavar="MODEL", nargs="?", help="one model (default: all)"
    )
    _stacks_flag(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--check-deployed",
        choices=stages,
        metavar="ENV",
        help="exit 1 unless every live endpoint of ENV serves what its stack file pins, and"
        " none of it is Rejected",
    )
    p.add_argument(
        "--invoke",
        action="store_true",
        help="with --check-deployed: also send each pinned variant its version's samples"
        " (InvokeEndpoint) and exit 1 unless every answer is the expected one",
    )
    p.add_argument(
        "--check-quotas",
        choices=stages,
        metavar="ENV",
        help="exit 1 unless ENV's account quotas for endpoint usage (Service Quotas) hold the"
        " instances of each type an update of every endpoint needs at its peak",
    )
    p.set_defaults(func=_status)

    p = commands.add_parser(
        "prune",
        help="list, then delete, the superseded endpoint configurations and models of a stage",
        description="List the endpoint configurations and models the program kept in ENV's"
        " account and region that no endpoint uses, beyond the configuration in use and the N"
        " before it (per model, by creation time), and the models only they name. Nothing is"
        " deleted without --delete.",
    )
    p.add_argument(
        "--env", required=True, choices=stages, help="the stage whose account and region to clean"
    )
    p.add_argument(
        "--keep",
        type=_keep_count,
        default=1,
        metavar="N",
        help="superseded configurations to keep per model, newest first (default 1: what a"
        " rollback returns to)",
    )
    _stacks_flag(p)
    deleting = p.add_mutually_exclusive_group()
    deleting.add_argument(
        "--dry-run", action="store_true", help="list what would be deleted (the default)"
    )
    deleting.add_argument("--delete", action="store_true", help="delete what is listed")
    p.set_defaults(func=_prune)

    p = commands.add_parser(
        "drift-check", help="compare a data sample with a baseline, as Model Monitor would"
    )
    p.add_argument(
        "--baseline",
        required=True,
        metavar="DIR",
        help="build output folder, or a folder holding statistics.json and constraints.json",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", metavar="FILE", help="the sample: .csv or .jsonl")
    source.add_argument(
        "--capture",
        type=arguments.word,
        metavar="PATH",
        help="captured requests in SageMaker's layout: a folder or s3://BUCKET/PREFIX",
    )
    p.add_argument(
        "--since",
        type=_moment,
        metavar="ISO8601",
        help="with --capture: requests from this time on (inferenceTime, UTC unless given)",
    )
    p.add_argument(
        "--until",
        type=_moment,
        metavar="ISO8601",
        help="with --capture: requests before this time",
    )
    p.add_argument(
        "--variant",
        type=arguments.word,
        metavar="NAME",
        help="with --capture: only this production variant's captures",
    )
    p.add_argument(
        "--json", action="store_true", help="constraint_violations.json's shape on stdout"
    )
    p.add_argument(
        "--report",
        type=arguments.word,
        metavar="FILE.html",
        help="also write a self-contained HTML page of the comparison",
    )
    p.set_defaults(func=_drift_check)

    p = commands.add_parser(
        "completion",
        help="print the shell completion script",
        description=f"Print a bash completion function for {COMMAND_NAME} (load it with"
        f" `source <(python -m model_packaging completion bash)`; zsh loads it after"
        " `autoload -U +X bashcompinit && bashcompinit`).",
    )
    p.add_argument("shell", choices=("bash",), help="the shell (zsh: see above)")
    p.set_defaults(func=_completion)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` names (default: ``sys.argv``); its exit status.

    A Ctrl-C ends any command with ``error: interrupted`` and status 130
    (:func:`infra.command_line.run`); with no ``argv`` this is the process's program.
    """
    return command_line.run(lambda: _run(argv), as_program=argv is None)


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except PackagingError as exc:
        command_line.stop_if_interrupted()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        command_line.stop_if_interrupted()
        # A wrong AWS set-up can surface outside the tool's AWS code too (botocore reads the
        # profile even to load an API model): it is named, not shown as a traceback.
        from model_packaging.store.aws import setup_problem

        problem = setup_problem(exc)
        if problem is None:
            raise
        print(f"error: {problem}", file=sys.stderr)
        return 1
