"""The Pulumi program: typed settings in, components out, outputs returned.

Neither ``define_stack`` nor ``run`` reads config. Each caller validates the stack's config once
and hands the settings in: ``__main__.py`` (under ``pulumi up``) loads them from Pulumi's config
and calls ``run``; the offline plan (``infra.review.plan.evaluate``, under mocks) validates the
config it is given, a stack file's for ``python -m infra plan``, and calls the same ``run`` with
those settings, so both evaluate exactly this.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from infra import lambda_package, naming
from infra.components.alerting import Alerting, AlertingArgs
from infra.components.artifact_store import ArtifactStore, ArtifactStoreArgs
from infra.components.dashboard import DashboardArgs, EnvironmentDashboard
from infra.components.drift_engine import DriftEngine, DriftEngineArgs
from infra.components.drift_monitor import DriftArgs, DriftMonitor
from infra.components.encryption_key import EncryptionKey, EncryptionKeyArgs
from infra.components.model_endpoint import ModelEndpoint, ModelEndpointArgs
from infra.components.secure_bucket import SecureBucket, SecureBucketArgs
from infra.settings import EnvironmentSettings, Settings, SharedSettings
from infra.settings.schema import DriftEngine as Engine

# Outputs of the shared stack that environment stacks read through a StackReference.
SHARED_OUTPUTS = ("artifact_bucket_name", "artifact_bucket_arn", "artifact_key_arn")


def define_stack(settings: Settings) -> dict[str, Any]:
    """Register every resource of the stack; return the stack outputs."""
    if isinstance(settings, SharedSettings):
        return _shared(settings)
    return _environment(settings)


def run(settings: Settings) -> None:
    """The program's body: register every resource of the stack and export its outputs."""
    for key, value in define_stack(settings).items():
        pulumi.export(key, value)


def shared_store(shared_stack: str, region: str) -> dict[str, pulumi.Output[Any]]:
    """The shared stack's artifact store outputs, each usable only once the store is known to be in
    ``region``: "The model artifacts must be in an S3 bucket that is in the same region as the
    model or endpoint you are creating" (botocore sagemaker ``ContainerDefinition.ModelDataUrl``),
    and a version's baseline is read from the same bucket. A store elsewhere fails the preview,
    naming both regions, before any resource that reads it is registered."""

    def in_region(values: list[Any]) -> Any:
        store_region, value = values
        if store_region != region:
            raise pulumi.RunError(
                f"the artifact store ({shared_stack}) is in {store_region}, this stack in "
                f"{region}: SageMaker reads model artifacts only from a bucket in the endpoint's "
                "region; set aws:region to the shared stack's, or use a shared stack there"
            )
        return value

    shared = pulumi.StackReference(shared_stack)
    store_region = shared.require_output("region")
    return {
        key: pulumi.Output.all(store_region, shared.require_output(key)).apply(in_region)
        for key in SHARED_OUTPUTS
    }


def _account() -> pulumi.Output[str]:
    return aws.get_caller_identity_output().account_id


def _shared(settings: SharedSettings) -> dict[str, Any]:
    tags = naming.base_tags(settings.environment, settings.owner, settings.cost_center)
    store = ArtifactStore(
        "mlserve-artifacts",
        ArtifactStoreArgs(
            region=settings.region,
            partition=naming.partition(settings.region),
            account=_account(),
            models={name: group.description for name, group in settings.models.items()},
            tags=tags,
            reader_accounts=settings.artifact_store.reader_accounts,
            noncurrent_version_days=settings.artifact_store.noncurrent_version_days,
            abort_incomplete_multipart_days=settings.artifact_store.abort_incomplete_multipart_days,
        ),
    )
    return {
        "artifact_bucket_name": store.bucket_name,
        "artifact_bucket_arn": store.bucket_arn,
        "artifact_key_arn": store.key_arn,
        "model_package_groups": store.group_arns,
        "region": settings.region,
    }


