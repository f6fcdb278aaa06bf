"""A drift report people look at: one self-contained HTML page.

Per feature, worst first (violated features first, then by distance over threshold): the
baseline's and the window's distributions drawn over each other as inline SVG (numbers: the two
cumulative distribution functions read from the KLL sketches; strings: the two category
frequency bars), the distance ``baseline_drift_check`` compares against its threshold, the share
of values present against the baseline's completeness, and each violation, highlighted.

The page fetches nothing: no script, no style sheet, no image, no font, no link; the SVG is
inline HTML (no namespace URI needed). It opens from a file, an S3 console download or an email
attachment alike.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from model_packaging.drift.checks import NUMERIC, Distance, Report, Violation
from model_packaging.drift.engine import Analysis
from model_packaging.drift.window import Window

WIDTH, HEIGHT = 480, 180
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 10, 34
# The most points a CDF is drawn with, and the most categories drawn (the rest are summed).
CDF_POINTS = 240
CATEGORIES = 12
BASELINE_COLOUR, WINDOW_COLOUR = "#4c72b0", "#dd8452"

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1040px;color:#222;
padding:0 16px}
h1{font-size:20px;margin:0 0 4px}
h2{font-size:16px;margin:0 0 6px}
table.facts{border-collapse:collapse;margin:12px 0}
table.facts td{padding:2px 12px 2px 0;vertical-align:top}
.problems{background:#fff8e1;border:1px solid #f0c36d;padding:8px 12px;margin:12px 0}
.failure{background:#fdecea;border:1px solid #e57373;padding:8px 12px;margin:12px 0}
section.feature{border:1px solid #ddd;border-radius:6px;padding:12px 16px;margin:14px 0;
display:grid;grid-template-columns:1fr 480px;gap:0 20px}
section.feature.violated{border:2px solid #c62828;background:#fff6f6}
section.feature>svg{grid-column:2;grid-row:1/span 6}
.type{color:#666;font-weight:normal;font-size:13px}
.badge{background:#c62828;color:#fff;border-radius:4px;padding:1px 6px;font-size:12px}
.ok{color:#2e7d32}
ul.violations{margin:6px 0;padding-left:18px;color:#b71c1c}
.bar{background:#eee;height:8px;border-radius:4px;position:relative;margin:4px 0 8px;width:100%}
.bar span{position:absolute;left:0;top:0;bottom:0;border-radius:4px;background:#888}
.bar span.over{background:#c62828}
.bar i{position:absolute;top:-3px;bottom:-3px;width:2px;background:#222}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
svg text{font:11px system-ui,sans-serif;fill:#444}
""".strip()


def render_analysis(
    analysis: Analysis | None,
    *,
    title: str,
    window: Window,
    baseline_problem: str = "",
) -> str:
    """The page of one window's analysis (``drift-check --capture --report`` and the function).
    ``analysis`` is None when the baseline could not be read."""
    facts = [("window", window.describe())]
    problems: list[str] = []
    if analysis is None:
        return _page(
            title,
            facts,
            problems,
            failure=f"Not analysed: {baseline_problem}",
            sections=[],
            headline="The baseline could not be read: nothing was compared.",
        )
    counts = analysis.counts
    facts += [
        ("capture files", f"{counts.files:,}"),
        ("requests", f"{counts.requests:,} ({counts.outside:,} records outside the window)"),
        ("rows", f"{analysis.rows:,}"),
    ]
    problems = analysis.problems.lines()
    if not analysis.rows:
        return _page(
            title,
            facts,
            problems,
            failure="",
            sections=[],
            headline=f"No captured request {window.describe()}: nothing to compare, no metric.",
        )
    return render(
        title=title,
        statistics=analysis.statistics,
        constraints=analysis.constraints,
        sample=analysis.sample,
        report=analysis.report,
        distances=analysis.distances,
        facts=facts,
        problems=problems,
    )


