"""The HTML drift report, read back with html.parser: one self-contained page, one drawing per
feature, the worst feature first, violations highlighted."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from model_packaging.drift import capture, report_html
from model_packaging.drift.checks import load_baseline
from model_packaging.drift.engine import Analysis, analyse
from model_packaging.drift.window import Window
from tests.helpers import release
from tests.packaging.test_drift_capture import (
    HOUR,
    STYLES,
    lines_of,
    plans,
    plans_baseline,
    write_capture,
)

__all__ = ["plans_baseline"]  # the module-scoped fixture, shared


@dataclass
class Section:
    feature: str
    classes: list[str]
    svgs: int = 0
    polylines: list[str] = field(default_factory=list)
    bars: int = 0
    violations: int = 0
    distance: str = ""


class Page(HTMLParser):
    """The feature sections of a report, and every tag and attribute on the page."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[Section] = []
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.svgs_outside = 0
        self._in_distance = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        self.attributes += [value or "" for value in values.values()]
        current = self.sections[-1] if self.sections else None
        if tag == "section" and "feature" in (values.get("class") or "").split():
            self.sections.append(
                Section(values["data-feature"] or "", (values.get("class") or "").split())
            )
        elif tag == "svg":
            if current is None:
                self.svgs_outside += 1
            else:
                current.svgs += 1
        elif tag == "polyline" and current is not None:
            current.polylines.append(values.get("class") or "")
        elif tag == "rect" and current is not None:
            current.bars += 1
        elif tag == "ul" and "violations" in (values.get("class") or "") and current:
            current.violations += 1
        self._in_distance = tag == "strong" and current is not None and not current.distance

    def handle_data(self, data: str) -> None:
        if self._in_distance and self.sections:
            self.sections[-1].distance = data.strip()
            self._in_distance = False


def parsed(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


@pytest.fixture
def shifted(plans_baseline: Path, tmp_path: Path) -> Analysis:
    # tenure shifted far, plan shifted; a JSON key the baseline does not know.
    write_capture(tmp_path / "cap", lines_of(plans(30, 400, shifted=True), STYLES))
    extra = '{"instances": [{"tenure": 5, "charges": 20.5, "plan": "basic", "region": "eu"}]}'
    write_capture(tmp_path / "cap", [capture.record(extra, "JSON", "application/json", HOUR)])
    statistics, constraints = load_baseline(plans_baseline)
    files = capture.local_files(tmp_path / "cap", Window())
    return analyse(statistics, constraints, files, Window())


def assert_self_contained(text: str, page: Page) -> None:
    assert "http://" not in text and "https://" not in text
    assert "url(" not in text
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(page.tags)
    assert not [a for a in page.attributes if a.startswith(("//", "data:", "javascript:"))]


def test_one_drawing_per_feature_worst_first_violations_highlighted(shifted: Analysis) -> None:
    text = report_html.render_analysis(shifted, title="churn-prod / AllTraffic", window=Window())
    page = parsed(text)
    assert_self_contained(text, page)
    assert page.svgs_outside == 0
    assert [s.svgs for s in page.sections] == [1] * 4
    violated = {v.feature_name for v in shifted.report.violations}
    assert violated == {"tenure", "plan", "region"}
    # The violated features first, each ordered by distance over threshold; then the rest.
    order = [s.feature for s in page.sections]
    ratio = {n: d.value / d.threshold for n, d in shifted.distances.items()}
    assert set(order[:3]) == violated and order[3] == "charges"
    compared = [n for n in order[:3] if n in ratio]
    assert compared == sorted(compared, key=lambda n: -ratio[n])
    for section in page.sections:
        assert ("violated" in section.classes) == (section.feature in violated)
        assert section.violations == (1 if section.feature in violated else 0)
    by_name = {s.feature: s for s in page.sections}
    # Numbers: the two CDFs; strings: bars for the baseline and the window.
    assert by_name["tenure"].polylines == ["baseline", "window"]
    assert by_name["charges"].polylines == ["baseline", "window"]
    assert by_name["plan"].bars == 6  # three plans, two bars each
    assert by_name["tenure"].distance == f"{shifted.distances['tenure'].value:.3g}"
    # Completeness as the checks' messages write shares: a percentage, against the baseline's.
    assert re.search(r"values present: \d+(\.\d+)?% \(baseline \d+(\.\d+)?%\)", text), text


def test_an_empty_window_and_a_missing_baseline_say_so_without_drawings(
    shifted: Analysis,
) -> None:
    window = Window(HOUR + timedelta(hours=5), HOUR + timedelta(hours=6))
    empty = analyse(shifted.statistics, shifted.constraints, [], window)
    text = report_html.render_analysis(empty, title="t", window=window)
    page = parsed(text)
    assert_self_contained(text, page)
    assert (page.sections, page.tags.count("svg")) == ([], 0)
    assert "No captured request from 2024-05-01T15:00:00Z to" in text
    text = report_html.render_analysis(
        None, title="t", window=window, baseline_problem="cannot read the baseline's s3://x/y"
    )
    assert "Not analysed: cannot read the baseline&#x27;s s3://x/y" in text


def test_drift_check_writes_the_page_for_captures_and_for_a_sample(
    plans_baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_capture(tmp_path / "cap", lines_of(plans(31, 200, shifted=True), STYLES))
    base = ("drift-check", "--baseline", str(plans_baseline))
    status, _, _ = release(
        capsys, *base, "--capture", str(tmp_path / "cap"), "--report", str(tmp_path / "c.html")
    )
    assert status == 1
    page = parsed((tmp_path / "c.html").read_text())
    assert [s.feature for s in page.sections][:2] in (["tenure", "plan"], ["plan", "tenure"])
    sample = tmp_path / "sample.csv"
    rows = plans(32, 200)
    sample.write_text("tenure,charges,plan\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    status, _, _ = release(
        capsys, *base, "--data", str(sample), "--report", str(tmp_path / "d.html")
    )
    assert status == 0
    page = parsed((tmp_path / "d.html").read_text())
    assert sorted(s.feature for s in page.sections) == ["charges", "plan", "tenure"]
    assert all(s.svgs == 1 and "violated" not in s.classes for s in page.sections)
