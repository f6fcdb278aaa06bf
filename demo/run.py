"""``python -m demo`` (``make demo``): the whole release flow on a local moto server.

No AWS account and no Pulumi CLI: a moto server stands in for AWS, :mod:`demo.standin` for
``pulumi up``, and a scratch git repository (:mod:`demo.workspace`) for the project's. The
example churn model is trained, built, verified, published, approved and promoted through dev,
staging and prod with the release tool's own commands, each promotion committed and shown as a
``plan-diff``. On the way the demo shows the gates refusing two promotions, a silent rollback of
an endpoint caught by ``status --check-deployed``, and ``rollback`` restoring prod's previous pin.
Last, ``drift-check`` compares two samples of the example's baseline dataset with the baseline
build made: as they are (no violations), and shifted (flagged feature by feature).

Every command is printed as it runs, its output indented under it. The demo exits 0 only if each
outcome was the expected one (a refusal refused, a check failed when it should and passed when
it should); otherwise it prints one line naming the step and exits 1.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
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
# The shared account of the offline plan (infra.review.mocks.ACCOUNTS), where the stack files
# pin their registry versions: the moto server answers every request in it.
ACCOUNT = "111111111111"
REGION = "us-east-1"
INDENT = "    "
COMMAND_TIMEOUT = 600

# Version 2 of the example: the same weights, and one more sample request in model.yaml (which
# ships in the artifact), so a new digest. Its expected answer is the first sample's
# probability, which the model gives as 0.9853373955224617.
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
        self.promotion(v1, "dev")
        self.promotion(v1, "staging", require_live=True)
        self.promotion(v1, "prod", require_live=True)
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
        self.promotion(v2, "prod", require_live=True)
        self.rollback("prod", to=v1)
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
        else:
            demo.step(f"{MODEL} version {number}: a change to the model folder, a new artifact")
            model_yaml = workspace.root / EXAMPLE / "model.yaml"
            demo.say(f"One more sample request, at the end of {EXAMPLE}/model.yaml's samples:")
            demo.show(SAMPLE_V2)
            model_yaml.write_text(_with_sample(model_yaml.read_text(), SAMPLE_V2))
        if workspace.changed(EXAMPLE):
            demo.commit(change, EXAMPLE)
        out = f"out/{MODEL}-{number}"
        demo.python("-m", "model_packaging", "build", EXAMPLE, "--out", out, "--quiet")
        demo.python("-m", "model_packaging", "verify", out)
        published = demo.python(
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
        expected = artifacts.version_arn("aws", REGION, ACCOUNT, MODEL, number)
        if arn != expected:
            raise DemoFailed(f"publish registered {arn or 'nothing'}, expected {expected}")
        if approve:
            self.approve(number)
        else:
            demo.say(f"Version {number} is registered as PendingManualApproval.")
        return number

    def approve(self, number: int) -> None:
        self.demo.python(
            "-m",
            "model_packaging",
            "approve",
            MODEL,
            "--version",
            str(number),
            "--reason",
            f"verify passed on every sample of version {number}; reviewed for release",
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
        self.demo.python(
            "-m", "model_packaging", "status", "--check-deployed", stage, expect_text="ok churn"
        )

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
    server = MotoServer(scratch / "moto-server.log", account=ACCOUNT)
    started = time.monotonic()
    demo = Demo(Workspace(scratch / "mlserve"), out)
    status = 1
    try:
        demo.step("A local moto server stands in for AWS")
        url = server.start()
        _environment(scratch, url)
        demo.say(f"moto server on {url}, answering in account {ACCOUNT} (MOTO_ACCOUNT_ID)")
        demo.say(f"Every command runs with AWS_ENDPOINT_URL={url} and fake credentials.")

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
