"""Lookups and checks over offline plans (``infra.review.plan.Plan``), shared by the infra tests.

Checks return a list of problems instead of asserting, each starting with the URN of the
offending resource, so that one failing test lists every offender and names what to fix.
Tests import it as ``tests.infra.plan_checks``: the test folders are packages, so their two
``conftest`` modules have distinct names for pytest and mypy alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from infra import iam, metrics, naming
from infra.resource_types import (
    ALARM,
    BUCKET,
    BUCKET_POLICY,
    ENDPOINT,
    ENDPOINT_CONFIG,
    IDENTITY_POLICY_TYPES,
    KMS_KEY,
    MODEL,
    MODEL_ENDPOINT,
    MODEL_PACKAGE_GROUP_POLICY,
    ROLE,
    STACK,
    TOPIC_POLICY,
)
from infra.review.mocks import ACCOUNTS, DEFAULT_ACCOUNT
from infra.review.plan import STACKS_DIR, Plan, PlannedResource
from infra.settings import (
    PROJECT,
    EnvironmentSettings,
    ModelSettings,
    ModelVersion,
    Settings,
    SharedSettings,
    read_stack_file,
)
from tests.sdk_classes import input_names, sdk_class

# The metrics whose alarms judge a release (and so roll it back); the others only notify.
ROLLBACK_METRICS = tuple(m.metric for m in metrics.METRICS if m.rolls_back)


# --- stack files --------------------------------------------------------------------------


def stack_files() -> dict[str, Path]:
    """Every stack file in ``stacks/``, by stack name: a new file is covered automatically."""
    files = sorted(STACKS_DIR.glob("Pulumi.*.yaml"))
    return {p.name.removeprefix("Pulumi.").removesuffix(".yaml"): p for p in files}


def stack_environment(stack: str) -> str:
    """The environment a stack file declares, read without validating the file."""
    config = read_stack_file(stack_files()[stack])
    return str(config.get(f"{PROJECT}:environment", stack))


def stack_urn(plan: Plan) -> str:
    return f"urn:pulumi:{plan.stack}::{PROJECT}::{STACK}::{PROJECT}-{plan.stack}"


def account(plan: Plan) -> str:
    """The account the mocks deploy the stack into."""
    return ACCOUNTS.get(plan.stack, DEFAULT_ACCOUNT)


# --- lookups ------------------------------------------------------------------------------


def resources_of(plan: Plan, type_: str) -> list[PlannedResource]:
    return plan.of_type(type_)


def parent_of(plan: Plan, resource: PlannedResource) -> PlannedResource | None:
    """The resource's parent, or None for a top-level resource.

    The plan keeps only the parent's name, and names alone are ambiguous (the shared stack has
    a component, a nested component and a bucket all named ``mlserve-artifacts``); the type
    before the resource's own in its URN is its parent's type, which settles it.
    """
    if resource.parent is None:
        return None
    types = resource.urn.split("::")[2].split("$")
    parent_type = types[-2] if len(types) > 1 else None
    found = [r for r in plan.resources if r.name == resource.parent and r.type == parent_type]
    assert len(found) <= 1, f"{resource.urn}: ambiguous parent {[r.urn for r in found]}"
    return found[0] if found else None


def ancestors(plan: Plan, resource: PlannedResource) -> Iterator[PlannedResource]:
    parent = parent_of(plan, resource)
    while parent is not None:
        yield parent
        parent = parent_of(plan, parent)


def ancestor(plan: Plan, resource: PlannedResource, type_: str) -> PlannedResource | None:
    """The nearest enclosing resource of ``type_``, if any."""
    return next((r for r in ancestors(plan, resource) if r.type == type_), None)


def component(plan: Plan, name: str, type_: str = MODEL_ENDPOINT) -> PlannedResource:
    found = [r for r in plan.resources if r.type == type_ and r.name == name]
    assert len(found) == 1, f"stack {plan.stack}: expected one {type_} named {name}, got {found}"
    return found[0]


def component_children(plan: Plan, name: str, type_: str = MODEL_ENDPOINT) -> list[PlannedResource]:
    """Every resource inside the component, at any depth."""
    root = component(plan, name, type_).urn
    return [r for r in plan.resources if any(a.urn == root for a in ancestors(plan, r))]


def children_of(
    plan: Plan, name: str, type_: str, component_type: str = MODEL_ENDPOINT
) -> list[PlannedResource]:
    return [r for r in component_children(plan, name, component_type) if r.type == type_]


def only(resources: list[PlannedResource], what: str) -> PlannedResource:
    assert len(resources) == 1, f"expected exactly one {what}, got {[r.urn for r in resources]}"
    return resources[0]


def endpoint_of(plan: Plan, model: str) -> PlannedResource:
    return only(children_of(plan, model, ENDPOINT), f"endpoint in component {model}")


def config_of(plan: Plan, model: str) -> PlannedResource:
    return only(children_of(plan, model, ENDPOINT_CONFIG), f"endpoint config in {model}")


def dependents(plan: Plan, resource: PlannedResource, type_: str) -> list[PlannedResource]:
    """Resources of ``type_`` that take an input from (or explicitly depend on) ``resource``."""
    return [r for r in plan.resources if r.type == type_ and resource.urn in r.dependencies]


def depends_on_type(plan: Plan, resource: PlannedResource, type_: str) -> bool:
    types = {r.urn: r.type for r in plan.resources}
    return any(types.get(urn) == type_ for urn in resource.dependencies)


def watched_metrics(alarm: PlannedResource) -> list[tuple[str, dict[str, str]]]:
    """(metric name, dimensions) of every metric an alarm reads, directly or in metric math."""
    if alarm.inputs.get("metricName"):
        return [(alarm.inputs["metricName"], alarm.inputs.get("dimensions") or {})]
    return [
        (query["metric"]["metricName"], query["metric"].get("dimensions") or {})
        for query in alarm.inputs.get("metricQueries") or []
        if query.get("metric")
    ]


def rollback_alarms(plan: Plan, model: str) -> dict[str, PlannedResource]:
    """Name -> alarm, for the model's alarms on a rollback metric over every production variant."""
    production = {v["variantName"] for v in config_of(plan, model).inputs["productionVariants"]}
    found = {}
    for alarm in children_of(plan, model, ALARM):
        watched = watched_metrics(alarm)
        if not watched or any(metric not in ROLLBACK_METRICS for metric, _ in watched):
            continue
        if {dims.get("VariantName") for _, dims in watched} == production:
            found[alarm.inputs["name"]] = alarm
    return found


