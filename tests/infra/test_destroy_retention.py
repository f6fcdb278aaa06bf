"""What ``pulumi destroy`` of an environment keeps, and that what it keeps stays readable.

Pulumi does not call the provider's delete for a resource with ``retainOnDelete``: a destroy
drops it from the state and leaves it in AWS. The capture bucket is kept, with every resource
that configures it: it holds captured requests, audit data, and the provider would not delete
it anyway while it holds objects (terraform-provider-aws internal/service/s3/bucket.go,
resourceBucketDelete: ``BucketNotEmpty`` unless ``force_destroy``). A kept resource encrypted
with a key the stack creates keeps that key and its alias: once the key is deleted, "all data
that was encrypted under the KMS key is unrecoverable" (botocore kms ``ScheduleKeyDeletion``),
kept log events included (botocore logs ``AssociateKmsKey``).

The offline plan shows the options as the program sets them on each resource. The engine would
also pass ``retainOnDelete`` from a component to its children; the Python SDK, which the plan
records, does not, so only what is set on a resource itself counts here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

import pulumi
import pytest

from infra.resource_types import (
    BUCKET,
    BUCKET_ENCRYPTION,
    BUCKET_LIFECYCLE,
    BUCKET_OWNERSHIP,
    BUCKET_POLICY,
    BUCKET_PUBLIC_ACCESS,
    BUCKET_VERSIONING,
    KMS_ALIAS,
    KMS_KEY,
    SECURE_BUCKET,
)
from infra.review.mocks import AwsMocks
from infra.review.plan import Plan, PlannedResource
from infra.settings import EnvironmentSettings, Settings

# What the capture bucket is made of: the bucket and each configuration whose deletion would
# leave the kept bucket public-able, owned by uploaders, unencrypted by default, reachable
# without TLS, unversioned or without expiry.
CAPTURE_PARTS = frozenset(
    {
        BUCKET,
        BUCKET_OWNERSHIP,
        BUCKET_PUBLIC_ACCESS,
        BUCKET_VERSIONING,
        BUCKET_ENCRYPTION,
        BUCKET_LIFECYCLE,
        BUCKET_POLICY,
    }
)


def _settings(plan: Plan) -> Settings:
    assert plan.settings is not None, f"{plan.stack}: the plan was built without its settings"
    return plan.settings


def key_names(plan: Plan) -> dict[str, str]:
    """Every value by which an input can name a KMS key the plan creates -> the key's URN.

    A key's id and ARN are outputs, which the plan does not print; they are what the mocks
    answered when the program created the key, so they are asked again here. An alias's
    ``targetKeyId`` is the key's id as the plan records it: each is checked against the answer,
    so that a change to how the mocks name keys fails here instead of matching nothing.
    """
    mocks = AwsMocks(plan.stack, _settings(plan).region, {})
    names: dict[str, str] = {}
    for key in plan.of_type(KMS_KEY):
        key_id, outputs = mocks.new_resource(
            pulumi.runtime.MockResourceArgs(KMS_KEY, key.name, key.inputs)
        )
        names[key_id] = key.urn
        names[outputs["arn"]] = key.urn
    for alias in plan.of_type(KMS_ALIAS):
        assert alias.inputs["targetKeyId"] in names, (
            f"{alias.urn}: targets {alias.inputs['targetKeyId']}, no key of the plan"
        )
    return names


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def keys_used(resource: PlannedResource, names: Mapping[str, str]) -> set[str]:
    """The URNs of the plan's keys that any input of ``resource``, at any depth, names."""
    return {names[s] for s in _strings(resource.inputs) if s in names}


def aliases_of(plan: Plan, key_urn: str, names: Mapping[str, str]) -> list[PlannedResource]:
    return [a for a in plan.of_type(KMS_ALIAS) if names.get(a.inputs["targetKeyId"]) == key_urn]


