"""``make demo`` end to end: ``python -m demo`` in a subprocess, as the Makefile runs it.

The demo checks its own outcomes and exits 1 on the first unexpected one; this test holds it
to its exit status and to the lines a reader relies on: every step's heading, the two gate
refusals, the failed check after the silent rollback, the rollback, and the final pins. The
smaller tests pin down how the stand-in turns plan inputs into API requests and how a step
that goes wrong is reported.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from demo import api
from demo.run import Demo, DemoFailed
from demo.standin import BANNER
from demo.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
HEADINGS = [
    "A local moto server stands in for AWS",
    "A scratch copy of the project, in a git repository of its own",
    "The artifact store, as the shared stack names it",
    "Train, build, verify, publish and approve churn version 1",
    "Promote churn 1 to dev",
    "Promote churn 1 to staging",
    "Promote churn 1 to prod",
    "What each stage pins, and what its endpoint serves",
    "churn version 2: a change to the model folder, a new artifact",
    "Refused: version 2 is not approved yet; then its approval",
    "Promote churn 2 to dev",
    "Refused: prod takes only what staging pins, and staging has not run 2",
    "Promote churn 2 to staging",
    "A silent rollback in staging, caught by status --check-deployed",
    "pulumi up again puts staging back on the configuration it made",
    "Promote churn 2 to prod",
    "Roll churn back to version 1 in prod",
    "Where each stage stands now",
    "The registry's view of churn: every version, its decisions, pins and endpoints",
    "What a clean-up of staging would delete (a dry run: nothing is deleted)",
    "Data drift: samples checked against version 1's baseline",
    "The mlserve drift engine: prod's captured requests, an hour at a time",
]


@pytest.fixture(scope="module")
def demo_run() -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLSERVE_"))}
    return subprocess.run(
        [sys.executable, "-m", "demo"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_demo_exits_0_with_every_step_in_order(demo_run: subprocess.CompletedProcess[str]) -> None:
    assert demo_run.returncode == 0, demo_run.stdout[-3000:] + demo_run.stderr
    assert demo_run.stderr == ""
    found = re.findall(r"^=== Step (\d+): (.+) ===$", demo_run.stdout, re.MULTILINE)
    assert found == [(str(n), title) for n, title in enumerate(HEADINGS, start=1)]
    assert "every outcome as expected" in demo_run.stdout.splitlines()[-1]


def test_demo_shows_commands_with_their_output_indented(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    lines = demo_run.stdout.splitlines()
    promote = lines.index("$ python -m model_packaging promote churn --to dev")
    assert re.fullmatch(
        r"    stacks/Pulumi.dev.yaml: churn version 3 \(sha256:[0-9a-f]{12}\)"
        r" -> version 1 \(sha256:[0-9a-f]{12}\)",
        lines[promote + 1],
    )
    assert "$ git commit --quiet -m 'promote churn 1 to dev'" in lines
    assert "$ python -m infra plan-diff dev --base 'HEAD~1' --format text" in lines
    # Every stand-in says loudly that it is not a deployment: shared, 3 + 3 promotions,
    # the rollback and the repair of staging.
    assert demo_run.stdout.count(f"    {BANNER.upper()}") == 9


def test_gates_refuse_an_unapproved_version_and_a_skipped_stage(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    out = demo_run.stdout
    assert (
        "    error: promote refused by gate 'approved': churn version 2 is PendingManualApproval\n"
        "Refused by gate 'approved': stacks/Pulumi.dev.yaml is unchanged." in out
    )
    assert (
        "    error: promote refused by gate 'stage-below': churn version 2 is not what staging"
        " pins (version 1 (sha256:" in out
    )
    assert "Refused by gate 'stage-below': stacks/Pulumi.prod.yaml is unchanged." in out


def test_check_deployed_catches_the_silent_rollback_then_passes(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    out = demo_run.stdout
    failed = re.search(
        r"^    FAIL churn staging: pinned version 2 \(sha256:[0-9a-f]{12}\); live version 1 on"
        r" (churn-staging-[0-9a-f]{8}) \((churn-config-[0-9a-f]{7}), InService\): champion serves"
        r" version 1; configuration \2 is older than (churn-config-[0-9a-f]{7}), the newest made"
        r" for it: SageMaker rolled the update back$",
        out,
        re.MULTILINE,
    )
    assert failed, out
    assert "check-deployed exits 1: staging does not serve what its stack file pins." in out
    after = out[failed.end() :]
    # pulumi up makes nothing new: it moves the endpoint back onto the stack's configuration.
    assert re.search(
        rf"^    updated endpoint {failed[1]}: {failed[2]} -> {failed[3]},"
        r" the stack's configuration$",
        after,
        re.MULTILINE,
    )
    assert re.search(
        rf"^    ok churn staging: live version 2 on {failed[1]} \({failed[3]}, InService\)$",
        after,
        re.MULTILINE,
    )


def test_rollback_restores_prods_previous_pin(demo_run: subprocess.CompletedProcess[str]) -> None:
    out = demo_run.stdout
    rollback = out.index("$ python -m model_packaging rollback churn --env prod\n")
    section = out[rollback:]
    assert re.match(
        r"\$ python -m model_packaging rollback churn --env prod\n"
        r"    restoring the pin of commit [0-9a-f]{40}\n"
        r"    stacks/Pulumi.prod.yaml: churn version 2 \(sha256:[0-9a-f]{12}\) -> version 1 ",
        section,
    )
    assert "$ git commit --quiet -m 'roll back churn in prod to 1'" in section
    # As pulumi up does: the earlier inputs get a configuration under a new auto-name, and the
    # retained one of the same inputs keeps its own; the endpoint moves onto the new one.
    made = re.search(
        r"^    created endpoint configuration (churn-config-[0-9a-f]{7}) \(the same inputs as the"
        r" retained (churn-config-[0-9a-f]{7}), under a new name\)",
        section,
        re.MULTILINE,
    )
    assert made and made[1] != made[2], section
    assert re.search(
        r"^    ok churn prod: live version 1 on churn-prod-[0-9a-f]{8}"
        rf" \({made[1]}, InService\)$",
        section,
        re.MULTILINE,
    )
    final = section[section.index("=== Step 18") :]
    assert re.search(r"^    churn  prod     1 .* serves version 1 ", final, re.MULTILINE)
    assert re.search(r"^    churn  staging  2 .* serves version 2 ", final, re.MULTILINE)


def test_drift_check_passes_the_unshifted_sample_and_flags_the_shifted_one_by_feature(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    out = demo_run.stdout
    section = out[out.index("=== Step 19") :]
    check = "$ python -m model_packaging drift-check --baseline out/churn-1 --data"
    assert (
        f"{check} out/drift/unshifted.csv\n"
        "    no violations: 500 rows within the baseline's 4 features\n" in section
    )
    shifted = section[section.index(f"{check} out/drift/shifted.csv\n") :].splitlines()
    assert re.fullmatch(
        r"    feature monthly_charges: baseline_drift_check: distance 0\.\d+ > 0\.1 \(Robust"
        r" L-infinity between the CDFs; 2000 baseline values, 500 sample values\)",
        shifted[1],
    )
    assert shifted[2] == (
        "    feature support_calls_90d: completeness_check: 80% of values present < baseline"
        " 100% (100 of 500 missing)"
    )
    assert shifted[3].startswith("    feature contract_months: baseline_drift_check: distance 0.")
    assert (
        shifted[4] == "    3 violations in 3 features (500 rows against the baseline's 4 features)"
    )
    assert not any("tenure_months" in line for line in shifted[1:5])


def test_the_server_and_the_scratch_folder_are_gone(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    url = re.search(r"^moto server on (http://127\.0\.0\.1:\d+),", demo_run.stdout, re.MULTILINE)
    scratch = re.search(r"^\S+ copied to (\S+), committed as", demo_run.stdout, re.MULTILINE)
    assert url and scratch
    assert not Path(scratch[1]).exists()
    assert not Path(scratch[1]).is_relative_to(ROOT)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url[1]}/moto-api/", timeout=5)


# --- pieces ------------------------------------------------------------------------------


def test_plan_inputs_become_the_api_request_by_botocore_shapes() -> None:
    inputs = {
        "productionVariants": [
            {
                "variantName": "champion",
                "modelName": "fraud-champion-61aa63b",
                "initialVariantWeight": 1,
                "serverlessConfig": {"maxConcurrency": 5, "memorySizeInMb": 2048},
            }
        ],
        "kmsKeyArn": "arn:aws:kms:us-east-1:222222222222:key/k",
        "tags": {"model": "fraud", "environment": "dev"},
    }

    params = api.request(
        "sagemaker",
        "CreateEndpointConfig",
        inputs,
        renamed={"kmsKeyArn": "KmsKeyId"},
        EndpointConfigName="fraud-config-8d5487b",
    )

    assert params == {
        "EndpointConfigName": "fraud-config-8d5487b",
        "ProductionVariants": [
            {
                "VariantName": "champion",
                "ModelName": "fraud-champion-61aa63b",
                "InitialVariantWeight": 1.0,
                "ServerlessConfig": {"MaxConcurrency": 5, "MemorySizeInMB": 2048},
            }
        ],
        "KmsKeyId": "arn:aws:kms:us-east-1:222222222222:key/k",
        "Tags": [{"Key": "environment", "Value": "dev"}, {"Key": "model", "Value": "fraud"}],
    }


def test_an_input_the_api_has_no_member_for_is_an_error_naming_its_path() -> None:
    inputs = {"productionVariants": [{"variantName": "champion", "instanceCount": 1}]}

    with pytest.raises(api.RequestError) as raised:
        api.request("sagemaker", "CreateEndpointConfig", inputs)

    assert str(raised.value) == (
        "CreateEndpointConfig.productionVariants[0].instanceCount: ProductionVariant has no"
        " member of that name"
    )


def test_an_unexpected_outcome_names_the_command_status_and_last_line(tmp_path: Path) -> None:
    demo = Demo(Workspace(tmp_path), out=io.StringIO())

    with pytest.raises(DemoFailed) as raised:
        demo.run("sh", "-c", "echo first; echo 'error: the last line' >&2; exit 3")

    assert str(raised.value) == (
        "sh -c 'echo first; echo '\"'\"'error: the last line'\"'\"' >&2; exit 3' exited with"
        " status 3, expected 0: error: the last line"
    )


def test_the_drift_function_flags_the_shifted_hour_only(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    out = demo_run.stdout
    engine = out[out.index("The mlserve drift engine") :]
    unshifted = engine[engine.index("(unshifted)") : engine.index("(shifted)")]
    shifted = engine[engine.index("(shifted)") :]
    assert "goes to ALARM" not in unshifted, unshifted
    assert re.search(
        r"^    feature_baseline_drift_monthly_charges = 0\.\d+, threshold 0\.2: above: its alarm"
        r" goes to ALARM$",
        shifted,
        re.MULTILINE,
    ), shifted
    assert "feature_baseline_drift_tenure_months = 0.000, threshold 0.2: within" in shifted
