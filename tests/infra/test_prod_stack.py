"""Prod's exact resource set, its A/B test and its shadow variant.

Logical names are part of the contract: renaming one replaces the live resource, so the
expected set below is spelled out by name rather than counted.
"""

from __future__ import annotations

import json

from infra import naming
from infra.resource_types import (
    ALARM,
    ALERTING,
    DASHBOARD,
    ENDPOINT,
    ENDPOINT_CONFIG,
    ENVIRONMENT_DASHBOARD,
    LOG_GROUP,
    MODEL,
    MODEL_ENDPOINT,
    RANDOM_ID,
    ROLE,
    ROLE_POLICY,
    SCALABLE_TARGET,
    SCALING_POLICY,
    SCHEDULED_ACTION,
    TOPIC,
)
from tests.infra.plan_checks import (
    ancestor,
    as_list,
    children_of,
    component_children,
    config_of,
    only,
    pinned_version,
    resources_of,
    stack_urn,
    statements,
)

ROLLBACK_KINDS = ("5xx", "latency")
INSTANCE_KINDS = ("cpu", "memory")
NETWORK_INTERFACE_ACTIONS = {
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DescribeNetworkInterfaces",
}


def expected_children(name: str, model) -> set[tuple[str, str]]:
    """(type, logical name) of everything a prod ModelEndpoint must register."""
    variants = list(naming.variant_versions(model))
    production = naming.production_variants(model)
    instance_kinds = INSTANCE_KINDS if model.serverless is None else ()
    expected = {
        (RANDOM_ID, f"{name}-endpoint-id"),
        (ENDPOINT, f"{name}-endpoint"),
        (ENDPOINT_CONFIG, f"{name}-config"),
        (ROLE, f"{name}-role"),
        (ROLE_POLICY, f"{name}-role-policy"),
        (LOG_GROUP, f"{name}-logs"),
    }
    expected |= {(MODEL, f"{name}-{v}") for v in variants}
    # Rollback metrics: one alarm over the production variants, one per shadow variant.
    expected |= {(ALARM, f"{name}-{kind}") for kind in ROLLBACK_KINDS}
    expected |= {
        (ALARM, f"{name}-{v}-{kind}")
        for v in variants
        if v not in production
        for kind in ROLLBACK_KINDS
    }
    expected |= {(ALARM, f"{name}-{v}-{kind}") for v in variants for kind in instance_kinds}
    if model.autoscaled:
        expected |= {(SCALABLE_TARGET, f"{name}-{v}-scaling") for v in production}
        expected |= {(SCALING_POLICY, f"{name}-{v}-invocations") for v in production}
        expected |= {
            (SCHEDULED_ACTION, f"{name}-{v}-{s.name}")
            for v in production
            for s in model.scaling.schedules
        }
    return expected


def test_prod_registers_exactly_the_expected_resources(plans, stack_settings, prod_stack):
    plan, settings = plans[prod_stack], stack_settings[prod_stack]
    components = {r.name for r in resources_of(plan, MODEL_ENDPOINT)}
    assert components == set(settings.models), f"{stack_urn(plan)}: components {components}"
    for name, model in settings.models.items():
        assert model.autoscaled or model.serverless, f"prod model {name} is not autoscaled"
        found = {(r.type, r.name) for r in component_children(plan, name)}
        expected = expected_children(name, model)
        owner = resources_of(plan, MODEL_ENDPOINT)
        urn = next(r.urn for r in owner if r.name == name)
        assert found == expected, (
            f"{urn}: missing {sorted(expected - found)}, unexpected {sorted(found - expected)}"
        )
    topic = only(resources_of(plan, TOPIC), "alert topic")
    assert ancestor(plan, topic, ALERTING) is not None, topic.urn
    dashboard = only(resources_of(plan, DASHBOARD), "environment dashboard")
    assert ancestor(plan, dashboard, ENVIRONMENT_DASHBOARD) is not None, dashboard.urn


