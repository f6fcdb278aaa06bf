"""An endpoint's captured requests, in the files SageMaker's data capture writes.

The layout and the record format are AWS's (SageMaker developer guide, "Capture data from
real-time endpoint", section "View Captured Data"; the record's fields are also listed in
"Preprocessing and Postprocessing", the ``inference_record`` structure):

- files ``<destination prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl``, grouped by the
  hour (UTC) of the invocation;
- one JSON record a line, ``{"captureData": {"endpointInput": {"observedContentType",
  "mode", "data", "encoding"}, "endpointOutput": {...}}, "eventMetadata": {"eventId",
  "inferenceTime"}, "eventVersion"}``, ``inferenceTime`` in ISO 8601 (``2022-02-14T17:25:49Z``);
- ``encoding`` is ``CSV`` or ``JSON`` for a request whose content type the endpoint
  configuration's ``CaptureContentTypeHeader`` lists, the request body as text in ``data``;
  otherwise ``BASE64`` (botocore sagemaker ``CaptureContentTypeHeader``: "If no headers are
  specified SageMaker will by default base64 encode when capturing the data"), and ``data`` is
  the body in base64, of the type ``observedContentType`` names.

:func:`decode` turns a file's bytes into rows of the baseline's features:

- a CSV request is one or more lines of values in the baseline's feature order, no header
  (what SageMaker's CSV serializers send);
- a JSON request is ``{"instances": [...]}``, each instance an object (features by key) or a
  list (features by position), or one object (features by key); JSON Lines, one such document a
  line, is read too;
- a BASE64 request is decoded, then read as CSV or JSON by its ``observedContentType``.

Nothing in a file stops the reading: a line that is not a capture record, a request that cannot
be decoded, a row with too few or too many values, a value of a numeric feature that is not a
number, each is counted in :class:`Problems` (with the first place it happened) and skipped, and
the rest is read. A value of a numeric feature that is not a number counts as missing.

The fast path hands whole blocks to pyarrow's JSON and CSV readers; a block pyarrow refuses is
read again line by line in Python, which finds and counts what is wrong, with the same result
for every good line.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from model_packaging.drift.checks import FRACTIONAL
from model_packaging.drift.window import Window, iso, parse_time
from model_packaging.errors import PackagingError

ENCODINGS = ("CSV", "JSON", "BASE64")
# <endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl at the end of a key or path.
LAYOUT = re.compile(
    r"(?:^|/)(?P<endpoint>[^/]+)/(?P<variant>[^/]+)/(?P<year>\d{4})/(?P<month>\d{2})/"
    r"(?P<day>\d{2})/(?P<hour>\d{2})/(?P<name>[^/]+\.jsonl)$"
)
# Bytes handed to the readers at a time, cut at a line's end: the unit of memory. Larger blocks
# spread each block's fixed cost (some forty pyarrow calls) over more records.
BLOCK_SIZE = 16 << 20
# pyarrow's JSON reader parses in blocks of this size, in parallel; a longer line makes it refuse
# the block, which is then read line by line.
_ARROW_BLOCK = 1 << 20
_NEWLINE = ord("\n")

# The fields of a record the analysis reads; others are ignored.
_RECORD = pa.schema(
    [
        (
            "captureData",
            pa.struct(
                [
                    (
                        "endpointInput",
                        pa.struct(
                            [
                                ("observedContentType", pa.string()),
                                ("data", pa.string()),
                                ("encoding", pa.string()),
                            ]
                        ),
                    )
                ]
            ),
        ),
        ("eventMetadata", pa.struct([("inferenceTime", pa.string())])),
    ]
)
_TIMESTAMP = pa.timestamp("us", tz="UTC")
_CSV, _JSON, _BASE64 = (pa.scalar(name) for name in ENCODINGS)
_ENCODINGS = pa.array(ENCODINGS)
# Base64 (RFC 4648 section 4): the alphabet, then at most two "=" of padding; each character's
# 6-bit value.
_BASE64_TEXT = "^[A-Za-z0-9+/]*={0,2}$"
_PAD = ord("=")
_SEXTETS = np.zeros(256, np.uint8)
for _value, _char in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"):
    _SEXTETS[_char] = _value


# --- what went wrong ---------------------------------------------------------------------

# Each kind of problem, as the summary names one, and several.
MALFORMED = "malformed line"
NO_INPUT = "record without captureData.endpointInput.data"
NO_TIME = "record without a valid eventMetadata.inferenceTime"
UNKNOWN_ENCODING = "request of an unknown encoding"
NOT_BASE64 = "BASE64 request that does not decode to UTF-8 text"
UNKNOWN_CONTENT_TYPE = "BASE64 request of a content type neither CSV nor JSON"
BAD_CSV = "CSV request that cannot be parsed"
BAD_JSON = "JSON request that cannot be read"
COLUMN_COUNT = "row with too few or too many values"
NOT_A_NUMBER = "value of a numeric feature that is not a number"
NESTED_VALUE = "value that is a list or an object"
UNREADABLE_FILE = "file that cannot be read"
_PLURALS = {
    MALFORMED: "malformed lines",
    NO_INPUT: "records without captureData.endpointInput.data",
    NO_TIME: "records without a valid eventMetadata.inferenceTime",
    UNKNOWN_ENCODING: "requests of an unknown encoding",
    NOT_BASE64: "BASE64 requests that do not decode to UTF-8 text",
    UNKNOWN_CONTENT_TYPE: "BASE64 requests of a content type neither CSV nor JSON",
    BAD_CSV: "CSV requests that cannot be parsed",
    BAD_JSON: "JSON requests that cannot be read",
    COLUMN_COUNT: "rows with too few or too many values",
    NOT_A_NUMBER: "values of a numeric feature that are not numbers",
    NESTED_VALUE: "values that are lists or objects",
    UNREADABLE_FILE: "files that cannot be read",
}


@dataclass
class Problems:
    """Counts of what could not be read, by kind, with the first place each kind happened."""

    counts: Counter[str] = field(default_factory=Counter)
    first: dict[str, str] = field(default_factory=dict)
    # Per feature, values that were not numbers.
    not_numbers: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, where: str, count: int = 1) -> None:
        if count <= 0:
            return
        self.counts[kind] += count
        self.first.setdefault(kind, where)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def merge(self, other: Problems) -> None:
        """Add ``other``'s counts; its first places count for kinds not seen yet."""
        self.counts.update(other.counts)
        for kind, where in other.first.items():
            self.first.setdefault(kind, where)
        self.not_numbers.update(other.not_numbers)

    def lines(self) -> list[str]:
        """One line per kind: ``skipped N <kind> (first: <where>)``, most frequent first."""
        found = [
            f"skipped {count} {kind if count == 1 else _PLURALS[kind]} (first: {self.first[kind]})"
            for kind, count in sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))
        ]
        if self.not_numbers:
            per_feature = ", ".join(f"{name} {n}" for name, n in sorted(self.not_numbers.items()))
            found.append(f"values that are not numbers, counted as missing: {per_feature}")
        return found

    def as_json(self) -> dict[str, Any]:
        return {
            "counts": dict(sorted(self.counts.items())),
            "first": dict(sorted(self.first.items())),
            "not_numbers": dict(sorted(self.not_numbers.items())),
        }


