"""drift-check --capture: captured requests in SageMaker's layout, decoded and checked.

Capture files are written as SageMaker writes them (``capture.record``: the documented record
shape; ``capture.capture_key``: the documented layout), with every encoding a record can have.
The window's statistics must be the ones a ``--data`` sample of the same rows gets, whatever the
encoding; what cannot be read is counted, never fatal.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from model_packaging.drift import baseline, capture
from model_packaging.drift.capture import capture_key, layout, record
from model_packaging.drift.checks import compare, distances, load_baseline
from model_packaging.drift.engine import analyse
from model_packaging.drift.window import Window
from tests.helpers import release
from tests.packaging.test_drift_check import COLUMNS, customers, write_csv

HOUR = datetime(2024, 5, 1, 10, tzinfo=UTC)
FEATURES = ("tenure", "charges", "plan")
PLANS = ("basic", "premium", "plus")


def plans(seed: int, count: int, *, shifted: bool = False) -> list[tuple[Any, ...]]:
    """Rows of (tenure, charges, plan); ``shifted`` adds 30 months of tenure and makes the plan
    mostly ``plus``; charges stay as they are."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        tenure = rng.randint(0, 72) + (30 if shifted else 0)
        plan = "plus" if shifted and rng.random() < 0.8 else rng.choice(PLANS)
        rows.append((tenure, round(rng.uniform(18, 120), 2), plan))
    return rows


def as_csv(row: Sequence[Any]) -> str:
    return ",".join("" if v is None else str(v) for v in row) + "\n"


def as_object(row: Sequence[Any], names: Sequence[str] = FEATURES) -> dict[str, Any]:
    return dict(zip(names, row, strict=True))


def encoded(
    row: Sequence[Any], style: str, names: Sequence[str] = FEATURES
) -> tuple[str, str, str]:
    """(data, encoding, content type) of one request holding ``row``."""
    if style == "csv":
        return as_csv(row), "CSV", "text/csv"
    if style == "csv64":
        return as_csv(row), "BASE64", "text/csv"
    if style == "instances":
        return json.dumps({"instances": [as_object(row, names)]}), "JSON", "application/json"
    if style == "positional":
        return json.dumps({"instances": [list(row)]}), "JSON", "application/json"
    if style == "object":
        return json.dumps(as_object(row, names)), "JSON", "application/json"
    if style == "object64":
        return json.dumps(as_object(row, names)), "BASE64", "application/json; charset=utf-8"
    raise AssertionError(style)


STYLES = ("csv", "csv64", "instances", "positional", "object", "object64")
LAYOUT_HINT = " (in AWS's layout <endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl)"


def lines_of(
    rows: Iterable[Sequence[Any]],
    styles: Sequence[str],
    start: datetime = HOUR,
    names: Sequence[str] = FEATURES,
) -> list[str]:
    """One record per row, the styles taken in turn, a second apart from ``start``."""
    return [
        record(*encoded(row, styles[i % len(styles)], names), start + timedelta(seconds=i))
        for i, row in enumerate(rows)
    ]


