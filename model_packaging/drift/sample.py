"""The sample ``drift-check`` reads, and what its statistics alone would not say.

The sample's statistics are computed as the baseline's were
(:func:`model_packaging.drift.baseline.compute`), which counts a NaN or an infinite number as a
missing value (JSON has no place for one). A sample is what someone wants judged, so
``drift-check`` also says:

- which features hold NaN or infinite numbers (invalid values, counted as missing by the
  checks), per feature, how many;
- that the sample is too small to judge drift: fewer than :data:`MIN_ROWS` rows, the size below
  which the allowance the Robust comparison makes for the sample's size alone,
  ``C_ALPHA * sqrt(1 / rows)``, exceeds the default comparison threshold (both in
  :mod:`model_packaging.drift.checks`);
- which line of the file is too long for the reader's block (``baseline.BLOCK_SIZE``), where the
  reader itself only says that an object straddles two blocks.

No NumPy warning reaches the terminal: an overflow in a statistic the checks do not read (the
sum of huge values) is no news to the user.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model_packaging.drift import baseline
from model_packaging.drift.checks import C_ALPHA, DEFAULT_COMPARISON_THRESHOLD
from model_packaging.errors import PackagingError

MIN_ROWS = math.ceil((C_ALPHA / DEFAULT_COMPARISON_THRESHOLD) ** 2)

# How a CSV cell spells a number that is not finite: what Python's float() and pyarrow read as
# NaN or infinity, and the spreadsheet spellings of NaN among pyarrow's default null values
# (pyarrow.csv.ConvertOptions.null_values), compared in lower case without spaces.
NOT_FINITE_SPELLINGS = (
    "nan",
    "-nan",
    "+nan",
    "inf",
    "-inf",
    "+inf",
    "infinity",
    "-infinity",
    "+infinity",
    "1.#ind",
    "-1.#ind",
    "1.#qnan",
    "-1.#qnan",
)


@dataclass(frozen=True)
class Sample:
    """A sample's statistics (statistics.json's shape) and its rows."""

    statistics: dict[str, Any]
    rows: int


def read(path: Path) -> Sample:
    """The statistics of the sample at ``path``, or a one-line PackagingError."""
    if path.is_dir():
        raise PackagingError(f"{path}: is a folder; give the sample file (.csv or .jsonl)")
    if not path.is_file():
        raise PackagingError(f"{path}: no such sample file")
    fmt = baseline.format_from_name(path.name)
    if fmt is None:
        raise PackagingError(f"{path}: a sample is a .csv (with a header row) or .jsonl file")
    try:
        with np.errstate(all="ignore"):
            statistics = baseline.compute(path, fmt).statistics
    except PackagingError as exc:
        raise _too_long(path) or exc from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PackagingError(f"{path}: cannot read the sample: {exc}") from exc
    rows = statistics.get("dataset", {}).get("item_count", 0)
    return Sample(statistics, rows if isinstance(rows, int) else 0)


def invalid_values(
    path: Path, statistics: dict[str, Any], numeric: Iterable[str]
) -> dict[str, int]:
    """Per feature of ``numeric`` (the baseline's numbers), how many of the sample's values are
    NaN or infinite; features without any are left out.

    Such values are among those counted missing, so only features with missing values are
    read again, and only then.
    """
    wanted = set(numeric)
    suspects = [
        feature["name"]
        for feature in statistics.get("features", [])
        if isinstance(feature, dict) and feature.get("name") in wanted and _has_missing(feature)
    ]
    if not suspects:
        return {}
    fmt = baseline.format_from_name(path.name)
    counts = _csv_counts(path, suspects) if fmt == "csv" else _jsonl_counts(path, suspects)
    return {name: count for name, count in counts.items() if count}


def small_sample_warning(rows: int) -> str | None:
    if rows >= MIN_ROWS:
        return None
    return (
        f"the sample has {rows} rows, fewer than {MIN_ROWS}: too few to judge drift (below that,"
        f" the Robust allowance for the sample's size exceeds the default threshold"
        f" {DEFAULT_COMPARISON_THRESHOLD:g})"
    )


def invalid_warning(feature: str, count: int) -> str:
    values = "value is" if count == 1 else "values are"
    return f"feature {feature}: {count} {values} NaN or infinite, invalid; counted as missing"


# --- reading again --------------------------------------------------------------------------


def _has_missing(feature: dict[str, Any]) -> bool:
    if feature.get("inferred_type") == "Unknown":
        return True  # no value present at all
    for key in ("numerical_statistics", "string_statistics"):
        common = (feature.get(key) or {}).get("common") or {}
        if isinstance(common.get("num_missing"), int) and common["num_missing"] > 0:
            return True
    return False


def _csv_counts(path: Path, columns: list[str]) -> dict[str, int]:
    """Cells spelling a NaN or an infinity, read as text (nothing is a null)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    spellings = pa.array(NOT_FINITE_SPELLINGS)
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=baseline.BLOCK_SIZE),
        convert_options=pacsv.ConvertOptions(
            include_columns=columns,
            column_types={name: pa.string() for name in columns},
            null_values=[],
            strings_can_be_null=False,
        ),
    )
    counts = dict.fromkeys(columns, 0)
    with reader:
        for batch in reader:
            for name in columns:
                text = pc.utf8_lower(pc.utf8_trim_whitespace(batch.column(name)))
                counts[name] += pc.sum(pc.is_in(text, value_set=spellings)).as_py() or 0
    return counts


