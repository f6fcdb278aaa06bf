"""drift-check: a data sample against a model's data-quality baseline, as Model Monitor would.

The baseline is the pair Model Monitor's data-quality job reads, ``statistics.json`` and
``constraints.json`` (written by ``build``, see :mod:`model_packaging.drift.baseline`); the sample's
statistics come from the same :func:`model_packaging.drift.baseline.compute`, so both sides are
summarised the same way. :func:`compare` evaluates the constraints on those statistics and
returns violations of the kinds, and in the shape, of Model Monitor's
``constraint_violations.json``:

- ``data_type_check``: too few of a feature's values are of the baseline's inferred type;
- ``completeness_check``: a smaller share of non-missing values than the baseline's;
- ``baseline_drift_check``: the distance between the baseline's distribution and the
  sample's exceeds the comparison threshold (numbers: the L-infinity distance between the two
  KLL sketches' CDFs; strings: between the category frequencies);
- ``categorical_values_check``: too few of a string feature's values are in the baseline's
  domain (values it never saw);
- ``missing_column_check`` / ``extra_column_check``: a feature of the baseline that the sample
  lacks, or a column the baseline does not know.

Sources: "Schema for Violations (constraint_violations.json file)" and "Schema for Constraints
(constraints.json file)" of the SageMaker developer guide (doc_source/model-monitor-interpreting-
violations.md and model-monitor-byoc-constraints.md); where they leave a detail out, the
analyzer's library: AWS's "Amazon SageMaker Model Monitor prebuilt container" page says the
image is built with Deequ 2.0.2, whose ``analyzers/Distance.scala`` computes the distances.
Every choice made where neither says is marked "Unstated" below and listed in docs/drift.md.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.settings.artifacts import CONSTRAINTS_NAME, MONITORING_DEFAULTS, STATISTICS_NAME
from model_packaging.errors import PackagingError

NUMERIC = ("Integral", "Fractional")

# What a check assumes for a monitoring_config key that a constraints.json leaves out: the
# contract's defaults, which build writes into every constraints.json it makes.
_DISTRIBUTION_DEFAULTS = MONITORING_DEFAULTS["distribution_constraints"]
DEFAULT_DATATYPE_THRESHOLD: float = MONITORING_DEFAULTS["datatype_check_threshold"]
DEFAULT_DOMAIN_THRESHOLD: float = MONITORING_DEFAULTS["domain_content_threshold"]
DEFAULT_COMPARISON_THRESHOLD: float = _DISTRIBUTION_DEFAULTS["comparison_threshold"]
DEFAULT_COMPARISON_METHOD: str = _DISTRIBUTION_DEFAULTS["comparison_method"]
DEFAULT_CATEGORICAL_METHOD: str = _DISTRIBUTION_DEFAULTS["categorical_drift_method"]

# linf_robust subtracts c(alpha) * sqrt((n + m) / (n * m)) from linf_simple, the two-sample
# Kolmogorov-Smirnov critical value; Deequ's default c(alpha) is 1.8 (alpha about 0.003):
# awslabs/deequ src/main/scala/com/amazon/deequ/analyzers/Distance.scala, selectMetrics.
C_ALPHA = 1.8

# What text counts as a value of each numeric type when a sample column reads as String
# (Unstated): an optional sign and digits for Integral; a decimal or exponent literal for
# Fractional, which also takes Integral values.
INTEGRAL = re.compile(r"[+-]?\d+")
FRACTIONAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True)
class Violation:
    """One entry of constraint_violations.json."""

    feature_name: str
    constraint_check_type: str
    description: str

    def as_json(self) -> dict[str, str]:
        return {
            "feature_name": self.feature_name,
            "constraint_check_type": self.constraint_check_type,
            "description": self.description,
        }


@dataclass(frozen=True)
class Report:
    """The violations of one sample, and what was compared."""

    violations: list[Violation]
    features: int
    rows: int
    warnings: list[str] = field(default_factory=list)
    """What the sample's statistics alone do not say: too few rows to judge, invalid values
    (``model_packaging.drift.sample``); shown on stderr, they change no exit status."""

    @property
    def ok(self) -> bool:
        return not self.violations

    def lines(self) -> list[str]:
        """One line per violated feature: ``feature NAME: CHECK: DETAIL; CHECK: DETAIL``."""
        by_feature: dict[str, list[Violation]] = {}
        for violation in self.violations:
            by_feature.setdefault(violation.feature_name, []).append(violation)
        return [
            f"feature {name}: "
            + "; ".join(f"{v.constraint_check_type}: {v.description}" for v in found)
            for name, found in by_feature.items()
        ]

    def as_json(self) -> dict[str, Any]:
        """constraint_violations.json's shape: ``{"violations": [...]}``."""
        return {"violations": [v.as_json() for v in self.violations]}

    def summary(self) -> str:
        rows, features = _count(self.rows, "row"), _count(self.features, "feature")
        if self.ok:
            return f"no violations: {rows} within the baseline's {features}"
        violated = _count(len({v.feature_name for v in self.violations}), "feature")
        return (
            f"{_count(len(self.violations), 'violation')} in {violated}"
            f" ({rows} against the baseline's {features})"
        )