# --- finding the files ---------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureFile:
    """One capture file: where it is, whose captures it holds, and how to read it."""

    location: str
    endpoint: str
    variant: str
    hour: datetime
    read: Callable[[], bytes]


def layout(key: str) -> tuple[str, str, datetime] | None:
    """(endpoint, variant, hour) of a key or path in AWS's layout, or None."""
    match = LAYOUT.search(key)
    if match is None:
        return None
    try:
        hour = datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    return match["endpoint"], match["variant"], hour


def local_files(root: Path, window: Window, variant: str | None = None) -> list[CaptureFile]:
    """The capture files below ``root`` in AWS's layout whose hour overlaps ``window``, in key
    order (by endpoint, variant, then time)."""
    if not root.is_dir():
        raise PackagingError(f"{root}: no such capture folder")
    found: list[CaptureFile] = []
    for folder, folders, files in os.walk(root):
        folders.sort()
        for name in sorted(files):
            path = Path(folder) / name
            place = layout(path.absolute().as_posix())
            if place is None or not window.holds_hour(place[2]):
                continue
            if variant is not None and place[1] != variant:
                continue
            found.append(CaptureFile(str(path), *place, read=path.read_bytes))
    return sorted(found, key=lambda f: f.location)


def s3_files(
    s3: Any,
    bucket: str,
    prefix: str,
    window: Window,
    variant: str | None = None,
    *,
    by_hour: bool = False,
) -> list[CaptureFile]:
    """The capture files below ``s3://bucket/prefix`` in AWS's layout whose hour overlaps
    ``window``, in key order (S3 lists keys in UTF-8 binary order: ListObjectsV2). With
    ``by_hour``, ``prefix`` is one variant's folder (``.../<endpoint>/<variant>/``) and only the
    window's hour folders below it are listed, not the whole history."""
    from model_packaging.store.aws import reporting

    prefixes = [prefix]
    if by_hour:
        prefixes = [f"{prefix}{hour:%Y/%m/%d/%H}/" for hour in window.hours()]
    found: list[CaptureFile] = []
    paginator = s3.get_paginator("list_objects_v2")
    for listed in prefixes:
        with reporting(f"cannot list s3://{bucket}/{listed}"):
            for page in paginator.paginate(Bucket=bucket, Prefix=listed):
                for entry in page.get("Contents", []):
                    key = entry["Key"]
                    place = layout(key)
                    if place is None or not window.holds_hour(place[2]):
                        continue
                    if variant is not None and place[1] != variant:
                        continue
                    found.append(
                        CaptureFile(
                            f"s3://{bucket}/{key}", *place, read=_s3_reader(s3, bucket, key)
                        )
                    )
    return found