def _jsonl_counts(path: Path, columns: list[str]) -> dict[str, int]:
    """Numbers that are NaN or infinite (pyarrow reads JSON's NaN and Infinity); a field that
    holds text has none: a string is a value, never a missing one."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pajson

    def read(names: list[str]) -> Any:
        return pajson.read_json(
            path,
            read_options=pajson.ReadOptions(block_size=baseline.BLOCK_SIZE),
            parse_options=pajson.ParseOptions(
                explicit_schema=pa.schema([(name, pa.float64()) for name in names]),
                unexpected_field_behavior="ignore",
            ),
        )

    counts = dict.fromkeys(columns, 0)
    try:
        tables = [(columns, read(columns))]
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # A field with text among them: each on its own, the text ones skipped.
        tables = []
        for name in columns:
            try:
                tables.append(([name], read([name])))
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                continue
    for names, table in tables:
        for name in names:
            values = table.column(name)
            not_finite = pc.or_(pc.is_nan(values), pc.is_inf(values))
            counts[name] = pc.sum(not_finite).as_py() or 0
    return counts


def _too_long(path: Path) -> PackagingError | None:
    """The line the reader could not take, if that is why it failed.

    The reader reads ``BLOCK_SIZE`` bytes at a time and carries an unfinished line over into
    the next block; it fails on a line that does not end in that next block either, one that
    crosses two block boundaries (pyarrow's "straddling object straddles two block
    boundaries"). A line of at most ``BLOCK_SIZE`` bytes never does.
    """
    limit = baseline.BLOCK_SIZE
    try:
        if path.stat().st_size <= limit:
            return None
        longer: tuple[int, int] | None = None
        for number, start, length in _lines(path):
            if start + length > (start // limit + 2) * limit:
                longer = (number, length)
                break
            if length > limit and longer is None:
                longer = (number, length)
    except OSError:
        return None
    if longer is None:
        return None
    number, length = longer
    return PackagingError(
        f"{path}: line {number} is too long: {length - 1} bytes, where the reader takes lines"
        f" of up to {limit} bytes ({limit >> 20} MiB)"
    )


def _lines(path: Path) -> Iterator[tuple[int, int, int]]:
    """(number, offset, length with its newline) of each line, read in chunks."""
    number, start, length = 1, 0, 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            at = 0
            while (end := chunk.find(b"\n", at)) >= 0:
                length += end + 1 - at
                yield number, start, length
                number, start, length, at = number + 1, start + length, 0, end + 1
            length += len(chunk) - at
    if length:
        yield number, start, length + 1
