"""``python -m demo`` (``make demo``): the whole release flow on a local moto server.

No AWS account and no Pulumi CLI: a moto server stands in for AWS, :mod:`demo.standin` for
``pulumi up``, and a scratch git repository (:mod:`demo.workspace`) for the project's. The
server's endpoints answer from their real models: each variant's artifact is served locally by
``python -m model_packaging serve`` (:mod:`demo.serving`), so ``status --check-deployed
--invoke`` runs real inference.

The example churn model is trained, built, verified, published and approved; a stand-in fraud
model (the example under the name fraud) gets two versions. The scratch copy's stack files are
then pinned to what this registry holds (the shipped ones pin versions of another registry), and
dev, staging and prod are brought up from them. Version 2 goes through dev, staging and prod with
the release tool's own commands, each promotion committed and shown as a ``plan-diff``; on the
way the gates refuse two promotions and ``status --check-deployed`` catches a silent rollback of
an endpoint. Version 3, trained differently, becomes prod's challenger; an endpoint silently
moved onto it shows the smoke test failing on the wrong answers, and ``rollback`` puts prod back.
Then a one-line change shows its capacity and cost in ``plan-diff`` (with SAMPLE prices the demo
writes), and ``status --check-quotas`` checks staging and prod against the server's SAMPLE
Service Quotas (:data:`demo.moto_server.DEMO_QUOTAS`): staging fits, prod does not.
Last, ``drift-check`` compares two samples of the example's baseline dataset with the baseline
build made: as they are (no violations), and shifted (flagged feature by feature).

Every command is printed as it runs, its output indented under it. The demo exits 0 only if each
outcome was the expected one (a refusal refused, a check failed when it should and passed when
it should); otherwise it prints one line naming the step and exits 1.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from demo.moto_server import MotoServer, ServerError
from demo.standin import BANNER, Outcome, StandInError, up
from demo.workspace import Workspace, WorkspaceError
from infra.settings import artifacts

ROOT = Path(__file__).resolve().parent.parent
MODEL = "churn"
EXAMPLE = f"examples/models/{MODEL}"
# The stand-in fraud model: the example's folder under the name fraud, in the scratch copy only.
FRAUD = "fraud"
FRAUD_EXAMPLE = f"examples/models/{FRAUD}"
STAGES = ("dev", "staging", "prod")
# The shared account of the offline plan (infra.review.mocks.ACCOUNTS), where the stack files
# pin their registry versions: the moto server answers every request in it.
ACCOUNT = "111111111111"
REGION = "us-east-1"
INDENT = "    "
COMMAND_TIMEOUT = 600

# The sample price file of the cost step: invented prices, labelled as such, used nowhere else.
SAMPLE_PRICES_FILE = "demo-sample-prices.json"
SAMPLE_PRICES: dict[str, Any] = {
    "currency": "USD",
    "source": "SAMPLE prices for the demo only, not AWS's",
    "fetched": datetime.date.today().isoformat(),
    "regions": {
        REGION: {
            "ml.t2.medium": 0.05,
            "ml.m5.large": 0.12,
            "ml.c5.large": 0.10,
            "ml.m5.xlarge": 0.25,
            "ml.c5.xlarge": 0.20,
        }
    },
}
# The cost step's one-line change of prod's stack file: fraud's floor, 2 -> 3.
FRAUD_MIN_INSTANCES = (
    "min_instances: 2\n        max_instances: 8",
    "min_instances: 3\n        max_instances: 8",
)

# Version 2 of the example: the same weights, and one more sample request in model.yaml (which
# ships in the artifact), so a new digest. Its expected answer is the first sample's
# probability, which the model gives as 0.9853373955224617.
# Version 3: retrained with stronger regularisation, a one-line change of train.py; it answers
# every sample otherwise, so model.yaml's expected answers are set to what train.py prints.
RETRAINED = (
    "LogisticRegression(C=1.0, max_iter=1000)",
    "LogisticRegression(C=0.01, max_iter=1000)",
)
# The sample that asks for the same customer as another, which train.py does not print.
SAME_CUSTOMER = {"new-customer-by-name": "new-customer-many-calls"}
# What the A/B test adds to prod's churn, after its version pin: the shape of the shipped prod.
CHALLENGER = """\
      # A/B test: version {number} takes 10% of live traffic next to the champion.
      challenger:
        version:
          package: {package}
          digest: {digest}
        traffic_percent: 10
"""
# What drift-check must say of the shifted sample: one line per shifted feature.
DRIFT_LINES = (
    "feature monthly_charges: baseline_drift_check: distance ",
    "feature support_calls_90d: completeness_check: 80% of values present < baseline 100%",
    "feature contract_months: baseline_drift_check: distance ",
)

SAMPLE_V2 = """\
  - name: new-customer-by-name
    content_type: application/json
    accept: text/csv
    body:
      instances:
        - {tenure_months: 2, monthly_charges: 95.5, support_calls_90d: 4, contract_months: 1}
    expected:
      text: "0.985337\\n"
