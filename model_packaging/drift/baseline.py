"""The data-quality baseline of a model: ``statistics.json`` and ``constraints.json``.

SageMaker Model Monitor's data-quality job compares captured requests with a baseline made of
two files. Their formats are AWS's documented schemas:

- "Schema for Statistics (statistics.json file)",
  https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-statistics.html
- "Schema for Constraints (constraints.json file)",
  https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-constraints.html

:func:`compute` reads a CSV (header row) or JSON Lines sample of the training inputs in blocks
and keeps only per-feature summaries, so its memory does not grow with the file:

- numeric features: exact counts, sum, mean, population standard deviation, min and max, and a
  KLL quantile sketch of bounded size (:mod:`model_packaging.drift.sketch`);
- string features: Apache DataSketches' frequent-items sketch (counts of at most
  ``CATEGORY_SLOTS * 3 / 4`` distinct values are exact; past that it keeps the heaviest ones,
  with a documented error bound) and its HyperLogLog sketch for the distinct count. Both are
  deterministic.

Reproducibility: the same file gives the same bytes. Blocks have a fixed size, so every
summary sees the same chunks in the same order, and the KLL sketch's compactions are
deterministic.

The file names and the ``monitoring_config`` defaults are the artifact contract's
(:mod:`infra.settings.artifacts`), which the program and drift-check read too.
"""

from __future__ import annotations

import copy
import csv
import functools
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from infra.settings.artifacts import CONSTRAINTS_NAME, MONITORING_DEFAULTS, STATISTICS_NAME
from model_packaging.errors import PackagingError
from model_packaging.replace_file import replace_file

if TYPE_CHECKING:
    import numpy as np

    from model_packaging.drift.sketch import KllSketch

# numpy (and the sketch, which needs it) is imported by the functions that compute a baseline,
# not with this module: the model.yaml checks (format_from_name) and the commands that only
# read a baseline's documents import it too, and numpy's import takes about 0.15 s.

FORMATS = ("csv", "jsonl")
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl"}

# "By default, the distribution is materialized in 10 buckets. This can't be changed."
# (Schema for Statistics, Notes).
KLL_BUCKETS = 10
# The frequent-items sketch's map holds 2**12 slots; it counts exactly while at most 3/4 of
# them are in use (DataSketches frequent items: the map is purged at 75% load).
CATEGORY_LG_SLOTS = 12
CATEGORY_SLOTS = 1 << CATEGORY_LG_SLOTS
# statistics.json lists the most frequent values; constraints.json's string domains are only
# "observed values for small cardinality" (Schema for Constraints).
MAX_CATEGORY_BUCKETS = 1000
MAX_DOMAIN_VALUES = 20
HLL_LG_K = 12
# Bytes per block read: the unit of determinism (the summaries see these chunks, in order) and
# of memory: pyarrow's streaming readers read a bounded number of blocks ahead.
BLOCK_SIZE = 1 << 20


@dataclass(frozen=True)
class Baseline:
    """A dataset's baseline: the two documents Model Monitor reads, and what was read."""

    statistics: dict[str, Any]
    constraints: dict[str, Any]
    format: str
    rows: int

    @functools.cached_property
    def files(self) -> dict[str, bytes]:
        """Each document's file name and bytes (:func:`to_json`), serialised once: what is
        written is what build hashes for the manifest."""
        return {
            STATISTICS_NAME: to_json(self.statistics),
            CONSTRAINTS_NAME: to_json(self.constraints),
        }