@dataclass(frozen=True)
class Config:
    """monitoring_config, with a feature's monitoringConfigOverrides applied."""

    evaluate: bool
    datatype_threshold: float
    domain_threshold: float
    compare: bool
    threshold: float
    method: str
    categorical_threshold: float
    categorical_method: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any], where: str) -> Config:
        dist = raw.get("distribution_constraints", {})
        _expect(dist, dict, f"{where}.distribution_constraints")
        threshold = _number(dist, "comparison_threshold", DEFAULT_COMPARISON_THRESHOLD, where)
        method = dist.get("comparison_method", DEFAULT_COMPARISON_METHOD)
        if method not in ("Robust", "Simple"):
            raise PackagingError(
                f"{where}.distribution_constraints.comparison_method must be Robust or Simple,"
                f" got {method!r}"
            )
        categorical_method = dist.get("categorical_drift_method", DEFAULT_CATEGORICAL_METHOD)
        if categorical_method not in ("LInfinity", "ChiSquared"):
            raise PackagingError(
                f"{where}.distribution_constraints.categorical_drift_method must be LInfinity or"
                f" ChiSquared, got {categorical_method!r}"
            )
        return cls(
            evaluate=_enabled(raw, "evaluate_constraints", where),
            datatype_threshold=_number(
                raw, "datatype_check_threshold", DEFAULT_DATATYPE_THRESHOLD, where
            ),
            domain_threshold=_number(
                raw, "domain_content_threshold", DEFAULT_DOMAIN_THRESHOLD, where
            ),
            compare=_enabled(dist, "perform_comparison", f"{where}.distribution_constraints"),
            threshold=threshold,
            method=method,
            # Documented default: "The value assigned to the comparison_threshold parameter".
            categorical_threshold=_number(
                dist, "categorical_comparison_threshold", threshold, where
            ),
            categorical_method=categorical_method,
        )