def _s3_reader(s3: Any, bucket: str, key: str) -> Callable[[], bytes]:
    def read() -> bytes:
        data: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return data

    return read


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, prefix) of ``s3://bucket/prefix``; the prefix ends in ``/`` unless empty."""
    if not uri.startswith("s3://"):
        raise PackagingError(f"{uri}: not an s3:// URI")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise PackagingError(f"{uri}: names no bucket (s3://BUCKET/PREFIX)")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix


def record(
    data: str | bytes,
    encoding: str,
    content_type: str,
    time: datetime | str,
    *,
    output: str | None = None,
    event_id: str = "00000000-0000-0000-0000-000000000000",
) -> str:
    """One capture record as SageMaker writes it (a line of a capture file, without its
    newline), for a request body ``data``: as text for CSV and JSON, base64-encoded for BASE64;
    with ``output``, the endpoint's CSV answer too. The demo, the tests and the capture benchmark
    write captures with it."""
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    if encoding == "BASE64":
        data = base64.b64encode(data.encode("utf-8")).decode("ascii")
    when = time if isinstance(time, str) else iso(time)
    captured: dict[str, Any] = {
        "endpointInput": {
            "observedContentType": content_type,
            "mode": "INPUT",
            "data": data,
            "encoding": encoding,
        }
    }
    if output is not None:
        captured["endpointOutput"] = {
            "observedContentType": "text/csv; charset=utf-8",
            "mode": "OUTPUT",
            "data": output,
            "encoding": "CSV",
        }
    return json.dumps(
        {
            "captureData": captured,
            "eventMetadata": {"eventId": event_id, "inferenceTime": when},
            "eventVersion": "0",
        },
        separators=(",", ":"),
    )


def capture_key(endpoint: str, variant: str, time: datetime, name: str = "capture.jsonl") -> str:
    """The key of a capture file below the capture destination: AWS's layout."""
    return f"{endpoint}/{variant}/{time.astimezone(UTC):%Y/%m/%d/%H}/{name}"


# --- decoding ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feature:
    """A feature of the baseline, in its order, and whether its values are numbers."""

    name: str
    numeric: bool


@dataclass
class Batch:
    """Rows decoded from a block of records: a pyarrow array per feature (float64 for numeric
    features, string otherwise), and per unknown JSON key (string)."""

    rows: int
    columns: dict[str, pa.Array]
    # Features some row of the batch supplied (a CSV or list row supplies all of them; an
    # object only its keys): a feature no row ever supplies is a missing column.
    supplied: set[str]


@dataclass
class Counts:
    """What was read, besides the rows."""

    files: int = 0
    records: int = 0
    outside: int = 0
    requests: int = 0

    def merge(self, other: Counts) -> None:
        self.files += other.files
        self.records += other.records
        self.outside += other.outside
        self.requests += other.requests


@dataclass
class Decoded:
    """One file's batches, and what was counted while decoding it."""

    batches: list[Batch]
    problems: Problems
    counts: Counts


class _LeftToPython(Exception):
    """Requests of a shape the Python reader handles (and reports on) instead of pyarrow."""


