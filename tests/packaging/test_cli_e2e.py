"""The release tool as a user runs it: ``python -m model_packaging`` in a subprocess.

The example model is built, verified, published twice to a moto server (which stands in for
the shared stack's bucket, key and package group) and served on a free local port.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.helpers import EXAMPLE, ROOT, run_cli
from tests.packaging.conftest import BUCKET, Store, create_store, free_port


def test_build_verify_publish_twice_and_serve(server_store: Store, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("build", str(EXAMPLE), "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    verified = run_cli("verify", str(out))
    assert verified.returncode == 0, verified.stdout + verified.stderr

    first = run_cli("publish", str(out), "--bucket", BUCKET, "--kms-key", server_store.key_arn)
    assert first.returncode == 0, first.stderr
    second = run_cli("publish", str(out / "manifest.json"), "--bucket", BUCKET, "--quiet")
    assert second.returncode == 0, second.stderr

    arn = first.stdout.strip()
    assert arn.startswith("arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/")
    assert second.stdout.strip() == arn
    assert "sent 0 bytes" in second.stderr
    summaries = server_store.sagemaker.list_model_packages(ModelPackageGroupName="churn")
    assert [s["ModelPackageArn"] for s in summaries["ModelPackageSummaryList"]] == [arn]
    manifest = json.loads((out / "manifest.json").read_text())
    version = server_store.sagemaker.describe_model_package(ModelPackageName=arn)
    (container,) = version["InferenceSpecification"]["Containers"]
    assert container["Image"] == manifest["images"]["us-east-1"]
    key = f"models/churn/sha256-{manifest['digest']}/model.tar.gz"
    assert container["ModelDataUrl"] == f"s3://{BUCKET}/{key}"
    stored = server_store.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert stored == (out / "model.tar.gz").read_bytes()

    serve_and_invoke(out)


def serve_and_invoke(artifact: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "model_packaging", "serve", str(artifact), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()[1]
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=2) as ping:
                    if ping.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, "serve did not answer /ping within 60 s"
            time.sleep(0.2)
        request = urllib.request.Request(
            f"{base}/invocations",
            data=b"2,95.5,4,1",
            headers={"Content-Type": "text/csv", "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
            body = json.loads(response.read())
        assert body["predictions"][0]["churn"] is True
    finally:
        server.terminate()
        try:
            server.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()


def test_publish_to_a_missing_group_fails_in_one_line_and_uploads_nothing(
    moto_endpoint: str, built: Path
) -> None:
    store = create_store(BUCKET, "some-other-model")

    published = run_cli("publish", str(built), "--bucket", BUCKET)

    assert published.returncode == 1
    assert published.stdout == ""
    assert published.stderr.startswith("error: model package group 'churn' does not exist")
    assert published.stderr.count("\n") == 1
    assert "Contents" not in store.s3.list_objects_v2(Bucket=BUCKET)
