"""model.yaml validation: every problem at once, each with its key path, in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from model_packaging.artifact.descriptor import DEFAULT_REGIONS, load_descriptor
from model_packaging.errors import PackagingError
from tests.helpers import EXAMPLE


def valid() -> dict[str, Any]:
    return {
        "name": "churn",
        "framework": {"name": "sklearn", "version": "1.9-0"},
        "content_types": {"request": ["text/csv"], "response": ["application/json"]},
        "samples": [
            {
                "name": "one",
                "content_type": "text/csv",
                "accept": "application/json",
                "body": "1,2",
                "expected": {"json": [0.5]},
            }
        ],
    }


def load(tmp_path: Path, data: Any) -> Any:
    (tmp_path / "model.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return load_descriptor(tmp_path)


def error_of(tmp_path: Path, data: Any) -> str:
    with pytest.raises(PackagingError) as caught:
        load(tmp_path, data)
    message = str(caught.value)
    assert "\n" not in message
    return message.removeprefix(f"{tmp_path / 'model.yaml'}: ")


def test_the_example_loads_with_its_samples() -> None:
    descriptor = load_descriptor(EXAMPLE)

    assert descriptor.name == "churn"
    assert descriptor.framework.name == "sklearn"
    assert [s.name for s in descriptor.samples] == [
        "new-customer-many-calls",
        "two-loyal-customers",
        "batch-csv",
    ]
    assert (
        descriptor.samples[2].request_bytes(EXAMPLE) == (EXAMPLE / "samples/batch.csv").read_bytes()
    )


def test_defaults_fill_entry_point_python_version_and_regions(tmp_path: Path) -> None:
    descriptor = load(tmp_path, valid())

    assert descriptor.entry_point == "inference.py"
    assert descriptor.framework.python_version == "py3"
    assert descriptor.image_regions == DEFAULT_REGIONS


def test_every_schema_problem_is_reported_with_its_key_path(tmp_path: Path) -> None:
    data = valid()
    data["name"] = "Churn_Model"
    data["framework"] = {"name": "tensorflow", "version": 2.1}
    data["entry_point"] = "../inference.py"
    data["content_types"]["response"] = []
    data["regions"] = ["eu-west-1", "eu-west-1"]
    data["colour"] = "blue"
    data["samples"][0]["expected"] = {"json": 1, "text": "1"}
    del data["samples"][0]["accept"]

    assert error_of(tmp_path, data) == (
        "9 problems: "
        "name: must be lowercase letters, digits and inner hyphens (got 'Churn_Model'); "
        "framework.name: must be one of 'sklearn', 'xgboost', 'pytorch' or 'custom', "
        "got 'tensorflow'; "
        "framework.version: must be a string, not a number (quote it in YAML: '2.1'); "
        "entry_point: must be a .py file name in code/ (got '../inference.py'); "
        "content_types.response: must have at least 1 item(s); "
        "regions: lists a region twice; "
        "samples[0].accept: is required; "
        "samples[0].expected: needs exactly one of json, text; "
        "colour: unknown key"
    )


def test_problems_relating_keys_are_reported_together(tmp_path: Path) -> None:
    data = valid()
    data["samples"] += [
        {
            "name": "one",
            "content_type": "application/json",
            "accept": "text/csv",
            "body": {"instances": [[1, 2]]},
            "expected": {"text": "0.5\n"},
        },
        {
            "name": "from-file",
            "content_type": "text/csv",
            "accept": "application/json",
            "body_file": "samples/missing.csv",
            "expected": {"json": None},
        },
    ]

    assert error_of(tmp_path, data) == (
        "4 problems: "
        "samples[1].name: duplicate sample name 'one'; "
        "samples[1].content_type: 'application/json' is not in content_types.request "
        "['text/csv']; "
        "samples[1].accept: 'text/csv' is not in content_types.response ['application/json']; "
        "samples[2].body_file: no such file 'samples/missing.csv'"
    )


def test_a_structured_body_needs_a_json_content_type(tmp_path: Path) -> None:
    data = valid()
    data["samples"][0]["body"] = [[1, 2]]

    assert error_of(tmp_path, data) == (
        "1 problem: samples[0].body: a structured body is sent as JSON, so content_type must "
        "be JSON, not 'text/csv' (or write the body as a string)"
    )


@pytest.mark.parametrize(
    ("body_file", "problem"),
    [
        ("../outside.csv", "must not contain '..' (got '../outside.csv')"),
        ("/etc/passwd", "must be a relative path, not an absolute one (got '/etc/passwd')"),
    ],
)
def test_body_files_must_stay_inside_the_folder(
    tmp_path: Path, body_file: str, problem: str
) -> None:
    data = valid()
    del data["samples"][0]["body"]
    data["samples"][0]["body_file"] = body_file

    assert error_of(tmp_path, data) == f"1 problem: samples[0].body_file: {problem}"


def test_a_sample_needs_exactly_one_body(tmp_path: Path) -> None:
    data = valid()
    data["samples"][0]["body_file"] = "request.csv"

    assert error_of(tmp_path, data) == "1 problem: samples[0]: needs exactly one of body, body_file"


@pytest.mark.parametrize(
    ("framework", "problem"),
    [
        ({"name": "custom", "version": "1"}, "framework: image is required when name is custom"),
        (
            {"name": "sklearn", "version": "1.9-0", "image": "x"},
            "framework: image is only allowed when name is custom; the sklearn image is resolved "
            "per region at build",
        ),
    ],
)
def test_the_image_goes_with_custom_frameworks_only(
    tmp_path: Path, framework: dict[str, str], problem: str
) -> None:
    data = valid()
    data["framework"] = framework

    assert error_of(tmp_path, data) == f"1 problem: {problem}"


def test_a_null_expected_json_value_is_a_value(tmp_path: Path) -> None:
    data = valid()
    data["samples"][0]["expected"] = {"json": None}

    expected = load(tmp_path, data).samples[0].expected

    assert expected.is_json
    assert expected.model_dump() == {"json": None}


def test_names_are_limited_to_forty_characters(tmp_path: Path) -> None:
    data = valid()
    data["name"] = "a" * 41

    assert error_of(tmp_path, data) == "1 problem: name: must be at most 40 characters"


def test_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    (tmp_path / "model.yaml").write_text("name: churn\nframework: [sklearn\n")

    with pytest.raises(PackagingError) as caught:
        load_descriptor(tmp_path)

    assert str(caught.value) == (
        f"{tmp_path / 'model.yaml'}: not valid YAML: line 3, column 1: expected ',' or ']', but "
        "got '<stream end>' (while parsing a flow sequence at line 2, column 12)"
    )


def test_yaml_syntax_errors_show_the_line_with_a_caret(tmp_path: Path) -> None:
    (tmp_path / "model.yaml").write_text("name: churn\nframework:\n  name: sklearn: 1\n")

    with pytest.raises(PackagingError) as caught:
        load_descriptor(tmp_path)

    assert str(caught.value).splitlines() == [
        f"{tmp_path / 'model.yaml'}: not valid YAML: line 3, column 16: "
        "mapping values are not allowed here",
        "    3 |   name: sklearn: 1",
        "      |                ^",
    ]


def test_a_key_written_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    text = yaml.safe_dump(valid(), sort_keys=False) + "name: fraud\n"
    (tmp_path / "model.yaml").write_text(text)
    last = len(text.splitlines())

    with pytest.raises(PackagingError) as caught:
        load_descriptor(tmp_path)

    assert str(caught.value).splitlines()[0] == (
        f"{tmp_path / 'model.yaml'}: name: duplicate key 'name' at lines 1 and {last}"
    )


def test_an_unknown_key_gets_the_closest_allowed_one(tmp_path: Path) -> None:
    data = valid()
    data["samples"][0]["content-type"] = data["samples"][0].pop("content_type")

    assert error_of(tmp_path, data) == (
        "2 problems: samples[0].content_type: is required; "
        "samples[0].content-type: unknown key (did you mean content_type?)"
    )


def test_the_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    assert error_of(tmp_path, ["name", "churn"]) == "must be a mapping of keys to values"


def test_a_folder_without_model_yaml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PackagingError) as caught:
        load_descriptor(tmp_path)

    assert str(caught.value) == (
        f"{tmp_path / 'model.yaml'}: not found; every model folder needs a model.yaml "
        "(see docs/model-packaging.md)"
    )