def compute(path: Path, fmt: str | None = None) -> Baseline:
    """The data-quality baseline of a CSV (with a header row) or JSON Lines file.

    ``fmt`` is ``csv`` or ``jsonl``; by default it follows the extension. Raises
    :class:`PackagingError` naming the file and the problem for unreadable or ill-formed data.
    """
    path = Path(path)
    fmt = data_format(path, fmt)
    if not path.is_file():
        raise PackagingError(f"{path}: baseline dataset not found")
    schema = _first_schema(path, fmt)
    if not len(schema):
        raise PackagingError(f"{path}: no columns found; a baseline needs at least one feature")
    features = [_Feature(field.name, _first_type(path, field)) for field in schema]
    rows = 0
    for batch in _read(path, fmt, schema, features):
        rows += _update(features, batch)
    statistics = {
        "version": 0,
        "dataset": {"item_count": rows},
        "features": [feature.statistics() for feature in features],
    }
    constraints = {
        "version": 0,
        "features": [feature.constraints(rows) for feature in features],
        "monitoring_config": copy.deepcopy(MONITORING_DEFAULTS),
    }
    return Baseline(statistics, constraints, fmt, rows)


def data_format(path: Path, fmt: str | None = None) -> str:
    """``fmt`` if given and known, else the format the file's extension names."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise PackagingError(f"{path}: baseline format {fmt!r}: must be one of csv, jsonl")
        return fmt
    found = format_from_name(str(path))
    if found is None:
        raise PackagingError(
            f"{path}: cannot tell the baseline format from the extension; name the file "
            ".csv or .jsonl, or give its format (csv or jsonl)"
        )
    return found


def format_from_name(name: str) -> str | None:
    """The format a file name's extension names, if it names one."""
    return _EXTENSIONS.get(Path(name).suffix.lower())


def to_json(document: dict[str, Any]) -> bytes:
    """Canonical bytes: sorted keys, two-space indent, shortest round-trip floats, newline."""
    return (json.dumps(document, sort_keys=True, indent=2, allow_nan=False) + "\n").encode()


def write(baseline: Baseline, folder: Path) -> None:
    """Write ``statistics.json`` and ``constraints.json`` into ``folder`` (created if needed).

    Each file appears under its name only when complete (:func:`replace_file`).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in baseline.files.items():
        replace_file(folder / name, functools.partial(_write_all, data))


def _write_all(data: bytes, out: BinaryIO) -> int:
    return out.write(data)


# --- reading -------------------------------------------------------------------------------


def _read(path: Path, fmt: str, schema: Any, features: list[_Feature]) -> Iterator[list[Any]]:
    """Blocks of columns, one pyarrow array per feature.

    Column types come from the first block: Integral, Fractional (numbers, read as float64
    from then on) or String (anything else). Later blocks are read with those types fixed, so
    a column does not change kind midway; a value that does not fit is an error naming the
    columns' types.
    """
    import pyarrow as pa

    def arrow_type(first: Any, feature: _Feature) -> Any:
        if not feature.is_string:
            return pa.float64()
        # JSON has booleans (read as is, counted as "true" and "false"); any other value of a
        # String column, and every CSV cell, is read as text.
        return pa.bool_() if fmt == "jsonl" and pa.types.is_boolean(first) else pa.string()

    types = {
        f.name: arrow_type(f.type, feature) for f, feature in zip(schema, features, strict=True)
    }
    try:
        for batch in _batches(path, fmt, types):
            yield [batch.column(f.name) for f in features]
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        message = str(exc).splitlines()[0]
        if fmt == "jsonl" and message.endswith("unexpected field"):
            message += " (a record has a field the first rows do not have)"
        columns = ", ".join(f"{f.name} {f.first_type}" for f in features)
        raise PackagingError(
            f"{path}: cannot read as {fmt}: {message}; columns and their types are taken "
            f"from the first rows: {columns}"
        ) from None
    except OSError as exc:
        raise PackagingError(f"{path}: {exc.strerror or exc}") from None


def _first_type(path: Path, field: Any) -> str:
    import pyarrow as pa

    if pa.types.is_integer(field.type):
        return "Integral"
    if pa.types.is_floating(field.type):
        return "Fractional"
    if pa.types.is_nested(field.type):
        raise PackagingError(
            f"{path}: field {field.name!r} holds lists or objects; a baseline takes flat "
            "records of numbers and strings"
        )
    return "String"


def _first_schema(path: Path, fmt: str) -> Any:
    """The schema pyarrow infers from the file's first block."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson

    if fmt == "csv":
        header = _csv_header(path)
        if len(set(header)) != len(header):
            raise PackagingError(f"{path}: the header row names a column twice")
    try:
        if fmt == "csv":
            reader: Any = pacsv.open_csv(
                path,
                read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE, use_threads=False),
                convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
            )
        else:
            reader = pajson.open_json(path, read_options=pajson.ReadOptions(block_size=BLOCK_SIZE))
        with reader:
            return reader.schema
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        message = str(exc).splitlines()[0]
        raise PackagingError(f"{path}: cannot read as {fmt}: {message}") from None


