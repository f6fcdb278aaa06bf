"""``python -m infra plan STACK [--config-file FILE] [--json]``: the offline plan."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from infra.settings import SettingsError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra",
        description="Evaluate the Pulumi program offline, under mocks, and show what it registers.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    plan = commands.add_parser("plan", help="list every resource a stack registers")
    plan.add_argument("stack", metavar="STACK", help="shared, dev, staging, prod, ...")
    plan.add_argument(
        "--config-file",
        type=Path,
        metavar="FILE",
        help="a stack-format YAML file to evaluate instead of stacks/Pulumi.STACK.yaml",
    )
    plan.add_argument("--json", action="store_true", help="print a JSON list of resources")
    args = parser.parse_args(argv)

    from infra import plan as offline

    path = args.config_file or offline.stack_file(args.stack)
    if not path.is_file():
        print(f"error: {path}: no such stack file", file=sys.stderr)
        return 2
    try:
        result = offline.evaluate_file(path, args.stack)
    except SettingsError as exc:
        print(f"error: {path} has {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    print(offline.render_json(result) if args.json else offline.render_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
