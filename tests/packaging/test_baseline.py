"""The data-quality baseline: Model Monitor's documented formats, exact counts, sketch error,
determinism, bounded memory, and how build records it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import datasketches
import numpy as np
import pytest
import yaml

import model_packaging.drift.baseline as baseline_module
from model_packaging.artifact.build import build
from model_packaging.drift.baseline import compute, write
from model_packaging.drift.sketch import KLL_K
from model_packaging.errors import PackagingError
from tests.packaging.test_build import copy_example

ROOT = Path(__file__).resolve().parents[2]

# --- the documented schemas, as a checker ---------------------------------------------------
# "Schema for Statistics (statistics.json file)":
#   https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-statistics.html
# "Schema for Constraints (constraints.json file)":
#   https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-constraints.html
# A dict spec lists required keys (optional ones start with "?"), a list spec is a list of
# items of one spec, a set is the allowed strings, a type is the JSON type.

NUMBER = "number"
COMMON = {"num_present": int, "num_missing": int}
NUMERICAL_STATISTICS = {
    "common": COMMON,
    "mean": NUMBER,
    "sum": NUMBER,
    "std_dev": NUMBER,
    "min": NUMBER,
    "max": NUMBER,
    "distribution": {
        "kll": {
            "buckets": [{"lower_bound": NUMBER, "upper_bound": NUMBER, "count": NUMBER}],
            "sketch": {"parameters": {"c": NUMBER, "k": NUMBER}, "data": [[NUMBER]]},
        }
    },
}
STRING_STATISTICS = {
    "common": COMMON,
    "distinct_count": NUMBER,
    "distribution": {"categorical": {"buckets": [{"value": str, "count": NUMBER}]}},
}
STATISTICS_FEATURE = {
    "name": str,
    "inferred_type": {"Integral", "Fractional", "String", "Unknown"},
    "?numerical_statistics": NUMERICAL_STATISTICS,
    "?string_statistics": STRING_STATISTICS,
}
STATISTICS = {
    "version": NUMBER,
    "dataset": {"item_count": NUMBER},
    "features": [STATISTICS_FEATURE],
}
ENABLED = {"Enabled", "Disabled"}
CONSTRAINTS = {
    "version": NUMBER,
    "features": [
        {
            "name": str,
            "inferred_type": {"Integral", "Fractional", "String", "Unknown"},
            "completeness": NUMBER,
            "?num_constraints": {"is_non_negative": bool},
            "?string_constraints": {"domains": [str]},
            "?monitoringConfigOverrides": dict,
        }
    ],
    "monitoring_config": {
        "evaluate_constraints": ENABLED,
        "emit_metrics": ENABLED,
        "datatype_check_threshold": NUMBER,
        "domain_content_threshold": NUMBER,
        "distribution_constraints": {
            "perform_comparison": ENABLED,
            "comparison_threshold": NUMBER,
            "comparison_method": {"Simple", "Robust"},
            "categorical_comparison_threshold": NUMBER,
            "categorical_drift_method": {"LInfinity", "ChiSquared"},
        },
    },
}


def schema_problems(value: Any, spec: Any, where: str = "") -> list[str]:
    """Every place ``value`` departs from ``spec``: missing or unknown keys, wrong types."""
    if spec == NUMBER:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{where}: must be a number, got {value!r}"]
    if isinstance(spec, type):
        ok = isinstance(value, spec) and (spec is bool or not isinstance(value, bool))
        return [] if ok else [f"{where}: must be {spec.__name__}, got {value!r}"]
    if isinstance(spec, set):
        return [] if value in spec else [f"{where}: must be one of {sorted(spec)}, got {value!r}"]
    if isinstance(spec, list):
        if not isinstance(value, list):
            return [f"{where}: must be a list"]
        return [
            p
            for i, item in enumerate(value)
            for p in schema_problems(item, spec[0], f"{where}[{i}]")
        ]
    if not isinstance(value, dict):
        return [f"{where}: must be an object"]
    problems = []
    keys = {key.lstrip("?"): key.startswith("?") for key in spec}
    for key, optional in keys.items():
        if key in value:
            problems += schema_problems(
                value[key], spec.get(key, spec.get(f"?{key}")), f"{where}.{key}"
            )
        elif not optional:
            problems.append(f"{where}.{key}: required")
    problems += [f"{where}.{key}: not in the documented schema" for key in value.keys() - keys]
    return problems


def statistics_problems(document: dict[str, Any]) -> list[str]:
    problems = schema_problems(document, STATISTICS, "statistics")
    for i, feature in enumerate(document.get("features", [])):
        wanted = {
            "Integral": "numerical_statistics",
            "Fractional": "numerical_statistics",
            "String": "string_statistics",
        }.get(feature.get("inferred_type"))
        given = {"numerical_statistics", "string_statistics"} & feature.keys()
        if given != ({wanted} if wanted else set()):
            problems.append(f"statistics.features[{i}]: {feature.get('inferred_type')} has {given}")
    return problems


# --- helpers --------------------------------------------------------------------------------


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    text = ",".join(header) + "\n"
    text += "".join(",".join("" if v is None else str(v) for v in row) + "\n" for row in rows)
    path.write_text(text, encoding="utf-8")
    return path


def feature(statistics: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in statistics["features"] if f["name"] == name)


def sketch_quantile(kll: dict[str, Any], rank: float) -> float:
    """A quantile read back from statistics.json's sketch: level h holds items of weight 2**h."""
    items = np.concatenate([np.asarray(level, dtype=float) for level in kll["sketch"]["data"]])
    weights = np.concatenate(
        [np.full(len(level), 2**h) for h, level in enumerate(kll["sketch"]["data"])]
    )
    order = np.argsort(items, kind="stable")
    cumulative = np.cumsum(weights[order])
    index = np.searchsorted(cumulative, rank * cumulative[-1], side="left")
    return float(items[order][min(index, len(items) - 1)])