class Decoder:
    """Decodes capture files into :class:`Batch` es of the baseline's features."""

    def __init__(self, features: Sequence[Feature], window: Window) -> None:
        self.features = list(features)
        self.names = [f.name for f in self.features]
        self.known = set(self.names)
        self.numeric = {f.name for f in self.features if f.numeric}
        self.window = window
        self.problems = Problems()
        self.counts = Counts()
        self._since = pa.scalar(window.since, _TIMESTAMP) if window.since else None
        self._until = pa.scalar(window.until, _TIMESTAMP) if window.until else None

    # -- files and blocks --

    def decode(self, capture: CaptureFile) -> Decoded:
        """One file, decoded by a decoder of its own (so that files can be decoded in
        parallel threads): its batches, problems and counts, to merge in the files' order."""
        own = Decoder(self.features, self.window)
        batches = list(own.file(capture))
        return Decoded(batches, own.problems, own.counts)

    def file(self, capture: CaptureFile) -> Iterator[Batch]:
        """The batches of one file; a file that cannot be read is counted and skipped."""
        try:
            data = capture.read()
        except Exception as exc:  # an S3 or file-system failure of one file: count it
            from model_packaging.store.aws import describe

            self.problems.add(UNREADABLE_FILE, f"{capture.location}: {describe(exc)}")
            return
        self.counts.files += 1
        buffer = pa.py_buffer(data)
        line = 1
        for start, end in _blocks(data):
            yield from self.block(buffer.slice(start, end - start), capture.location, line)
            line += data.count(b"\n", start, end)

    def block(self, block: pa.Buffer | bytes, where: str, first_line: int = 1) -> Iterator[Batch]:
        """The batches of a block of whole lines; ``first_line`` numbers its first line."""
        if isinstance(block, bytes):
            block = pa.py_buffer(block)
        records = _records_arrow(block)
        if records is None:
            records = self._records_python(block.to_pybytes(), where, first_line)
        content_types, data, encodings, times = records
        self.counts.records += len(data)
        if not len(data):
            return
        keep = self._in_window(times, where)
        no_input = pc.is_null(data)
        self.problems.add(NO_INPUT, where, _true(pc.and_(keep, no_input)))
        keep = pc.and_(keep, pc.invert(no_input))
        csv, json_requests = self._by_encoding(content_types, data, encodings, keep, where)
        self.counts.requests += len(csv) + len(json_requests)
        if len(csv):
            batch = self._csv(csv, where)
            if batch is not None:
                yield batch
        if len(json_requests):
            batch = self._json_arrow(json_requests, where)
            if batch is None:
                batch = self._json_python(json_requests.to_pylist(), where)
            if batch is not None:
                yield batch

    def _by_encoding(
        self,
        content_types: pa.Array,
        data: pa.Array,
        encodings: pa.Array,
        keep: pa.Array,
        where: str,
    ) -> tuple[pa.Array, pa.Array]:
        """The kept requests' texts: CSV ones and JSON ones, BASE64 ones decoded into either."""
        upper = pc.utf8_upper(encodings)
        csv_texts = [pc.filter(data, pc.and_(keep, pc.equal(upper, _CSV)))]
        json_texts = [pc.filter(data, pc.and_(keep, pc.equal(upper, _JSON)))]
        is_base64 = pc.and_(keep, pc.equal(upper, _BASE64))
        unknown = pc.and_(keep, pc.invert(pc.is_in(upper, _ENCODINGS)))
        if count := _true(unknown):
            first = pc.filter(encodings, unknown)[0].as_py()
            self.problems.add(UNKNOWN_ENCODING, f"{where}: encoding {first!r}", count)
        if _true(is_base64):
            decoded = self._base64(
                pc.filter(data, is_base64), pc.filter(content_types, is_base64), where
            )
            csv_texts.append(decoded["CSV"])
            json_texts.append(decoded["JSON"])
        return pa.concat_arrays(csv_texts), pa.concat_arrays(json_texts)

    def _in_window(self, times: pa.Array, where: str) -> pa.Array:
        """A mask of the records whose inferenceTime is in the window; records without a valid
        one are counted and left out."""
        try:
            stamps = times.cast(_TIMESTAMP)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            stamps = pa.array([_parse_or_none(t) for t in times.to_pylist()], _TIMESTAMP)
        valid = pc.is_valid(stamps)
        self.problems.add(NO_TIME, where, len(stamps) - _true(valid))
        keep = valid
        if self._since is not None:
            keep = pc.and_(keep, pc.greater_equal(stamps, self._since))
        if self._until is not None:
            keep = pc.and_(keep, pc.less(stamps, self._until))
        keep = pc.and_kleene(keep, valid)
        self.counts.outside += _true(valid) - _true(keep)
        return keep

    def _records_python(
        self, block: bytes, where: str, first_line: int
    ) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
        """The records of a block pyarrow refused, line by line; bad lines are counted."""
        content_types: list[str | None] = []
        data: list[str | None] = []
        encodings: list[str | None] = []
        times: list[str | None] = []
        for number, line in enumerate(block.split(b"\n"), start=first_line):
            if not line.strip():
                continue
            record = _record(line)
            if isinstance(record, str):
                self.problems.add(MALFORMED, f"{where}:{number}: {record}")
                continue
            content_type, payload, encoding, time = record
            content_types.append(content_type)
            data.append(payload)
            encodings.append(encoding)
            times.append(time)
        return (
            pa.array(content_types, pa.string()),
            pa.array(data, pa.string()),
            pa.array(encodings, pa.string()),
            pa.array(times, pa.string()),
        )

    # -- requests --

    def _base64(self, data: pa.Array, content_types: pa.Array, where: str) -> dict[str, pa.Array]:
        """The BASE64 requests decoded, as text, by kind (CSV or JSON)."""
        kinds = {value: _content_kind(value) for value in pc.unique(content_types).to_pylist()}
        decoded: dict[str, pa.Array] = {}
        for kind in ("CSV", "JSON"):
            types = pa.array([t for t, k in kinds.items() if k == kind], pa.string())
            texts = pc.filter(data, pc.is_in(content_types, types))
            valid = pc.and_(
                pc.equal(pc.bit_wise_and(pc.binary_length(texts), 3), 0),
                pc.match_substring_regex(texts, _BASE64_TEXT),
            )
            if count := len(texts) - _true(valid):
                self.problems.add(NOT_BASE64, where, count)
                texts = pc.filter(texts, valid)
            decoded[kind] = _from_base64(texts)
            if decoded[kind] is None:  # not UTF-8 text: one by one, to count the bad ones
                good = []
                for payload in texts.to_pylist():
                    try:
                        good.append(binascii.a2b_base64(payload).decode("utf-8"))
                    except (binascii.Error, UnicodeDecodeError):
                        self.problems.add(NOT_BASE64, where)
                decoded[kind] = pa.array(good, pa.string())
        unknown = pc.invert(
            pc.is_in(
                content_types, pa.array([t for t, k in kinds.items() if k is not None], pa.string())
            )
        )
        if count := _true(pc.fill_null(unknown, True)):
            first = next(t for t, k in kinds.items() if k is None)
            self.problems.add(UNKNOWN_CONTENT_TYPE, f"{where}: {first!r}", count)
        return decoded

    def _csv(self, texts: pa.Array, where: str) -> Batch | None:
        """CSV requests, each one or more lines of values in the baseline's feature order."""
        # A quote left open would join the next request to this one's last value.
        unclosed = pc.equal(pc.bit_wise_and(pc.count_substring(texts, '"'), 1), 1)
        if count := _true(unclosed):
            first = pc.filter(texts, unclosed)[0].as_py()
            self.problems.add(BAD_CSV, f"{where}: an unclosed quote in {_clip(first)!r}", count)
            texts = pc.filter(texts, pc.invert(unclosed))
        if not len(texts):
            return None
        wrong: list[str] = []

        def invalid(row: Any) -> str:
            wrong.append(
                f"{where}: {row.actual_columns} values, the baseline has {row.expected_columns}"
                f" features: {_clip(row.text)!r}"
            )
            return "skip"

        try:
            table = pacsv.read_csv(
                pa.BufferReader(_lines(texts)),
                read_options=pacsv.ReadOptions(column_names=self.names, use_threads=False),
                parse_options=pacsv.ParseOptions(invalid_row_handler=invalid),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in self.names},
                    strings_can_be_null=True,
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            self.problems.add(BAD_CSV, f"{where}: {str(exc).splitlines()[0]}", len(texts))
            return None
        if wrong:
            self.problems.add(COLUMN_COUNT, wrong[0], len(wrong))
        if not table.num_rows:
            return None
        columns = {
            name: self._typed(name, table.column(name).combine_chunks(), where)
            for name in self.names
        }
        return Batch(table.num_rows, columns, set(self.names))

    def _json_arrow(self, texts: pa.Array, where: str) -> Batch | None:
        """JSON requests read by pyarrow, all at once; None when pyarrow cannot read them
        (a request of several lines, a shape or a mix of types it refuses): they are then read
        one by one in Python, which also finds what is wrong."""
        texts = pc.utf8_rtrim(texts, characters="\n")
        if pc.any(pc.match_substring(texts, "\n")).as_py():
            return None
        try:
            table = pajson.read_json(
                pa.BufferReader(_lines(texts)),
                read_options=pajson.ReadOptions(use_threads=False, block_size=_ARROW_BLOCK),
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return None
        parts: list[tuple[int, dict[str, pa.Array]]] = []
        plain = table
        if "instances" in table.column_names:
            instances = table.column("instances").combine_chunks()
            listed = pc.is_valid(instances)
            try:
                part = self._instance_rows(instances, listed, where)
            except _LeftToPython:
                return None
            if part is not None:
                parts.append(part)
            plain = table.drop_columns(["instances"]).filter(pc.invert(listed))
        if plain.num_rows:
            parts.append(
                (plain.num_rows, {n: plain.column(n).combine_chunks() for n in plain.column_names})
            )
        return self._assemble(parts, where)

    def _instance_rows(
        self, instances: pa.Array, listed: pa.Array, where: str
    ) -> tuple[int, dict[str, pa.Array]] | None:
        """The rows of the requests' ``instances`` lists."""
        if not pa.types.is_list(instances.type):
            raise _LeftToPython
        flat = pc.list_flatten(pc.filter(instances, listed))
        if flat.null_count:
            raise _LeftToPython
        if pa.types.is_struct(flat.type):
            fields = sorted(flat.type.field(i).name for i in range(flat.type.num_fields))
            return len(flat), {n: pc.struct_field(flat, n) for n in fields}
        if pa.types.is_list(flat.type):
            return self._positional(flat, where)
        if pa.types.is_null(flat.type):
            return None
        raise _LeftToPython

    def _positional(self, rows: pa.Array, where: str) -> tuple[int, dict[str, pa.Array]] | None:
        width = len(self.names)
        fits = pc.equal(pc.list_value_length(rows), width)
        if wrong := len(rows) - _true(fits):
            first = pc.filter(rows, pc.invert(fits))[0].as_py()
            self.problems.add(
                COLUMN_COUNT,
                f"{where}: {len(first)} values, the baseline has {width} features:"
                f" {_clip(json.dumps(first))!r}",
                wrong,
            )
        rows = pc.filter(rows, fits)
        if not len(rows):
            return None
        return len(rows), {n: pc.list_element(rows, i) for i, n in enumerate(self.names)}

    def _json_python(self, texts: list[str], where: str) -> Batch | None:
        by_key: list[dict[str, Any]] = []
        by_position: list[list[Any]] = []
        for text in texts:
            problem = _instances(text, by_key, by_position)
            if problem:
                self.problems.add(BAD_JSON, f"{where}: {problem}: {_clip(text)!r}")
        parts: list[tuple[int, dict[str, pa.Array]]] = []
        if by_key:
            keys: set[str] = set()
            for row in by_key:
                keys.update(row)
            parts.append(
                (
                    len(by_key),
                    {
                        n: self._values(n, [row.get(n) for row in by_key], where)
                        for n in sorted(keys)
                    },
                )
            )
        width = len(self.names)
        rows = []
        for values in by_position:
            if len(values) == width:
                rows.append(values)
            else:
                self.problems.add(
                    COLUMN_COUNT,
                    f"{where}: {len(values)} values, the baseline has {width} features:"
                    f" {_clip(json.dumps(values))!r}",
                )
        if rows:
            parts.append(
                (
                    len(rows),
                    {
                        n: self._values(n, [row[i] for row in rows], where)
                        for i, n in enumerate(self.names)
                    },
                )
            )
        return self._assemble(parts, where)

    def _assemble(self, parts: list[tuple[int, dict[str, pa.Array]]], where: str) -> Batch | None:
        """One batch of parts (rows and their columns); a column a part lacks is missing in it."""
        count = sum(rows for rows, _ in parts)
        if not count:
            return None
        supplied = set().union(*(columns for _, columns in parts))
        columns: dict[str, pa.Array] = {}
        for name in sorted(supplied, key=lambda n: (n not in self.known, n)):
            target = pa.float64() if name in self.numeric else pa.string()
            pieces = [
                self._typed(name, found[name], where) if name in found else pa.nulls(rows, target)
                for rows, found in parts
            ]
            columns[name] = pieces[0] if len(pieces) == 1 else pa.concat_arrays(pieces)
        for name in self.names:
            if name not in columns:
                columns[name] = pa.nulls(
                    count, pa.float64() if name in self.numeric else pa.string()
                )
        return Batch(count, columns, supplied)

    # -- values --

    def _values(self, name: str, values: list[Any], where: str) -> pa.Array:
        """Python values of a feature (from JSON) as an array, typed as :meth:`_typed` types."""
        try:
            return self._typed(name, pa.array(values), where)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
        numeric = name in self.numeric
        typed: list[Any] = []
        bad = nested = 0
        for value in values:
            if value is None:
                typed.append(None)
            elif isinstance(value, dict | list):
                nested += 1
                typed.append(None)
            elif numeric:
                number = _number_of(value)
                bad += number is None
                typed.append(number)
            else:
                typed.append(_text_of(value))
        self.problems.add(NESTED_VALUE, f"{where}: feature {name}", nested)
        self._not_numbers(name, bad, where)
        return pa.array(typed, pa.float64() if numeric else pa.string())

    def _typed(self, name: str, values: pa.Array, where: str) -> pa.Array:
        """A feature's values as float64 (the baseline's numeric features) or string (the
        others). A number's text counts as the number; anything else in a numeric feature is
        counted and missing; a list or an object is counted and missing."""
        numeric = name in self.numeric
        target = pa.float64() if numeric else pa.string()
        kind = values.type
        if pa.types.is_null(kind):
            return pa.nulls(len(values), target)
        if pa.types.is_nested(kind):
            self.problems.add(
                NESTED_VALUE, f"{where}: feature {name}", len(values) - values.null_count
            )
            return pa.nulls(len(values), target)
        if not numeric:
            return values if kind == pa.string() else values.cast(pa.string())
        if pa.types.is_integer(kind) or pa.types.is_floating(kind):
            return values.cast(pa.float64())
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            self._not_numbers(name, len(values) - values.null_count, where)
            return pa.nulls(len(values), target)
        try:
            return values.cast(pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        numbers = []
        bad = 0
        for text in values.to_pylist():
            number = None if text is None else _number(text)
            bad += text is not None and number is None
            numbers.append(number)
        self._not_numbers(name, bad, where)
        return pa.array(numbers, pa.float64())

    def _not_numbers(self, name: str, count: int, where: str) -> None:
        if count:
            self.problems.add(NOT_A_NUMBER, f"{where}: feature {name}", count)
            self.problems.not_numbers[name] += count


def _from_base64(texts: pa.Array) -> pa.Array | None:
    """Valid base64 texts (lengths a multiple of 4, the alphabet, padding at the end), decoded
    at once with numpy; None when a decoded text is not UTF-8."""
    count = len(texts)
    if not count:
        return pa.array([], pa.string())
    offsets = np.frombuffer(texts.buffers()[1], np.int32, count + 1, texts.offset * 4)
    offsets = offsets.astype(np.int64)
    raw = np.frombuffer(texts.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
    ends = offsets[1:] - offsets[0]
    lengths = np.diff(offsets)
    pads = np.zeros(count, np.int64)
    filled = lengths > 0
    pads[filled] += raw[ends[filled] - 1] == _PAD
    pads[filled] += raw[ends[filled] - 2] == _PAD
    quads = _SEXTETS[raw].reshape(-1, 4).astype(np.uint32)
    triples = (quads[:, 0] << 18) | (quads[:, 1] << 12) | (quads[:, 2] << 6) | quads[:, 3]
    out = np.empty((len(triples), 3), np.uint8)
    out[:, 0] = triples >> 16
    out[:, 1] = (triples >> 8) & 0xFF
    out[:, 2] = triples & 0xFF
    full = np.concatenate([[0], np.cumsum(lengths // 4 * 3)])
    keep = np.ones(int(full[-1]), bool)
    keep[full[1:][pads >= 1] - 1] = False
    keep[full[1:][pads >= 2] - 2] = False
    sizes = lengths // 4 * 3 - pads
    new_offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
    decoded = pa.StringArray.from_buffers(
        count, pa.py_buffer(new_offsets), pa.py_buffer(out.reshape(-1)[keep])
    )
    try:
        decoded.validate(full=True)
    except pa.ArrowInvalid:
        return None
    return decoded


def _lines(texts: pa.Array) -> pa.Buffer:
    """The texts one after the other, each ending in a newline: the values buffer of the
    array they make once each has its newline."""
    ended = pc.ends_with(texts, "\n")
    texts = pc.binary_join_element_wise(texts, pc.if_else(ended, "", "\n"), "")
    offsets = np.frombuffer(texts.buffers()[1], np.int32, len(texts) + 1, texts.offset * 4)
    return texts.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))


def _true(mask: pa.Array) -> int:
    """How many entries of a boolean array are true."""
    return int(pc.sum(mask).as_py() or 0)


def _blocks(data: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of pieces of ``data`` of about BLOCK_SIZE bytes, each ending at a line's
    end."""
    start, size = 0, len(data)
    while start < size:
        end = min(start + BLOCK_SIZE, size)
        if end < size:
            cut = data.rfind(b"\n", start, end)
            if cut >= start:
                end = cut + 1
            else:  # a line longer than a block: the block is that line
                following = data.find(b"\n", end)
                end = size if following < 0 else following + 1
        yield start, end
        start = end


def _records_arrow(block: pa.Buffer) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array] | None:
    """(observedContentType, data, encoding, inferenceTime) of every record of a block, read by
    pyarrow; None when pyarrow refuses the block (a line that is not a record of this shape).
    One thread: in parallel, pyarrow spends more processor time than it saves on blocks this
    small."""
    try:
        table = pajson.read_json(
            pa.BufferReader(block),
            read_options=pajson.ReadOptions(use_threads=False, block_size=_ARROW_BLOCK),
            parse_options=pajson.ParseOptions(
                explicit_schema=_RECORD, unexpected_field_behavior="ignore"
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    capture = table.column("captureData").combine_chunks()
    endpoint_input = pc.struct_field(capture, "endpointInput")
    metadata = table.column("eventMetadata").combine_chunks()
    return (
        pc.struct_field(endpoint_input, "observedContentType"),
        pc.struct_field(endpoint_input, "data"),
        pc.struct_field(endpoint_input, "encoding"),
        pc.struct_field(metadata, "inferenceTime"),
    )


def _record(line: bytes) -> tuple[str | None, str | None, str | None, str | None] | str:
    """The four fields of one record, or what is wrong with the line."""
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"not JSON: {exc}"
    if not isinstance(record, dict):
        return "not a JSON object"
    capture = record.get("captureData")
    endpoint_input = capture.get("endpointInput") if isinstance(capture, dict) else None
    metadata = record.get("eventMetadata")
    if capture is not None and not isinstance(capture, dict):
        return "captureData is not an object"
    if endpoint_input is not None and not isinstance(endpoint_input, dict):
        return "captureData.endpointInput is not an object"
    if metadata is not None and not isinstance(metadata, dict):
        return "eventMetadata is not an object"
    fields: list[str | None] = []
    for source, key in (
        (endpoint_input, "observedContentType"),
        (endpoint_input, "data"),
        (endpoint_input, "encoding"),
        (metadata, "inferenceTime"),
    ):
        value = source.get(key) if source else None
        if value is not None and not isinstance(value, str):
            return f"{key} is not a string"
        fields.append(value)
    return fields[0], fields[1], fields[2], fields[3]


def _parse_or_none(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError:
        return None


def _content_kind(content_type: str | None) -> str | None:
    """CSV or JSON, from a request's Content-Type (its media type, parameters left out)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media in ("text/csv", "application/csv"):
        return "CSV"
    if media in ("application/json", "application/jsonlines", "application/x-jsonlines"):
        return "JSON"
    if media.endswith("+json"):
        return "JSON"
    return None


def _instances(text: str, by_key: list[dict[str, Any]], by_position: list[list[Any]]) -> str:
    """Add the rows of one JSON request; what is wrong with it, or ''."""
    documents = _documents(text)
    if isinstance(documents, str):
        return documents
    for document in documents:
        if not isinstance(document, dict):
            return 'neither {"instances": [...]} nor an object'
        instances = document.get("instances")
        if instances is None:
            document.pop("instances", None)
            by_key.append(document)
            continue
        if not isinstance(instances, list):
            return "instances is not a list"
        for instance in instances:
            if isinstance(instance, dict):
                by_key.append(instance)
            elif isinstance(instance, list):
                by_position.append(instance)
            else:
                return "an instance is neither an object nor a list"
    return ""


def _documents(text: str) -> list[Any] | str:
    """The JSON documents of a request: one, or one a line (JSON Lines); or what is wrong."""
    try:
        return [json.loads(text)]
    except json.JSONDecodeError as exc:
        if not exc.msg.startswith("Extra data"):
            return f"not JSON: {exc}"
    try:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        return f"not JSON: {exc}"


def _number_of(value: Any) -> float | None:
    """A JSON value of a numeric feature as a number, or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return _number(value) if isinstance(value, str) else None


def _text_of(value: Any) -> str:
    """A JSON scalar of a text feature as text, spelled as pyarrow casts it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number(text: str) -> float | None:
    stripped = text.strip()
    if FRACTIONAL.fullmatch(stripped):
        return float(stripped)
    if stripped.lower().lstrip("+-") in ("inf", "infinity", "nan"):
        return float(stripped)  # a number, not finite: missing, as in the baseline
    return None


def _clip(text: str, limit: int = 60) -> str:
    text = text.rstrip("\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."