def render(
    *,
    title: str,
    statistics: Mapping[str, Any],
    constraints: Mapping[str, Any],
    sample: Mapping[str, Any],
    report: Report,
    distances: Mapping[str, Distance],
    facts: Sequence[tuple[str, str]] = (),
    problems: Sequence[str] = (),
) -> str:
    """The page comparing ``sample`` (a statistics.json document) with a baseline."""
    baseline = _by_name(statistics)
    expected = _by_name(constraints)
    observed = _by_name(sample)
    violations: dict[str, list[Violation]] = {}
    for violation in report.violations:
        violations.setdefault(violation.feature_name, []).append(violation)
    names = list(expected) + [name for name in observed if name not in expected]
    names += [name for name in violations if name not in names]

    def severity(name: str) -> tuple[int, float, str]:
        """Violated first; then by distance over threshold, largest first; then by name."""
        distance = distances.get(name)
        ratio = 0.0
        if distance is not None:
            ratio = distance.value / distance.threshold if distance.threshold else math.inf
        return (0 if violations.get(name) else 1, -ratio, name)

    sections = [
        _section(
            name,
            baseline.get(name),
            expected.get(name),
            observed.get(name),
            distances.get(name),
            violations.get(name, []),
            report.rows,
        )
        for name in sorted(names, key=severity)
    ]
    violated = len(violations)
    headline = (
        f"{violated} of {len(names)} features violate a constraint."
        if violated
        else f"No violations: {len(names)} features within the baseline."
    )
    return _page(
        title,
        list(facts) or [("rows compared", f"{report.rows:,}")],
        problems,
        failure="",
        sections=sections,
        headline=headline,
    )