def variants_of(config: PlannedResource) -> list[dict[str, Any]]:
    inputs = config.inputs
    return list(inputs.get("productionVariants") or []) + list(
        inputs.get("shadowProductionVariants") or []
    )


def pinned_version(resource: PlannedResource, model: ModelSettings) -> ModelVersion | None:
    """The version a SageMaker Model resource serves, matched by what its container pins."""
    container = resource.inputs.get("primaryContainer") or {}
    for version in naming.variant_versions(model).values():
        if version.package is not None and container.get("modelPackageName") == version.package:
            return version
        if version.artifact_uri is not None and container.get("modelDataUrl") == (
            version.artifact_uri
        ):
            return version
    return None


# --- policies -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyDoc:
    resource: PlannedResource
    # identity, trust, bucket, key, topic or model-package-group
    kind: str
    document: dict[str, Any]


# The resource policies, which name their principals, by kind and input (identity policies,
# IDENTITY_POLICY_TYPES, grant the principal they are attached to).
_RESOURCE_POLICY_INPUTS = {
    BUCKET_POLICY: ("bucket", "policy"),
    KMS_KEY: ("key", "policy"),
    TOPIC_POLICY: ("topic", "policy"),
    MODEL_PACKAGE_GROUP_POLICY: ("model-package-group", "resourcePolicy"),
}


def _policy_texts(resource: PlannedResource) -> Iterator[tuple[str, Any]]:
    inputs = resource.inputs
    if resource.type in IDENTITY_POLICY_TYPES and inputs.get("policy"):
        yield "identity", inputs["policy"]
    if resource.type == ROLE:
        if inputs.get("assumeRolePolicy"):
            yield "trust", inputs["assumeRolePolicy"]
        for inline in inputs.get("inlinePolicies") or []:
            if inline.get("policy"):
                yield "identity", inline["policy"]
    if resource.type in _RESOURCE_POLICY_INPUTS:
        kind, key = _RESOURCE_POLICY_INPUTS[resource.type]
        if inputs.get(key):
            yield kind, inputs[key]


def _as_document(value: Any) -> dict[str, Any]:
    document = json.loads(value) if isinstance(value, str) else value
    assert isinstance(document, dict), f"not a policy document: {value!r}"
    return document