def true_rank_interval(sorted_values: np.ndarray, value: float) -> tuple[float, float]:
    n = len(sorted_values)
    return (
        np.searchsorted(sorted_values, value, "left") / n,
        np.searchsorted(sorted_values, value, "right") / n,
    )


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """200,000 rows (several blocks, many compactions) with known values and missing cells."""
    rng = np.random.default_rng(7)
    n = 200_000
    ints = rng.integers(-50, 1000, n)
    floats = rng.lognormal(3.0, 1.0, n).round(4)
    colours = rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2])
    missing_floats = rng.random(n) < 0.05
    missing_colours = rng.random(n) < 0.01
    path = tmp_path_factory.mktemp("known") / "data.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("count,amount,colour,empty\n")
        for i in range(n):
            amount = "" if missing_floats[i] else repr(float(floats[i]))
            colour = "" if missing_colours[i] else colours[i]
            out.write(f"{ints[i]},{amount},{colour},\n")
    expected = {
        "ints": ints.astype(float),
        "floats": floats[~missing_floats],
        "colours": colours[~missing_colours],
        "n": n,
    }
    return path, expected


# --- format ---------------------------------------------------------------------------------


def test_the_written_files_load_back_against_the_documented_schemas(
    known: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    write(compute(known[0]), tmp_path)

    statistics = json.loads((tmp_path / "statistics.json").read_text())
    constraints = json.loads((tmp_path / "constraints.json").read_text())
    assert statistics_problems(statistics) == []
    assert schema_problems(constraints, CONSTRAINTS, "constraints") == []
    assert [f["inferred_type"] for f in statistics["features"]] == [
        "Integral",
        "Fractional",
        "String",
        "Unknown",
    ]
    kll = feature(statistics, "amount")["numerical_statistics"]["distribution"]["kll"]
    assert len(kll["buckets"]) == 10  # "materialized in 10 buckets. This can't be changed."


def test_the_schema_checker_names_what_departs_from_the_documented_schema() -> None:
    document: dict[str, Any] = {
        "version": 0,
        "dataset": {"item_count": 1},
        "features": [
            {
                "name": "x",
                "inferred_type": "Integral",
                "numerical_statistics": {"common": {"num_present": 1, "num_missing": 0}},
                "extra": 1,
            }
        ],
    }
    problems = statistics_problems(document)
    assert "statistics.features[0].numerical_statistics.mean: required" in problems
    assert "statistics.features[0].extra: not in the documented schema" in problems


# --- values ---------------------------------------------------------------------------------


def test_counts_missing_values_and_moments_are_exact(known: tuple[Path, dict[str, Any]]) -> None:
    path, expected = known
    result = compute(path)
    statistics, constraints = result.statistics, result.constraints

    assert result.rows == statistics["dataset"]["item_count"] == expected["n"]
    for name, values in (("count", expected["ints"]), ("amount", expected["floats"])):
        stats = feature(statistics, name)["numerical_statistics"]
        assert stats["common"] == {
            "num_present": len(values),
            "num_missing": expected["n"] - len(values),
        }
        assert stats["sum"] == pytest.approx(values.sum(), rel=1e-12)
        assert stats["mean"] == pytest.approx(values.mean(), rel=1e-12)
        assert stats["std_dev"] == pytest.approx(values.std(), rel=1e-9)
        assert (stats["min"], stats["max"]) == (values.min(), values.max())
        buckets = stats["distribution"]["kll"]["buckets"]
        assert sum(b["count"] for b in buckets) == len(values)
        assert buckets[0]["lower_bound"] == values.min()
        assert buckets[-1]["upper_bound"] == values.max()
    completeness = {f["name"]: f["completeness"] for f in constraints["features"]}
    assert completeness["amount"] == len(expected["floats"]) / expected["n"]
    assert completeness["empty"] == 0.0
    non_negative = {
        f["name"]: f["num_constraints"]["is_non_negative"]
        for f in constraints["features"]
        if "num_constraints" in f
    }
    assert non_negative == {"count": False, "amount": True}


def test_quantiles_from_the_sketch_are_within_the_kll_rank_error(
    known: tuple[Path, dict[str, Any]],
) -> None:
    path, expected = known
    statistics = compute(path).statistics
    # DataSketches' documented bound for a KLL sketch of this k (99th percentile of error).
    bound = datasketches.kll_doubles_sketch(KLL_K).normalized_rank_error(False)

    for name, values in (("count", expected["ints"]), ("amount", expected["floats"])):
        kll = feature(statistics, name)["numerical_statistics"]["distribution"]["kll"]
        assert kll["sketch"]["parameters"] == {"c": 0.64, "k": KLL_K}
        assert len(kll["sketch"]["data"]) > 3, "the sketch compacted: the test covers error"
        ordered = np.sort(values)
        for rank in (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99):
            low, high = true_rank_interval(ordered, sketch_quantile(kll, rank))
            assert low - bound <= rank <= high + bound, (name, rank, low, high)
        # Bucket counts come from the sketch too: each is within the rank error on both edges.
        for bucket in kll["buckets"][:-1]:
            exact = np.count_nonzero(
                (values >= bucket["lower_bound"]) & (values < bucket["upper_bound"])
            )
            assert abs(bucket["count"] - exact) <= 2 * bound * len(values)


def test_string_features_count_exactly_at_small_cardinality(
    known: tuple[Path, dict[str, Any]],
) -> None:
    path, expected = known
    result = compute(path)
    stats = feature(result.statistics, "colour")["string_statistics"]
    values, counts = np.unique(expected["colours"], return_counts=True)

    assert stats["common"]["num_present"] == len(expected["colours"])
    assert stats["distinct_count"] == 3
    by_count = sorted(zip(counts.tolist(), values.tolist(), strict=True), reverse=True)
    assert stats["distribution"]["categorical"]["buckets"] == [
        {"value": value, "count": count} for count, value in by_count
    ]
    colour = next(f for f in result.constraints["features"] if f["name"] == "colour")
    assert colour["string_constraints"] == {"domains": ["blue", "green", "red"]}


def test_string_features_of_high_cardinality_stay_bounded(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    ids = rng.integers(0, 20_000, 100_000)
    path = write_csv(tmp_path / "ids.csv", ["id", "tag"], [[f"c{i}", "a"] for i in ids])

    result = compute(path)
    stats = feature(result.statistics, "id")["string_statistics"]

    distinct = len(np.unique(ids))
    # HyperLogLog with lg_k 12: relative standard error 1.04 / sqrt(4096) = 1.6%; 3 sigma.
    assert abs(stats["distinct_count"] - distinct) <= 0.05 * distinct
    assert len(stats["distribution"]["categorical"]["buckets"]) <= 1000
    constraint = next(f for f in result.constraints["features"] if f["name"] == "id")
    assert "string_constraints" not in constraint  # a domain is only for small cardinality


def test_json_lines_give_the_same_statistics_as_csv(tmp_path: Path) -> None:
    rows = [[i % 7, i * 0.5 if i % 5 else None, ["x", "y"][i % 2]] for i in range(5000)]
    csv_path = write_csv(tmp_path / "d.csv", ["a", "b", "c"], rows)
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text(
        "".join(json.dumps({"a": a, "b": b, "c": c}) + "\n" for a, b, c in rows), encoding="utf-8"
    )

    from_csv, from_jsonl = compute(csv_path), compute(jsonl)

    assert (from_csv.format, from_jsonl.format) == ("csv", "jsonl")
    assert from_jsonl.statistics == from_csv.statistics
    assert from_jsonl.constraints == from_csv.constraints
    assert compute(jsonl.rename(tmp_path / "d.txt"), "jsonl").statistics == from_csv.statistics


def test_an_integral_column_with_a_fraction_in_a_later_block_is_fractional(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(baseline_module, "BLOCK_SIZE", 4096)
    rows = [[i] for i in range(3000)] + [[2.5]]
    result = compute(write_csv(tmp_path / "d.csv", ["a"], rows))

    assert feature(result.statistics, "a")["inferred_type"] == "Fractional"


def test_json_booleans_are_categories_and_a_header_alone_gives_unknown_features(
    tmp_path: Path,
) -> None:
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text('{"flag": true}\n{"flag": false}\n{"flag": true}\n{"flag": null}\n')
    flag = feature(compute(jsonl).statistics, "flag")["string_statistics"]
    assert flag["common"] == {"num_present": 3, "num_missing": 1}
    assert flag["distribution"]["categorical"]["buckets"] == [
        {"value": "true", "count": 2},
        {"value": "false", "count": 1},
    ]

    empty = compute(write_csv(tmp_path / "e.csv", ["a", "b"], []))
    assert empty.rows == 0
    assert [f["inferred_type"] for f in empty.statistics["features"]] == ["Unknown", "Unknown"]
    assert statistics_problems(empty.statistics) == []


# --- reproducibility and memory -------------------------------------------------------------


def test_the_same_file_gives_the_same_bytes_in_separate_processes(
    known: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    script = (
        "import sys; from pathlib import Path; from model_packaging.drift.baseline import compute, "
        "write; write(compute(Path(sys.argv[1])), Path(sys.argv[2]))"
    )
    for out in ("a", "b"):
        subprocess.run(
            [sys.executable, "-c", script, str(known[0]), str(tmp_path / out)], check=True, cwd=ROOT
        )

    for name in ("statistics.json", "constraints.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


MEMORY_LIMITED = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    import datasketches, pyarrow.compute, pyarrow.csv  # what computing imports
    from model_packaging.drift.baseline import compute

    def data_size():
        for line in open("/proc/self/status"):
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024

    # Whatever the imports cost, then 200 MB more: less than the file.
    limit = data_size() + 200 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    try:
        bytearray(300 * 1024 * 1024)
    except MemoryError:
        pass
    else:
        sys.exit("the limit does not hold")
    result = compute(Path(sys.argv[1]))
    print(json.dumps({"rows": result.rows, "stats": result.statistics["features"][0]}))
    """
)


def test_a_file_larger_than_the_memory_limit_is_processed(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    block_rows = 20_000
    block = "".join(
        f"{a},{b!r},{c}\n"
        for a, b, c in zip(
            rng.integers(0, 100, block_rows).tolist(),
            rng.normal(50, 10, block_rows).round(3).tolist(),
            rng.choice(["red", "green", "blue"], block_rows).tolist(),
            strict=True,
        )
    )
    path = tmp_path / "big.csv"
    repeats = (300 << 20) // len(block) + 1
    with path.open("w", encoding="utf-8") as out:
        out.write("a,b,c\n")
        for _ in range(repeats):
            out.write(block)
    assert path.stat().st_size > 300 << 20

    # RLIMIT_DATA counts address space that allocators reserve, not only what they use: the
    # system allocator, with glibc's per-thread arenas capped, makes it count what is used.
    env = {**os.environ, "ARROW_DEFAULT_MEMORY_POOL": "system", "MALLOC_ARENA_MAX": "2"}
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_LIMITED, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["rows"] == block_rows * repeats
    assert result["stats"]["numerical_statistics"]["common"]["num_present"] == result["rows"]


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "fmt", "message"),
    [
        ("d.parquet", "a\n1\n", None, "cannot tell the baseline format from the extension"),
        ("d.csv", "a\n1\n", "xml", "baseline format 'xml': must be one of csv, jsonl"),
        ("d.csv", "", None, "cannot read as csv: Empty CSV file"),
        ("d.csv", "a,a\n1,2\n", None, "the header row names a column twice"),
        ("d.csv", "a,b\n1,2\n3\n", None, "cannot read as csv: "),
        ("d.jsonl", '{"a": 1}\nnot json\n', None, "cannot read as jsonl: "),
        ("d.jsonl", '{"a": [1, 2]}\n', None, "field 'a' holds lists or objects"),
    ],
)
def test_bad_input_gets_one_line_naming_the_file_and_problem(
    tmp_path: Path, name: str, content: str, fmt: str | None, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PackagingError) as error:
        compute(path, fmt)
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_later_value_that_is_not_a_number_names_the_column_types(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(baseline_module, "BLOCK_SIZE", 4096)
    rows = [[i, "x"] for i in range(3000)] + [["oops", "y"]]
    with pytest.raises(PackagingError) as error:
        compute(write_csv(tmp_path / "d.csv", ["a", "b"], rows))
    assert "cannot read as csv" in str(error.value)
    assert "types are taken from the first rows: a Integral, b String" in str(error.value)


def test_a_json_field_that_appears_only_later_is_named_as_the_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(baseline_module, "BLOCK_SIZE", 4096)
    path = tmp_path / "d.jsonl"
    records = [{"a": i} for i in range(2000)] + [{"a": 1, "late": "x"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")

    with pytest.raises(PackagingError) as error:
        compute(path)
    assert "a record has a field the first rows do not have" in str(error.value)
    assert str(error.value).endswith("taken from the first rows: a Integral")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="baseline dataset not found"):
        compute(tmp_path / "nothing.csv")


# --- build ----------------------------------------------------------------------------------


def test_build_writes_the_baseline_beside_the_artifact_and_records_its_digests(
    tmp_path: Path,
) -> None:
    model_dir = copy_example(tmp_path / "churn")
    first = build(model_dir, tmp_path / "one", progress=False)
    second = build(model_dir, tmp_path / "two", progress=False)

    manifest = json.loads(first.manifest_path.read_text())
    record = manifest["baseline"]
    dataset = model_dir / "data" / "baseline.csv"
    assert record["dataset"] == {
        "path": "data/baseline.csv",
        "sha256": hashlib.sha256(dataset.read_bytes()).hexdigest(),
        "format": "csv",
        "rows": 2000,
    }
    for key in ("statistics", "constraints"):
        written = tmp_path / "one" / record[key]["path"]
        assert record[key]["path"] == f"baseline/{key}.json"
        assert record[key]["sha256"] == hashlib.sha256(written.read_bytes()).hexdigest()
        assert written.read_bytes() == (tmp_path / "two" / record[key]["path"]).read_bytes()
    assert first.manifest_path.read_bytes() == second.manifest_path.read_bytes()
    statistics = json.loads((tmp_path / "one" / "baseline" / "statistics.json").read_text())
    assert [f["name"] for f in statistics["features"]] == [
        "tenure_months",
        "monthly_charges",
        "support_calls_90d",
        "contract_months",
    ]
    assert statistics_problems(statistics) == []


def test_without_a_baseline_the_manifest_has_none_and_a_stale_one_is_removed(
    tmp_path: Path,
) -> None:
    model_dir = copy_example(tmp_path / "churn")
    out = tmp_path / "out"
    build(model_dir, out, progress=False)
    descriptor = yaml.safe_load((model_dir / "model.yaml").read_text())
    del descriptor["baseline"]
    (model_dir / "model.yaml").write_text(yaml.safe_dump(descriptor))

    result = build(model_dir, out, progress=False)

    assert "baseline" not in json.loads(result.manifest_path.read_text())
    assert not (out / "baseline").exists()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"path": "data/none.csv"}, "baseline.path: no such file 'data/none.csv'"),
        ({"path": "model.yaml"}, "baseline.path: cannot tell the format of 'model.yaml'"),
        (
            {"path": "data/baseline.csv", "format": "xml"},
            "baseline.format: must be one of 'csv' or 'jsonl', got 'xml'",
        ),
        ({"path": "../x.csv"}, "baseline.path: "),
    ],
)
def test_a_bad_baseline_entry_is_refused_with_its_key_path_and_nothing_written(
    tmp_path: Path, entry: dict[str, str], message: str
) -> None:
    model_dir = copy_example(tmp_path / "churn")
    descriptor = yaml.safe_load((model_dir / "model.yaml").read_text())
    descriptor["baseline"] = entry
    (model_dir / "model.yaml").write_text(yaml.safe_dump(descriptor))

    with pytest.raises(PackagingError) as error:
        build(model_dir, tmp_path / "out", progress=False)
    assert message in str(error.value)
    assert not (tmp_path / "out").exists()


def test_a_dataset_that_cannot_be_read_fails_the_build_and_leaves_nothing(tmp_path: Path) -> None:
    model_dir = copy_example(tmp_path / "churn")
    (model_dir / "data" / "baseline.csv").write_text("a,b\n1,2\n3\n", encoding="utf-8")

    with pytest.raises(PackagingError, match=r"data/baseline\.csv: cannot read as csv: "):
        build(model_dir, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_the_example_dataset_is_what_train_py_writes(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import numpy as np, train; "
        "train.HERE = __import__('pathlib').Path(sys.argv[2]); "
        "f, _ = train.generate(np.random.default_rng(train.SEED), train.ROWS); "
        "train.write_baseline(f)"
    )
    example = ROOT / "examples" / "models" / "churn"
    subprocess.run([sys.executable, "-c", script, str(example), str(tmp_path)], check=True, env=env)
    assert (tmp_path / "data" / "baseline.csv").read_bytes() == (
        example / "data" / "baseline.csv"
    ).read_bytes()