def load_baseline(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """statistics.json and constraints.json from a folder holding them, or from a build output
    folder (its manifest.json names them; their digests must match what it records)."""
    if folder.is_file():
        # Naming one of the folder's files is the likely slip: say which folder to give.
        if folder.name in (STATISTICS_NAME, CONSTRAINTS_NAME, "manifest.json"):
            raise PackagingError(f"{folder}: is a file; give its folder, {folder.parent}")
        raise PackagingError(
            f"{folder}: is a file; give a build output folder, or a folder holding"
            f" {STATISTICS_NAME} and {CONSTRAINTS_NAME}"
        )
    if not folder.is_dir():
        raise PackagingError(f"{folder}: no such baseline folder")
    if (folder / STATISTICS_NAME).is_file() or (folder / CONSTRAINTS_NAME).is_file():
        return _read_json(folder / STATISTICS_NAME), _read_json(folder / CONSTRAINTS_NAME)
    # The manifest's model (pydantic) is loaded only for a build output folder.
    from model_packaging.artifact.manifest import MANIFEST_NAME, check_baseline, read_manifest

    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.is_file():
        raise PackagingError(
            f"{folder}: holds neither {STATISTICS_NAME} and {CONSTRAINTS_NAME}"
            f" nor a build's {MANIFEST_NAME}"
        )
    manifest = read_manifest(manifest_path)
    if manifest.baseline is None:
        raise PackagingError(
            f"{manifest_path}: records no baseline (the model's model.yaml names no"
            " baseline dataset)"
        )
    statistics, constraints = (
        _parse_json(document.data, document.path) for document in check_baseline(manifest, folder)
    )
    return statistics, constraints


def check(baseline_folder: Path, data: Path) -> Report:
    """Compare the sample at ``data`` (CSV or JSON Lines) with the baseline in the folder."""
    statistics, constraints = load_baseline(baseline_folder)
    # The sample's reading (model_packaging.drift.sample) imports pyarrow: only when it is needed.
    from model_packaging.drift import sample as samples

    found = samples.read(data)
    sample = found.statistics
    rows = _item_count(sample, f"{data}")
    if rows == 0:
        raise PackagingError(f"{data}: the sample has no rows")
    violations = compare(statistics, constraints, sample)
    expected = _features(constraints, CONSTRAINTS_NAME)
    numeric = [name for name, c in expected.items() if c.get("inferred_type") in NUMERIC]
    warnings = [samples.small_sample_warning(rows)]
    try:
        invalid = samples.invalid_values(data, sample, numeric)
    except (OSError, ValueError) as exc:  # pyarrow's errors are ValueErrors
        raise PackagingError(f"{data}: cannot read the sample: {exc}") from exc
    warnings += [samples.invalid_warning(name, count) for name, count in invalid.items()]
    return Report(
        violations=violations,
        features=len(expected),
        rows=rows,
        warnings=[warning for warning in warnings if warning],
    )


def compare(
    statistics: Mapping[str, Any], constraints: Mapping[str, Any], sample: Mapping[str, Any]
) -> list[Violation]:
    """The violations of ``sample`` (a statistics.json dict) against a baseline's statistics and
    constraints, ordered by the baseline's features, then the sample's extra columns."""
    monitoring = constraints.get("monitoring_config", {})
    _expect(monitoring, dict, f"{CONSTRAINTS_NAME}: monitoring_config")
    config = Config.parse(monitoring, f"{CONSTRAINTS_NAME}: monitoring_config")
    if not config.evaluate:
        return []
    expected = _features(constraints, CONSTRAINTS_NAME)
    baseline_stats = _features(statistics, STATISTICS_NAME)
    observed = _features(sample, "the sample's statistics")
    rows = _item_count(sample, "the sample's statistics")
    violations: list[Violation] = []
    for name, constraint in expected.items():
        where = f"{CONSTRAINTS_NAME}: feature {name}"
        overrides = constraint.get("monitoringConfigOverrides") or {}
        _expect(overrides, dict, f"{where}.monitoringConfigOverrides")
        feature_config = (
            Config.parse(_merged(monitoring, overrides), where) if overrides else config
        )
        found = observed.get(name)
        if found is None:
            violations.append(
                Violation(
                    name,
                    "missing_column_check",
                    f"the sample has no column {name}"
                    f" ({len(observed)} columns; the baseline has {len(expected)})",
                )
            )
            continue
        violations += _feature_violations(
            name, constraint, baseline_stats.get(name), found, feature_config, rows
        )
    for name in observed:
        if name not in expected:
            violations.append(
                Violation(
                    name,
                    "extra_column_check",
                    f"the baseline has no column {name}"
                    f" ({len(observed)} columns in the sample; the baseline has {len(expected)})",
                )
            )
    return violations


def distances(
    statistics: Mapping[str, Any], constraints: Mapping[str, Any], sample: Mapping[str, Any]
) -> dict[str, Distance]:
    """Per feature of the baseline that ``sample`` has, the distance ``baseline_drift_check``
    compares with its threshold, whether or not it is exceeded: the value the drift engine
    publishes as the feature's metric. A feature without one (comparison disabled, values of a
    kind the baseline's cannot be compared with, no values) is left out."""
    monitoring = constraints.get("monitoring_config", {})
    _expect(monitoring, dict, f"{CONSTRAINTS_NAME}: monitoring_config")
    config = Config.parse(monitoring, f"{CONSTRAINTS_NAME}: monitoring_config")
    if not config.evaluate:
        return {}
    baseline_stats = _features(statistics, STATISTICS_NAME)
    observed = _features(sample, "the sample's statistics")
    rows = _item_count(sample, "the sample's statistics")
    found: dict[str, Distance] = {}
    for name, constraint in _features(constraints, CONSTRAINTS_NAME).items():
        where = f"{CONSTRAINTS_NAME}: feature {name}"
        overrides = constraint.get("monitoringConfigOverrides") or {}
        _expect(overrides, dict, f"{where}.monitoringConfigOverrides")
        feature_config = (
            Config.parse(_merged(monitoring, overrides), where) if overrides else config
        )
        ours, theirs = baseline_stats.get(name), observed.get(name)
        if ours is None or theirs is None or not feature_config.compare:
            continue
        # The conditions _feature_violations puts on baseline_drift_check.
        expected_type = constraint.get("inferred_type", "Unknown")
        comparable = (theirs.get("inferred_type", "Unknown") in NUMERIC) == (
            expected_type in NUMERIC
        )
        if not comparable or not _common(theirs, rows)[0]:
            continue
        distance = _distance(name, ours, theirs, expected_type, feature_config)
        if distance is not None:
            found[name] = distance
    return found


# --- per feature ---------------------------------------------------------------------------


def _feature_violations(
    name: str,
    constraint: Mapping[str, Any],
    baseline: Mapping[str, Any] | None,
    sample: Mapping[str, Any],
    config: Config,
    rows: int,
) -> list[Violation]:
    found: list[Violation] = []
    expected_type = constraint.get("inferred_type", "Unknown")
    sample_type = sample.get("inferred_type", "Unknown")
    present, missing = _common(sample, rows)

    # data_type_check. "Expected match" in Model Monitor's own descriptions is the threshold as a
    # share of matching values (Deequ's suggested type constraint asserts a ratio of 1,
    # suggestions/rules/RetainTypeRule.scala: Check.IsOne), so a violation is a matching share
    # below datatype_check_threshold. The share is of all rows, missing ones included, as in
    # Deequ's type histogram (analyzers/DataType.scala, toDistribution). Unstated: Integral
    # values match a Fractional baseline.
    if expected_type in NUMERIC and present:
        share = _type_share(sample, expected_type, present) * present / (present + missing)
        if share < config.datatype_threshold:
            found.append(
                Violation(
                    name,
                    "data_type_check",
                    f"{_pct(share)} of values are {expected_type} < expected"
                    f" {_pct(config.datatype_threshold)} (the sample's values read as"
                    f" {sample_type})",
                )
            )

    # completeness_check: the constraint's completeness is the observed share of non-missing
    # values in the baseline; the sample must not fall below it. Unstated: a tolerance; none.
    completeness = constraint.get("completeness")
    if isinstance(completeness, int | float) and present + missing:
        observed = present / (present + missing)
        if observed < completeness:
            found.append(
                Violation(
                    name,
                    "completeness_check",
                    f"{_pct(observed)} of values present < baseline {_pct(completeness)}"
                    f" ({missing} of {present + missing} missing)",
                )
            )

    # Distributions compare only when the sample's values are of a comparable kind: numbers with
    # numbers, strings with strings (a sample of the wrong type has no sketch to compare).
    comparable = (sample_type in NUMERIC) == (expected_type in NUMERIC)
    if baseline is not None and config.compare and comparable and present:
        drift = _drift(name, baseline, sample, expected_type, config)
        if drift is not None:
            found.append(drift)

    # categorical_values_check: the share of a String feature's values inside the baseline's
    # domain must reach domain_content_threshold (the same reading as data_type_check; Deequ's
    # isContainedIn asserts a compliance ratio).
    domains = _dig(constraint, "string_constraints", "domains")
    if expected_type == "String" and isinstance(domains, list) and domains and present:
        counts = _categories(sample)
        if counts:
            known = set(map(str, domains))
            inside = sum(count for value, count in counts.items() if value in known)
            share = inside / sum(counts.values())
            if share < config.domain_threshold:
                new = sorted(value for value in counts if value not in known)
                found.append(
                    Violation(
                        name,
                        "categorical_values_check",
                        f"{_pct(share)} of values in the baseline's domain < expected"
                        f" {_pct(config.domain_threshold)}; new: {_listing(new)}",
                    )
                )
    return found


@dataclass(frozen=True)
class Distance:
    """How far a feature's sample distribution is from the baseline's, as
    ``baseline_drift_check`` compares it with the threshold."""

    value: float
    threshold: float
    method: str
    what: str  # "CDFs" (numbers) or "frequencies" (strings)
    baseline_count: float
    sample_count: float

    @property
    def violated(self) -> bool:
        return self.value > self.threshold


def _drift(
    name: str,
    baseline: Mapping[str, Any],
    sample: Mapping[str, Any],
    expected_type: str,
    config: Config,
) -> Violation | None:
    distance = _distance(name, baseline, sample, expected_type, config)
    if distance is None or not distance.violated:
        return None
    return Violation(
        name,
        "baseline_drift_check",
        f"distance {distance.value:.3g} > {distance.threshold:g} ({distance.method} L-infinity"
        f" between the {distance.what}; {distance.baseline_count:g} baseline values,"
        f" {distance.sample_count:g} sample values)",
    )


def _distance(
    name: str,
    baseline: Mapping[str, Any],
    sample: Mapping[str, Any],
    expected_type: str,
    config: Config,
) -> Distance | None:
    if expected_type in NUMERIC:
        ours = _sketch_items(baseline, f"{STATISTICS_NAME}: feature {name}")
        theirs = _sketch_items(sample, f"the sample's statistics: feature {name}")
        if not ours or not theirs:
            return None
        simple, n, m = _cdf_distance(ours, theirs)
        threshold, method, what = config.threshold, config.method, "CDFs"
    elif expected_type == "String":
        if config.categorical_method != "LInfinity":
            # Deequ's ChiSquared returns a p-value, not a distance; Model Monitor does not say
            # how it compares one with categorical_comparison_threshold.
            raise PackagingError(
                f"{CONSTRAINTS_NAME}: feature {name}: categorical_drift_method ChiSquared is not"
                " supported by the local check; use LInfinity"
            )
        ours_counts, theirs_counts = _categories(baseline), _categories(sample)
        if not ours_counts or not theirs_counts:
            return None
        simple, n, m = _frequency_distance(ours_counts, theirs_counts)
        threshold, method, what = config.categorical_threshold, config.method, "frequencies"
    else:
        return None
    # Unstated: whether comparison_method applies to categorical features; Deequ's categorical
    # L-infinity takes the same flag (Distance.scala, categoricalLInfinityDistance), so it does.
    distance = _robust(simple, n, m) if method == "Robust" else simple
    return Distance(distance, threshold, method, what, n, m)


def _robust(simple: float, n: float, m: float) -> float:
    return max(0.0, simple - C_ALPHA * math.sqrt((n + m) / (n * m)))


def _cdf_distance(
    ours: list[tuple[float, int]], theirs: list[tuple[float, int]]
) -> tuple[float, float, float]:
    """Deequ's numericalDistance: both CDFs evaluated at every item of either sketch."""
    a_values, a_ranks = _ranks(ours)
    b_values, b_ranks = _ranks(theirs)
    n, m = float(a_ranks[-1]), float(b_ranks[-1])
    distance = 0.0
    for key in set(a_values) | set(b_values):
        cdf_a = _rank(a_values, a_ranks, key) / n
        cdf_b = _rank(b_values, b_ranks, key) / m
        distance = max(distance, abs(cdf_a - cdf_b))
    return distance, n, m


def _ranks(items: list[tuple[float, int]]) -> tuple[list[float], list[int]]:
    values: list[float] = []
    ranks: list[int] = []
    running = 0
    for value, weight in sorted(items):
        running += weight
        if values and values[-1] == value:
            ranks[-1] = running
        else:
            values.append(value)
            ranks.append(running)
    return values, ranks


def _rank(values: list[float], ranks: list[int], key: float) -> int:
    at = bisect.bisect_right(values, key)
    return ranks[at - 1] if at else 0


def _frequency_distance(
    ours: Mapping[str, int], theirs: Mapping[str, int]
) -> tuple[float, float, float]:
    n, m = float(sum(ours.values())), float(sum(theirs.values()))
    distance = max(
        abs(ours.get(key, 0) / n - theirs.get(key, 0) / m) for key in set(ours) | set(theirs)
    )
    return distance, n, m


def _type_share(sample: Mapping[str, Any], expected: str, present: int) -> float:
    """The share of the sample's present values that are of the ``expected`` numeric type,
    from its statistics: a String column's category counts, or a Fractional column's sketch
    (exact while the sketch holds every value, an estimate once it has compacted)."""
    sample_type = sample.get("inferred_type")
    if sample_type == expected or (expected == "Fractional" and sample_type == "Integral"):
        return 1.0
    if sample_type == "Fractional" and expected == "Integral":
        items = _sketch_items(sample, "the sample's statistics")
        total = sum(weight for _, weight in items)
        if not total:
            return 0.0
        return sum(weight for value, weight in items if float(value).is_integer()) / total
    if sample_type == "String":
        counts = _categories(sample)
        matching = sum(count for value, count in counts.items() if _is_type(value, expected))
        return matching / present
    return 0.0


def _is_type(text: str, expected: str) -> bool:
    pattern = INTEGRAL if expected == "Integral" else FRACTIONAL
    return pattern.fullmatch(text.strip()) is not None


# --- reading the documents -----------------------------------------------------------------


def _features(document: Mapping[str, Any], where: str) -> dict[str, Mapping[str, Any]]:
    features = document.get("features")
    if not isinstance(features, list):
        raise PackagingError(f"{where}: features must be a list")
    found: dict[str, Mapping[str, Any]] = {}
    for i, feature in enumerate(features):
        if not isinstance(feature, dict) or not isinstance(feature.get("name"), str):
            raise PackagingError(f"{where}: features[{i}].name is missing")
        found[feature["name"]] = feature
    return found


def _item_count(document: Mapping[str, Any], where: str) -> int:
    dataset = document.get("dataset")
    count = dataset.get("item_count") if isinstance(dataset, dict) else None
    if not isinstance(count, int):
        raise PackagingError(f"{where}: dataset.item_count is missing")
    return count


def _stats_block(feature: Mapping[str, Any]) -> Mapping[str, Any]:
    for key in ("numerical_statistics", "string_statistics"):
        block = feature.get(key)
        if isinstance(block, dict):
            return block
    return {}


def _common(feature: Mapping[str, Any], rows: int) -> tuple[int, int]:
    """(present, missing); a feature of no present value (inferred_type Unknown) has no
    statistics block, and every row misses it."""
    common = _stats_block(feature).get("common")
    if not isinstance(common, dict):
        return 0, rows
    present, missing = common.get("num_present", 0), common.get("num_missing", 0)
    if not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (present, missing)
    ):
        raise PackagingError(
            f"feature {feature.get('name')}: common.num_present and num_missing must be counts"
        )
    return present, missing


