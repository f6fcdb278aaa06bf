"""Key paths and the wording of problems, shared by the stack settings and model.yaml."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infra.settings.problems import Problems, allowed_keys, describe, error_path, key_path


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("alerts", "subscriptions", 0, "endpoint"), "alerts.subscriptions[0].endpoint"),
        (("samples", 1), "samples[1]"),
        (("aws:region",), "aws:region"),
        # Keys that would read as more than one key are quoted, as pulumi config --path takes them.
        (("alarms", "a.b"), 'alarms["a.b"]'),
        (("alarms", "two words"), 'alarms["two words"]'),
        ((), ""),
    ],
)
def test_key_paths_are_written_as_pulumis_path(parts, expected) -> None:
    assert key_path(parts) == expected


def test_a_dotted_path_names_list_items_by_index_and_models_by_name() -> None:
    problems = Problems()
    problems.add("alerts.subscriptions.2.endpoint", "x")
    problems.add("models.churn.scaling.schedules.0.timezone", "x")
    problems.add("models.7.instance_type", "x")  # a model named 7 is a key, not an index
    problems.add(("artifact_store", "reader_accounts", 1), "x")
    assert problems.lines == [
        "alerts.subscriptions[2].endpoint: x",
        "models.churn.scaling.schedules[0].timezone: x",
        "models.7.instance_type: x",
        "artifact_store.reader_accounts[1]: x",
    ]


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    wait_seconds: int = 0
    json_: int | None = Field(default=None, alias="json")


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inner: Inner | None = None
    items: list[Inner] = []
    named: dict[Annotated[str, Field(pattern=r"^[a-z]+$")], Inner] = {}
    period: Literal[60, 300] = 60


def problems_of(data: object) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        Outer.model_validate_json(json.dumps(data), strict=True)
    return [f"{key_path(error_path(e))}: {describe(e, Outer)}" for e in raised.value.errors()]


def test_allowed_keys_follow_optionals_lists_mappings_and_aliases() -> None:
    assert allowed_keys(Outer, ()) == ["inner", "items", "named", "period"]
    assert allowed_keys(Outer, ("inner",)) == ["wait_seconds", "json"]
    assert allowed_keys(Outer, ("items", 3)) == ["wait_seconds", "json"]
    assert allowed_keys(Outer, ("named", "a")) == ["wait_seconds", "json"]
    assert allowed_keys(Outer, ("period",)) == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"inner": {"wait_second": 1}},
            "inner.wait_second: unknown key (did you mean wait_seconds?)",
        ),
        ({"items": [{}, {"jsno": 1}]}, "items[1].jsno: unknown key (did you mean json?)"),
        ({"inenr": {}}, "inenr: unknown key (did you mean inner?)"),
        ({"colour": 1}, "colour: unknown key"),
        ({"inner": 3}, "inner: must be a mapping of keys to values, not a number (3)"),
        ({"items": "x"}, "items: must be a list, not a string ('x')"),
        (
            {"inner": {"wait_seconds": "5"}},
            "inner.wait_seconds: must be a whole number, not a string ('5'); write it without "
            "quotes",
        ),
        (
            {"inner": {"wait_seconds": True}},
            "inner.wait_seconds: must be a whole number, not a boolean (true)",
        ),
        (
            {"period": "60"},
            "period: must be one of 60 or 300, got '60', a string; write it without quotes",
        ),
        (
            {"named": {"Bad": {}}},
            "named.Bad: is not a valid key: must match pattern '^[a-z]+$'",
        ),
    ],
)
def test_pydantic_errors_read_as_the_project_words_them(data, expected) -> None:
    assert problems_of(data) == [expected]


def test_no_problem_names_a_class_of_the_schema() -> None:
    wrong: list[dict[str, object]] = [{"inner": []}, {"items": [3]}, {"named": {"a": "x"}}]
    for data in wrong:
        for problem in problems_of(data):
            assert "Inner" not in problem and "Outer" not in problem, problem