"""


class DemoFailed(Exception):
    """An outcome other than the expected one; the message says what happened."""


class Demo:
    """Numbered steps, commands shown as they run, and the checks of their outcomes."""

    def __init__(self, workspace: Workspace, out: TextIO = sys.stdout) -> None:
        self.workspace = workspace
        self.out = out
        self.number = 0
        self.title = "setting up"

    def step(self, title: str) -> None:
        self.number += 1
        self.title = title
        self.say(f"\n=== Step {self.number}: {title} ===")

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def show(self, text: str) -> None:
        for line in text.rstrip("\n").splitlines():
            self.say(f"{INDENT}{line}".rstrip())

    def run(
        self,
        *argv: str,
        shown: Sequence[str] | None = None,
        expect: int = 0,
        expect_text: str | None = None,
    ) -> str:
        """Run a command in the workspace; its stdout and stderr, as they interleave."""
        self.say(f"$ {shlex.join(shown or argv)}")
        process = subprocess.Popen(
            argv,
            cwd=self.workspace.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # Out of the terminal's process group: a Ctrl-C reaches the demo, which passes it on
            # once (_interrupt), rather than twice.
            start_new_session=True,
        )
        try:
            output, _ = process.communicate(timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            _interrupt(process)
            raise DemoFailed(f"{shlex.join(shown or argv)} took over {COMMAND_TIMEOUT} s") from None
        except BaseException:
            _interrupt(process)
            raise
        result = subprocess.CompletedProcess(argv, process.returncode, output)
        self.show(result.stdout)
        if result.returncode != expect:
            last = result.stdout.strip().splitlines()[-1:] or ["no output"]
            raise DemoFailed(
                f"{shlex.join(shown or argv)} exited with status {result.returncode},"
                f" expected {expect}: {last[0]}"
            )
        if expect_text is not None and expect_text not in result.stdout:
            raise DemoFailed(f"{shlex.join(shown or argv)} did not say {expect_text!r}")
        return result.stdout

    def python(self, *args: str, expect: int = 0, expect_text: str | None = None) -> str:
        return self.run(
            sys.executable, *args, shown=("python", *args), expect=expect, expect_text=expect_text
        )

    def git(self, *args: str) -> str:
        self.say(f"$ {shlex.join(('git', *args))}")
        out = self.workspace.git(*args)
        self.show(out)
        return out

    def commit(self, message: str, *paths: str) -> None:
        self.git("add", "--", *paths)
        self.git("commit", "--quiet", "-m", message)
        self.show(f"[{self.workspace.head()}] {message}")

    def standin(self, stack: str) -> Outcome:
        self.say(f"$ python -m demo.standin {stack}")
        self.show(BANNER.upper())
        return up(
            self.workspace.root / "stacks" / f"Pulumi.{stack}.yaml",
            stack,
            say=lambda line: self.show(line),
        )


# --- the flow -----------------------------------------------------------------------------


class Flow:
    """The release of two versions of the example model, in the order the module tells."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.bucket = ""
        self.key_arn = ""

    def run(self) -> None:
        demo = self.demo
        self.artifact_store()
        v1 = self.release(1, "churn: train the example model")
        self.fraud_versions()
        self.start_from_registry(v1)
        self.bring_up()
        demo.step("What each stage pins, and what its endpoint serves")
        demo.python("-m", "model_packaging", "status")

        v2 = self.release(2, "churn: a sample request that names its features", approve=False)
        demo.step(f"Refused: version {v2} is not approved yet; then its approval")
        self.refused(["--to", "dev", "--version", str(v2)], "dev", "approved")
        demo.say(f"Version {v2} is reviewed and approved; now it may go to dev.")
        self.approve(v2)
        self.promotion(v2, "dev", version=True)
        demo.step(f"Refused: prod takes only what staging pins, and staging has not run {v2}")
        self.refused(["--to", "prod", "--version", str(v2)], "prod", "stage-below")
        self.promotion(v2, "staging", require_live=True)
        self.silent_rollback("staging")
        demo.step("pulumi up again puts staging back on the configuration it made")
        demo.standin("staging")
        self.check("staging")
        v3 = self.release(3, "churn: stronger regularisation (C=0.01)")
        self.ab_test(v3)
        self.promotion(v2, "prod", require_live=True)
        self.wrong_model("prod", v3, pinned=v2)
        self.rollback("prod", to=v1)
        self.costs_and_quotas()
        demo.step("Where each stage stands now")
        demo.python("-m", "model_packaging", "status")
        self.expect_pins({"dev": v2, "staging": v2, "prod": v1})
        demo.step(
            f"The registry's view of {MODEL}: every version, its decisions, pins and endpoints"
        )
        demo.python("-m", "model_packaging", "versions", MODEL, expect_text="Approved")
        demo.step("What a clean-up of staging would delete (a dry run: nothing is deleted)")
        demo.python("-m", "model_packaging", "prune", "--env", "staging", "--dry-run")
        self.drift(v1)

    def artifact_store(self) -> None:
        demo = self.demo
        demo.step("The artifact store, as the shared stack names it")
        demo.say(
            "The bucket takes its name from the shared stack's offline plan"
            " (output artifact_bucket_name); a KMS key with the plan's alias encrypts it, and each"
            " model of stacks/Pulumi.shared.yaml gets its Model Package Group."
        )
        made = demo.standin("shared")
        if not made.bucket or not made.key_arn:
            raise DemoFailed("the shared stack's plan gave no bucket or no key")
        self.bucket, self.key_arn = made.bucket, made.key_arn

    def release(self, number: int, change: str, *, approve: bool = True) -> int:
        demo = self.demo
        workspace = demo.workspace
        if number == 1:
            demo.step(f"Train, build, verify, publish and approve {MODEL} version {number}")
            demo.python(f"{EXAMPLE}/train.py")
        elif number == 2:
            demo.step(f"{MODEL} version {number}: a change to the model folder, a new artifact")
            model_yaml = workspace.root / EXAMPLE / "model.yaml"
            demo.say(f"One more sample request, at the end of {EXAMPLE}/model.yaml's samples:")
            demo.show(SAMPLE_V2)
            model_yaml.write_text(_with_sample(model_yaml.read_text(), SAMPLE_V2))
        else:
            self.retrain(number)
        if workspace.changed(EXAMPLE):
            demo.commit(change, EXAMPLE)
        out = f"out/{MODEL}-{number}"
        demo.python("-m", "model_packaging", "build", EXAMPLE, "--out", out, "--quiet")
        demo.python("-m", "model_packaging", "verify", out)
        self.publish(out, MODEL, number)
        if approve:
            self.approve(number)
        else:
            demo.say(f"Version {number} is registered as PendingManualApproval.")
        return number

    def publish(self, out: str, model: str, number: int) -> None:
        published = self.demo.python(
            "-m",
            "model_packaging",
            "publish",
            out,
            "--bucket",
            self.bucket,
            "--kms-key",
            self.key_arn,
            "--quiet",
            expect_text="registered a new version",
        )
        arn = next(
            (line for line in published.splitlines() if line.startswith("arn:")),
            "",
        )
        expected = artifacts.version_arn("aws", REGION, ACCOUNT, model, number)
        if arn != expected:
            raise DemoFailed(f"publish registered {arn or 'nothing'}, expected {expected}")

    def retrain(self, number: int) -> None:
        """The example retrained otherwise, its samples' expected answers set to the new ones."""
        demo = self.demo
        root = demo.workspace.root
        demo.step(f"{MODEL} version {number}: retrained with stronger regularisation")
        train = root / EXAMPLE / "train.py"
        before, after = RETRAINED
        if before not in train.read_text():
            raise DemoFailed(f"{EXAMPLE}/train.py does not train {before}")
        train.write_text(train.read_text().replace(before, after))
        demo.say(f"{EXAMPLE}/train.py now trains {after}: as accurate, other probabilities.")
        printed = demo.python(f"{EXAMPLE}/train.py")
        model_yaml = root / EXAMPLE / "model.yaml"
        model_yaml.write_text(_expected_answers(model_yaml.read_text(), _predictions(printed)))
        demo.say(
            f"Every sample's expected answer in {EXAMPLE}/model.yaml becomes what train.py"
            " printed (a reviewer compares them in the diff):"
        )
        demo.git("diff", "--unified=0", "--", f"{EXAMPLE}/model.yaml")

    def fraud_versions(self) -> None:
        """Two versions of a stand-in fraud model, so that every endpoint runs a real version."""
        demo = self.demo
        root = demo.workspace.root
        demo.step(f"{FRAUD} versions 1 and 2: a stand-in built from the example model")
        demo.say(
            f"The stack files deploy a {FRAUD} model too, and the project ships one example"
            f" model. So that every endpoint runs a version this registry holds, the demo copies"
            f" {EXAMPLE} to {FRAUD_EXAMPLE} under the name {FRAUD} (churn's weights, answers"
            f" and samples: a stand-in, not a fraud model) and publishes it twice, version 2 with"
            " one more sample. The smoke tests check them live."
        )
        shutil.copytree(root / EXAMPLE, root / FRAUD_EXAMPLE)
        model_yaml = root / FRAUD_EXAMPLE / "model.yaml"
        model_yaml.write_text(
            model_yaml.read_text().replace(f"name: {MODEL}\n", f"name: {FRAUD}\n", 1)
        )
        demo.commit(
            f"{FRAUD}: a stand-in model folder, the example under the name {FRAUD}", FRAUD_EXAMPLE
        )
        for number in (1, 2):
            if number == 2:
                model_yaml.write_text(_with_sample(model_yaml.read_text(), SAMPLE_V2))
                demo.commit(f"{FRAUD}: one more sample request", FRAUD_EXAMPLE)
            out = f"out/{FRAUD}-{number}"
            demo.python("-m", "model_packaging", "build", FRAUD_EXAMPLE, "--out", out, "--quiet")
            self.publish(out, FRAUD, number)
            self.approve(
                number, FRAUD, f"the demo's stand-in, built from the verified {MODEL} example"
            )

    def start_from_registry(self, churn: int) -> None:
        """The scratch copy's stack files pinned to versions this registry holds."""
        demo = self.demo
        root = demo.workspace.root
        demo.step("The stack files start from the versions this registry holds")
        demo.say(
            "The shipped stack files pin versions of the project's registry (churn 2 and 3,"
            " fraud 1 and 2, with their digests), which this empty registry does not hold: an"
            " endpoint made from them would run nothing that was published here. So, before"
            f" anything is deployed, every {MODEL} pin becomes version {churn}, each {FRAUD} pin"
            " keeps its number with the digest published above, and prod's A/B test of"
            f" {MODEL} waits for the version it tests (it comes back below)."
        )
        pins = {(MODEL, n): self._published(MODEL, churn) for n in range(1, 10)}
        pins |= {(FRAUD, n): self._published(FRAUD, n) for n in (1, 2)}
        changed = []
        for stage in STAGES:
            path = root / "stacks" / f"Pulumi.{stage}.yaml"
            text, lines = _repinned(path.read_text(), pins)
            if stage == "prod":
                text, dropped = _without_challenger(text)
                if dropped:
                    lines.append(f"{MODEL} challenger removed (the A/B test comes back later)")
            path.write_text(text)
            demo.show("\n".join(f"stacks/Pulumi.{stage}.yaml: {line}" for line in lines))
            changed.append(f"stacks/Pulumi.{stage}.yaml")
        demo.commit("demo: stack files pin the versions this registry holds", *changed)

    def _published(self, model: str, number: int) -> tuple[str, str]:
        """The ARN and digest (``sha256:...``) of a version this demo published."""
        root = self.demo.workspace.root
        manifest = json.loads((root / "out" / f"{model}-{number}" / "manifest.json").read_text())
        arn = artifacts.version_arn("aws", REGION, ACCOUNT, model, number)
        return arn, f"sha256:{manifest['digest']}"

    def bring_up(self) -> None:
        demo = self.demo
        demo.step("dev, staging and prod brought up from those stack files, each smoke-tested")
        demo.say(
            "After each stand-in for pulumi up, status --check-deployed --invoke compares the"
            " endpoints with the stack file and sends each production variant its version's"
            " samples. The moto server answers them from a local `python -m model_packaging"
            " serve` of the variant's artifact, copied from the store: real inference."
        )
        for stage in STAGES:
            demo.standin(stage)
            self.check(stage)

    def ab_test(self, number: int) -> None:
        demo = self.demo
        demo.step(f"An A/B test in prod: {MODEL} {number} as challenger, 10% of the traffic")
        path = demo.workspace.root / "stacks" / "Pulumi.prod.yaml"
        package, digest = self._published(MODEL, number)
        block = CHALLENGER.format(number=number, package=package, digest=digest)
        demo.say(
            f"A challenger of {MODEL} in stacks/Pulumi.prod.yaml, after its version pin. A new"
            " variant needs a new endpoint: the plan replaces it (and what names it), and the"
            " old one goes once the new one serves."
        )
        demo.show(block)
        path.write_text(_with_challenger(path.read_text(), block))
        demo.commit(f"prod: A/B test of {MODEL} {number}", "stacks/Pulumi.prod.yaml")
        self.deploy("prod")

    def wrong_model(self, stage: str, number: int, *, pinned: int) -> None:
        demo = self.demo
        demo.step(f"A wrong model behind {stage}'s champion, caught by the smoke test")
        demo.say(
            f"Simulating a change made outside Pulumi: with boto3, {stage}'s endpoint is moved"
            f" onto a configuration whose champion runs {MODEL} version {number}, trained"
            f" otherwise, while the stack file pins version {pinned} there. What is wrong: the"
            f" champion answers with version {number}'s probabilities."
        )
        sagemaker = _session().client("sagemaker")
        endpoint, config = _wrong_configuration(sagemaker, MODEL, stage, number)
        demo.say(
            f"$ boto3 sagemaker.update_endpoint(EndpointName={endpoint!r},"
            f" EndpointConfigName={config!r})"
        )
        sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=config)
        out = demo.python(
            "-m",
            "model_packaging",
            "status",
            "--check-deployed",
            stage,
            "--invoke",
            expect=1,
            expect_text="    FAIL sample new-customer-many-calls: ",
        )
        if f"champion serves version {number}" not in out:
            raise DemoFailed(f"check-deployed did not name version {number} as served")
        demo.say(
            f"check-deployed exits 1: the champion serves version {number}, and the smoke test"
            f" shows each wrong answer next to the one version {pinned}'s model.yaml expects."
        )

    def costs_and_quotas(self) -> None:
        """What a change would cost, and whether prod's account can hold its update."""
        demo = self.demo
        root = demo.workspace.root
        demo.step("What one more instance of fraud in prod would cost, and the quotas it meets")
        prices = root / SAMPLE_PRICES_FILE
        prices.write_text(json.dumps(SAMPLE_PRICES, indent=2) + "\n")
        demo.say(
            f"{SAMPLE_PRICES_FILE}: SAMPLE prices written by the demo for the demo, not AWS's"
            " (a real file comes from `python -m infra prices refresh --region us-east-1`, with"
            " the Price List API). The change, left uncommitted: fraud's min_instances 2 -> 3."
        )
        path = root / "stacks" / "Pulumi.prod.yaml"
        original = path.read_text()
        if FRAUD_MIN_INSTANCES[0] not in original:
            raise DemoFailed(f"prod's stack file has no {FRAUD_MIN_INSTANCES[0]!r} to change")
        path.write_text(original.replace(*FRAUD_MIN_INSTANCES, 1))
        try:
            # One more fraud champion and one more shadow, each at the sample ml.c5.xlarge price.
            delta = 2 * 730 * SAMPLE_PRICES["regions"][REGION]["ml.c5.xlarge"]
            demo.python(
                "-m",
                "infra",
                "plan-diff",
                "prod",
                "--base",
                "HEAD",
                "--prices",
                SAMPLE_PRICES_FILE,
                expect_text=f"(+{delta:,.2f})",
            )
        finally:
            path.write_text(original)
        demo.say(
            "The quotas of each account for endpoint usage, against the peak of an update of"
            " every endpoint (old fleets beside new ones). The moto server answers with SAMPLE"
            " quotas (demo.moto_server.DEMO_QUOTAS): staging's fit, prod's ml.c5.xlarge does not."
        )
        demo.python("-m", "model_packaging", "status", "--check-quotas", "staging")
        demo.python(
            "-m",
            "model_packaging",
            "status",
            "--check-quotas",
            "prod",
            expect=1,
            expect_text="request-service-quota-increase",
        )

    def approve(self, number: int, model: str = MODEL, reason: str | None = None) -> None:
        self.demo.python(
            "-m",
            "model_packaging",
            "approve",
            model,
            "--version",
            str(number),
            "--reason",
            reason or f"verify passed on every sample of version {number}; reviewed for release",
            expect_text="PendingManualApproval -> Approved",
        )

    def promotion(
        self, number: int, stage: str, *, require_live: bool = False, version: bool = False
    ) -> None:
        demo = self.demo
        demo.step(f"Promote {MODEL} {number} to {stage}")
        args = ["-m", "model_packaging", "promote", MODEL, "--to", stage]
        if version:
            args += ["--version", str(number)]
        if require_live:
            args.append("--require-live")
        demo.python(*args, expect_text=f"-> version {number} ")
        demo.commit(f"promote {MODEL} {number} to {stage}", f"stacks/Pulumi.{stage}.yaml")
        self.deploy(stage)

    def deploy(self, stage: str) -> None:
        demo = self.demo
        demo.python("-m", "infra", "plan-diff", stage, "--base", "HEAD~1", "--format", "text")
        demo.standin(stage)
        self.check(stage)

    def check(self, stage: str) -> None:
        out = self.demo.python(
            "-m",
            "model_packaging",
            "status",
            "--check-deployed",
            stage,
            "--invoke",
            expect_text="ok churn",
        )
        if "samples answer as expected" not in out:
            raise DemoFailed(f"the smoke test of {stage} invoked nothing")

    def refused(self, args: list[str], stage: str, gate: str) -> None:
        demo = self.demo
        demo.python(
            "-m",
            "model_packaging",
            "promote",
            MODEL,
            *args,
            expect=1,
            expect_text=f"refused by gate '{gate}'",
        )
        changed = demo.workspace.changed("stacks")
        if changed:
            raise DemoFailed(f"the refused promotion changed {', '.join(changed)}")
        demo.say(f"Refused by gate '{gate}': stacks/Pulumi.{stage}.yaml is unchanged.")

    def silent_rollback(self, stage: str) -> None:
        demo = self.demo
        demo.step(f"A silent rollback in {stage}, caught by status --check-deployed")
        endpoint, current, previous = _previous_configuration(MODEL, stage)
        demo.say(
            "Simulating SageMaker rolling the blue/green update back while pulumi up reported"
            " success: with boto3, the endpoint goes back to its previous configuration."
        )
        demo.say(
            f"$ boto3 sagemaker.update_endpoint(EndpointName={endpoint!r},"
            f" EndpointConfigName={previous!r})"
        )
        _session().client("sagemaker").update_endpoint(
            EndpointName=endpoint, EndpointConfigName=previous
        )
        demo.show(f"{endpoint}: {current} -> {previous}")
        demo.python(
            "-m",
            "model_packaging",
            "status",
            "--check-deployed",
            stage,
            "--invoke",
            expect=1,
            expect_text="SageMaker rolled the update back",
        )
        demo.say(f"check-deployed exits 1: {stage} does not serve what its stack file pins.")

    def rollback(self, stage: str, *, to: int) -> None:
        demo = self.demo
        demo.step(f"Roll {MODEL} back to version {to} in {stage}")
        demo.python(
            "-m",
            "model_packaging",
            "rollback",
            MODEL,
            "--env",
            stage,
            expect_text=f"-> version {to} ",
        )
        demo.commit(f"roll back {MODEL} in {stage} to {to}", f"stacks/Pulumi.{stage}.yaml")
        self.deploy(stage)

    def expect_pins(self, expected: dict[str, int]) -> None:
        from model_packaging.release.stackfile import pin_in_text

        root = self.demo.workspace.root
        for stage, number in expected.items():
            text = (root / "stacks" / f"Pulumi.{stage}.yaml").read_text()
            pin = pin_in_text(text, MODEL)
            if pin is None or pin.number != number:
                found = pin.describe() if pin else "nothing"
                raise DemoFailed(f"{stage} pins {found}, expected version {number}")

    def drift(self, number: int) -> None:
        demo = self.demo
        demo.step(f"Data drift: samples checked against version {number}'s baseline")
        root = demo.workspace.root
        out = f"out/{MODEL}-{number}"
        manifest = json.loads((root / out / "manifest.json").read_text())
        dataset = root / EXAMPLE / manifest["baseline"]["dataset"]["path"]
        unshifted, shifted = "out/drift/unshifted.csv", "out/drift/shifted.csv"
        rows = _drift_samples(dataset, root / unshifted, root / shifted)
        demo.say(
            f"Build computed {out}/baseline/ (statistics.json, constraints.json) from"
            f" {dataset.relative_to(root)}, the pair a Model Monitor schedule takes. Two samples"
            f" of {rows} of its rows: {unshifted} as they are; {shifted} with monthly_charges"
            " raised by 35, support_calls_90d missing in every fifth row and a 36-month contract"
            " (a length the baseline never saw) in two rows of five."
        )
        check = ("-m", "model_packaging", "drift-check", "--baseline", out, "--data")
        demo.python(*check, unshifted, expect_text="no violations")
        flagged = demo.python(*check, shifted, expect=1)
        for line in DRIFT_LINES:
            if not any(found.startswith(line) for found in flagged.splitlines()):
                raise DemoFailed(f"drift-check did not report {line!r}")
        demo.say(
            "drift-check exits 1 and names each shifted feature with the check it fails;"
            " tenure_months, unchanged, passes."
        )
        self.drift_engine(root / unshifted, root / shifted)

    def drift_engine(self, unshifted: Path, shifted: Path) -> None:
        """The mlserve drift engine's function, run here on captures in AWS's layout."""
        from datetime import UTC, datetime, timedelta

        from infra.resource_types import LAMBDA_FUNCTION
        from infra.review.plan import evaluate_file
        from infra.settings import EnvironmentSettings
        from model_packaging.drift import capture, handler, metrics

        demo = self.demo
        demo.step("The mlserve drift engine: prod's captured requests, an hour at a time")
        plan = evaluate_file(demo.workspace.root / "stacks" / "Pulumi.prod.yaml", "prod")
        function = next(r for r in plan.of_type(LAMBDA_FUNCTION) if r.name == f"{MODEL}-drift-fn")
        environment = function.inputs["environment"]["variables"]
        config = handler.Config.from_environment(environment)
        session = _session()
        s3, cloudwatch = session.client("s3"), session.client("cloudwatch")
        s3.create_bucket(Bucket=config.capture_bucket)
        until = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        hours = {"unshifted": (until - timedelta(hours=2), unshifted)}
        hours["shifted"] = (until - timedelta(hours=1), shifted)
        for label, (start, sample) in hours.items():
            with sample.open(newline="") as handle:
                _, *rows = csv.reader(handle)
            lines = [
                capture.record(
                    ",".join(row),
                    "BASE64" if i % 3 == 0 else "CSV",
                    "text/csv",
                    start + timedelta(seconds=i),
                )
                for i, row in enumerate(rows)
            ]
            key = capture.capture_key(config.endpoint, "champion", start)
            s3.put_object(
                Bucket=config.capture_bucket,
                Key=f"{config.capture_prefix}{key}",
                Body="\n".join(lines).encode(),
            )
            demo.say(
                f"{len(lines)} {label} requests captured, one in three base64-encoded, in"
                f" s3://{config.capture_bucket}/{config.capture_prefix}{key}"
            )
        settings = plan.settings
        assert isinstance(settings, EnvironmentSettings)
        thresholds = {
            metrics.metric_name(feature): float(threshold)
            for feature, threshold in settings.models[MODEL].drift.alarms.items()
        }
        for label, (start, _) in hours.items():
            end = start + timedelta(hours=1)
            window = handler.window_of(
                {"scheduled_time": end.isoformat()}, config.window_seconds, until
            )
            demo.say(f"$ the drift function, scheduled at {end:%Y-%m-%dT%H:%MZ} ({label})")
            try:
                handler.run(config, window, s3, cloudwatch, log=lambda line: None)
            except handler.DriftAnalysisFailed as exc:
                raise DemoFailed(f"the drift function failed: {exc}") from None
            for name, threshold in sorted(thresholds.items()):
                stats = cloudwatch.get_metric_statistics(
                    Namespace=metrics.NAMESPACE,
                    MetricName=name,
                    Dimensions=[
                        {"Name": metrics.DIMENSION_ENDPOINT, "Value": config.endpoint},
                        {"Name": metrics.DIMENSION_VARIANT, "Value": "champion"},
                    ],
                    StartTime=start,
                    EndTime=end + timedelta(seconds=1),
                    Period=config.window_seconds,
                    Statistics=["Maximum"],
                )
                points = stats.get("Datapoints", [])
                if not points:
                    raise DemoFailed(f"the drift function put no {name} for {label}")
                value = max(p["Maximum"] for p in points)
                verdict = "above: its alarm goes to ALARM" if value > threshold else "within"
                demo.show(f"{name} = {value:.3f}, threshold {threshold:g}: {verdict}")
                # The shifted hour raised monthly_charges by 35; nothing else the alarms watch.
                expected = label == "shifted" and name == metrics.metric_name("monthly_charges")
                if (value > threshold) is not expected:
                    raise DemoFailed(f"{label} hour: {name} = {value:.3f}, threshold {threshold:g}")
        demo.say(
            "The function put one metric per feature and hour, and wrote"
            " constraint_violations.json, statistics.json and report.html under"
            f" s3://{config.report_bucket}/{config.report_prefix}; the alarms of drift.alarms"
            " watch the metrics (moto stores alarms but does not evaluate them, so the"
            " comparison CloudWatch makes is shown here)."
        )