def unreadable_when_kept(plan: Plan) -> list[str]:
    """Each retained resource whose key (or one of the key's aliases) a destroy would delete."""
    names = key_names(plan)
    problems = []
    for resource in plan.resources:
        if not resource.retain_on_delete:
            continue
        for key_urn in sorted(keys_used(resource, names)):
            parts = [("the key", plan.by_urn(key_urn))]
            parts += [("the alias of the key", a) for a in aliases_of(plan, key_urn, names)]
            for what, part in parts:
                if not part.retain_on_delete:
                    problems.append(
                        f"{resource.urn}: retained, but {what} it is encrypted with, "
                        f"{part.urn}, is deleted: set retain_on_delete on it"
                    )
    return problems


def capture_buckets(plan: Plan) -> list[PlannedResource]:
    env = _settings(plan).environment
    return [r for r in plan.of_type(SECURE_BUCKET) if r.name == f"mlserve-{env}-capture"]


def parts_of(plan: Plan, component: PlannedResource) -> list[PlannedResource]:
    """The resources ``component`` registers itself (its URN's type chain ends with its type
    and theirs: a parent of the same name but another type is not it)."""
    return [
        r
        for r in plan.resources
        if r.custom
        and r.parent == component.name
        and r.urn.split("::")[2].endswith(f"{component.type}${r.type}")
    ]


# --- a retained resource keeps its key ------------------------------------------------------


def test_a_retained_resource_keeps_the_key_it_is_encrypted_with(
    stack: str, plans: Mapping[str, Plan]
) -> None:
    assert unreadable_when_kept(plans[stack]) == []


def test_the_environment_keeps_logs_readable(env_stack: str, plans: Mapping[str, Plan]) -> None:
    """Not vacuous: every environment has kept resources that its own key encrypts (the log
    groups at least), and so a kept key with a kept alias."""
    plan = plans[env_stack]
    names = key_names(plan)
    kept_users = [r for r in plan.resources if r.retain_on_delete and keys_used(r, names)]
    assert kept_users, f"{env_stack}: no retained resource names a key of the stack"
    keys = [k for k in plan.of_type(KMS_KEY) if k.retain_on_delete]
    assert keys, f"{env_stack}: the environment key is deleted with the stack"
    for key in keys:
        assert aliases_of(plan, key.urn, names), f"{key.urn}: no alias"


def test_the_check_names_a_retained_resource_whose_key_goes(
    prod_stack: str, plans: Mapping[str, Plan]
) -> None:
    """The check itself: the prod plan with its key not retained is refused, naming each
    retained user of the key, the log groups among them, and the key."""
    plan = plans[prod_stack]
    (key,) = plan.of_type(KMS_KEY)
    resources = [replace(r, retain_on_delete=False) if r is key else r for r in plan.resources]
    problems = unreadable_when_kept(replace(plan, resources=resources))
    assert problems
    assert all(f"the key it is encrypted with, {key.urn}, is deleted" in p for p in problems), (
        problems
    )
    named = {p.split(": retained", 1)[0] for p in problems}
    assert any("LogGroup::" in urn for urn in named), named


# --- the capture bucket and its configuration are kept ----------------------------------------


def test_the_capture_bucket_and_its_configuration_are_retained(
    env_stack: str, plans: Mapping[str, Plan]
) -> None:
    plan = plans[env_stack]
    settings = _settings(plan)
    assert isinstance(settings, EnvironmentSettings)
    buckets = capture_buckets(plan)
    if not any(m.data_capture.enabled for m in settings.models.values()):
        assert buckets == []
        pytest.skip(f"{env_stack} captures no requests: it has no capture bucket")
    (bucket,) = buckets
    parts = parts_of(plan, bucket)
    assert {p.type for p in parts} == CAPTURE_PARTS
    assert [p.urn for p in parts if not p.retain_on_delete] == []


def test_the_shared_store_is_protected_not_retained(
    shared_stack: str, plans: Mapping[str, Plan]
) -> None:
    """The artifact store stays as it was: protected, so that no update and no destroy deletes
    it, and not retained, which would let a destroy drop it from the state silently."""
    plan = plans[shared_stack]
    (bucket,) = plan.of_type(SECURE_BUCKET)
    parts = parts_of(plan, bucket)
    assert {p.type for p in parts} == CAPTURE_PARTS
    for resource in [*parts, *plan.of_type(KMS_KEY), *plan.of_type(KMS_ALIAS)]:
        assert resource.protect and not resource.retain_on_delete, resource.urn