def policy_docs(plan: Plan) -> list[PolicyDoc]:
    """Every IAM policy document in the plan, parsed, with the kind of policy it is."""
    return [
        PolicyDoc(r, kind, _as_document(text))
        for r in plan.resources
        for kind, text in _policy_texts(r)
    ]


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}.{i}")


def _looks_like_policy(value: Any) -> bool:
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            return False
    return isinstance(value, dict) and "Statement" in value


def unread_policies(plan: Plan) -> list[str]:
    """Policy documents in inputs that ``policy_docs`` does not know how to classify.

    Without this, a new resource type carrying a policy would escape every policy check.
    """
    known = {(d.resource.urn, json.dumps(d.document, sort_keys=True)) for d in policy_docs(plan)}
    problems = []
    for r in plan.resources:
        for path, value in _walk(r.inputs, "inputs"):
            if path != "inputs" and _looks_like_policy(value):
                text = json.dumps(_as_document(value), sort_keys=True)
                if (r.urn, text) not in known:
                    problems.append(f"{r.urn}: {path} holds a policy no check reads")
    return problems


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def principals(statement: dict[str, Any], kind: str = "AWS") -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, dict):
        return as_list(principal.get(kind))
    return []


def policy_problems(plan: Plan, settings: Settings) -> list[str]:
    """Least privilege: no wildcard actions, no unscoped resources, no public grants."""
    root = f"arn:{naming.partition(settings.region)}:iam::{account(plan)}:root"
    problems = []
    for doc in policy_docs(plan):
        for i, st in enumerate(statements(doc.document)):
            where = f"{doc.resource.urn}: {doc.kind} policy statement {st.get('Sid', i)!r}"
            problems += [f"{where}: {p}" for p in _statement_problems(doc.kind, st, root)]
    return problems


def _statement_problems(kind: str, st: dict[str, Any], root: str) -> list[str]:
    allow = st.get("Effect") == "Allow"
    actions = as_list(st.get("Action")) + as_list(st.get("NotAction"))
    problems = ["grants or denies action '*'"] if "*" in actions else []
    problems += _service_wide_problems(kind, st, actions, root)
    if allow and kind != "identity" and "*" in principals(st):
        problems.append("allows any principal")
    if allow and st.get("NotAction") is not None:
        problems.append("allows everything but a list (NotAction)")
    if kind != "key":
        # Exempt on purpose: a key policy is attached to one key, and there
        # "Resource": "*" means that key and no other.
        problems += _unscoped_resource_problems(kind, st, actions)
    return problems


def _service_wide_problems(
    kind: str, st: dict[str, Any], actions: list[Any], root: str
) -> list[str]:
    service_wide = [a for a in actions if a != "*" and a.endswith(":*")]
    if not service_wide:
        return []
    if kind == "identity":
        return [f"service-wide actions {service_wide}"]
    if kind == "key":
        if service_wide != ["kms:*"] or principals(st) != [root]:
            return [f"{service_wide} outside the account-root statement"]
        return []
    if st.get("Effect") == "Allow":
        # A resource policy may deny a whole service (the TLS-only statement
        # denies s3:*), which only ever narrows access; it may not grant one.
        return [f"grants service-wide actions {service_wide}"]
    return []


def _unscoped_resource_problems(kind: str, st: dict[str, Any], actions: list[Any]) -> list[str]:
    resources = as_list(st.get("Resource")) + as_list(st.get("NotResource"))
    if "*" not in resources:
        return []
    if kind != "identity":
        return ["a resource policy with 'Resource': '*'"]
    unscoped = [a for a in actions if a not in iam.GLOBAL_ACTIONS]
    if unscoped:
        return [f"'Resource': '*' for {unscoped}, which accept resource ARNs"]
    return []


# AWS managed policies that grant a whole service, or everything.
BROAD_MANAGED_POLICY = re.compile(
    r"arn:aws[a-z-]*:iam::aws:policy/(?:[\w+=,.@-]+/)*(?:[\w+=,.@-]*FullAccess|AdministratorAccess)"
)


def managed_policy_problems(plan: Plan) -> list[str]:
    problems = []
    for r in plan.resources:
        for path, value in _walk(r.inputs, "inputs"):
            if isinstance(value, str) and BROAD_MANAGED_POLICY.search(value):
                problems.append(f"{r.urn}: {path} uses the AWS managed policy {value}")
    return problems