def _with_sample(text: str, sample: str) -> str:
    """model.yaml's text with ``sample`` at the end of its top-level ``samples:`` list, which
    ends at the next line that starts at the first column (a key or a comment)."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("samples:")), None)
    if start is None:
        raise DemoFailed("model.yaml has no top-level samples list")
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].strip() and lines[i][0] != " "),
        len(lines),
    )
    return "".join(lines[:end]) + sample + "".join(lines[end:])


_PIN = re.compile(
    r"(?P<head>package: arn:aws:sagemaker:[a-z0-9-]+:\d{12}:model-package/(?P<model>[a-z0-9-]+)/)"
    r"(?P<number>\d+)(?P<between>\s*\n\s*digest: )(?P<digest>sha256:[0-9a-f]{64})"
)


def _repinned(text: str, pins: dict[tuple[str, int], tuple[str, str]]) -> tuple[str, list[str]]:
    """``text`` with each pin (package, then digest) of ``pins``' keys set to its value; and a
    line per pin changed."""
    lines: list[str] = []

    def repin(match: re.Match[str]) -> str:
        key = (match["model"], int(match["number"]))
        if key not in pins:
            return match[0]
        package, digest = pins[key]
        number = artifacts.version_of(package)
        lines.append(
            f"{key[0]} version {key[1]} (sha256:{artifacts.short_digest(match['digest'])}) ->"
            f" version {number} (sha256:{artifacts.short_digest(digest)})"
        )
        return f"package: {package}{match['between']}{digest}"

    return _PIN.sub(repin, text), lines


_CHALLENGER_BLOCK = re.compile(
    rf"^      # A/B test:.*\n      challenger:\n(?:        .*\n)+(?=    {MODEL}:|      \S)",
    re.MULTILINE,
)


def _without_challenger(text: str) -> tuple[str, bool]:
    """prod's text without churn's challenger block (and its comment)."""
    start = text.index(f"    {MODEL}:\n")
    end = re.search(r"^    \S", text[start + 1 :], re.MULTILINE)
    section = text[start : start + 1 + end.start()] if end else text[start:]
    kept, count = _CHALLENGER_BLOCK.subn("", section)
    return text.replace(section, kept, 1), count == 1


def _with_challenger(text: str, block: str) -> str:
    """prod's text with ``block`` right after churn's version pin."""
    start = text.index(f"    {MODEL}:\n")
    pin = _PIN.search(text, start)
    if pin is None:
        raise DemoFailed(f"stacks/Pulumi.prod.yaml has no pin of {MODEL}")
    end = text.index("\n", pin.end()) + 1
    return text[:end] + block + text[end:]


def _predictions(printed: str) -> dict[str, list[float]]:
    """train.py's printed predictions: ``<sample> [p, ...]`` per line."""
    found = {}
    for line in printed.splitlines():
        name, _, values = line.partition(" [")
        if values.endswith("]"):
            found[name] = [float(v) for v in values[:-1].split(",")]
    return found


