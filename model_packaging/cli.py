"""Command line: ``python -m model_packaging COMMAND ...``.

A thin layer: it parses arguments, calls one plain function, and prints its result. Any
``PackagingError`` becomes a one-line message on stderr and exit status 1; usage errors exit
with status 2 (argparse's convention). Heavy modules are imported only by the command that
needs them, so ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from infra import arguments
from model_packaging import __version__
from model_packaging.errors import PackagingError

if TYPE_CHECKING:
    from model_packaging.release.promote import Result


def _build(args: argparse.Namespace) -> int:
    # pydantic looks for plugins on its first model, reading the entry points of every
    # installed distribution (about 20 ms). A build's models need none (pydantic's
    # documented switch; a value the user set is kept).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
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
    from model_packaging.store.publish import publish

    result = publish(
        Path(args.artifact),
        bucket=args.bucket,
        kms_key=args.kms_key,
        progress=not args.quiet,
    )
    # stdout carries only the ARN, for scripts; what happened goes to stderr for people.
    outcome = "registered a new version" if result.created else "version already registered"
    print(f"{outcome}; sent {result.uploaded_bytes} bytes to {result.s3_uri}", file=sys.stderr)
    print(result.version_arn)
    return 0


def _decide(args: argparse.Namespace) -> int:
    from model_packaging.release.approval import decide

    status = "Approved" if args.command == "approve" else "Rejected"
    decision = decide(args.model, args.version, status, args.reason)
    print(
        f"{args.model} version {args.version}: {decision.previous_status} -> {decision.status}"
        f" by {decision.who} at {decision.when}"
    )
    return 0


def _show_edit(result: Result, dry_run: bool) -> None:
    if dry_run:
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
    )
    _show_edit(result, args.dry_run)
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from model_packaging.release.promote import rollback

    result = rollback(args.model, args.env, stacks=Path(args.stacks), dry_run=args.dry_run)
    print(f"restoring the pin of commit {result.commit}", file=sys.stderr)
    _show_edit(result, args.dry_run)
    return 0


def _status(args: argparse.Namespace) -> int:
    import json

    from model_packaging.release import status

    if args.check_deployed:
        checks = status.check_deployed(
            args.check_deployed, model=args.model, stacks=Path(args.stacks)
        )
        if args.json:
            print(json.dumps([{"model": c.model, "ok": c.ok, "line": c.line} for c in checks]))
        else:
            for check in checks:
                print(check.line)
        return 0 if all(check.ok for check in checks) else 1
    rows = status.status(args.model, stacks=Path(args.stacks))
    print(status.render_json(rows) if args.json else status.render_table(rows))
    return 0


def _drift_check(args: argparse.Namespace) -> int:
    import json

    from model_packaging.drift.checks import check

    # Bad input exits 2, apart from the 1 that means "constraints violated": a script can tell a
    # drifted sample from a check that could not run.
    try:
        report = check(Path(args.baseline), Path(args.data))
    except PackagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        for line in report.lines():
            print(line)
    # The summary follows the lines also where stdout and stderr share one pipe.
    sys.stdout.flush()
    print(report.summary(), file=sys.stderr)
    return 0 if report.ok else 1


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
    parser.add_argument("--version", action="version", version=f"mlserve {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    p.set_defaults(func=_publish)

    stages = ("dev", "staging", "prod")
    for name, verb in (("approve", "approve"), ("reject", "reject")):
        p = commands.add_parser(name, help=f"{verb} a registered version, with a reason")
        p.add_argument(
            "model", type=_model_name, metavar="MODEL", help="the model (its package group)"
        )
        p.add_argument("--version", required=True, type=_version_number, metavar="N")
        p.add_argument("--reason", required=True, type=_reason, metavar="TEXT", help="why")
        p.set_defaults(func=_decide)

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
    p.add_argument("--dry-run", action="store_true", help="print the diff, write nothing")
    p.add_argument(
        "--require-live",
        action="store_true",
        help="refuse when the stage below's endpoint cannot be queried",
    )
    p.set_defaults(func=_promote)

    p = commands.add_parser("rollback", help="re-pin the version a stage pinned before")
    p.add_argument("model", type=_model_name, metavar="MODEL")
    p.add_argument("--env", required=True, choices=stages)
    _stacks_flag(p)
    p.add_argument("--dry-run", action="store_true", help="print the diff, write nothing")
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
        help="exit 1 unless every live endpoint of ENV serves what its stack file pins",
    )
    p.set_defaults(func=_status)

    p = commands.add_parser(
        "drift-check", help="compare a data sample with a baseline, as Model Monitor would"
    )
    p.add_argument(
        "--baseline",
        required=True,
        metavar="DIR",
        help="build output folder, or a folder holding statistics.json and constraints.json",
    )
    p.add_argument("--data", required=True, metavar="FILE", help="the sample: .csv or .jsonl")
    p.add_argument(
        "--json", action="store_true", help="constraint_violations.json's shape on stdout"
    )
    p.set_defaults(func=_drift_check)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except PackagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # A wrong AWS set-up can surface outside the tool's AWS code too (botocore reads the
        # profile even to load an API model): it is named, not shown as a traceback.
        from model_packaging.store.aws import setup_problem

        problem = setup_problem(exc)
        if problem is None:
            raise
        print(f"error: {problem}", file=sys.stderr)
        return 1