def write_capture(
    root: Path,
    lines: Sequence[str],
    *,
    endpoint: str = "churn-prod",
    variant: str = "AllTraffic",
    hour: datetime = HOUR,
    name: str = "capture.jsonl",
) -> Path:
    path = root / capture_key(endpoint, variant, hour, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write("".join(line + "\n" for line in lines))
    return path


@pytest.fixture(scope="module")
def plans_baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plans")
    data = folder / "train.csv"
    data.write_text(",".join(FEATURES) + "\n" + "".join(as_csv(r) for r in plans(1, 2000)))
    baseline.write(baseline.compute(data), folder / "baseline")
    return folder / "baseline"


@pytest.fixture(scope="module")
def customers_baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("customers")
    computed = baseline.compute(write_csv(folder / "train.csv", customers(1, 3000)))
    baseline.write(computed, folder / "baseline")
    return folder / "baseline"


def window_statistics(folder: Path, root: Path) -> dict[str, Any]:
    window = Window()
    statistics, constraints = load_baseline(folder)
    files = capture.local_files(root, window)
    return analyse(statistics, constraints, files, window).sample


def sample_statistics(folder: Path, rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """What ``--data`` computes for the same rows (a CSV file with a header)."""
    path = folder / "sample.csv"
    path.write_text(",".join(FEATURES) + "\n" + "".join(as_csv(r) for r in rows))
    return baseline.compute(path).statistics


# --- the layout ----------------------------------------------------------------------------


def test_keys_in_the_documented_layout_name_endpoint_variant_and_hour() -> None:
    key = "data-capture/churn/churn-prod/AllTraffic/2024/05/01/10/12-34-567-abcd.jsonl"
    assert layout(key) == ("churn-prod", "AllTraffic", HOUR)
    assert capture_key("churn-prod", "AllTraffic", HOUR + timedelta(minutes=7)) == (
        "churn-prod/AllTraffic/2024/05/01/10/capture.jsonl"
    )
    assert layout("churn-prod/AllTraffic/2024/05/01/10/notes.txt") is None
    assert layout("churn-prod/AllTraffic/2024/13/01/10/x.jsonl") is None  # no 13th month
    assert layout("AllTraffic/2024/05/01/10/x.jsonl") is None  # no endpoint folder


def test_a_record_may_carry_the_endpoints_answer_and_an_event_id() -> None:
    line = json.loads(record("1,2\n", "CSV", "text/csv", HOUR, output="0.25", event_id="e-1"))
    assert line["captureData"]["endpointOutput"] == {
        "observedContentType": "text/csv; charset=utf-8",
        "mode": "OUTPUT",
        "data": "0.25",
        "encoding": "CSV",
    }
    assert line["eventMetadata"]["eventId"] == "e-1"
    assert line["captureData"]["endpointInput"]["data"] == "1,2\n"


def test_a_record_is_the_documented_shape() -> None:
    line = json.loads(record("1,2\n", "CSV", "text/csv", HOUR))
    assert line == {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": "1,2\n",
                "encoding": "CSV",
            }
        },
        "eventMetadata": {
            "eventId": "00000000-0000-0000-0000-000000000000",
            "inferenceTime": "2024-05-01T10:00:00Z",
        },
        "eventVersion": "0",
    }


# --- decoding ------------------------------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
def test_every_encoding_gives_the_statistics_a_data_sample_of_the_same_rows_gets(
    plans_baseline: Path, tmp_path: Path, style: str
) -> None:
    rows = plans(2, 300)
    write_capture(tmp_path / "cap", lines_of(rows, [style]))
    assert window_statistics(plans_baseline, tmp_path / "cap") == sample_statistics(tmp_path, rows)


def assert_same_statistics(found: dict[str, Any], expected: dict[str, Any]) -> None:
    """The same statistics, up to the rounding of the mean of values read in another order."""
    assert found["dataset"] == expected["dataset"]
    for ours, theirs in zip(found["features"], expected["features"], strict=True):
        block = "numerical_statistics" if "numerical_statistics" in theirs else "string_statistics"
        assert ours["inferred_type"] == theirs["inferred_type"]
        if block == "numerical_statistics":
            for key in ("mean", "sum", "std_dev"):
                assert ours[block].pop(key) == pytest.approx(theirs[block].pop(key))
        assert ours == theirs


def test_mixed_encodings_in_one_file_read_as_their_rows(
    plans_baseline: Path, tmp_path: Path
) -> None:
    rows = plans(3, 600)
    write_capture(tmp_path / "cap", lines_of(rows, STYLES))
    found = window_statistics(plans_baseline, tmp_path / "cap")
    assert_same_statistics(found, sample_statistics(tmp_path, rows))


def test_a_csv_request_of_several_rows_and_json_lines_count_every_row(
    plans_baseline: Path, tmp_path: Path
) -> None:
    rows = plans(4, 6)
    lines = [
        record("".join(as_csv(r) for r in rows[:3]), "CSV", "text/csv", HOUR),
        record(
            "\n".join(json.dumps(as_object(r)) for r in rows[3:]),
            "BASE64",
            "application/jsonlines",
            HOUR,
        ),
    ]
    write_capture(tmp_path / "cap", lines)
    found = window_statistics(plans_baseline, tmp_path / "cap")
    assert_same_statistics(found, sample_statistics(tmp_path, rows))


