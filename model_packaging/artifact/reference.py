"""The model.yaml key table of docs/model-packaging.md, generated from the descriptor's models.

    python -m model_packaging.artifact.reference            # print the table
    python -m model_packaging.artifact.reference --write    # rewrite it in the document
    python -m model_packaging.artifact.reference --check    # exit 1 when the document differs

As ``infra.settings.reference`` does for the stack files: each key's type, default, limits and
meaning come from its field in ``descriptor``; what the validators and the consistency checks
refuse beyond the fields' constraints is in ``RULES``, written with the patterns they use.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from infra.settings.reference import ROOT, Row, Walk, run, table
from model_packaging.artifact.descriptor import (
    DEFAULT_REGIONS,
    ENTRY_POINT_PATTERN,
    MEDIA_TYPE_PATTERN,
    NAME_PATTERN,
    REGION_PATTERN,
    SAMPLE_NAME_PATTERN,
    Descriptor,
)
from model_packaging.artifact.paths import CODE_DIR

DOCUMENT = ROOT / "docs" / "model-packaging.md"

_MEDIA_TYPES = f"lowercase media types (`{MEDIA_TYPE_PATTERN}`), no duplicates"
_RELATIVE = "a relative path to a file in the folder"

# What the validators and ``consistency_problems`` refuse beyond the fields' constraints.
RULES: dict[str, str] = {
    "name": f"`{NAME_PATTERN}`",
    "framework.version": "a version the SDK knows for the framework (checked at build)",
    "framework.python_version": r"`^py3\d*$`, e.g. `py3` or `py310`",
    "framework.image": "required with `custom`, refused otherwise",
    "entry_point": f"`{ENTRY_POINT_PATTERN}`; the file must exist in `{CODE_DIR}/`",
    "content_types.request": _MEDIA_TYPES,
    "content_types.response": _MEDIA_TYPES,
    "regions": (
        f"AWS regions (`{REGION_PATTERN}`), no duplicates; each needs a serving image and a "
        "Model Monitor analyzer image in the SDK (checked at build)"
    ),
    "samples[].name": f"`{SAMPLE_NAME_PATTERN}`; unique",
    "samples[].content_type": "listed in `content_types.request`",
    "samples[].accept": "listed in `content_types.response`",
    "samples[].body": (
        "exactly one of `body`, `body_file`; a value other than a string needs a JSON content "
        "type (`application/json` or `*+json`)"
    ),
    "samples[].body_file": f"{_RELATIVE}; exactly one of `body`, `body_file`",
    "samples[].expected.json": "exactly one of `json`, `text`",
    "samples[].expected.text": "exactly one of `json`, `text`",
    "baseline.path": f"{_RELATIVE}, `.csv` or `.jsonl` unless `format` is set",
}

# Defaults that are not the fields' own: what a build assumes for a key left out.
DEFAULTS = {
    "regions": ", ".join(DEFAULT_REGIONS),
    "baseline.format": "from the extension",
}


def rows() -> list[Row]:
    """A row per key of model.yaml."""
    return Walk(RULES, DEFAULTS).rows(Descriptor)


def sections() -> dict[str, str]:
    """The text of each generated section of docs/model-packaging.md."""
    return {"model.yaml": table(rows())}


def main(argv: Sequence[str] | None = None) -> int:
    return run(
        argv,
        prog="python -m model_packaging.artifact.reference",
        document=DOCUMENT,
        generate=sections,
    )


if __name__ == "__main__":
    sys.exit(main())