def _page(
    title: str,
    facts: Sequence[tuple[str, str]],
    problems: Sequence[str],
    *,
    failure: str,
    sections: Sequence[str],
    headline: str,
) -> str:
    rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in facts)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Drift report: {_e(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Drift report: {_e(title)}</h1>",
        f'<p class="headline">{_e(headline)}</p>',
        f'<table class="facts">{rows}</table>',
    ]
    if failure:
        parts.append(f'<div class="failure">{_e(failure)}</div>')
    if problems:
        items = "".join(f"<li>{_e(line)}</li>" for line in problems)
        parts.append(f'<div class="problems"><strong>Skipped</strong><ul>{items}</ul></div>')
    if sections:
        parts.append(
            '<p class="legend">Distributions:'
            f'<span style="background:{BASELINE_COLOUR}"></span>baseline'
            f'<span style="background:{WINDOW_COLOUR}"></span>window</p>'
        )
    parts += sections
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _section(
    name: str,
    baseline: Mapping[str, Any] | None,
    constraint: Mapping[str, Any] | None,
    observed: Mapping[str, Any] | None,
    distance: Distance | None,
    violations: Sequence[Violation],
    rows: int,
) -> str:
    kind = (constraint or {}).get("inferred_type") or (observed or {}).get("inferred_type")
    classes = "feature violated" if violations else "feature"
    badge = f' <span class="badge">{len(violations)} violated</span>' if violations else ""
    lines = [
        f'<section class="{classes}" id="feature-{_e(name)}" data-feature="{_e(name)}">',
        f'<h2>{_e(name)} <span class="type">{_e(str(kind or "Unknown"))}</span>{badge}</h2>',
    ]
    if distance is not None:
        over = distance.violated
        scale = max(distance.threshold * 2, distance.value, 1e-9)
        width = min(100.0, 100 * distance.value / scale)
        mark = min(100.0, 100 * distance.threshold / scale)
        lines += [
            f'<p class="distance">distance <strong>{distance.value:.3g}</strong>'
            f" {'&gt;' if over else '&le;'} threshold {distance.threshold:g}"
            f" ({_e(distance.method)} L-infinity between the {_e(distance.what)};"
            f" {distance.baseline_count:g} baseline values, {distance.sample_count:g} in the"
            " window)</p>",
            f'<div class="bar"><span class="{"over" if over else ""}"'
            f' style="width:{width:.1f}%"></span><i style="left:{mark:.1f}%"></i></div>',
        ]
    else:
        lines.append('<p class="distance">no distance compared</p>')
    present = _present(observed, rows)
    expected = (constraint or {}).get("completeness")
    if present is not None:
        # Shares, written as the checks' messages write them ("83.33% of values present").
        baseline_text = (
            f" (baseline {expected * 100:.4g}%)" if isinstance(expected, int | float) else ""
        )
        lines.append(
            f'<p class="completeness">values present: {present * 100:.4g}%{baseline_text}</p>'
        )
    if violations:
        items = "".join(
            f"<li><strong>{_e(v.constraint_check_type)}</strong>: {_e(v.description)}</li>"
            for v in violations
        )
        lines.append(f'<ul class="violations">{items}</ul>')
    else:
        lines.append('<p class="ok">no violation</p>')
    if str(kind) in NUMERIC:
        lines.append(_cdf_svg(name, baseline, observed))
    else:
        lines.append(_bars_svg(name, baseline, observed))
    lines.append("</section>")
    return "\n".join(lines)


# --- drawings ------------------------------------------------------------------------------


def _cdf_svg(
    name: str, baseline: Mapping[str, Any] | None, observed: Mapping[str, Any] | None
) -> str:
    ours, theirs = _sketch(baseline), _sketch(observed)
    both = [value for value, _ in ours + theirs]
    parts = [_svg_open(name, "cumulative distribution of the baseline and the window")]
    if not both:
        parts.append(_note("no values to draw"))
        return "".join(parts) + "</svg>"
    low, high = min(both), max(both)
    if high == low:
        low, high = low - 0.5, high + 0.5
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(value: float) -> float:
        return LEFT + plot_w * (value - low) / (high - low)

    def y(share: float) -> float:
        return TOP + plot_h * (1 - share)

    parts.append(_axes(f"{low:.4g}", f"{high:.4g}"))
    for items, colour, label in (
        (ours, BASELINE_COLOUR, "baseline"),
        (theirs, WINDOW_COLOUR, "window"),
    ):
        if not items:
            continue
        # A step function: along at the share so far, then up at each value.
        points = [f"{x(low):.1f},{y(0):.1f}"]
        level = 0.0
        for value, share in _cdf_points(items):
            points.append(f"{x(value):.1f},{y(level):.1f}")
            points.append(f"{x(value):.1f},{y(share):.1f}")
            level = share
        points.append(f"{x(high):.1f},{y(1):.1f}")
        parts.append(
            f'<polyline class="{label}" fill="none" stroke="{colour}" stroke-width="1.6"'
            f' points="{" ".join(points)}"/>'
        )
    return "".join(parts) + "</svg>"


def _bars_svg(
    name: str, baseline: Mapping[str, Any] | None, observed: Mapping[str, Any] | None
) -> str:
    ours, theirs = _shares(baseline), _shares(observed)
    parts = [_svg_open(name, "category frequencies of the baseline and the window")]
    categories = sorted(
        set(ours) | set(theirs), key=lambda c: (-ours.get(c, 0), -theirs.get(c, 0), c)
    )
    if not categories:
        parts.append(_note("no values to draw"))
        return "".join(parts) + "</svg>"
    shown = categories[:CATEGORIES]
    rest = categories[CATEGORIES:]
    rows = [(c, ours.get(c, 0.0), theirs.get(c, 0.0)) for c in shown]
    if rest:
        rows.append(
            (
                f"{len(rest)} others",
                sum(ours.get(c, 0.0) for c in rest),
                sum(theirs.get(c, 0.0) for c in rest),
            )
        )
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max(max(a, b) for _, a, b in rows) or 1.0
    slot = plot_w / len(rows)
    bar = max(1.0, slot * 0.38)
    parts.append(_axes("", "", top_label=f"{top:.2g}"))
    for i, (label, a, b) in enumerate(rows):
        left = LEFT + i * slot + slot * 0.1
        for share, colour, kind, shift in (
            (a, BASELINE_COLOUR, "baseline", 0.0),
            (b, WINDOW_COLOUR, "window", bar),
        ):
            height = plot_h * share / top
            parts.append(
                f'<rect class="{kind}" x="{left + shift:.1f}" y="{TOP + plot_h - height:.1f}"'
                f' width="{bar:.1f}" height="{height:.1f}" fill="{colour}">'
                f"<title>{_e(label)}: {kind} {share:.3g}</title></rect>"
            )
        text = label if len(label) <= 10 else label[:9] + "…"
        parts.append(
            f'<text x="{left + bar:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">'
            f"{_e(text)}</text>"
        )
    return "".join(parts) + "</svg>"


def _svg_open(name: str, what: str) -> str:
    return (
        f'<svg class="distribution" width="{WIDTH}" height="{HEIGHT}"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{_e(name)}: {_e(what)}">'
    )


def _axes(low: str, high: str, top_label: str = "1") -> str:
    bottom = HEIGHT - BOTTOM
    return (
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#999"/>'
        f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" stroke="#999"/>'
        f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end">{_e(top_label)}</text>'
        f'<text x="{LEFT - 4}" y="{bottom}" text-anchor="end">0</text>'
        f'<text x="{LEFT}" y="{HEIGHT - 6}">{_e(low)}</text>'
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" text-anchor="end">{_e(high)}</text>'
    )


def _note(text: str) -> str:
    return f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">{_e(text)}</text>'


def _cdf_points(items: list[tuple[float, int]]) -> list[tuple[float, float]]:
    """(value, share of values at most it), at most CDF_POINTS of them, evenly by rank."""
    total = sum(weight for _, weight in items)
    points: list[tuple[float, float]] = []
    running = 0
    for value, weight in sorted(items):
        running += weight
        if points and points[-1][0] == value:
            points[-1] = (value, running / total)
        else:
            points.append((value, running / total))
    if len(points) <= CDF_POINTS:
        return points
    step = len(points) / CDF_POINTS
    kept = [points[int(i * step)] for i in range(CDF_POINTS)]
    return kept + [points[-1]]


# --- reading the documents -----------------------------------------------------------------


def _by_name(document: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    features = document.get("features") if isinstance(document, Mapping) else None
    if not isinstance(features, list):
        return {}
    return {
        f["name"]: f for f in features if isinstance(f, dict) and isinstance(f.get("name"), str)
    }


def _sketch(feature: Mapping[str, Any] | None) -> list[tuple[float, int]]:
    """A KLL sketch's items and weights (level h: weight 2**h)."""
    data = _dig(feature, "numerical_statistics", "distribution", "kll", "sketch", "data")
    if not isinstance(data, list):
        return []
    items: list[tuple[float, int]] = []
    for level, compactor in enumerate(data):
        if isinstance(compactor, list):
            items += [
                (float(v), 1 << level)
                for v in compactor
                if isinstance(v, int | float) and not isinstance(v, bool)
            ]
    return items


def _shares(feature: Mapping[str, Any] | None) -> dict[str, float]:
    buckets = _dig(feature, "string_statistics", "distribution", "categorical", "buckets")
    if not isinstance(buckets, list):
        return {}
    counts: dict[str, float] = {}
    for bucket in buckets:
        if isinstance(bucket, dict) and isinstance(bucket.get("count"), int | float):
            value = str(bucket.get("value"))
            counts[value] = counts.get(value, 0.0) + float(bucket["count"])
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total else {}


def _present(feature: Mapping[str, Any] | None, rows: int) -> float | None:
    if feature is None:
        return None
    for block in ("numerical_statistics", "string_statistics"):
        common = _dig(feature, block, "common")
        if isinstance(common, dict):
            present, missing = common.get("num_present", 0), common.get("num_missing", 0)
            total = present + missing
            return present / total if total else None
    return 0.0 if rows else None


def _dig(document: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(document, Mapping):
            return None
        document = document.get(key)
    return document


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)