def test_a_block_pyarrow_refuses_is_read_line_by_line_with_the_same_result(
    plans_baseline: Path, tmp_path: Path
) -> None:
    rows = plans(5, 200)
    good = lines_of(rows, STYLES)
    write_capture(tmp_path / "clean", good)
    write_capture(tmp_path / "dirty", [*good[:4], '{"captureData": not json', *good[4:]])
    statistics, constraints = load_baseline(plans_baseline)
    clean = analyse(
        statistics, constraints, capture.local_files(tmp_path / "clean", Window()), Window()
    )
    files = capture.local_files(tmp_path / "dirty", Window())
    dirty = analyse(statistics, constraints, files, Window())
    assert dirty.sample == clean.sample
    assert dict(dirty.problems.counts) == {capture.MALFORMED: 1}
    assert dirty.problems.first[capture.MALFORMED].startswith(f"{files[0].location}:5: not JSON")


def test_bad_input_is_counted_and_the_rest_is_read(plans_baseline: Path, tmp_path: Path) -> None:
    rows = plans(6, 30)
    bad = [
        "not a record",
        json.dumps(
            {
                "captureData": {"endpointOutput": {"data": "0.5"}},
                "eventMetadata": {"inferenceTime": "2024-05-01T10:00:00Z"},
            }
        ),
        json.dumps({"captureData": {"endpointInput": {"data": "1,2,basic", "encoding": "CSV"}}}),
        record("1,2,basic", "XML", "text/xml", HOUR),
        record("1,2,basic", "BASE64", "text/csv", HOUR)
        .replace('"encoding"', '"x":0,"encoding"')
        .replace('"data":"', '"data":"!!', 1),
        record("\x89PNG", "BASE64", "image/png", HOUR),
        record("1,2\n", "CSV", "text/csv", HOUR),
        record("1,2,basic,extra\n", "CSV", "text/csv", HOUR),
        record('1,"2,basic\n', "CSV", "text/csv", HOUR),
        record("{not json", "JSON", "application/json", HOUR),
        record(json.dumps({"instances": [[1, 2]]}), "JSON", "application/json", HOUR),
        record(
            json.dumps({"instances": [{"tenure": "abc", "charges": 20.5, "plan": "basic"}]}),
            "JSON",
            "application/json",
            HOUR,
        ),
        record(
            json.dumps({"instances": [{"tenure": 3, "charges": [1], "plan": "basic"}]}),
            "JSON",
            "application/json",
            HOUR,
        ),
    ]
    write_capture(tmp_path / "cap", [*lines_of(rows, ["csv"]), *bad])
    statistics, constraints = load_baseline(plans_baseline)
    analysis = analyse(
        statistics, constraints, capture.local_files(tmp_path / "cap", Window()), Window()
    )
    assert dict(analysis.problems.counts) == {
        capture.MALFORMED: 1,
        capture.NO_INPUT: 1,
        capture.NO_TIME: 1,
        capture.UNKNOWN_ENCODING: 1,
        capture.NOT_BASE64: 1,
        capture.UNKNOWN_CONTENT_TYPE: 1,
        capture.COLUMN_COUNT: 3,
        capture.BAD_CSV: 1,
        capture.BAD_JSON: 1,
        capture.NOT_A_NUMBER: 1,
        capture.NESTED_VALUE: 1,
    }
    assert analysis.problems.not_numbers == {"tenure": 1}
    # The 30 good rows, and the two JSON rows whose one bad value counts as missing.
    assert analysis.rows == 32
    tenure, charges = analysis.sample["features"][:2]
    assert tenure["numerical_statistics"]["common"] == {"num_present": 31, "num_missing": 1}
    assert charges["numerical_statistics"]["common"] == {"num_present": 31, "num_missing": 1}
    lines = analysis.problems.lines()
    assert lines[0].startswith("skipped 3 rows with too few or too many values (first: ")
    assert lines[-1] == "values that are not numbers, counted as missing: tenure 1"


def test_unknown_json_keys_are_extra_columns_and_absent_features_missing_ones(
    plans_baseline: Path, tmp_path: Path
) -> None:
    rows = [{"tenure": 5, "charges": 20.0, "customer": "c-1"}, {"tenure": 7, "charges": 30.0}]
    lines = [record(json.dumps({"instances": rows}), "JSON", "application/json", HOUR)]
    write_capture(tmp_path / "cap", lines)
    statistics, constraints = load_baseline(plans_baseline)
    analysis = analyse(
        statistics, constraints, capture.local_files(tmp_path / "cap", Window()), Window()
    )
    checks = [(v.feature_name, v.constraint_check_type) for v in analysis.report.violations]
    assert ("plan", "missing_column_check") in checks
    assert ("customer", "extra_column_check") in checks
    [extra] = [f for f in analysis.sample["features"] if f["name"] == "customer"]
    assert extra["string_statistics"]["common"] == {"num_present": 1, "num_missing": 1}