def _expected_answers(text: str, predictions: dict[str, list[float]]) -> str:
    """model.yaml's text with each sample's expected answer made from ``predictions``, as
    inference.py answers: JSON ``{"predictions": [{"churn_probability": p, "churn": p >= 0.5}]}``
    or CSV text, one ``p`` with six decimals a line."""
    from ruamel.yaml import YAML
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    # The example's layout: mappings by 2, list items' dashes 2 in from their key.
    yaml.indent(mapping=2, sequence=4, offset=2)
    document = yaml.load(text)
    for sample in document["samples"]:
        name = SAME_CUSTOMER.get(sample["name"], sample["name"])
        if name not in predictions:
            raise DemoFailed(f"train.py printed no predictions for sample {name}")
        values = predictions[name]
        expected = sample["expected"]
        if "json" in expected:
            for entry, p in zip(expected["json"]["predictions"], values, strict=True):
                entry["churn_probability"], entry["churn"] = p, p >= 0.5
        else:
            expected["text"] = DoubleQuotedScalarString("".join(f"{p:.6f}\n" for p in values))
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def _drift_samples(dataset: Path, unshifted: Path, shifted: Path) -> int:
    """Every fourth row of the baseline dataset, as it is and shifted; the number of rows."""
    with dataset.open(newline="") as handle:
        header, *body = csv.reader(handle)
    try:
        charges, calls, contract = (
            header.index(name)
            for name in ("monthly_charges", "support_calls_90d", "contract_months")
        )
    except ValueError:
        raise DemoFailed(f"{dataset} lacks a column the shifted sample changes") from None
    sample = body[::4]
    moved = []
    for i, row in enumerate(sample):
        row = list(row)
        row[charges] = f"{float(row[charges]) + 35:.2f}"
        if i % 5 == 0:
            row[calls] = ""
        if i % 5 in (1, 2):
            row[contract] = "36"
        moved.append(row)
    unshifted.parent.mkdir(parents=True, exist_ok=True)
    for path, rows in ((unshifted, sample), (shifted, moved)):
        with path.open("w", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows([header, *rows])
    return len(sample)


def _interrupt(process: subprocess.Popen[str]) -> None:
    """Stop a command the way Ctrl-C would, so that it cleans up (plan-diff removes its git
    worktree); kill it if it does not stop within seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def _session() -> Any:
    import boto3

    return boto3.session.Session(region_name=REGION)


def _previous_configuration(model: str, stage: str) -> tuple[str, str, str]:
    """The endpoint of ``model`` in ``stage``, its configuration, and the one made before it."""
    from model_packaging.release import live

    sagemaker = _session().client("sagemaker")
    endpoint = live.describe_live(sagemaker, model, stage)
    if endpoint is None:
        raise DemoFailed(f"{stage} has no endpoint for {model}")
    older = []
    for page in sagemaker.get_paginator("list_endpoint_configs").paginate():
        for summary in page["EndpointConfigs"]:
            if summary["CreationTime"] >= endpoint.config_created:
                continue
            tags = sagemaker.list_tags(ResourceArn=summary["EndpointConfigArn"])["Tags"]
            found = {tag["Key"]: tag["Value"] for tag in tags}
            if found.get("model") == model and found.get("environment") == stage:
                older.append((summary["CreationTime"], summary["EndpointConfigName"]))
    if not older:
        raise DemoFailed(f"{endpoint.name} has no earlier configuration to go back to")
    return endpoint.name, endpoint.config, str(max(older)[1])


def _wrong_configuration(sagemaker: Any, model: str, stage: str, number: int) -> tuple[str, str]:
    """A configuration made by hand, outside the stack: the live one's variants, the champion's
    Model replaced by one of version ``number``. The endpoint's name and the configuration's."""
    from model_packaging.release import live

    endpoint = live.describe_live(sagemaker, model, stage)
    if endpoint is None:
        raise DemoFailed(f"{stage} has no endpoint for {model}")
    current = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint.config)
    champion = next(v for v in current["ProductionVariants"] if v["VariantName"] == "champion")
    role = sagemaker.describe_model(ModelName=champion["ModelName"])["ExecutionRoleArn"]
    by_hand = f"{model}-{stage}-by-hand"
    sagemaker.create_model(
        ModelName=by_hand,
        ExecutionRoleArn=role,
        PrimaryContainer={
            "ModelPackageName": artifacts.version_arn("aws", REGION, ACCOUNT, model, number)
        },
    )
    variants = [
        {**v, "ModelName": by_hand} if v["VariantName"] == "champion" else v
        for v in current["ProductionVariants"]
    ]
    sagemaker.create_endpoint_config(EndpointConfigName=by_hand, ProductionVariants=variants)
    return endpoint.name, by_hand


# --- set-up and tear-down -----------------------------------------------------------------


def _environment(scratch: Path, url: str) -> None:
    """Fake credentials and the moto server for this process and every command it runs; nothing
    of the machine's own AWS set-up may reach a real account."""
    for name in list(os.environ):
        if name.startswith("MLSERVE_PROFILE_") or name in (
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CA_BUNDLE",
            "PYTHONSAFEPATH",
        ):
            del os.environ[name]
    nowhere = str(scratch / "no-aws-config")
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE=nowhere,
        AWS_SHARED_CREDENTIALS_FILE=nowhere,
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ENDPOINT_URL=url,
    )


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM ends the demo through its finally blocks, like Ctrl-C: the server is stopped and
    # the scratch folder removed.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description="The release flow end to end on a local moto server: no AWS account, no"
        " Pulumi CLI.",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch folder (its path is printed)"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    scratch = Path(tempfile.mkdtemp(prefix="mlserve-demo-"))
    server = MotoServer(scratch / "moto-server.log", account=ACCOUNT, serves=scratch / "serves")
    started = time.monotonic()
    demo = Demo(Workspace(scratch / "mlserve"), out)
    status = 1
    try:
        demo.step("A local moto server stands in for AWS")
        url = server.start()
        _environment(scratch, url)
        demo.say(f"moto server on {url}, answering in account {ACCOUNT} (MOTO_ACCOUNT_ID)")
        demo.say(f"Every command runs with AWS_ENDPOINT_URL={url} and fake credentials.")
        demo.say(
            "Its endpoints answer InvokeEndpoint from local serves of their artifacts, in"
            f" {scratch / 'serves'}, stopped with the server."
        )

        demo.step("A scratch copy of the project, in a git repository of its own")
        demo.workspace = Workspace.copy_of(ROOT, scratch / "mlserve")
        demo.say(f"{ROOT} copied to {demo.workspace.root}, committed as {demo.workspace.head()}")
        demo.say("Promotions are commits there; the project's own files are not touched.")

        Flow(demo).run()
        demo.say(
            f"\nDemo finished in {time.monotonic() - started:.0f} s: every outcome as expected."
        )
        status = 0
    except (DemoFailed, ServerError, StandInError, WorkspaceError) as exc:
        print(f"error: step {demo.number} ({demo.title}): {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"error: step {demo.number} ({demo.title}): interrupted", file=sys.stderr)
        status = 130
    except SystemExit as exc:
        print(f"error: step {demo.number} ({demo.title}): terminated", file=sys.stderr)
        status = exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:  # anything unforeseen still ends in one line naming the step
        detail = " ".join(str(exc).split())
        print(
            f"error: step {demo.number} ({demo.title}): {type(exc).__name__}: {detail}",
            file=sys.stderr,
        )
    finally:
        server.stop()
        if args.keep:
            print(f"scratch folder kept: {scratch}", file=out)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return status