def test_prod_churn_splits_traffic_between_champion_and_challenger(
    plans, stack_settings, prod_stack
):
    plan, model = plans[prod_stack], stack_settings[prod_stack].models["churn"]
    assert model.challenger is not None, "prod churn has no challenger"
    config = config_of(plan, "churn")
    weights = {
        v["variantName"]: v["initialVariantWeight"] for v in config.inputs["productionVariants"]
    }
    share = model.challenger.traffic_percent
    assert weights == {naming.CHAMPION: 100 - share, naming.CHALLENGER: share}, config.urn
    assert (weights[naming.CHAMPION], weights[naming.CHALLENGER]) == (90, 10), config.urn
    assert_variants_serve_their_versions(plan, "churn", model, config)


def test_prod_fraud_mirrors_traffic_to_a_shadow(plans, stack_settings, prod_stack):
    plan, model = plans[prod_stack], stack_settings[prod_stack].models["fraud"]
    assert model.shadow is not None, "prod fraud has no shadow"
    config = config_of(plan, "fraud")
    shadows = config.inputs.get("shadowProductionVariants") or []
    assert [v["variantName"] for v in shadows] == [naming.SHADOW], config.urn
    assert [v["variantName"] for v in config.inputs["productionVariants"]] == [naming.CHAMPION]
    assert_variants_serve_their_versions(plan, "fraud", model, config)


def assert_variants_serve_their_versions(plan, name: str, model, config) -> None:
    """Each variant runs the Model named for it, and that Model pins the variant's version."""
    versions = naming.variant_versions(model)
    models = {m.name: m for m in children_of(plan, name, MODEL)}
    variants = config.inputs["productionVariants"] + (
        config.inputs.get("shadowProductionVariants") or []
    )
    assert sorted(v["variantName"] for v in variants) == sorted(versions), config.urn
    for variant in variants:
        logical = f"{name}-{variant['variantName']}"
        sm_model = models[logical]
        assert variant["modelName"].startswith(f"{logical}-"), (config.urn, variant)
        assert sm_model.urn in config.dependencies, (config.urn, sm_model.urn)
        assert pinned_version(sm_model, model) == versions[variant["variantName"]], sm_model.urn


def test_prod_fraud_runs_isolated_in_the_vpc(plans, stack_settings, prod_stack):
    plan, model = plans[prod_stack], stack_settings[prod_stack].models["fraud"]
    network = model.network
    assert network.subnet_ids and network.isolation, "prod fraud has no VPC settings"
    fraud_models = children_of(plan, "fraud", MODEL)
    assert len(fraud_models) == 2, [m.urn for m in fraud_models]
    for sm_model in fraud_models:
        vpc = sm_model.inputs.get("vpcConfig") or {}
        assert vpc.get("subnets") == network.subnet_ids, sm_model.urn
        assert vpc.get("securityGroupIds") == network.security_group_ids, sm_model.urn
        assert sm_model.inputs.get("enableNetworkIsolation") is True, sm_model.urn
    for sm_model in children_of(plan, "churn", MODEL):
        assert not sm_model.inputs.get("vpcConfig"), sm_model.urn


def role_actions(plan, name: str) -> set[str]:
    policy = only(children_of(plan, name, ROLE_POLICY), f"role policy of {name}")
    return {
        action
        for st in statements(json.loads(policy.inputs["policy"]))
        for action in as_list(st.get("Action"))
    }


def test_only_the_vpc_model_may_manage_network_interfaces(plans, prod_stack):
    plan = plans[prod_stack]
    fraud = only(children_of(plan, "fraud", ROLE_POLICY), "fraud role policy")
    churn = only(children_of(plan, "churn", ROLE_POLICY), "churn role policy")
    missing = NETWORK_INTERFACE_ACTIONS - role_actions(plan, "fraud")
    assert not missing, f"{fraud.urn}: missing {sorted(missing)}"
    ec2 = sorted(a for a in role_actions(plan, "churn") if a.startswith("ec2:"))
    assert not ec2, f"{churn.urn}: {ec2}"