def _sketch_items(feature: Mapping[str, Any], where: str) -> list[tuple[float, int]]:
    """The KLL sketch's items with their weights: level ``i`` of ``sketch.data`` holds items
    that each stand for 2**i values (Deequ's QuantileNonSample.output)."""
    block = feature.get("numerical_statistics")
    if not isinstance(block, dict):
        return []
    data = _dig(block, "distribution", "kll", "sketch", "data") or []
    if not isinstance(data, list):
        raise PackagingError(f"{where}: distribution.kll.sketch.data must be a list of lists")
    items: list[tuple[float, int]] = []
    for level, compactor in enumerate(data):
        if not isinstance(compactor, list) or not all(
            isinstance(value, int | float) and not isinstance(value, bool) for value in compactor
        ):
            raise PackagingError(
                f"{where}: distribution.kll.sketch.data[{level}] must be a list of numbers"
            )
        items += [(float(value), 1 << level) for value in compactor]
    return items


def _categories(feature: Mapping[str, Any]) -> dict[str, int]:
    block = feature.get("string_statistics")
    if not isinstance(block, dict):
        return {}
    buckets = _dig(block, "distribution", "categorical", "buckets") or []
    if not isinstance(buckets, list):
        buckets = [buckets]
    counts: dict[str, int] = {}
    for i, bucket in enumerate(buckets):
        if not isinstance(bucket, dict) or not isinstance(bucket.get("count"), int):
            raise PackagingError(
                f"feature {feature.get('name')}: string_statistics.distribution.categorical"
                f".buckets[{i}] needs a value and a count"
            )
        value = str(bucket.get("value"))
        counts[value] = counts.get(value, 0) + bucket["count"]
    return counts


