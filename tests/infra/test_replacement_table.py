"""The table of replace-forcing inputs: complete for the program, named as the SDK names them,
and read the way the provider reads a change."""

from __future__ import annotations

import copy
import importlib
import re
from typing import Any

import pytest

from infra.resource_types import BUCKET, ENDPOINT, ENDPOINT_CONFIG, LOG_GROUP, ROLE
from infra.review import replacement
from infra.review.replacement import (
    FIXED_NAMES,
    REPLACE_FORCING,
    UnknownResourceType,
    collision,
    replaced_properties,
)
from tests.sdk_classes import input_names, sdk_class

ALARMS = {"alarms": [{"alarmName": "churn-prod-5xx"}, {"alarmName": "churn-prod-latency"}]}
BLUE_GREEN = {
    "terminationWaitInSeconds": 600,
    "trafficRoutingConfiguration": {"type": "CANARY", "waitIntervalInSeconds": 600},
}


def endpoint(**changes: Any) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "name": "churn-prod-62ff5aeb",
        "endpointConfigName": "churn-config-444f49a",
        "deploymentConfig": {
            "blueGreenUpdatePolicy": copy.deepcopy(BLUE_GREEN),
            "autoRollbackConfiguration": copy.deepcopy(ALARMS),
        },
    }
    inputs.update(changes)
    return inputs


def fewer_alarms() -> dict[str, Any]:
    inputs = endpoint()
    inputs["deploymentConfig"]["autoRollbackConfiguration"]["alarms"].pop()
    return inputs


# --- the table covers the program, in the SDK's names --------------------------------------


def test_every_type_the_program_registers_is_in_the_table(plans, stack):
    registered = {
        r.type for r in plans[stack].resources if r.custom and not r.type.startswith("pulumi:")
    }
    missing = sorted(registered - set(REPLACE_FORCING))
    assert not missing, f"stack {stack}: not in infra/review/replacement.py: {missing}"


def test_every_type_has_its_fixed_names():
    assert set(FIXED_NAMES) == set(REPLACE_FORCING)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _pascal(name: str) -> str:
    return name[0].upper() + name[1:]


def _nested_problem(cls: type, parts: list[str]) -> str | None:
    """Pulumi names a nested input type after the resource and the path to it, e.g.
    ``EndpointDeploymentConfigArgs`` for ``Endpoint.deploymentConfig``."""
    package = importlib.import_module(cls.__module__.rsplit(".", 1)[0])
    owner = cls.__name__ + _pascal(parts[0])
    for part in parts[1:]:
        args = getattr(package, f"{owner}Args", None)
        if args is None or not isinstance(getattr(args, _snake(part), None), property):
            return f"{owner}Args has no input {part!r}"
        owner += _pascal(part)
    return None


@pytest.mark.parametrize("type_token", sorted(REPLACE_FORCING))
def test_paths_and_names_are_inputs_of_the_sdk_resource(type_token):
    cls = sdk_class(type_token)
    arguments = input_names(cls)
    problems = []
    for path in sorted(REPLACE_FORCING[type_token] | set(FIXED_NAMES[type_token])):
        parts = path.split(".")
        if not all(re.fullmatch(r"[a-z][A-Za-z0-9]*", part) for part in parts):
            problems.append(f"{path}: not written in Pulumi's camelCase input names")
        elif _snake(parts[0]) not in arguments:
            problems.append(f"{path}: {cls.__name__} has no input {parts[0]!r}")
        elif problem := _nested_problem(cls, parts):
            problems.append(f"{path}: {problem}")
    assert not problems, "\n".join(problems)


# --- replaced_properties -------------------------------------------------------------------


def test_a_nested_replace_forcing_input_is_reported_by_its_path():
    assert replaced_properties(ENDPOINT, endpoint(), fewer_alarms()) == [
        "deploymentConfig.autoRollbackConfiguration"
    ]


