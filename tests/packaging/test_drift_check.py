"""drift-check: Model Monitor's data-quality constraints evaluated on this machine.

The comparison is tested on hand-made statistics and constraints (the documented
statistics.json / constraints.json shapes), where every distance can be worked out by hand;
the command end to end reads a real baseline folder and CSV / JSON Lines samples.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model_packaging.cli import main
from model_packaging.drift.checks import Report, Violation, compare, load_baseline
from model_packaging.errors import PackagingError
from tests.helpers import release
from tests.packaging.conftest import ArtifactFactory, manifest_of

# --- hand-made documents -------------------------------------------------------------------


def numeric(name: str, values: Sequence[float | None], kind: str = "Integral") -> dict[str, Any]:
    """A numerical feature of statistics.json whose sketch holds every value at level 0."""
    present = [v for v in values if v is not None]
    return {
        "name": name,
        "inferred_type": kind,
        "numerical_statistics": {
            "common": {"num_present": len(present), "num_missing": len(values) - len(present)},
            "mean": sum(present) / len(present) if present else 0.0,
            "distribution": {
                "kll": {
                    "buckets": [],
                    "sketch": {"parameters": {"c": 0.64, "k": 2048.0}, "data": [present]},
                }
            },
        },
    }


def strings(name: str, values: Sequence[str | None]) -> dict[str, Any]:
    present = [v for v in values if v is not None]
    counts: dict[str, int] = {}
    for value in present:
        counts[value] = counts.get(value, 0) + 1
    return {
        "name": name,
        "inferred_type": "String",
        "string_statistics": {
            "common": {"num_present": len(present), "num_missing": len(values) - len(present)},
            "distinct_count": len(counts),
            "distribution": {
                "categorical": {"buckets": [{"value": v, "count": c} for v, c in counts.items()]}
            },
        },
    }


def statistics(*features: dict[str, Any], rows: int | None = None) -> dict[str, Any]:
    count = rows if rows is not None else _rows(features[0])
    return {"version": 0, "dataset": {"item_count": count}, "features": list(features)}


def _rows(feature: dict[str, Any]) -> int:
    block = feature.get("numerical_statistics") or feature["string_statistics"]
    return int(block["common"]["num_present"] + block["common"]["num_missing"])


def constraints_for(
    stats: dict[str, Any], *, domains: dict[str, list[str]] | None = None, **config: Any
) -> dict[str, Any]:
    """constraints.json as Model Monitor suggests it for ``stats``: the observed completeness,
    the observed type, string domains; thresholds as the suggestion writes them."""
    features = []
    for feature in stats["features"]:
        block = feature.get("numerical_statistics") or feature["string_statistics"]
        common = block["common"]
        entry: dict[str, Any] = {
            "name": feature["name"],
            "inferred_type": feature["inferred_type"],
            "completeness": common["num_present"] / (common["num_present"] + common["num_missing"]),
        }
        if domains and feature["name"] in domains:
            entry["string_constraints"] = {"domains": domains[feature["name"]]}
        features.append(entry)
    distribution = {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    }
    distribution.update(config.pop("distribution", {}))
    monitoring = {
        "evaluate_constraints": "Enabled",
        "emit_metrics": "Enabled",
        "datatype_check_threshold": 1.0,
        "domain_content_threshold": 1.0,
        "distribution_constraints": distribution,
    }
    monitoring.update(config)
    return {"version": 0, "features": features, "monitoring_config": monitoring}


def checks(violations: list[Violation]) -> list[tuple[str, str]]:
    return [(v.feature_name, v.constraint_check_type) for v in violations]


BASE = statistics(
    numeric("tenure", list(range(1000))),
    strings("plan", ["basic"] * 600 + ["premium"] * 400),
)
BASE_CONSTRAINTS = constraints_for(BASE, domains={"plan": ["basic", "premium"]})


# --- the comparison ------------------------------------------------------------------------


def test_a_sample_of_the_baseline_distribution_violates_nothing() -> None:
    # Every third value of the baseline's range, and the same plan mix: the CDFs differ by far
    # less than the Robust correction allows for 1000 and 334 values.
    sample = statistics(
        numeric("tenure", list(range(0, 1000, 3))),
        strings("plan", ["basic"] * 200 + ["premium"] * 134),
    )
    assert compare(BASE, BASE_CONSTRAINTS, sample) == []


def test_a_moved_mean_is_flagged_on_that_feature_with_its_robust_distance() -> None:
    sample = statistics(
        numeric("tenure", list(range(300, 1300))),
        strings("plan", ["basic"] * 600 + ["premium"] * 400),
    )
    [violation] = compare(BASE, BASE_CONSTRAINTS, sample)
    assert checks([violation]) == [("tenure", "baseline_drift_check")]
    # The CDFs part by 0.3 at 299; Robust subtracts 1.8 * sqrt(2000 / 1000**2) = 0.0805.
    robust = 0.3 - 1.8 * math.sqrt(2000 / 1000**2)
    assert violation.description.startswith(f"distance {robust:.3g} > 0.1 (Robust L-infinity")
    assert "1000 baseline values, 1000 sample values" in violation.description


def test_robust_forgives_a_small_sample_what_simple_flags() -> None:
    # 20 values shifted by a fifth of the range: linf_simple 0.2, but sqrt((1000 + 20) /
    # (1000 * 20)) * 1.8 = 0.406 more than covers it.
    sample = statistics(
        numeric("tenure", list(range(200, 1200, 50))),
        strings("plan", ["basic"] * 12 + ["premium"] * 8),
    )
    assert compare(BASE, BASE_CONSTRAINTS, sample) == []
    simple = constraints_for(
        BASE, domains={"plan": ["basic", "premium"]}, distribution={"comparison_method": "Simple"}
    )
    [violation] = compare(BASE, simple, sample)
    assert checks([violation]) == [("tenure", "baseline_drift_check")]
    assert violation.description.startswith(
        "distance 0.2 > 0.1 (Simple L-infinity between the CDFs"
    )


def test_sketch_levels_weigh_their_items_two_to_the_level() -> None:
    # The same 1000 values, compacted: level 1 holds every other value of 0..499, each
    # standing for two. The sketch says the same distribution; a sketch read as unweighted
    # would put 2/3 of the mass above 500 and flag it.
    compacted = numeric("tenure", [])
    data = [list(range(500, 1000)), list(range(0, 500, 2))]
    compacted["numerical_statistics"]["distribution"]["kll"]["sketch"]["data"] = data
    compacted["numerical_statistics"]["common"] = {"num_present": 1000, "num_missing": 0}
    sample = statistics(compacted, strings("plan", ["basic"] * 600 + ["premium"] * 400))
    assert compare(BASE, BASE_CONSTRAINTS, sample) == []


def test_more_missing_values_fail_completeness_and_the_type_share() -> None:
    sample = statistics(
        numeric("tenure", list(range(0, 1000, 2)) + [None] * 100),
        strings("plan", ["basic"] * 360 + ["premium"] * 240),
    )
    found = compare(BASE, BASE_CONSTRAINTS, sample)
    assert checks(found) == [("tenure", "data_type_check"), ("tenure", "completeness_check")]
    assert found[1].description == "83.33% of values present < baseline 100% (100 of 600 missing)"
    # Deequ's type histogram counts missing values in the denominator.
    assert found[0].description.startswith("83.33% of values are Integral < expected 100%")


def test_a_column_with_no_value_at_all_fails_completeness() -> None:
    # baseline.compute writes a feature with no present value as its name and type Unknown.
    sample = statistics(
        {"name": "tenure", "inferred_type": "Unknown"},
        strings("plan", ["basic"] * 60 + ["premium"] * 40),
        rows=100,
    )
    found = compare(BASE, BASE_CONSTRAINTS, sample)
    assert checks(found) == [("tenure", "completeness_check")]
    assert found[0].description == "0% of values present < baseline 100% (100 of 100 missing)"


def test_a_new_category_fails_the_domain_and_moves_the_frequencies() -> None:
    sample = statistics(
        numeric("tenure", list(range(1000))),
        strings("plan", ["basic"] * 400 + ["premium"] * 300 + ["family"] * 300),
    )
    found = compare(BASE, BASE_CONSTRAINTS, sample)
    assert checks(found) == [("plan", "baseline_drift_check"), ("plan", "categorical_values_check")]
    # Frequencies: basic 0.6 -> 0.4, premium 0.4 -> 0.3, family 0 -> 0.3: linf 0.3 less the
    # Robust correction for 1000 and 1000 values.
    robust = 0.3 - 1.8 * math.sqrt(2000 / 1000**2)
    assert found[0].description.startswith(f"distance {robust:.3g} > 0.1 (Robust L-infinity")
    assert "between the frequencies" in found[0].description
    assert (
        found[1].description
        == "70% of values in the baseline's domain < expected 100%; new: 'family'"
    )


def test_domain_content_threshold_is_the_share_that_must_be_known() -> None:
    sample = statistics(
        numeric("tenure", list(range(1000))),
        strings("plan", ["basic"] * 590 + ["premium"] * 400 + ["family"] * 10),
    )
    lenient = constraints_for(
        BASE, domains={"plan": ["basic", "premium"]}, domain_content_threshold=0.99
    )
    assert compare(BASE, lenient, sample) == []
    assert checks(compare(BASE, BASE_CONSTRAINTS, sample)) == [("plan", "categorical_values_check")]


def test_text_in_a_numeric_feature_fails_the_data_type_check() -> None:
    values = [str(v) for v in range(0, 1000, 2)] + ["n/a"] * 50
    sample = statistics(
        strings("tenure", values), strings("plan", ["basic"] * 330 + ["premium"] * 220)
    )
    found = compare(BASE, BASE_CONSTRAINTS, sample)
    assert checks(found) == [("tenure", "data_type_check")]
    assert found[0].description == (
        "90.91% of values are Integral < expected 100% (the sample's values read as String)"
    )
    lenient = constraints_for(
        BASE, domains={"plan": ["basic", "premium"]}, datatype_check_threshold=0.9
    )
    assert compare(BASE, lenient, sample) == []


def test_fractional_values_in_an_integral_feature_are_counted_from_the_sketch() -> None:
    sample = statistics(
        numeric("tenure", [float(v) for v in range(0, 1000, 2)] + [0.5] * 500, kind="Fractional"),
        strings("plan", ["basic"] * 600 + ["premium"] * 400),
    )
    found = compare(BASE, BASE_CONSTRAINTS, sample)
    assert ("tenure", "data_type_check") in checks(found)
    assert found[0].description.startswith("50% of values are Integral")


def test_integral_values_match_a_fractional_baseline() -> None:
    base = statistics(numeric("charge", [v / 4 for v in range(1000)], kind="Fractional"))
    sample = statistics(numeric("charge", list(range(0, 250, 1))))
    assert compare(base, constraints_for(base), sample) == []


def test_missing_and_extra_columns_are_named() -> None:
    sample = statistics(numeric("tenure", list(range(1000))), strings("region", ["eu"] * 1000))
    found = compare(BASE, BASE_CONSTRAINTS, sample)
    assert checks(found) == [("plan", "missing_column_check"), ("region", "extra_column_check")]
    assert found[0].description == "the sample has no column plan (2 columns; the baseline has 2)"


def test_disabled_evaluation_and_comparison_and_a_feature_override() -> None:
    sample = statistics(
        numeric("tenure", list(range(300, 1300))),
        strings("plan", ["basic"] * 400 + ["premium"] * 600),
    )
    assert checks(compare(BASE, BASE_CONSTRAINTS, sample)) == [
        ("tenure", "baseline_drift_check"),
        ("plan", "baseline_drift_check"),
    ]
    off = constraints_for(BASE, evaluate_constraints="Disabled")
    assert compare(BASE, off, sample) == []
    no_comparison = constraints_for(BASE, distribution={"perform_comparison": "Disabled"})
    assert compare(BASE, no_comparison, sample) == []
    overridden = constraints_for(BASE)
    overridden["features"][0]["monitoringConfigOverrides"] = {
        "distribution_constraints": {"comparison_threshold": 0.5}
    }
    assert checks(compare(BASE, overridden, sample)) == [("plan", "baseline_drift_check")]


def test_categorical_threshold_defaults_to_the_comparison_threshold() -> None:
    sample = statistics(
        numeric("tenure", list(range(1000))),
        strings("plan", ["basic"] * 400 + ["premium"] * 600),
    )
    loose = constraints_for(BASE, distribution={"comparison_threshold": 0.5})
    del loose["monitoring_config"]["distribution_constraints"]["categorical_comparison_threshold"]
    assert compare(BASE, loose, sample) == []
    assert checks(compare(BASE, BASE_CONSTRAINTS, sample)) == [("plan", "baseline_drift_check")]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"distribution": {"comparison_method": "Fancy"}},
            "constraints.json: monitoring_config.distribution_constraints.comparison_method must"
            " be Robust or Simple, got 'Fancy'",
        ),
        (
            {"datatype_check_threshold": 2},
            "constraints.json: monitoring_config: datatype_check_threshold must be a number from"
            " 0 to 1, got 2",
        ),
        (
            {"evaluate_constraints": "yes"},
            "constraints.json: monitoring_config.evaluate_constraints must be Enabled or"
            " Disabled, got 'yes'",
        ),
    ],
)
def test_bad_monitoring_config_is_named(change: dict[str, Any], message: str) -> None:
    with pytest.raises(PackagingError) as raised:
        compare(BASE, constraints_for(BASE, **change), BASE)
    assert str(raised.value) == message


def test_chi_squared_is_refused_rather_than_guessed() -> None:
    chi = constraints_for(BASE, distribution={"categorical_drift_method": "ChiSquared"})
    with pytest.raises(PackagingError, match="feature plan: categorical_drift_method ChiSquared"):
        compare(BASE, chi, BASE)


def test_report_lines_are_one_per_feature_and_json_is_the_violations_file() -> None:
    report = Report(
        violations=[
            Violation("tenure", "completeness_check", "90% of values present < baseline 100%"),
            Violation("tenure", "baseline_drift_check", "distance 0.2 > 0.1"),
            Violation("plan", "categorical_values_check", "new: 'family'"),
        ],
        features=2,
        rows=10,
    )
    assert report.lines() == [
        "feature tenure: completeness_check: 90% of values present < baseline 100%;"
        " baseline_drift_check: distance 0.2 > 0.1",
        "feature plan: categorical_values_check: new: 'family'",
    ]
    assert report.as_json()["violations"][2] == {
        "feature_name": "plan",
        "constraint_check_type": "categorical_values_check",
        "description": "new: 'family'",
    }
    assert not report.ok


# --- the baseline folder -------------------------------------------------------------------


def write_pair(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "statistics.json").write_text(json.dumps(BASE))
    (folder / "constraints.json").write_text(json.dumps(BASE_CONSTRAINTS))


def write_build(make_artifact: ArtifactFactory) -> Path:
    """A build output folder whose valid manifest records the pair under baseline/."""
    out = make_artifact()
    write_pair(out / "baseline")
    manifest = manifest_of(out)
    manifest["baseline"] = {
        "dataset": {"path": "data/train.csv", "sha256": "0" * 64, "format": "csv", "rows": 9},
        **{
            key: {
                "path": f"baseline/{key}.json",
                "sha256": hashlib.sha256(
                    (out / "baseline" / f"{key}.json").read_bytes()
                ).hexdigest(),
            }
            for key in ("statistics", "constraints")
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def test_a_folder_with_the_two_files_or_a_build_output_is_a_baseline(
    tmp_path: Path, make_artifact: ArtifactFactory
) -> None:
    write_pair(tmp_path / "pair")
    assert load_baseline(tmp_path / "pair") == (BASE, BASE_CONSTRAINTS)
    out = write_build(make_artifact)
    assert load_baseline(out) == (BASE, BASE_CONSTRAINTS)
    # The baseline is all drift-check reads of a build: it needs no artifact beside it.
    (out / "model.tar.gz").unlink()
    assert load_baseline(out) == (BASE, BASE_CONSTRAINTS)


def test_a_baseline_changed_after_the_build_is_refused(make_artifact: ArtifactFactory) -> None:
    out = write_build(make_artifact)
    (out / "baseline" / "constraints.json").write_text(json.dumps(constraints_for(BASE)))
    with pytest.raises(PackagingError, match="constraints.json: sha256 .* does not match"):
        load_baseline(out)


def test_a_build_output_is_read_through_the_manifest_model(
    make_artifact: ArtifactFactory,
) -> None:
    """What publish and verify refuse in a manifest, drift-check refuses too, with their words."""
    out = write_build(make_artifact)
    manifest = manifest_of(out)
    manifest["baseline"]["statistics"]["path"] = "elsewhere/statistics.json"
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        PackagingError,
        match=r"manifest\.json: 1 problem: baseline: statistics.path must be 'baseline/statistics",
    ):
        load_baseline(out)

    out = write_build(make_artifact)
    (out / "baseline" / "statistics.json").unlink()
    with pytest.raises(PackagingError) as raised:
        load_baseline(out)
    assert str(raised.value) == (
        f"{out / 'baseline' / 'statistics.json'}: missing; the manifest's baseline names it"
    )


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("nothing", "no such baseline folder"),
        ("empty", "holds neither statistics.json and constraints.json nor a build's manifest"),
        ("no-baseline", "manifest.json: records no baseline"),
        ("one-file", "constraints.json: no such file"),
        ("not-json", "statistics.json: not valid JSON"),
    ],
)
def test_bad_baseline_folders_are_named(
    tmp_path: Path, make_artifact: ArtifactFactory, setup: str, message: str
) -> None:
    folder = tmp_path / "baseline"
    if setup != "nothing":
        folder.mkdir()
    if setup == "no-baseline":  # a build of a model.yaml that names no baseline dataset
        shutil.copy(make_artifact() / "manifest.json", folder / "manifest.json")
    if setup == "one-file":
        (folder / "statistics.json").write_text(json.dumps(BASE))
    if setup == "not-json":
        (folder / "statistics.json").write_text("{")
        (folder / "constraints.json").write_text("{}")
    with pytest.raises(PackagingError, match=message):
        load_baseline(folder)


# --- the command ---------------------------------------------------------------------------


def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_pair(tmp_path / "pair")
    status = main(["drift-check", "--baseline", str(tmp_path / "pair"), "--data", "nowhere.csv"])
    out, err = capsys.readouterr()
    assert (status, out) == (2, "")
    assert err == "error: nowhere.csv: no such sample file\n"
    status = main(["drift-check", "--baseline", str(tmp_path / "none"), "--data", "x.csv"])
    assert status == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'none'}: no such baseline folder\n"


# --- end to end on files, with the statistics baseline.compute makes --------------------------

COLUMNS = ("tenure_months", "monthly_charges", "support_calls_90d", "contract_months")


def customers(seed: int, rows: int, *, shifted: bool = False) -> list[dict[str, Any]]:
    """Rows like the example model's training inputs; ``shifted`` moves monthly charges up by
    35, blanks every fifth support_calls_90d and gives 40% a 36-month contract (a length the
    baseline never saw)."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 72, rows)
    charges = rng.uniform(20, 120, rows).round(2)
    calls = rng.poisson(1.2, rows)
    contract = rng.choice([1, 12, 24], rows, p=[0.5, 0.3, 0.2])
    found = []
    for i in range(rows):
        row: dict[str, Any] = {
            "tenure_months": int(tenure[i]),
            "monthly_charges": float(charges[i]),
            "support_calls_90d": int(calls[i]),
            "contract_months": int(contract[i]),
        }
        if shifted:
            row["monthly_charges"] = round(row["monthly_charges"] + 35, 2)
            row["support_calls_90d"] = None if i % 5 == 0 else row["support_calls_90d"]
            row["contract_months"] = 36 if i % 5 in (1, 2) else row["contract_months"]
        found.append(row)
    return found


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    lines = [",".join(COLUMNS)]
    lines += [",".join("" if row[c] is None else str(row[c]) for c in COLUMNS) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture(scope="module")
def baseline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from model_packaging.drift import baseline

    folder = tmp_path_factory.mktemp("drift")
    computed = baseline.compute(write_csv(folder / "train.csv", customers(1, 3000)))
    baseline.write(computed, folder / "baseline")
    return folder / "baseline"


def test_an_unshifted_sample_passes_with_exit_0(
    baseline_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = write_csv(tmp_path / "sample.csv", customers(2, 400))
    status, out, err = release(
        capsys, "drift-check", "--baseline", str(baseline_dir), "--data", str(sample)
    )
    assert (status, out) == (0, "")
    assert err == "no violations: 400 rows within the baseline's 4 features\n"


def test_a_shifted_sample_is_flagged_feature_by_feature_with_exit_1(
    baseline_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = write_csv(tmp_path / "shifted.csv", customers(3, 400, shifted=True))
    status, out, err = release(
        capsys, "drift-check", "--baseline", str(baseline_dir), "--data", str(sample)
    )
    assert status == 1
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "feature monthly_charges",
        "feature support_calls_90d",
        "feature contract_months",
    ]
    assert re.fullmatch(
        r"feature monthly_charges: baseline_drift_check: distance 0\.\d+ > 0\.1 \(Robust"
        r" L-infinity between the CDFs; 3000 baseline values, 400 sample values\)",
        lines[0],
    )
    assert lines[1] == (
        "feature support_calls_90d: completeness_check: 80% of values present < baseline 100%"
        " (80 of 400 missing)"
    )
    assert lines[2].startswith("feature contract_months: baseline_drift_check: distance 0.")
    assert err == "3 violations in 3 features (400 rows against the baseline's 4 features)\n"


def test_json_is_constraint_violations_json_and_jsonl_samples_read_the_same(
    baseline_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = customers(3, 400, shifted=True)
    as_csv = release(
        capsys,
        "drift-check",
        "--baseline",
        str(baseline_dir),
        "--data",
        str(write_csv(tmp_path / "s.csv", rows)),
    )
    status, out, _ = release(
        capsys,
        "drift-check",
        "--baseline",
        str(baseline_dir),
        "--data",
        str(write_jsonl(tmp_path / "s.jsonl", rows)),
        "--json",
    )
    assert status == 1
    document = json.loads(out)
    assert list(document) == ["violations"]
    assert [set(v) for v in document["violations"]] == [
        {"feature_name", "constraint_check_type", "description"}
    ] * 3
    lines = [
        f"feature {v['feature_name']}: {v['constraint_check_type']}: {v['description']}"
        for v in document["violations"]
    ]
    assert lines == as_csv[1].splitlines()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "sample.txt",
            "a,b\n1,2\n",
            "sample.txt: a sample is a .csv (with a header row) or .jsonl",
        ),
        ("zero.csv", "", "zero.csv: cannot read as csv"),
        ("bytes.csv", b"\xff\xfe\x00\x01", "bytes.csv: not UTF-8 text"),
    ],
)
def test_unreadable_samples_exit_2_with_one_line(
    baseline_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: str | bytes,
    message: str,
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    status, out, err = release(
        capsys, "drift-check", "--baseline", str(baseline_dir), "--data", str(path)
    )
    assert (status, out) == (2, "")
    assert err.startswith(f"error: {tmp_path / message}")
    assert err.count("\n") == 1


def test_a_sample_with_a_header_and_no_rows_exits_2(
    baseline_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "header.csv"
    path.write_text(",".join(COLUMNS) + "\n")
    status, out, err = release(
        capsys, "drift-check", "--baseline", str(baseline_dir), "--data", str(path)
    )
    assert (status, out) == (2, "")
    assert err.startswith(f"error: {path}: ")
    assert err.count("\n") == 1


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for i, value in enumerate(document[:3]):
            found += _paths(value, (*prefix, i))
    return found


def _replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    copy = json.loads(json.dumps(document))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


@pytest.mark.parametrize("which", ["statistics", "constraints", "sample"])
def test_any_ill_typed_value_in_the_documents_is_a_packaging_error_or_nothing(which: str) -> None:
    # Every key of every document, replaced by each JSON kind: the check either runs or says
    # what is wrong in one line; it never fails with a Python error.
    sample = statistics(
        numeric("tenure", list(range(300, 1300))),
        strings("plan", ["basic"] * 400 + ["premium"] * 500 + ["family"] * 100),
    )
    documents = {"statistics": BASE, "constraints": BASE_CONSTRAINTS, "sample": sample}
    kinds: tuple[Any, ...] = (None, "x", [], {}, -1, True, 2.5, [None], [["x"]])
    for path in _paths(documents[which]):
        for value in kinds:
            changed = dict(documents, **{which: _replaced(documents[which], path, value)})
            try:
                compare(changed["statistics"], changed["constraints"], changed["sample"])
            except PackagingError as exc:
                assert "\n" not in str(exc)


@pytest.mark.parametrize(
    "args",
    [["--baseline", "b"], ["--data", "d.csv"], ["--baseline", "b", "--data", "d.csv", "--csv"]],
)
def test_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["drift-check", *args])
    assert raised.value.code == 2
    assert capsys.readouterr().err.startswith("usage: python -m model_packaging")


# --- what the sample's statistics alone do not say ------------------------------------------


def test_the_minimum_sample_is_where_the_robust_allowance_reaches_the_threshold() -> None:
    from model_packaging.drift import sample

    assert sample.MIN_ROWS == 324  # (1.8 / 0.1) ** 2
    assert 1.8 * math.sqrt(1 / sample.MIN_ROWS) <= 0.1 < 1.8 * math.sqrt(1 / (sample.MIN_ROWS - 1))


def test_a_sample_too_small_to_judge_is_a_warning(
    baseline_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = write_csv(tmp_path / "small.csv", customers(2, 40))
    status, out, err = release(
        capsys, "drift-check", "--baseline", str(baseline_dir), "--data", str(sample)
    )
    assert (status, out) == (0, "")
    assert err.splitlines() == [
        "warning: the sample has 40 rows, fewer than 324: too few to judge drift (below that,"
        " the Robust allowance for the sample's size exceeds the default threshold 0.1)",
        "no violations: 40 rows within the baseline's 4 features",
    ]


def test_nan_and_infinities_are_reported_as_invalid_values_without_numpy_warnings(
    baseline_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import warnings

    rows = customers(2, 400)
    csv_path = write_csv(tmp_path / "sample.csv", rows)
    lines = csv_path.read_text().splitlines()
    # monthly_charges: NaN and infinities as CSV spells them, and sums that overflow.
    for number, charges in ((1, "nan"), (2, "-inf"), (3, "Infinity"), (4, "1e308"), (5, "1.7e308")):
        cells = lines[number].split(",")
        cells[1] = charges
        lines[number] = ",".join(cells)
    csv_path.write_text("\n".join(lines) + "\n")
    # JSON Lines: NaN and Infinity, the literals Python's json writes for them.
    rows[0]["monthly_charges"], rows[1]["monthly_charges"] = math.nan, math.inf
    jsonl_path = write_jsonl(tmp_path / "sample.jsonl", rows)
    for path, invalid in ((csv_path, 3), (jsonl_path, 2)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status, _, err = release(
                capsys, "drift-check", "--baseline", str(baseline_dir), "--data", str(path)
            )
        assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], path
        assert status == 1  # they count as missing: completeness
        assert (
            f"warning: feature monthly_charges: {invalid} values are NaN or infinite, invalid;"
            " counted as missing"
        ) in err.splitlines(), err


def test_a_line_longer_than_the_readers_block_is_named(
    baseline_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from model_packaging.drift.baseline import BLOCK_SIZE

    # Twice the block: the reader fails on it wherever it starts.
    long_csv = "1,2.5," + "9" * 2 * BLOCK_SIZE + ",1"
    long_jsonl = json.dumps({"tenure_months": 1, "note": "x" * 2 * BLOCK_SIZE})
    for path, text, number, length in (
        (tmp_path / "long.csv", f"{','.join(COLUMNS)}\n1,2.5,3,12\n{long_csv}\n", 3, len(long_csv)),
        (tmp_path / "long.jsonl", f'{{"tenure_months": 2}}\n{long_jsonl}\n', 2, len(long_jsonl)),
    ):
        path.write_text(text)
        status, out, err = release(
            capsys, "drift-check", "--baseline", str(baseline_dir), "--data", str(path)
        )
        assert (status, out) == (2, "")
        assert err == (
            f"error: {path}: line {number} is too long: {length} bytes, where the reader takes"
            f" lines of up to {BLOCK_SIZE} bytes (1 MiB)\n"
        )


def test_a_folder_for_the_sample_or_a_file_for_the_baseline_is_named(
    baseline_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = write_csv(tmp_path / "sample.csv", customers(2, 400))
    status, _, err = release(
        capsys, "drift-check", "--baseline", str(baseline_dir), "--data", str(tmp_path)
    )
    assert (status, err) == (
        2,
        f"error: {tmp_path}: is a folder; give the sample file (.csv or .jsonl)\n",
    )
    for name in ("statistics.json", "constraints.json"):
        status, _, err = release(
            capsys, "drift-check", "--baseline", str(baseline_dir / name), "--data", str(sample)
        )
        assert (status, err) == (
            2,
            f"error: {baseline_dir / name}: is a file; give its folder, {baseline_dir}\n",
        )
    status, _, err = release(
        capsys, "drift-check", "--baseline", str(sample), "--data", str(sample)
    )
    assert status == 2
    assert err.startswith(f"error: {sample}: is a file; give a build output folder, or a folder")