def _dig(document: Any, *keys: str) -> Any:
    """``document[k1][k2]...``, or None where a level is missing or not an object."""
    for key in keys:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def _merged(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _enabled(raw: Mapping[str, Any], key: str, where: str) -> bool:
    value = raw.get(key, "Enabled")
    if value not in ("Enabled", "Disabled"):
        raise PackagingError(f"{where}.{key} must be Enabled or Disabled, got {value!r}")
    return bool(value == "Enabled")


def _number(raw: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise PackagingError(f"{where}: {key} must be a number from 0 to 1, got {value!r}")
    return float(value)


def _expect(value: Any, kind: type, where: str) -> None:
    if not isinstance(value, kind):
        raise PackagingError(f"{where} must be an object")


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise PackagingError(f"{path}: no such file") from None
    except OSError as exc:
        raise PackagingError(f"{path}: cannot read: {exc.strerror}") from exc


def _read_json(path: Path) -> dict[str, Any]:
    return _parse_json(_read_bytes(path), path)


def _parse_json(raw: bytes, path: Path) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackagingError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise PackagingError(f"{path}: must hold a JSON object")
    return document


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _pct(share: float) -> str:
    return f"{share * 100:.4g}%"


def _listing(values: Iterable[str], limit: int = 5) -> str:
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")
