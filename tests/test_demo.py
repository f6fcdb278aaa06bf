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

from demo import api, run
from demo.run import Demo, DemoFailed
from demo.standin import BANNER
from demo.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
HEADINGS = [
    "A local moto server stands in for AWS",
    "A scratch copy of the project, in a git repository of its own",
    "The artifact store, as the shared stack names it",
    "Train, build, verify, publish and approve churn version 1",
    "fraud versions 1 and 2: a stand-in built from the example model",
    "The stack files start from the versions this registry holds",
    "dev, staging and prod brought up from those stack files, each smoke-tested",
    "What each stage pins, and what its endpoint serves",
    "churn version 2: a change to the model folder, a new artifact",
    "Refused: version 2 is not approved yet; then its approval",
    "Promote churn 2 to dev",
    "Refused: prod takes only what staging pins, and staging has not run 2",
    "Promote churn 2 to staging",
    "A silent rollback in staging, caught by status --check-deployed",
    "pulumi up again puts staging back on the configuration it made",
    "churn version 3: retrained with stronger regularisation",
    "An A/B test in prod: churn 3 as challenger, 10% of the traffic",
    "Promote churn 2 to prod",
    "A wrong model behind prod's champion, caught by the smoke test",
    "Roll churn back to version 1 in prod",
    "What one more instance of fraud in prod would cost, and the quotas it meets",
    "Where each stage stands now",
    "The registry's view of churn: every version, its decisions, pins and endpoints",
    "What a clean-up of staging would delete (a dry run: nothing is deleted)",
    "Data drift: samples checked against version 1's baseline",
    "The mlserve drift engine: prod's captured requests, an hour at a time",
]
# A variant that answered every sample, as the smoke test prints it.
ANSWERED = (
    r"      (champion|challenger), version (\d+): (\d+) of \3 samples answer as expected"
    r" \(latency median \d+\.\d ms, max \d+\.\d ms\)"
)
SHADOW = (
    "      shadow, version 2: not invoked: a shadow variant cannot be invoked (InvokeEndpoint's"
    " TargetVariant names production variants); SageMaker sends it copies of the requests the"
    " production variant answers"
)


def section(out: str, heading: str) -> str:
    """The output of the step with ``heading``, up to the next step."""
    start = out.index(f": {heading} ===\n")
    end = out.find("\n=== Step ", start)
    return out[start : end if end >= 0 else len(out)]


def outputs(out: str, command: str) -> list[list[str]]:
    """The indented output lines of every run of ``command`` (with or without more arguments)."""
    found = []
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line == f"$ {command}" or line.startswith(f"$ {command} "):
            block = []
            for following in lines[i + 1 :]:
                if not following.startswith("    "):
                    break
                block.append(following)
            found.append(block)
    return found


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
    promoted = lines.index("=== Step 11: Promote churn 2 to dev ===")
    promote = lines.index(
        "$ python -m model_packaging promote churn --to dev --version 2", promoted
    )
    assert re.fullmatch(
        r"    stacks/Pulumi.dev.yaml: churn version 1 \(sha256:[0-9a-f]{12}\)"
        r" -> version 2 \(sha256:[0-9a-f]{12}\)",
        lines[promote + 1],
    )
    assert "$ git commit --quiet -m 'promote churn 2 to dev'" in lines
    assert "$ python -m infra plan-diff dev --base 'HEAD~1' --format text" in lines
    # Every stand-in says loudly that it is not a deployment: shared, the three stages brought
    # up, 3 promotions, the repair of staging, the A/B test and the rollback.
    assert demo_run.stdout.count(f"    {BANNER.upper()}") == 10


