"""``python -m infra`` (installed as ``mlserve-infra``): the offline plan of a stack, and how a
change alters it.

- ``plan STACK [--config-file FILE] [--json] [--prices FILE]``: the resources, and an
  environment's capacity per instance type and, with prices, its monthly cost
- ``plan-diff STACK... --base REV [--format text|markdown|json] [--prices FILE] [--quotas]``:
  the resources, outputs, capacity and cost a change alters; exits 3 when a change cannot
  succeed (a replacement under a fixed name, an endpoint update SageMaker refuses, with
  ``--quotas`` a peak over the account's quota)
- ``policy-diff --base REV [--format text|markdown]``: the policy rules and stack policy
  configs changed since ``REV``, relaxations marked
- ``prices refresh --region R [--region R2 ...] [--out FILE]``: write the price file (hourly
  on-demand prices of real-time hosting instances) from the AWS Price List API
  (:mod:`infra.capacity.prices`)
- ``completion bash``: the shell completion script (:mod:`infra.completion`)

Ctrl-C ends any command with ``error: interrupted`` and exit status 130.

Stack files are read from the checkout this package is in, whatever the working directory.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra import arguments, command_line

if TYPE_CHECKING:
    from infra.capacity.prices import Prices

# The console script (pyproject.toml) that the completion script completes.
COMMAND_NAME = "mlserve-infra"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m infra",
        description="Evaluate the Pulumi program offline, under mocks, and show what it registers."
        " Also installed as the mlserve-infra command.",
    )
    parser.add_argument("--version", action=arguments.VersionAction)
    # Each command's parser reports its own usage errors (infra.command_line.CommandParser).
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=command_line.CommandParser
    )

    plan = commands.add_parser("plan", help="list every resource a stack registers")
    plan.add_argument(
        "stack", type=arguments.stack_name, metavar="STACK", help="shared, dev, staging, prod, ..."
    )
    plan.add_argument(
        "--config-file",
        type=arguments.existing_file,
        metavar="FILE",
        help="a stack-format YAML file to evaluate instead of stacks/Pulumi.STACK.yaml",
    )
    plan.add_argument(
        "--json",
        action="store_true",
        help="print the plan as JSON: stack, resources (inputs and options), outputs, and an"
        " environment's capacity and cost",
    )
    _prices_flag(plan)

    diff = commands.add_parser(
        "plan-diff",
        help="compare the plan at a git revision with the working tree's",
        description=(
            "Evaluate each stack's plan with the code and stack files of revision REV (in a "
            "temporary git worktree) and of the working tree, and list the resources added, "
            "removed, updated and replaced, and the stack outputs that change."
        ),
    )
    diff.add_argument(
        "stacks",
        nargs="+",
        type=arguments.stack_name,
        metavar="STACK",
        help="shared, dev, staging, prod, ...",
    )
    _base_flag(diff)
    diff.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default="text",
        help="text (default), markdown for a pull request comment, or json",
    )
    _prices_flag(diff)
    diff.add_argument(
        "--quotas",
        action="store_true",
        help="also check the peak of each stack's update against the account's Service Quotas"
        " for endpoint usage, with the standard AWS credentials in the stack's region; a need"
        " over a quota exits 3",
    )
    policy = commands.add_parser(
        "policy-diff",
        help="compare the policy rules and stack configs at a git revision with the working tree's",
        description=(
            "List the policy rules added, removed or changed, and each stack policy config's "
            "changes, from revision REV (in a temporary git worktree) to the working tree. A "
            "lowered enforcement level is marked RELAXES."
        ),
    )
    _base_flag(policy)
    policy.add_argument(
        "--format",
        choices=("text", "markdown"),
        default="text",
        help="text (default), or markdown for a pull request comment",
    )
    _prices_parser(commands)
    completion = commands.add_parser(
        "completion",
        help="print the shell completion script",
        description=f"Print a bash completion function for {COMMAND_NAME} (load it with"
        " `source <(python -m infra completion bash)`; zsh loads it after"
        " `autoload -U +X bashcompinit && bashcompinit`).",
    )
    completion.add_argument("shell", choices=("bash",), help="the shell (zsh: see above)")
    return parser


def _prices_parser(commands: Any) -> None:
    prices = commands.add_parser(
        "prices",
        help="write the price file that cost figures are computed from",
        description=(
            "refresh: fetch the hourly on-demand prices of SageMaker real-time hosting instances"
            " in each REGION from the AWS Price List API (pricing:GetProducts, with the standard"
            " AWS credentials) and write them to FILE, replacing it whole. The project ships no"
            " prices: see docs/cost.md."
        ),
    )
    prices.add_argument("action", choices=("refresh",), help="refresh: fetch and write the file")
    where = prices.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--region",
        dest="regions",
        action="append",
        metavar="REGION",
        help="a region to price, e.g. us-east-1; repeat for more",
    )
    where.add_argument(
        "--stacks",
        action="store_true",
        help="price every region the stack files (stacks/Pulumi.*.yaml) name",
    )
    prices.add_argument(
        "--out",
        # infra.capacity.prices.DEFAULT_OUT, written out: building the parser imports nothing.
        default="prices.json",
        metavar="FILE",
        help="the price file to write (default: prices.json in the working directory)",
    )


# plan-diff's exit status when a change cannot succeed (REPLACEMENT WILL FAIL, UPDATE WILL FAIL).
CANNOT_SUCCEED = 3


def _prices_flag(parser: argparse.ArgumentParser) -> None:
    """``--prices FILE``: plan's and plan-diff's price file (docs/cost.md)."""
    parser.add_argument(
        "--prices",
        type=arguments.existing_file,
        metavar="FILE",
        help="hourly prices to add the monthly cost with (python -m infra prices refresh);"
        " default: the file MLSERVE_PRICES names, if set",
    )


def _given_prices(args: argparse.Namespace) -> Prices | None:
    """The prices ``--prices`` or MLSERVE_PRICES name, None without; PricesError if bad."""
    import os

    from infra.capacity import prices

    return prices.given(args.prices, os.environ)


def _base_flag(parser: argparse.ArgumentParser) -> None:
    """``--base REV``: plan-diff's and policy-diff's revision to compare with."""
    parser.add_argument(
        "--base",
        required=True,
        type=arguments.git_revision,
        metavar="REV",
        help="the revision to compare with, e.g. main",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` names (default: ``sys.argv``); its exit status.

    A Ctrl-C ends any command with ``error: interrupted`` and status 130, leaving no worktree
    behind (:func:`infra.command_line.run`); with no ``argv`` this is the process's program.
    """
    return command_line.run(lambda: _run(argv), as_program=argv is None)


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "completion":
        from infra.completion import bash_script

        print(bash_script(build_parser(), COMMAND_NAME), end="")
        return 0
    if args.command == "plan-diff":
        return _plan_diff(args)
    if args.command == "policy-diff":
        return _policy_diff(args)
    if args.command == "prices":
        return _prices_refresh(args)
    return _plan(args)