# --- the window ----------------------------------------------------------------------------


def test_the_window_takes_inference_times_from_since_up_to_until(
    plans_baseline: Path, tmp_path: Path
) -> None:
    rows = plans(7, 4)
    times = [
        HOUR - timedelta(seconds=1),
        HOUR,
        HOUR + timedelta(minutes=59, seconds=59),
        HOUR + timedelta(hours=1),
    ]
    for row, time in zip(rows, times, strict=True):
        write_capture(tmp_path / "cap", [record(*encoded(row, "csv"), time)], hour=time)
    window = Window(HOUR, HOUR + timedelta(hours=1))
    files = capture.local_files(tmp_path / "cap", window)
    # The hour folders before and after the window are not read at all.
    assert [f.hour for f in files] == [HOUR]
    statistics, constraints = load_baseline(plans_baseline)
    analysis = analyse(statistics, constraints, files, window)
    assert analysis.rows == 2
    assert analysis.counts.outside == 0
    wider = Window(HOUR - timedelta(minutes=30), HOUR + timedelta(minutes=30))
    analysis = analyse(statistics, constraints, capture.local_files(tmp_path / "cap", wider), wider)
    assert (analysis.rows, analysis.counts.outside) == (2, 1)


def test_a_window_whose_since_is_not_before_its_until_is_refused() -> None:
    with pytest.raises(Exception, match="the window is empty: --since 2024-05-01T10:00:00Z"):
        Window(HOUR, HOUR)


# --- the distance the function publishes ---------------------------------------------------


def test_the_published_distance_exceeds_its_threshold_exactly_where_the_check_flags_drift(
    plans_baseline: Path, tmp_path: Path
) -> None:
    write_capture(tmp_path / "cap", lines_of(plans(8, 400, shifted=True), STYLES))
    statistics, constraints = load_baseline(plans_baseline)
    sample = analyse(
        statistics, constraints, capture.local_files(tmp_path / "cap", Window()), Window()
    ).sample
    found = distances(statistics, constraints, sample)
    drifted = {
        v.feature_name
        for v in compare(statistics, constraints, sample)
        if v.constraint_check_type == "baseline_drift_check"
    }
    assert set(found) == set(FEATURES)
    assert {name for name, d in found.items() if d.violated} == drifted == {"tenure", "plan"}
    assert 0 <= found["charges"].value <= found["charges"].threshold


# --- the command ---------------------------------------------------------------------------


