"""YAML as people write it by hand, read strictly: a key written twice is an error.

PyYAML keeps the last of two equal keys without a word, so a second ``churn:`` model replaces
the first and a second ``name:`` sends a model to another group. Both stack files and
``model.yaml`` are read here, so both refuse that alike. Syntax errors keep the line, the column
and the offending line with a caret under the place, which PyYAML's one-line message loses.

This module belongs to the settings package so that the release tool may import it too; it
depends on nothing but PyYAML.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

KeyPath = tuple[str | int, ...]

MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlError(Exception):
    """A document that cannot be read.

    ``message`` is one line. ``snippet`` shows the line in question with a caret under the
    column (empty when there is no position). For a duplicate key, ``path`` is where the key
    is, from the document's root, so that each reader can name it in its own terms.
    """

    def __init__(
        self,
        message: str,
        snippet: str = "",
        path: KeyPath | None = None,
        lines: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.snippet = snippet
        self.path = path
        self.lines = lines

    def __str__(self) -> str:
        return self.message if not self.snippet else f"{self.message}\n{self.snippet}"


def load_yaml(text: str) -> Any:
    """The document in ``text``; raises ``YamlError`` for a syntax error or a repeated key."""
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            raise _syntax_error(text, exc) from None
        except yaml.YAMLError as exc:
            raise YamlError(" ".join(str(exc).split())) from None
        if node is None:
            return None
        _refuse_duplicates(text, node, ())
        try:
            return loader.construct_document(node)
        except yaml.MarkedYAMLError as exc:
            raise _syntax_error(text, exc) from None
    finally:
        loader.dispose()


def _refuse_duplicates(text: str, node: Node, path: KeyPath) -> None:
    if isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_duplicates(text, item, (*path, index))
    elif isinstance(node, MappingNode):
        seen: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG or not isinstance(key_node, ScalarNode):
                continue
            # Keys are compared as written; ``1`` and ``'1'`` are different keys to YAML, but a
            # person reading the file sees one.
            key = str(key_node.value)
            first = seen.get(key)
            if first is not None:
                lines = (first.start_mark.line + 1, key_node.start_mark.line + 1)
                raise YamlError(
                    f"duplicate key {key!r} at lines {lines[0]} and {lines[1]}",
                    snippet(text, key_node.start_mark.line, key_node.start_mark.column),
                    path=(*path, key),
                    lines=lines,
                )
            seen[key] = key_node
            _refuse_duplicates(text, value_node, (*path, key))


def _syntax_error(text: str, exc: yaml.MarkedYAMLError) -> YamlError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "unreadable"
    if mark is None:
        return YamlError(str(problem))
    where = f"line {mark.line + 1}, column {mark.column + 1}"
    message = f"{where}: {problem}"
    context = exc.context_mark
    if exc.problem and exc.context and context is not None and context.line != mark.line:
        message += f" ({exc.context} at line {context.line + 1}, column {context.column + 1})"
    return YamlError(message, snippet(text, mark.line, mark.column))


def snippet(text: str, line: int, column: int) -> str:
    """The 0-based ``line`` of ``text`` with its number, and a caret under ``column``."""
    lines = text.splitlines()
    if not 0 <= line < len(lines):
        return ""
    source = lines[line]
    gutter = f"{line + 1} | "
    # Tabs are kept in the caret's padding so that it lines up however tabs are shown.
    pad = "".join(char if char == "\t" else " " for char in source[:column])
    return f"    {gutter}{source}\n    {' ' * (len(gutter) - 2)}| {pad}^"