def test_every_endpoint_runs_a_version_the_demo_published(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    out = demo_run.stdout
    published = {
        block[-1].strip()
        for command in ("churn-1", "churn-2", "churn-3", "fraud-1", "fraud-2")
        for block in outputs(out, f"python -m model_packaging publish out/{command}")
    }
    assert published == {
        f"arn:aws:sagemaker:us-east-1:111111111111:model-package/{model}/{n}"
        for model, n in [("churn", 1), ("churn", 2), ("churn", 3), ("fraud", 1), ("fraud", 2)]
    }
    deployed = re.findall(r"^    created Model \S+ of (\S+)$", out, re.MULTILINE)
    assert deployed and set(deployed) <= published
    assert "not registered" not in out
    # The shipped pins, made of versions the demo never publishes, are replaced before anything
    # is deployed: every churn pin by version 1, every fraud pin by the digest published here.
    start = section(out, "The stack files start from the versions this registry holds")
    assert re.search(
        r"^    stacks/Pulumi.dev.yaml: churn version 3 \(sha256:0a0376506ea1\) -> version 1"
        r" \(sha256:[0-9a-f]{12}\)$",
        start,
        re.MULTILINE,
    )
    assert re.search(
        r"^    stacks/Pulumi.prod.yaml: fraud version 2 \(sha256:9b3b42b93b7e\) -> version 2"
        r" \(sha256:[0-9a-f]{12}\)$",
        start,
        re.MULTILINE,
    )
    assert "    stacks/Pulumi.prod.yaml: churn challenger removed" in start
    assert "$ git commit --quiet -m 'demo: stack files pin the versions this registry holds'" in (
        start
    )


def test_each_check_sends_every_production_variant_its_samples(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    out = demo_run.stdout
    for stage in ("dev", "staging", "prod"):
        runs = outputs(out, f"python -m model_packaging status --check-deployed {stage} --invoke")
        assert runs, stage
        for block in runs:
            for i, line in enumerate(block):
                if line.startswith("    ok "):
                    assert re.fullmatch(ANSWERED, block[i + 1]), block
    bring_up = section(
        out, "dev, staging and prod brought up from those stack files, each smoke-tested"
    )
    # dev's fraud endpoint is serverless: its one variant is invoked like any other.
    assert re.search(
        r"^    ok fraud dev: .*\n      champion, version 2: 4 of 4 samples answer as expected",
        bring_up,
        re.MULTILINE,
    )
    assert "    ok fraud prod: live version 1 on " in bring_up
    assert SHADOW in bring_up.splitlines()
    ab_test = section(out, "An A/B test in prod: churn 3 as challenger, 10% of the traffic")
    assert re.search(
        r"^      champion, version 1: 3 of 3 samples answer as expected .*\n"
        r"      challenger, version 3: 4 of 4 samples answer as expected ",
        ab_test,
        re.MULTILINE,
    )
    # Adding a variant replaces the endpoint; the old one goes once the new one serves.
    assert re.search(
        r"^    deleted endpoint churn-prod-\w+: replaced by churn-prod-\w+$", ab_test, re.MULTILINE
    )


def test_a_wrong_model_fails_the_smoke_test_with_its_answers_then_the_rollback_passes(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    out = demo_run.stdout
    wrong = section(out, "A wrong model behind prod's champion, caught by the smoke test")
    assert re.search(
        r"^    FAIL churn prod: pinned version 2 \(sha256:[0-9a-f]{12}\); live version 3 on"
        r" churn-prod-\w+ \(churn-prod-by-hand, InService\): champion serves version 3;"
        r" champion answers 4 of 4 samples wrongly$",
        wrong,
        re.MULTILINE,
    )
    assert re.search(
        r"^      champion, version 2: 0 of 4 samples answer as expected \(latency median",
        wrong,
        re.MULTILINE,
    )
    assert re.search(
        r"^        FAIL sample new-customer-many-calls: \$\.predictions\[0\]\.churn_probability:"
        r" expected 0\.9853373955224617, got 0\.96\d+ \(rel tolerance 1e-06\)$",
        wrong,
        re.MULTILINE,
    )
    assert (
        "        FAIL sample new-customer-by-name: expected text '0.985337\\n', got '0.96" in wrong
    )
    assert re.search(
        r"^      challenger, version 3: 4 of 4 samples answer as expected", wrong, re.MULTILINE
    )
    rolled_back = section(out, "Roll churn back to version 1 in prod")
    assert re.search(
        r"^    ok churn prod: live version 1 on .*\n"
        r"      champion, version 1: 3 of 3 samples answer as expected .*\n"
        r"      challenger, version 3: 4 of 4 samples answer as expected ",
        rolled_back,
        re.MULTILINE,
    )


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
    final = section[section.index(": Where each stage stands now ===") :]
    assert re.search(r"^    churn  prod     1 .* serves version 1 ", final, re.MULTILINE)
    assert re.search(r"^    churn  staging  2 .* serves version 2 ", final, re.MULTILINE)


def test_the_cost_of_a_change_and_the_quotas_it_meets(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    out = section(
        demo_run.stdout,
        "What one more instance of fraud in prod would cost, and the quotas it meets",
    )
    assert "SAMPLE prices written by the demo for the demo, not AWS's" in out
    # One more fraud champion and one more shadow: 2 x 730 h x the sample 0.20 an hour.
    price = run.SAMPLE_PRICES["regions"][run.REGION]["ml.c5.xlarge"]
    delta = 2 * 730 * price
    assert re.search(rf"^      fraud +[\d,.]+ -> [\d,.]+ \(\+{delta:,.2f}\)", out, re.MULTILINE), (
        out
    )
    assert re.search(r"^      ml\.c5\.xlarge +4 -> 6 \(\+2\) ", out, re.MULTILINE), out
    [staging] = outputs(out, "python -m model_packaging status --check-quotas staging")
    assert all(line.startswith("    ok ") for line in staging) and len(staging) == 2
    [prod] = outputs(out, "python -m model_packaging status --check-quotas prod")
    assert any(
        line.startswith("    FAIL ml.c5.xlarge: needs 14,") and "--desired-value 14" in line
        for line in prod
    ), prod


def test_drift_check_passes_the_unshifted_sample_and_flags_the_shifted_one_by_feature(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    out = demo_run.stdout
    section = out[out.index(": Data drift: samples checked against version 1's baseline ===") :]
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
    # No serve of an artifact is left: each ran on a copy under the scratch folder.
    folder = str(Path(scratch[1]).parent)
    left = []
    for process in Path("/proc").glob("[0-9]*"):
        try:
            command = (process / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if folder in command:
            left.append(command)
    assert left == []


# --- pieces ------------------------------------------------------------------------------


def test_the_shipped_stack_files_are_repinned_and_prods_challenger_comes_and_goes() -> None:
    digest = "sha256:" + "1" * 64
    pins = {
        ("churn", n): ("arn:aws:sagemaker:us-east-1:111111111111:model-package/churn/1", digest)
        for n in (2, 3)
    }
    prod = (ROOT / "stacks" / "Pulumi.prod.yaml").read_text()

    repinned, lines = run._repinned(prod, pins)
    without, dropped = run._without_challenger(repinned)

    assert lines == [
        f"churn version 2 (sha256:e4e8ae1c7466) -> version 1 (sha256:{'1' * 12})",
        f"churn version 3 (sha256:0a0376506ea1) -> version 1 (sha256:{'1' * 12})",
    ]
    assert dropped
    assert "challenger" not in without and "traffic_percent" not in without
    assert "model-package/churn/1\n        digest: " + digest in without
    # fraud's pins, its shadow among them, are untouched: no pin of fraud was given.
    assert "model-package/fraud/1" in without and "model-package/fraud/2" in without
    block = run.CHALLENGER.format(number=3, package="arn:x/3", digest=digest)
    again = run._with_challenger(without, block)
    assert again.replace(block, "") == without
    assert again.index(block) < again.index("      instance_type: ml.m5.xlarge")


def test_retrained_answers_keep_model_yaml_as_it_is_written() -> None:
    text = (ROOT / "examples" / "models" / "churn" / "model.yaml").read_text()
    predictions = {
        "new-customer-many-calls": [0.25],
        "two-loyal-customers": [0.5, 0.75],
        "batch-csv": [0.1, 0.2, 0.3],
    }

    changed = run._expected_answers(text, predictions)

    before, after = text.splitlines(), changed.splitlines()
    assert len(before) == len(after)
    assert [(a, b) for a, b in zip(before, after, strict=True) if a != b] == [
        (
            "      json: {predictions: [{churn_probability: 0.9853373955224617, churn: true}]}",
            "      json: {predictions: [{churn_probability: 0.25, churn: false}]}",
        ),
        (
            "          - {churn_probability: 0.01965345138178047, churn: false}",
            "          - {churn_probability: 0.5, churn: true}",
        ),
        (
            "          - {churn_probability: 0.306112324817112, churn: false}",
            "          - {churn_probability: 0.75, churn: true}",
        ),
        (
            '      text: "0.997300\\n0.007230\\n0.726575\\n"',
            '      text: "0.100000\\n0.200000\\n0.300000\\n"',
        ),
    ]


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
