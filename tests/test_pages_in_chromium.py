"""The pages people read, rendered in headless Chromium at 1400 px: the receiver and sender
reports and the demo index fit in about three screens, every figure has a box with something
drawn in it, no two labels of a figure overlap, and failures come before passing cases.

``make test`` installs Chromium when it is missing (``.ci/ensure-chromium``); without it, skip.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import chromium, measure

from whsim.conformance.case import CaseResult, CaseSpec
from whsim.conformance.figures import Mark, Window, retry_timeline
from whsim.conformance.outcomes import Outcome
from whsim.conformance.report import build_report, write_reports

pytestmark = pytest.mark.skipif(
    chromium() is None, reason="headless Chromium is not installed (Debian package: chromium)"
)

SCREEN = 900
"""One screen at 1400 px wide, in CSS pixels."""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from whsim.demo import QUICK_SCENARIOS, run_demo

    out = tmp_path_factory.mktemp("demo")
    result = run_demo(
        out, scenarios=QUICK_SCENARIOS, run_notebook_html=False, time_scale=5.0, log=lambda _: None
    )
    failed = [f for c in result.conformance for f in c["failed"]]
    assert not failed, f"a reference implementation failed its suite: {failed}"
    return out


@pytest.mark.slow
@pytest.mark.parametrize("page", ["receiver/index.html", "sender/index.html", "index.html"])
def test_passing_pages_fit_three_screens_with_clean_figures(demo: Path, page: str) -> None:
    layout = measure(demo / page, width=1400, height=SCREEN)
    assert layout.width <= 1400, f"{page} scrolls sideways ({layout.width} px)"
    assert layout.height <= 3 * SCREEN, f"{page} is {layout.height} px tall"
    assert layout.blank_figures() == []
    assert layout.overlapping_labels() == []
    if page.startswith("sender"):
        assert len([f for f in layout.figures if f["tag"] == "svg"]) >= 2  # the retry timelines
        for f in layout.figures:
            assert f["box"]["w"] >= 0.8 * 1300, "a timeline does not fill the width"
    if page == "index.html":
        assert len([f for f in layout.figures if f["tag"] == "img"]) >= 3


def _timeline_case(outcome: Outcome, offsets: list[float], case_id: str) -> CaseResult:
    svg = retry_timeline(
        f"{case_id}: {len(offsets)} attempt(s)",
        [Mark(t, "500", end=t + 0.002) for t in offsets],
        [Window(a + 0.5, a + 1.5, a + 3, "next") for a in offsets[:-1]],
        quiet_until=offsets[-1] + 4,
    )
    return CaseResult(
        CaseSpec(case_id, "retry gaps", ("RETRY-1",)), outcome, "gaps", details={"figures": [svg]}
    )


def test_close_attempts_keep_their_labels_apart_and_failures_come_first(tmp_path: Path) -> None:
    # An immediate retry (1 ms apart) and attempts 0.2 s apart on a 60 s axis: "#1 500" and
    # "#2 500" used to be drawn on top of each other.
    results = [
        _timeline_case(Outcome.PASS, [0, 1, 3, 7, 15, 31], "SND-RETRY-001"),
        _timeline_case(Outcome.FAIL, [0, 0.001, 0.2, 0.4, 0.6, 50], "SND-RETRY-002"),
        CaseResult(CaseSpec("SND-REG-001", "create", ("REG-1",)), Outcome.PASS, "created"),
    ]
    report = build_report("sender", "http://127.0.0.1:9", results, seed=1, strict=False)
    page = write_reports(report, tmp_path)["html"]
    layout = measure(page)
    assert layout.overlapping_labels() == []
    assert layout.blank_figures() == []
    labels = [t["text"] for f in layout.figures for t in f.get("labels", [])]
    assert "#1 500" in labels and "#2 500" in labels
    assert layout.ids["SND-RETRY-002"] < layout.ids["SND-REG-001"], "the failure is not first"
    assert layout.ids["SND-RETRY-002"] < layout.ids["SND-RETRY-001"]