def _csv_header(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return next(csv.reader(handle), [])
    except UnicodeDecodeError:
        raise PackagingError(f"{path}: not UTF-8 text") from None


def _batches(path: Path, fmt: str, types: dict[str, Any]) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson

    # The system allocator gives freed blocks back; a caching allocator's reserve would count
    # against a memory limit that the data never needs.
    pool = pa.system_memory_pool()
    if fmt == "csv":
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True),
            memory_pool=pool,
        )
    else:
        schema = pa.schema([(name, kind) for name, kind in types.items()])
        reader = pajson.open_json(
            path,
            read_options=pajson.ReadOptions(block_size=BLOCK_SIZE),
            parse_options=pajson.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="error"
            ),
            memory_pool=pool,
        )
    with reader:
        yield from reader


def _update(features: list[_Feature], batch: list[Any]) -> int:
    rows = 0
    for feature, column in zip(features, batch, strict=True):
        rows = len(column)
        feature.update(column)
    return rows


# --- summaries -----------------------------------------------------------------------------


def _new_sketch() -> KllSketch:
    from model_packaging.drift.sketch import KllSketch

    return KllSketch()


@dataclass
class _Feature:
    """One column's running summary. ``first_type`` is what the first block looked like."""

    name: str
    first_type: str
    present: int = 0
    missing: int = 0
    # numeric: Integral until a value with a fraction is seen
    integral: bool = False
    total: float = 0.0
    mean: float = 0.0
    m2: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    kll: KllSketch = field(default_factory=_new_sketch)
    # string
    frequent: Any = None
    hll: Any = None

    def __post_init__(self) -> None:
        self.integral = self.first_type == "Integral"
        if self.is_string:
            import datasketches

            self.frequent = datasketches.frequent_strings_sketch(CATEGORY_LG_SLOTS)
            self.hll = datasketches.hll_sketch(HLL_LG_K)

    @property
    def is_string(self) -> bool:
        return self.first_type == "String"

    def update(self, column: Any) -> None:
        if self.is_string:
            self._update_string(column)
        else:
            self._update_numeric(column)

    def _update_numeric(self, column: Any) -> None:
        import numpy as np

        values = _finite_values(column)
        count = len(values)
        self.missing += len(column) - count
        if not count:
            return
        if self.integral and not np.all(np.floor(values) == values):
            self.integral = False
        chunk_total = float(values.sum())
        chunk_mean = chunk_total / count
        chunk_m2 = float(np.square(values - chunk_mean).sum())
        # Chan et al.'s pairwise update: stable, and exact in the order the blocks come.
        merged = self.present + count
        delta = chunk_mean - self.mean
        self.m2 += chunk_m2 + delta * delta * self.present * count / merged
        self.mean += delta * count / merged
        self.present = merged
        self.total += chunk_total
        self.low = min(self.low, float(values.min()))
        self.high = max(self.high, float(values.max()))
        self.kll.update(values)

    def _update_string(self, column: Any) -> None:
        import pyarrow.compute as pc

        present = len(column) - column.null_count
        self.present += present
        self.missing += column.null_count
        if not present:
            return
        present_values = column.drop_null()
        if present_values.type != "string":  # JSON's booleans (true, false), like CSV's text
            present_values = present_values.cast("string")
        counts = pc.value_counts(present_values)
        for value, count in zip(
            counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
        ):
            self.frequent.update(value, count)
            self.hll.update(value)

    @property
    def inferred_type(self) -> str:
        if not self.present:
            return "Unknown"
        if self.is_string:
            return "String"
        return "Integral" if self.integral else "Fractional"

    def _common(self) -> dict[str, int]:
        return {"num_present": self.present, "num_missing": self.missing}

    def _categories(self) -> tuple[list[tuple[str, int]], bool]:
        """(value, count) pairs, most frequent first, and whether the counts are exact."""
        import datasketches

        items = self.frequent.get_frequent_items(
            datasketches.frequent_items_error_type.NO_FALSE_NEGATIVES
        )
        exact = self.frequent.num_active_items * 4 <= CATEGORY_SLOTS * 3 and not any(
            lower != upper for _, _, lower, upper in items
        )
        pairs = sorted(((value, int(estimate)) for value, estimate, _, _ in items), key=_by_count)
        return pairs, exact

    def statistics(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "inferred_type": self.inferred_type}
        if self.inferred_type == "Unknown":
            return entry
        if not self.is_string:
            entry["numerical_statistics"] = {
                "common": self._common(),
                "mean": self.mean,
                "sum": self.total,
                "std_dev": math.sqrt(self.m2 / self.present),
                "min": self.low,
                "max": self.high,
                "distribution": {
                    "kll": {
                        "buckets": self._buckets(),
                        "sketch": {
                            "parameters": {"c": self.kll.c, "k": self.kll.k},
                            "data": self.kll.data(),
                        },
                    }
                },
            }
        else:
            pairs, exact = self._categories()
            distinct = len(pairs) if exact else round(self.hll.get_estimate())
            entry["string_statistics"] = {
                "common": self._common(),
                "distinct_count": distinct,
                "distribution": {
                    "categorical": {
                        "buckets": [
                            {"value": value, "count": count}
                            for value, count in pairs[:MAX_CATEGORY_BUCKETS]
                        ]
                    }
                },
            }
        return entry

    def _buckets(self) -> list[dict[str, float | int]]:
        """Ten equal-width buckets from min to max, the last closed, counted from the sketch."""
        import numpy as np

        items, weights = self.kll.weighted()
        edges = np.linspace(self.low, self.high, KLL_BUCKETS + 1)
        index = np.clip(np.searchsorted(edges, items, side="right") - 1, 0, KLL_BUCKETS - 1)
        counts = np.bincount(index, weights=weights, minlength=KLL_BUCKETS)
        return [
            {
                "lower_bound": float(edges[i]),
                "upper_bound": float(edges[i + 1]),
                "count": int(counts[i]),
            }
            for i in range(KLL_BUCKETS)
        ]

    def constraints(self, rows: int) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.name,
            "inferred_type": self.inferred_type,
            "completeness": self.present / rows if rows else 0.0,
            "monitoringConfigOverrides": {},
        }
        if self.inferred_type in ("Integral", "Fractional"):
            entry["num_constraints"] = {"is_non_negative": self.low >= 0}
        elif self.inferred_type == "String":
            pairs, exact = self._categories()
            if exact and len(pairs) <= MAX_DOMAIN_VALUES:
                entry["string_constraints"] = {"domains": sorted(value for value, _ in pairs)}
        return entry


def _finite_values(column: Any) -> np.ndarray:
    """The non-null, finite values of a float64 column (inf has no place in JSON).

    Read from the column's buffers: pyarrow's ``to_numpy`` goes through its pandas conversion,
    whose first call imports pandas, which takes longer than a small dataset's whole baseline.
    """
    import numpy as np

    if not len(column):
        return np.empty(0)
    validity, data = column.buffers()
    values = np.frombuffer(data, np.float64, len(column), column.offset * 8)
    keep = np.isfinite(values)
    if column.null_count:
        # Arrow's validity bitmap: one bit per value, least significant bit first.
        bits = np.unpackbits(np.frombuffer(validity, np.uint8), bitorder="little")
        keep &= bits[column.offset : column.offset + len(column)].astype(bool)
    return values[keep]


def _by_count(pair: tuple[str, int]) -> tuple[int, str]:
    return -pair[1], pair[0]
