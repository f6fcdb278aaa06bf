"""Command line: ``python -m model_packaging COMMAND ...``.

A thin layer: it parses arguments, calls one plain function, and prints its result. Any
``PackagingError`` becomes a one-line message on stderr and exit status 1; usage errors exit
with status 2 (argparse's convention). Heavy modules are imported only by the command that
needs them, so ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from model_packaging.errors import PackagingError


def _build(args: argparse.Namespace) -> int:
    from model_packaging.build import build

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
    from model_packaging.verify import verify

    report = verify(Path(args.artifact), rel_tolerance=args.rel_tolerance)
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def _serve(args: argparse.Namespace) -> int:
    from model_packaging.serve import serve

    serve(Path(args.artifact), host=args.host, port=args.port)
    return 0


def _publish(args: argparse.Namespace) -> int:
    from model_packaging.publish import publish

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m model_packaging",
        description="Build, verify, serve and publish immutable model artifacts.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("build", help="build model.tar.gz and manifest.json from a folder")
    p.add_argument("model_dir", metavar="MODEL_DIR", help="folder holding model.yaml")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
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
        metavar="PATH",
        help="include a file that looks like a credential (repeatable)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_build)

    p = commands.add_parser("verify", help="check digests and run the sample requests")
    p.add_argument("artifact", metavar="ARTIFACT", help="build output folder or manifest.json")
    p.add_argument(
        "--rel-tolerance",
        type=float,
        default=1e-6,
        help="relative tolerance for numbers in responses (default 1e-6)",
    )
    p.set_defaults(func=_verify)

    p = commands.add_parser("serve", help="serve an artifact on SageMaker's HTTP contract")
    p.add_argument("artifact", metavar="ARTIFACT", help="build output folder or manifest.json")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.set_defaults(func=_serve)

    p = commands.add_parser("publish", help="upload to the artifact store and register a version")
    p.add_argument("artifact", metavar="ARTIFACT", help="build output folder or manifest.json")
    p.add_argument("--bucket", required=True, help="the shared stack's artifact bucket")
    p.add_argument("--kms-key", default=None, help="KMS key id or ARN for SSE-KMS")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_publish)

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