def _environment(settings: EnvironmentSettings) -> dict[str, Any]:
    env = settings.environment
    region = settings.region
    partition = naming.partition(region)
    account = _account()
    tags = naming.base_tags(env, settings.owner, settings.cost_center)
    store = shared_store(settings.shared_stack, region)

    key = EncryptionKey(
        f"mlserve-{env}",
        EncryptionKeyArgs(
            description=f"Encrypts the {env} endpoints' volumes, logs, captures and alerts",
            alias=f"mlserve-{env}",
            partition=partition,
            account=account,
            region=region,
            tags=tags,
            service_principals=[f"logs.{region}.amazonaws.com", "cloudwatch.amazonaws.com"],
            # Kept when the stack is destroyed, like what it encrypts there: the log groups,
            # the endpoint configurations and the capture bucket. "If you delete the key that
            # is used to encrypt log events [...] all the associated stored log events [...]
            # will be unencryptable and unusable" (botocore logs ``AssociateKmsKey``).
            retain_on_delete=True,
        ),
    )
    alerting = Alerting(
        f"mlserve-{env}-alerts",
        AlertingArgs(
            kms_key_arn=key.arn,
            account=account,
            subscriptions=settings.alerts.subscriptions,
            tags=tags,
        ),
    )
    capture = None
    if any(m.data_capture.enabled for m in settings.models.values()):
        capture = SecureBucket(
            f"mlserve-{env}-capture",
            SecureBucketArgs(
                kms_key_arn=key.arn,
                tags=tags,
                # Captured requests are personal data more often than not: keep them no
                # longer than drift analysis needs.
                expire_current_days=90,
                noncurrent_version_days=7,
                # Captured requests are audit data: a destroy keeps the bucket, its objects and
                # its configuration (docs/runbook.md, "Destroying an environment").
                retain_on_delete=True,
            ),
        )

    functions = _DriftFunctions(env, tags)
    models: dict[str, Any] = {}
    widgets: dict[str, Any] = {}
    for name, model in sorted(settings.models.items()):
        endpoint = ModelEndpoint(
            name,
            ModelEndpointArgs(
                model_name=name,
                environment=env,
                region=region,
                partition=partition,
                account=account,
                settings=model,
                base_tags=tags,
                artifact_bucket_arn=store["artifact_bucket_arn"],
                artifact_key_arn=store["artifact_key_arn"],
                environment_key_arn=key.arn,
                alert_topic_arn=alerting.topic_arn,
                capture_bucket_name=capture.name if capture else None,
                capture_bucket_arn=capture.arn if capture else None,
            ),
        )
        drift: DriftMonitor | DriftEngine | None = None
        # Settings allow drift monitoring only where the endpoint captures data (rules).
        if model.drift.enabled and capture is not None:
            shared = DriftArgs(
                model_name=name,
                region=region,
                partition=partition,
                account=account,
                settings=model,
                tags=naming.model_tags(tags, name),
                endpoint_name=endpoint.endpoint_name,
                capture_bucket_name=capture.name,
                capture_bucket_arn=capture.arn,
                environment_key_arn=key.arn,
                artifact_bucket_name=store["artifact_bucket_name"],
                artifact_bucket_arn=store["artifact_bucket_arn"],
                artifact_key_arn=store["artifact_key_arn"],
                alert_topic_arn=alerting.topic_arn,
            )
            if model.drift.engine is Engine.MLSERVE:
                engine_args = DriftEngineArgs.of(
                    shared,
                    variants=list(naming.variant_versions(model)),
                    code=functions.code(),
                    layer_arn=functions.layer_arn(),
                )
                drift = DriftEngine(f"{name}-drift", engine_args)
            else:
                drift = DriftMonitor(f"{name}-drift", shared)
        models[name] = {
            "endpoint_name": endpoint.endpoint_name,
            "endpoint_arn": endpoint.endpoint_arn,
            # The configuration this deployment moved the endpoint to: the post-deploy check
            # compares it with the one the endpoint runs after the update.
            "endpoint_config_name": endpoint.endpoint_config_name,
            "role_arn": endpoint.role_arn,
            "alarm_names": endpoint.alarm_names,
            "rollback_alarm_names": endpoint.rollback_alarm_names,
            # Data-quality monitoring of the captured requests: None and [] when it is off.
            "drift_engine": model.drift.engine.value if drift else None,
            "drift_schedule_name": drift.schedule_name if drift else None,
            "drift_alarm_names": drift.alarm_names if drift else [],
            "version": model.version.model_dump(exclude_none=True),
            "challenger": (
                model.challenger.version.model_dump(exclude_none=True) if model.challenger else None
            ),
            "shadow": model.shadow.version.model_dump(exclude_none=True) if model.shadow else None,
        }
        widgets[name] = endpoint.dashboard_widgets
    dashboard = EnvironmentDashboard(
        f"mlserve-{env}-dashboard",
        DashboardArgs(region=region, name=f"mlserve-{env}", sections=widgets),
    )
    for name, url in dashboard.urls.items():
        models[name]["dashboard_url"] = url
    return {
        "environment": env,
        "alert_topic_arn": alerting.topic_arn,
        "capture_bucket": capture.name if capture else None,
        "models": models,
    }


class _DriftFunctions:
    """The mlserve drift engine's code and dependency layer, shared by an environment's models:
    one code archive and one layer version (``infra.lambda_package``), registered on first use.

    Under ``pulumi preview``/``up`` the files are written (the layer built when missing) before
    the engine reads them; the offline plan's mocks read no file, so there the program only names
    them, which keeps the plan fast and free of downloads.
    """

    def __init__(self, environment: str, tags: dict[str, str]) -> None:
        self._environment = environment
        self._tags = tags
        self._package: lambda_package.Package | None = None
        self._layer: aws.lambda_.LayerVersion | None = None

    def _files(self) -> lambda_package.Package:
        if self._package is None:
            try:
                self._package = lambda_package.package(write=not _under_mocks())
            except lambda_package.PackagingError as exc:
                raise pulumi.RunError(str(exc)) from None
        return self._package

    def code(self) -> pulumi.Archive:
        return pulumi.FileArchive(str(self._files().code))

    def layer_arn(self) -> pulumi.Output[str]:
        if self._layer is None:
            self._layer = aws.lambda_.LayerVersion(
                f"mlserve-{self._environment}-drift-deps",
                layer_name=f"mlserve-{self._environment}-drift-deps",
                description="Third-party packages of the mlserve drift analysis",
                code=pulumi.FileArchive(str(self._files().layer)),
                compatible_runtimes=[lambda_package.RUNTIME],
                compatible_architectures=[lambda_package.ARCHITECTURE],
            )
        return self._layer.arn


def _under_mocks() -> bool:
    """Whether the program runs under Pulumi's mocks (the offline plan, the tests)."""
    from pulumi.runtime.mocks import MockMonitor

    return isinstance(pulumi.runtime.settings.get_monitor(), MockMonitor)