def test_capture_mode_prints_what_data_mode_prints_for_the_same_rows(
    customers_baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = customers(3, 400, shifted=True)
    values = [[row[c] for c in COLUMNS] for row in rows]
    write_capture(tmp_path / "cap", lines_of(values, ["csv"], names=COLUMNS))
    data = release(
        capsys,
        "drift-check",
        "--baseline",
        str(customers_baseline),
        "--data",
        str(write_csv(tmp_path / "s.csv", rows)),
    )
    status, out, err = release(
        capsys,
        "drift-check",
        "--baseline",
        str(customers_baseline),
        "--capture",
        str(tmp_path / "cap"),
    )
    assert (status, out) == (data[0], data[1]) == (1, data[1])
    assert err.splitlines()[-1] == data[2].strip()
    assert err.splitlines()[0] == (
        "read 1 capture file, 400 requests at any time"
        " (0 records outside the window, 0 problems skipped)"
    )


def test_unshifted_captures_exit_0_and_shifted_ones_exit_1_naming_each_shifted_feature(
    plans_baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    later = HOUR + timedelta(hours=1)
    write_capture(tmp_path / "cap", lines_of(plans(9, 300), STYLES))
    write_capture(
        tmp_path / "cap", lines_of(plans(10, 300, shifted=True), STYLES, later), hour=later
    )
    base = ("drift-check", "--baseline", str(plans_baseline), "--capture", str(tmp_path / "cap"))
    status, out, _ = release(capsys, *base, "--until", "2024-05-01T11:00:00Z")
    assert (status, out) == (0, "")
    status, out, _ = release(capsys, *base, "--since", "2024-05-01T11:00:00Z", "--json")
    assert status == 1
    flagged = {
        (v["feature_name"], v["constraint_check_type"]) for v in json.loads(out)["violations"]
    }
    assert ("tenure", "baseline_drift_check") in flagged
    assert ("plan", "baseline_drift_check") in flagged
    assert not [name for name, _ in flagged if name == "charges"]


def test_only_the_named_variant_is_read(
    plans_baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_capture(tmp_path / "cap", lines_of(plans(11, 200), STYLES), variant="champion")
    write_capture(
        tmp_path / "cap", lines_of(plans(12, 200, shifted=True), STYLES), variant="challenger"
    )
    base = ("drift-check", "--baseline", str(plans_baseline), "--capture", str(tmp_path / "cap"))
    assert release(capsys, *base, "--variant", "champion")[0] == 0
    assert release(capsys, *base, "--variant", "challenger")[0] == 1


def test_bad_lines_are_warnings_and_the_check_still_runs(
    plans_baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_capture(tmp_path / "cap", ["oops", *lines_of(plans(13, 200), STYLES)])
    status, out, err = release(
        capsys, "drift-check", "--baseline", str(plans_baseline), "--capture", str(tmp_path / "cap")
    )
    assert (status, out) == (0, "")
    assert (
        err.splitlines()[0]
        == f"warning: skipped 1 malformed line (first: {path}:1: not JSON: Expecting value:"
        " line 1 column 1 (char 0))"
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ("--since", "2024-06-01"),
            "error: {cap}: no capture files from 2024-06-01T00:00:00Z on" + LAYOUT_HINT,
        ),
        (
            ("--variant", "shadow"),
            "error: {cap}: no capture files of variant shadow at any time" + LAYOUT_HINT,
        ),
        (
            ("--since", "2024-05-01T11:00", "--until", "2024-05-01T10:00"),
            "error: the window is empty: --since 2024-05-01T11:00:00Z is not before"
            " --until 2024-05-01T10:00:00Z",
        ),
    ],
)
def test_a_window_without_captures_exits_2_with_one_line(
    plans_baseline: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: tuple[str, ...],
    message: str,
) -> None:
    cap = tmp_path / "cap"
    write_capture(cap, lines_of(plans(14, 10), STYLES))
    status, out, err = release(
        capsys, "drift-check", "--baseline", str(plans_baseline), "--capture", str(cap), *arguments
    )
    assert (status, out, err) == (2, "", message.format(cap=cap) + "\n")


def test_an_unreadable_baseline_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_capture(tmp_path / "cap", lines_of(plans(15, 10), STYLES))
    status, out, err = release(
        capsys,
        "drift-check",
        "--baseline",
        str(tmp_path / "nowhere"),
        "--capture",
        str(tmp_path / "cap"),
    )
    assert (status, out, err) == (
        2,
        "",
        f"error: {tmp_path / 'nowhere'}: no such baseline folder\n",
    )


def test_data_and_capture_are_exclusive_and_the_window_flags_go_with_capture(
    plans_baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        release(
            capsys,
            "drift-check",
            "--baseline",
            str(plans_baseline),
            "--data",
            "a.csv",
            "--capture",
            "cap",
        )
    assert exited.value.code == 2
    assert "argument --capture: not allowed with argument --data" in capsys.readouterr().err
    status, _, err = release(
        capsys,
        "drift-check",
        "--baseline",
        str(plans_baseline),
        "--data",
        "a.csv",
        "--since",
        "2024-05-01",
    )
    assert (status, err) == (2, "error: --since, --until and --variant go with --capture\n")


def test_files_decoded_in_parallel_give_the_same_bytes(
    plans_baseline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for hour in range(5):
        start = HOUR + timedelta(hours=hour)
        rows = plans(40 + hour, 150, shifted=hour % 2 == 1)
        write_capture(tmp_path / "cap", ["oops", *lines_of(rows, STYLES, start)], hour=start)
    statistics, constraints = load_baseline(plans_baseline)
    files = capture.local_files(tmp_path / "cap", Window())
    found = []
    for threads in ("1", "3"):
        monkeypatch.setenv("MLSERVE_DRIFT_DECODE_THREADS", threads)
        analysis = analyse(statistics, constraints, files, Window())
        found.append((baseline.to_json(analysis.sample), analysis.problems.lines()))
    assert found[0] == found[1]
    assert found[0][1][0].startswith(f"skipped 5 malformed lines (first: {files[0].location}:1:")


def test_decoding_threads_default_to_the_processors_up_to_four(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    from model_packaging.drift import engine

    monkeypatch.delenv("MLSERVE_DRIFT_DECODE_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert engine._threads() == 2
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert engine._threads() == 4