def is_tls_only(statement: dict[str, Any], bucket_arn: str) -> bool:
    """A statement that denies every S3 action on the bucket and its objects without TLS."""
    secure = statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
    return (
        statement.get("Effect") == "Deny"
        and "*" in principals(statement)
        and "s3:*" in as_list(statement.get("Action"))
        and {bucket_arn, f"{bucket_arn}/*"} <= set(as_list(statement.get("Resource")))
        and str(secure).lower() == "false"
    )


# --- tags ---------------------------------------------------------------------------------


@cache
def accepts_tags(type_token: str) -> bool:
    """Whether the resource class of a type token takes tags; only pulumi_aws classes are
    read, ``aws:sagemaker/endpoint:Endpoint`` for one."""
    if type_token.split(":")[0] != "aws":
        return False
    return "tags" in input_names(sdk_class(type_token))


def taggable(plan: Plan) -> list[PlannedResource]:
    return [r for r in plan.resources if r.custom and accepts_tags(r.type)]


def expected_tags(plan: Plan, resource: PlannedResource, settings: Settings) -> dict[str, str]:
    tags = {
        "environment": settings.environment,
        "owner": settings.owner,
        "cost-center": settings.cost_center,
    }
    owner = ancestor(plan, resource, MODEL_ENDPOINT)
    if owner is None:
        return tags
    assert isinstance(settings, EnvironmentSettings)
    tags["model"] = owner.name
    if resource.type == MODEL:
        # Only a Model holds a version, each its own (a challenger's is not the champion's).
        version = pinned_version(resource, settings.models[owner.name])
        tags["model-version"] = naming.version_label(version) if version else "?"
    return tags


def version_tag_problems(plan: Plan) -> list[str]:
    """A version tag anywhere but on a Model makes a promotion touch that resource too."""
    return [
        f"{r.urn}: carries model-version"
        for r in plan.resources
        if r.type != MODEL and "model-version" in (r.inputs.get("tags") or {})
    ]


def tag_problems(plan: Plan, settings: Settings) -> list[str]:
    problems = []
    for r in taggable(plan):
        tags = r.inputs.get("tags") or {}
        for key, value in expected_tags(plan, r, settings).items():
            if tags.get(key) != value:
                problems.append(f"{r.urn}: tag {key} is {tags.get(key)!r}, expected {value!r}")
    return problems


# --- bad configs --------------------------------------------------------------------------

# What ``three_problems`` makes of a stack config, reported together.
THREE_PROBLEMS = [
    "models.churn.scalng: unknown key (did you mean scaling?)",
    "models.churn.instance_type: 'ml.m5.huge' is not a SageMaker hosting instance type",
    "models.churn.scaling.max_instances: must be >= min_instances (3)",
]


def three_problems(config: dict[str, Any]) -> None:
    """A typo'd key, an unknown instance type and min > max, all in prod's churn model."""
    churn = config["mlserve:models"]["churn"]
    churn["scalng"] = {"min_instances": 2}
    churn["instance_type"] = "ml.m5.huge"
    churn["scaling"]["min_instances"] = 3
    churn["scaling"]["max_instances"] = 2


# --- the shared stack's grants ----------------------------------------------------------


def reader_grants(settings: SharedSettings) -> tuple[set[str], set[str]]:
    """The principals and role ARN patterns a grant to the reader accounts must name."""
    partition = naming.partition(settings.region)
    readers = settings.artifact_store.reader_accounts
    return (
        {f"arn:{partition}:iam::{a}:root" for a in readers},
        {f"arn:{partition}:iam::{a}:role{iam.ROLE_PATH}*" for a in readers},
    )


def grants_to_readers(statement: dict[str, Any], settings: SharedSettings) -> bool:
    """An Allow to every reader account, limited to execution roles under the role path."""
    roots, roles = reader_grants(settings)
    limited = statement.get("Condition", {}).get("ArnLike", {}).get("aws:PrincipalArn")
    return (
        statement.get("Effect") == "Allow"
        and set(principals(statement)) == roots
        and set(as_list(limited)) == roles
    )


def artifact_bucket(plan: Plan) -> tuple[PlannedResource, PlannedResource]:
    """The shared stack's artifact bucket and its bucket policy."""
    name = plan.outputs["artifact_bucket_name"]
    policies = [p for p in resources_of(plan, BUCKET_POLICY) if p.inputs.get("bucket") == name]
    policy = only(policies, f"policy of the artifact bucket {name}")
    bucket = only(
        [r for r in resources_of(plan, BUCKET) if r.urn in policy.dependencies],
        "artifact bucket",
    )
    return bucket, policy