def test_updatable_inputs_beside_a_nested_path_replace_nothing():
    changed = endpoint(endpointConfigName="churn-config-5d1e2a0")
    changed["deploymentConfig"]["blueGreenUpdatePolicy"]["terminationWaitInSeconds"] = 0
    assert replaced_properties(ENDPOINT, endpoint(), changed) == []


def test_several_changes_are_sorted():
    changed = fewer_alarms()
    changed["name"] = "churn-prod-0a1b2c3d"
    changed["region"] = "eu-west-1"
    assert replaced_properties(ENDPOINT, endpoint(), changed) == [
        "deploymentConfig.autoRollbackConfiguration",
        "name",
        "region",
    ]


def test_missing_none_and_empty_inputs_are_equal():
    old = endpoint()
    new = endpoint(region=None, tags=None)
    new["deploymentConfig"]["rollingUpdatePolicy"] = None
    assert replaced_properties(ENDPOINT, old, new) == []
    unset = {"name": "x", "deploymentConfig": {"autoRollbackConfiguration": None}}
    assert replaced_properties(ENDPOINT, {"name": "x"}, unset) == []
    assert replaced_properties(ENDPOINT, {"name": "x", "deploymentConfig": {}}, {"name": "x"}) == []


def test_setting_or_removing_a_nested_input_is_a_change():
    without = endpoint()
    del without["deploymentConfig"]["autoRollbackConfiguration"]
    path = "deploymentConfig.autoRollbackConfiguration"
    assert replaced_properties(ENDPOINT, endpoint(), without) == [path]
    assert replaced_properties(ENDPOINT, without, endpoint()) == [path]


def test_a_list_input_changes_when_any_element_does():
    variants = [
        {"variantName": "champion", "modelName": "m-1", "initialInstanceCount": 2},
        {"variantName": "challenger", "modelName": "m-2", "initialInstanceCount": 2},
    ]
    old = {"productionVariants": variants}
    second = copy.deepcopy(variants)
    second[1]["initialInstanceCount"] = 3
    assert replaced_properties(ENDPOINT_CONFIG, old, {"productionVariants": second}) == [
        "productionVariants"
    ]
    assert replaced_properties(ENDPOINT_CONFIG, old, {"productionVariants": variants[:1]}) == [
        "productionVariants"
    ]
    same = copy.deepcopy(variants)
    same[0]["initialInstanceCount"] = 2.0  # as the engine returns numbers
    assert replaced_properties(ENDPOINT_CONFIG, old, {"productionVariants": same}) == []


@pytest.fixture
def listed_type(monkeypatch):
    """A type whose replace-forcing input lies inside a list of blocks."""
    token = "test:index/listed:Listed"
    monkeypatch.setitem(replacement._TABLE, token, frozenset({"rules.id", "rules.filter.prefix"}))
    return token


def test_a_path_through_a_list_reads_every_element(listed_type):
    old: dict[str, Any] = {
        "rules": [{"id": "a", "filter": {"prefix": "x/"}}, {"id": "b", "days": 1}]
    }
    new = copy.deepcopy(old)
    new["rules"][1]["days"] = 30
    assert replaced_properties(listed_type, old, new) == []
    new["rules"][1]["filter"] = {"prefix": "y/"}
    assert replaced_properties(listed_type, old, new) == ["rules.filter.prefix"]
    new["rules"].reverse()
    assert replaced_properties(listed_type, old, new) == ["rules.filter.prefix", "rules.id"]


def test_a_path_through_a_list_sees_added_elements_that_set_it(listed_type):
    old = {"rules": [{"id": "a"}]}
    assert replaced_properties(listed_type, old, {"rules": [{"id": "a"}, {"days": 1}]}) == []
    assert replaced_properties(listed_type, old, {"rules": [{"id": "a"}, {"id": "b"}]}) == [
        "rules.id"
    ]


