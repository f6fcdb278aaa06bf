"""The strict YAML loader both stack files and model.yaml are read with."""

from __future__ import annotations

import pytest

from infra.settings.yaml_loader import YamlError, load_yaml, snippet


def test_a_document_reads_as_pyyaml_reads_it() -> None:
    text = "a: 1\nb: [x, 'y']\nc: {d: true}\n"
    assert load_yaml(text) == {"a": 1, "b": ["x", "y"], "c": {"d": True}}


def test_an_empty_document_is_none() -> None:
    assert load_yaml("# nothing here\n") is None


@pytest.mark.parametrize(
    ("text", "path", "lines"),
    [
        ("models:\n  churn: 1\n  fraud: 2\n  churn: 3\n", ("models", "churn"), (2, 4)),
        ("name: a\nname: b\n", ("name",), (1, 2)),
        ("subs:\n  - to: a\n    to: b\n", ("subs", 0, "to"), (2, 3)),
        # Keys are compared as written: a person reading the file sees one key twice.
        ("m:\n  1: a\n  '1': b\n", ("m", "1"), (2, 3)),
    ],
)
def test_a_key_written_twice_is_refused_with_both_lines(text, path, lines) -> None:
    with pytest.raises(YamlError) as raised:
        load_yaml(text)
    assert raised.value.path == path
    assert raised.value.lines == lines
    assert raised.value.message == f"duplicate key {path[-1]!r} at lines {lines[0]} and {lines[1]}"


def test_the_same_key_in_different_mappings_is_fine() -> None:
    text = "a:\n  name: x\nb:\n  name: y\nl:\n  - name: 1\n  - name: 2\n"
    assert load_yaml(text)["l"] == [{"name": 1}, {"name": 2}]


def test_a_merged_key_may_be_overridden() -> None:
    """``<<`` brings keys in on purpose; writing one of them again is how YAML overrides it."""
    text = "base: &base {size: 1, kind: a}\nmodel:\n  <<: *base\n  size: 2\n"
    assert load_yaml(text)["model"] == {"size": 2, "kind": "a"}


def test_a_syntax_error_shows_the_line_with_a_caret() -> None:
    with pytest.raises(YamlError) as raised:
        load_yaml("config:\n  owner: ml: platform\n")
    assert raised.value.path is None
    assert str(raised.value).splitlines() == [
        "line 2, column 12: mapping values are not allowed here",
        "    2 |   owner: ml: platform",
        "      |            ^",
    ]


def test_the_caret_keeps_the_lines_tabs() -> None:
    """The caret's padding copies the line's tabs, so it lines up however tabs are shown."""
    assert snippet("a:\n\tb: c: d\n", 1, 5).splitlines() == [
        "    2 | \tb: c: d",
        "      | \t    ^",
    ]


def test_an_unclosed_structure_names_where_it_started() -> None:
    with pytest.raises(YamlError) as raised:
        load_yaml("owner: [ml-platform\ncost: 1\n")
    assert raised.value.message == (
        "line 2, column 5: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence at line 1, column 8)"
    )


def test_python_tags_are_not_constructed() -> None:
    with pytest.raises(YamlError) as raised:
        load_yaml("a: !!python/object/apply:os.system [echo]\n")
    assert raised.value.message.startswith("line 1, column 4: could not determine a constructor")