def _plan(args: argparse.Namespace) -> int:
    from infra.review import plan as offline
    from infra.settings import SettingsError

    path = Path(args.config_file) if args.config_file else offline.stack_file(args.stack)
    if not path.is_file():
        print(f"error: {path}: no such stack file", file=sys.stderr)
        return 2
    from infra.capacity.prices import PricesError

    try:
        prices = _given_prices(args)
    except PricesError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        result = offline.evaluate_file(path, args.stack)
    except SettingsError as exc:
        command_line.stop_if_interrupted()
        print(offline.problem_report(path, exc), file=sys.stderr)
        return 2
    print(
        offline.render_json(result, prices) if args.json else offline.render_table(result, prices)
    )
    return 0


def _plan_diff(args: argparse.Namespace) -> int:
    from infra.capacity.prices import PricesError
    from infra.review import plan_diff

    try:
        prices = _given_prices(args)
    except PricesError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        diffs = plan_diff.plan_diff(
            args.stacks, args.base, prices, _quota_client if args.quotas else None
        )
    except plan_diff.PlanDiffError as exc:
        # The base's plan fails too when the Ctrl-C reaches its process.
        command_line.stop_if_interrupted()
        print(exc, file=sys.stderr)
        return exc.status
    print(plan_diff.RENDERERS[args.format](diffs))
    # A change that `pulumi up` would fail half way: the diff says which, the status says so.
    if any(
        diff.collisions or diff.refusals or (diff.capacity and diff.capacity.over_quota)
        for diff in diffs
    ):
        return CANNOT_SUCCEED
    return 0


def _quota_client(region: str) -> Any:
    """A Service Quotas client in ``region`` with the standard AWS credentials chain (botocore:
    the program's virtualenv has no boto3)."""
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    from infra.review.diff_model import PlanDiffError

    try:
        return botocore.session.get_session().create_client(
            "service-quotas", region_name=region, config=Config(retries={"mode": "standard"})
        )
    except BotoCoreError as exc:
        raise PlanDiffError(f"error: cannot make a Service Quotas client: {exc}", 1) from None


def _policy_diff(args: argparse.Namespace) -> int:
    from infra.review import policy_diff
    from infra.review.diff_model import PlanDiffError

    try:
        changes = policy_diff.policy_diff(args.base)
    except PlanDiffError as exc:
        command_line.stop_if_interrupted()
        print(exc, file=sys.stderr)
        return exc.status
    print(policy_diff.render(changes, args.base, markdown=args.format == "markdown"))
    return 0


def _stack_regions() -> list[str]:
    """The regions the shipped stack files name (``aws:region``), each once."""
    from infra.review.plan import STACKS_DIR
    from infra.settings import read_stack_file

    found = {
        str(read_stack_file(path).get("aws:region", ""))
        for path in sorted(STACKS_DIR.glob("Pulumi.*.yaml"))
    }
    return sorted(r for r in found if r)


def _prices_refresh(args: argparse.Namespace) -> int:
    import datetime

    from infra.capacity import prices
    from infra.settings import SettingsError

    out = Path(args.out)
    if not args.out.strip() or out.is_dir() or not out.parent.is_dir():
        problem = "is a folder" if out.is_dir() else "must be a file in a folder that exists"
        print(f"error: --out {args.out}: {problem}", file=sys.stderr)
        return 2
    try:
        # Every region is checked before the client is made and any request is sent.
        regions = prices.check_regions(args.regions or _stack_regions())
        client = prices.pricing_client()
        document = prices.refresh(
            regions,
            client,
            datetime.date.today(),
            progress=lambda line: print(line, file=sys.stderr),
        )
        prices.write(document, out)
    except prices.RefreshError as exc:
        command_line.stop_if_interrupted()
        print(exc, file=sys.stderr)
        return exc.status
    except prices.PricesError as exc:
        print(exc, file=sys.stderr)
        return 1
    except SettingsError as exc:  # --stacks: a stack file that cannot be read
        print(f"error: {exc.source}: {exc.problems[0].splitlines()[0]}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {out}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