def test_an_opaque_value_where_an_object_was_compares_as_it_is():
    secret = {"name": "x", "deploymentConfig": "[secret]"}
    path = "deploymentConfig.autoRollbackConfiguration"
    assert replaced_properties(ENDPOINT, secret, dict(secret)) == []
    assert replaced_properties(ENDPOINT, endpoint(name="x"), secret) == [path]


# --- collision -----------------------------------------------------------------------------


def test_a_replacement_under_the_same_fixed_name_collides():
    reason = collision(ENDPOINT, endpoint(), fewer_alarms())
    assert reason is not None
    assert "\n" not in reason
    assert ENDPOINT in reason
    assert "name='churn-prod-62ff5aeb'" in reason
    assert "deploymentConfig.autoRollbackConfiguration" in reason


def test_a_replacement_of_a_log_group_under_its_name_collides():
    old = {"name": "/aws/sagemaker/Endpoints/churn-prod-62ff5aeb", "retentionInDays": 30}
    new = dict(old, logGroupClass="INFREQUENT_ACCESS")
    reason = collision(LOG_GROUP, old, new)
    assert reason is not None and "logGroupClass" in reason


def test_an_update_does_not_collide():
    assert collision(ENDPOINT, endpoint(), endpoint(endpointConfigName="churn-config-0")) is None


def test_a_replacement_under_a_new_name_does_not_collide():
    renamed = fewer_alarms()
    renamed["name"] = "churn-prod-0a1b2c3d"
    assert collision(ENDPOINT, endpoint(), renamed) is None


def test_auto_named_resources_are_free_to_be_replaced():
    old, new = endpoint(), fewer_alarms()
    del old["name"], new["name"]
    assert replaced_properties(ENDPOINT, old, new) != []
    assert collision(ENDPOINT, old, new) is None
    role = {"path": "/mlserve/", "assumeRolePolicy": "{}"}
    assert collision(ROLE, role, dict(role, path="/other/")) is None


def test_a_name_set_only_when_given_fixes_the_resource():
    role = {"name": "churn-endpoint", "path": "/mlserve/"}
    reason = collision(ROLE, role, dict(role, path="/other/"))
    assert reason is not None and "name='churn-endpoint'" in reason and "path" in reason


def test_a_regional_name_moved_to_another_region_does_not_collide():
    old = endpoint(region="us-east-1")
    assert collision(ENDPOINT, old, dict(old, region="eu-west-1")) is None


def test_a_bucket_name_is_taken_in_every_region():
    old = {"bucket": "mlserve-artifacts", "region": "us-east-1"}
    reason = collision(BUCKET, old, dict(old, region="eu-west-1"))
    assert reason is not None and "region" in reason


def test_a_replacement_of_the_real_prod_endpoint_under_its_name_collides(plans, prod_stack):
    endpoints = plans[prod_stack].of_type(ENDPOINT)
    assert endpoints, f"stack {prod_stack}: no endpoints"
    problems = []
    for resource in endpoints:
        old = resource.inputs
        new = copy.deepcopy(old)
        new.setdefault("deploymentConfig", {})["autoRollbackConfiguration"] = {
            "alarms": [{"alarmName": "another-alarm"}]
        }
        if old.get("name") and collision(ENDPOINT, old, new) is None:
            problems.append(f"{resource.urn}: a rollback alarm change under its name passes")
        moved = dict(old, endpointConfigName="another-config")
        if replaced_properties(ENDPOINT, old, moved):
            problems.append(f"{resource.urn}: a new endpoint configuration replaces it")
    assert not problems, "\n".join(problems)


# --- unknown types -------------------------------------------------------------------------


@pytest.mark.parametrize("check", [replaced_properties, collision])
def test_an_unknown_type_is_an_error_naming_it(check):
    token = "aws:ec2/instance:Instance"
    with pytest.raises(UnknownResourceType) as raised:
        check(token, {}, {})
    message = str(raised.value)
    assert message.startswith(f"{token}: ")
    assert "infra/review/replacement.py" in message
    assert "\n" not in message
