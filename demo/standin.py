"""Stand-in for ``pulumi up`` in the demo: what the offline plan describes, made on moto.

    python -m demo.standin STACK [--stacks DIR]

This is not a deployment and never talks to AWS: it evaluates the stack file's offline plan
(``infra.review.plan.evaluate_file``) and creates on the moto server that ``AWS_ENDPOINT_URL``
names the few resources the release flow reads back. Everything else in the plan (roles, alarms,
autoscaling, logs, topics, dashboards) is only counted.

- ``shared``: the artifact bucket under the name the plan's outputs give it, versioned and
  encrypted by default with a KMS key that carries the plan's alias, and one Model Package Group
  per model, as ``publish`` expects them.
- an environment: its SageMaker Models, endpoint configurations and endpoints, with the names,
  variants, tags and deployment configuration of the plan's inputs (:mod:`demo.api` turns them
  into the API's requests). An endpoint that exists is updated onto its new configuration;
  superseded configurations and Models are kept, as the program keeps them. An endpoint the plan
  replaced (a new name for the same model and environment) is deleted once its replacement is
  made, as Pulumi deletes a replaced resource.

Physical names: an endpoint's is its ``name`` input. Configurations and Models are auto-named,
``<logical name>-<7 hex>``; the plan shows those names where they are used, in the Endpoint's
``endpointConfigName`` and in the configuration's variants' ``modelName``, so each is read there.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from demo import api
from infra.resource_types import (
    BUCKET,
    BUCKET_ENCRYPTION,
    BUCKET_VERSIONING,
    ENDPOINT,
    ENDPOINT_CONFIG,
    KMS_ALIAS,
    KMS_KEY,
    MODEL,
    MODEL_PACKAGE_GROUP,
)
from infra.review.plan import Plan, PlannedResource, evaluate_file
from infra.settings import SettingsError

BANNER = (
    "stand-in for pulumi up: creating on the local moto server what the offline plan describes;"
    " this is not a deployment"
)

# Attributes whose API member has another name: terraform-provider-aws passes the
# configuration's kms_key_arn as CreateEndpointConfig's KmsKeyId
# (internal/service/sagemaker/endpoint_configuration.go, resourceEndpointConfigurationCreate) and
# a resource's name as its <Resource>Name (model.go, endpoint_configuration.go, endpoint.go).
_CONFIG_RENAMED = {"kmsKeyArn": "KmsKeyId", "name": ""}
_MODEL_RENAMED = {"name": ""}
_ENDPOINT_RENAMED = {"name": "EndpointName"}
# UpdateEndpoint takes the configuration and the deployment configuration, nothing else
# (botocore's sagemaker model; the provider's resourceEndpointUpdate sends exactly those).
_UPDATE_RENAMED = {**_ENDPOINT_RENAMED, "tags": ""}


class StandInError(Exception):
    """The plan could not be made on moto; the message names the resource and the cause."""


@dataclass
class Outcome:
    stack: str
    lines: list[str] = field(default_factory=list)
    bucket: str | None = None
    key_arn: str | None = None


Say = Callable[[str], None]


def up(path: Path, stack: str, *, say: Say | None = None) -> Outcome:
    """Create on moto what the plan of ``path`` (stack ``stack``) describes; see the module."""
    outcome = Outcome(stack)

    def note(line: str) -> None:
        outcome.lines.append(line)
        if say is not None:
            say(line)

    try:
        plan = evaluate_file(path, stack)
    except SettingsError as exc:
        raise StandInError(f"{path} has problems: {'; '.join(exc.problems)}") from exc
    # The settings the plan was evaluated with: the file is read and validated once.
    assert plan.settings is not None
    session = boto3.session.Session(region_name=plan.settings.region)
    try:
        if stack == "shared":
            made = _shared(plan, session, outcome, note)
        else:
            made = _environment(plan, session.client("sagemaker"), note)
    except (ClientError, BotoCoreError) as exc:
        raise StandInError(f"{stack}: {' '.join(str(exc).split())}") from exc
    except api.RequestError as exc:
        raise StandInError(f"{stack}: {exc}") from exc
    _skipped(plan, made, note)
    return outcome


# --- the shared stack ---------------------------------------------------------------------


def _shared(plan: Plan, session: Any, outcome: Outcome, note: Say) -> set[str]:
    s3, kms, sagemaker = session.client("s3"), session.client("kms"), session.client("sagemaker")
    bucket = str(plan.outputs["artifact_bucket_name"])
    key = _one(plan, KMS_KEY)
    aliases = [str(r.inputs["name"]) for r in plan.of_type(KMS_ALIAS)]
    key_arn = _alias_target(kms, aliases[0]) if aliases else None
    if key_arn is None:
        tags = key.inputs.get("tags") or {}
        key_arn = str(
            kms.create_key(
                Description=str(key.inputs.get("description", "")),
                Tags=[{"TagKey": k, "TagValue": v} for k, v in sorted(tags.items())],
            )["KeyMetadata"]["Arn"]
        )
        if key.inputs.get("enableKeyRotation"):
            kms.enable_key_rotation(KeyId=key_arn)
        for alias in aliases:
            kms.create_alias(AliasName=alias, TargetKeyId=key_arn)
        note(f"created KMS key {key_arn} ({', '.join(aliases) or 'no alias'})")
    else:
        note(f"kept KMS key {key_arn} ({', '.join(aliases)})")

    if _exists(partial(s3.head_bucket, Bucket=bucket)):
        note(f"kept bucket {bucket}")
    else:
        region = session.region_name
        # us-east-1 takes no location constraint (S3 API reference, CreateBucket).
        where = (
            {}
            if region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        s3.create_bucket(Bucket=bucket, **where)
        note(f"created bucket {bucket}")
    for versioning in plan.of_type(BUCKET_VERSIONING):
        status = versioning.inputs["versioningConfiguration"]["status"]
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
        note(f"  versioning {status}")
    for encryption in plan.of_type(BUCKET_ENCRYPTION):
        rule = encryption.inputs["rules"][0]
        # The plan's key ARN is the mocks'; the bucket is encrypted with the key made above.
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": rule["applyServerSideEncryptionByDefault"][
                                "sseAlgorithm"
                            ],
                            "KMSMasterKeyID": key_arn,
                        },
                        "BucketKeyEnabled": bool(rule.get("bucketKeyEnabled")),
                    }
                ]
            },
        )
        note(f"  default encryption {rule['applyServerSideEncryptionByDefault']['sseAlgorithm']}")

    for group in plan.of_type(MODEL_PACKAGE_GROUP):
        name = str(group.inputs["modelPackageGroupName"])
        if _exists(partial(sagemaker.describe_model_package_group, ModelPackageGroupName=name)):
            note(f"kept Model Package Group {name}")
            continue
        sagemaker.create_model_package_group(
            **api.request("sagemaker", "CreateModelPackageGroup", group.inputs)
        )
        note(f"created Model Package Group {name}")
    outcome.bucket, outcome.key_arn = bucket, key_arn
    return {KMS_KEY, KMS_ALIAS, BUCKET, BUCKET_VERSIONING, BUCKET_ENCRYPTION, MODEL_PACKAGE_GROUP}


def _alias_target(kms: Any, alias: str) -> str | None:
    try:
        return str(kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NotFoundException":
            return None
        raise


# --- an environment stack -----------------------------------------------------------------


def _environment(plan: Plan, sagemaker: Any, note: Say) -> set[str]:
    endpoints = plan.of_type(ENDPOINT)
    configs = {
        str(e.inputs["endpointConfigName"]): _named(
            plan.of_type(ENDPOINT_CONFIG), e.inputs["endpointConfigName"]
        )
        for e in endpoints
    }
    models: dict[str, PlannedResource] = {}
    for config in configs.values():
        for variant in _variants(config):
            name = str(variant["modelName"])
            models[name] = _named(plan.of_type(MODEL), name)
    _all_named(plan, MODEL, models.values())
    _all_named(plan, ENDPOINT_CONFIG, configs.values())

    for name, model in sorted(models.items()):
        if _exists(partial(sagemaker.describe_model, ModelName=name)):
            note(f"kept Model {name}: it exists")
            continue
        sagemaker.create_model(
            **api.request(
                "sagemaker", "CreateModel", model.inputs, renamed=_MODEL_RENAMED, ModelName=name
            )
        )
        package = (model.inputs.get("primaryContainer") or {}).get("modelPackageName")
        note(f"created Model {name}" + (f" of {package}" if package else ""))

    for endpoint in sorted(endpoints, key=lambda e: str(e.inputs["name"])):
        _endpoint(sagemaker, endpoint, configs[str(endpoint.inputs["endpointConfigName"])], note)
        _delete_replaced(sagemaker, str(endpoint.inputs["name"]), note)
    return {MODEL, ENDPOINT_CONFIG, ENDPOINT}


def _delete_replaced(sagemaker: Any, name: str, note: Say) -> None:
    """Delete the endpoints of the same model and environment that the plan no longer has: the
    program names an endpoint ``<model>-<env>-<suffix>`` and draws a new suffix when the endpoint
    must be replaced (infra.naming), and Pulumi deletes a replaced resource once its replacement
    exists (create before delete, its default)."""
    prefix = name.rsplit("-", 1)[0] + "-"
    pages = sagemaker.get_paginator("list_endpoints").paginate(NameContains=prefix)
    for page in pages:
        for summary in page.get("Endpoints", []):
            other = str(summary["EndpointName"])
            if other != name and other.startswith(prefix) and "-" not in other[len(prefix) :]:
                sagemaker.delete_endpoint(EndpointName=other)
                note(f"deleted endpoint {other}: replaced by {name}")


def _endpoint(
    sagemaker: Any, endpoint: PlannedResource, config: PlannedResource, note: Say
) -> None:
    name = str(endpoint.inputs["name"])
    config_name = str(endpoint.inputs["endpointConfigName"])
    live = _describe(partial(sagemaker.describe_endpoint, EndpointName=name))
    current = str(live["EndpointConfigName"]) if live else None
    if current == config_name:
        note(f"kept endpoint {name}: it is on {config_name}")
        return
    again = ""
    if _exists(partial(sagemaker.describe_endpoint_config, EndpointConfigName=config_name)):
        if config_name == _newest_config(sagemaker, config):
            # The stack's state holds this configuration (the newest of the model's): pulumi up
            # puts an endpoint that SageMaker rolled back onto it again, and makes nothing new.
            sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=config_name)
            note(f"updated endpoint {name}: {current} -> {config_name}, the stack's configuration")
            return
        # The offline plan names a configuration from its inputs, so a return to earlier inputs
        # (a rollback) gets the name of the retained configuration made for them before. Pulumi
        # replaces the configuration under a newly drawn auto-name, and the retained one keeps
        # its own: so does this stand-in (the suffix is derived, not random, so the demo's
        # output is the same on every run).
        retained = config_name
        config_name = _fresh_name(sagemaker, config_name)
        again = f" (the same inputs as the retained {retained}, under a new name)"
    sagemaker.create_endpoint_config(
        **api.request(
            "sagemaker",
            "CreateEndpointConfig",
            config.inputs,
            renamed=_CONFIG_RENAMED,
            EndpointConfigName=config_name,
        )
    )
    variants = ", ".join(f"{v['variantName']}={v['modelName']}" for v in _variants(config))
    note(f"created endpoint configuration {config_name}{again}: {variants}")
    if live is None:
        sagemaker.create_endpoint(
            **api.request(
                "sagemaker",
                "CreateEndpoint",
                endpoint.inputs,
                renamed=_ENDPOINT_RENAMED,
                EndpointConfigName=config_name,
            )
        )
        note(f"created endpoint {name} on {config_name}")
    else:
        sagemaker.update_endpoint(
            **api.request(
                "sagemaker",
                "UpdateEndpoint",
                endpoint.inputs,
                renamed=_UPDATE_RENAMED,
                EndpointConfigName=config_name,
            )
        )
        note(f"updated endpoint {name}: {current} -> {config_name} ({current} is kept)")


def _newest_config(sagemaker: Any, config: PlannedResource) -> str | None:
    """The newest endpoint configuration tagged with this configuration's model and
    environment: the one the stack's state holds (Pulumi's newest for the endpoint)."""
    tags = config.inputs.get("tags") or {}
    pages = sagemaker.get_paginator("list_endpoint_configs").paginate(
        SortBy="CreationTime", SortOrder="Descending"
    )
    for page in pages:
        for summary in page.get("EndpointConfigs", []):
            found = sagemaker.list_tags(ResourceArn=summary["EndpointConfigArn"]).get("Tags", [])
            values = {tag["Key"]: tag["Value"] for tag in found}
            if all(values.get(key) == tags.get(key) for key in ("model", "environment")):
                return str(summary["EndpointConfigName"])
    return None


def _fresh_name(sagemaker: Any, planned: str) -> str:
    """``<logical name>-<7 hex>``, as Pulumi auto-names, not yet taken."""
    logical = planned.rsplit("-", 1)[0]
    for attempt in range(1, 100):
        suffix = hashlib.sha256(f"{planned}:{attempt}".encode()).hexdigest()[:7]
        name = f"{logical}-{suffix}"
        if not _exists(partial(sagemaker.describe_endpoint_config, EndpointConfigName=name)):
            return name
    raise RuntimeError(f"no free name for a new {logical} configuration")


def _variants(config: PlannedResource) -> list[Mapping[str, Any]]:
    return [
        *(config.inputs.get("productionVariants") or []),
        *(config.inputs.get("shadowProductionVariants") or []),
    ]


def _named(resources: Iterable[PlannedResource], physical: Any) -> PlannedResource:
    """The auto-named resource whose physical name is ``physical``: ``<logical name>-<suffix>``."""
    physical = str(physical)
    found = [
        r
        for r in resources
        if physical.startswith(f"{r.name}-") and "-" not in physical[len(r.name) + 1 :]
    ]
    if len(found) != 1:
        raise StandInError(
            f"{physical}: {'no' if not found else 'more than one'} resource of the plan is named"
            " like it"
        )
    return found[0]


def _all_named(plan: Plan, type_token: str, named: Iterable[PlannedResource]) -> None:
    """Every resource of the type must have been found by name: else it would be left out."""
    urns = {r.urn for r in named}
    missing = [r.name for r in plan.of_type(type_token) if r.urn not in urns]
    if missing:
        raise StandInError(
            f"{', '.join(missing)}: no endpoint uses it, so the plan does not show its name"
        )


# --- common -------------------------------------------------------------------------------


def _one(plan: Plan, type_token: str) -> PlannedResource:
    found = plan.of_type(type_token)
    if len(found) != 1:
        raise StandInError(f"the plan has {len(found)} {type_token}, not one")
    return found[0]


def _describe(call: Callable[[], Any]) -> Any:
    """The answer of a Describe call, or None when the resource does not exist."""
    try:
        return call()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        # SageMaker answers a missing resource with a ValidationException "Could not find ..."
        # or "... does not exist"; S3's HeadBucket with a bare 404.
        if code in ("404", "NoSuchBucket"):
            return None
        if code == "ValidationException" and (
            "Could not find" in message or "does not exist" in message
        ):
            return None
        raise


def _exists(call: Callable[[], Any]) -> bool:
    return _describe(call) is not None


def _skipped(plan: Plan, made: set[str], note: Say) -> None:
    others = Counter(
        r.type.split(":")[1].split("/")[0]
        for r in plan.resources
        if r.custom and r.type not in made and r.type.startswith("aws:")
    )
    if others:
        services = ", ".join(f"{service} {count}" for service, count in sorted(others.items()))
        note(f"not made here (nothing in the demo reads them): {services}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m demo.standin",
        description=BANNER,
    )
    parser.add_argument("stack", metavar="STACK", help="shared, dev, staging or prod")
    parser.add_argument("--stacks", default="stacks", metavar="DIR", help="stack files")
    args = parser.parse_args(argv)
    path = Path(args.stacks) / f"Pulumi.{args.stack}.yaml"
    if not path.is_file():
        print(f"error: {path}: no such stack file", file=sys.stderr)
        return 2
    print(BANNER)
    try:
        up(path, args.stack, say=print)
    except StandInError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
