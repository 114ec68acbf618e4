"""Every plot returns its Axes and draws what it says."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.axes import Axes

import whsim
from whsim.analysis import plot


@pytest.fixture(scope="module")
def result():
    return whsim.simulate("outage-10min", seed=1)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_retry_timeline_marks_attempts_and_shades_the_outage(result):
    ax = plot.retry_timeline(result)
    assert isinstance(ax, Axes)
    labels = ax.get_legend_handles_labels()[1]
    assert "receiver outage" in labels and "exhausted" in labels and "retry" in labels
    assert len(ax.collections) >= 3


def test_attempts_per_second_draws_on_a_given_axes(result):
    _, given = plt.subplots()
    ax = plot.attempts_per_second(result, ["billing"], bin_s=10, ax=given)
    assert ax is given and len(ax.lines) == 1


def test_latency_distribution(result):
    ax = plot.latency_distribution(result)
    assert isinstance(ax, Axes) and ax.get_xscale() == "log"


def test_timeline_of_a_healthy_run_still_draws():
    ax = plot.retry_timeline(whsim.simulate("healthy", seed=0))
    assert isinstance(ax, Axes)


def test_attempt_offsets_draws_a_row_per_label_and_the_bands():
    from whsim.sim import sweep

    rows = {
        "backoff-only": sweep.failing_attempts("backoff-only"),
        "jittered": [
            sweep.failing_attempts("backoff-only", jitter="full", seed=s) for s in range(3)
        ],
    }
    ax = plot.attempt_offsets(rows, bands=[(0, 0.5), (1, 1.5)], colours={"jittered": "red"})
    assert [t.get_text() for t in ax.get_yticklabels()] == ["backoff-only", "jittered"]
    assert len(ax.collections) == 4  # one scatter per series
    assert ax.get_legend() is not None


def test_outage_loss_plots_a_sweep_with_thresholds():
    from whsim.sim import sweep

    frame = sweep.outage_loss(["backoff-only", "convoy"], [10, 60, 3600], events=20)
    ax = plot.outage_loss(frame, thresholds={"backoff-only": 32.0, "convoy": None})
    assert [
        line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")
    ] == [
        "backoff-only",
        "convoy",
    ]


def test_delivery_age_and_overview(result):
    ax = plot.delivery_age(result)
    assert "expiry" in [t.get_text().split(" ")[0] for t in ax.get_legend().get_texts()]
    fig = plot.overview(result)
    assert len(fig.axes) == 3  # timeline, load of the busiest webhook, the total on its own scale


# --- figures that tell the truth (issue 13) ----------------------------------------------------


def test_overview_panels_share_one_time_range(result):
    fig = plot.overview(result)
    top, bottom = fig.axes[0], fig.axes[1]
    assert top.get_xlim() == bottom.get_xlim()
    assert top.get_xlabel() == bottom.get_xlabel()


def test_retry_timeline_never_starts_before_zero_and_labels_rows_by_type(result):
    ax = plot.retry_timeline(result, max_rows=20)
    assert ax.get_xlim()[0] >= 0
    assert all(t >= 0 for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1])
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and all(not t.startswith("evt_") and " #" in t for t in labels)


def test_retry_timeline_of_a_short_span_is_in_seconds():
    r = whsim.simulate(whsim.load_scenario("healthy"), seed=0)
    span = float(r.attempts["sent_ms"].max() - r.attempts["sent_ms"].min())
    assert plot.time_unit(60_000) == (1_000.0, "s") and plot.time_unit(span)[1] in ("s", "min", "h")
    assert plot.time_unit(4 * 3_600_000)[1] == "h"


def test_an_immediate_retry_is_visible_next_to_the_first_attempt():
    ax = plot.attempt_offsets({"backoff-only": [0, 1, 3], "immediate-plus-five": [0, 0, 1, 3]})
    row = ax.collections[-1].get_offsets()
    points = {(float(x), float(y)) for x, y in row}
    assert len(points) == 4, "two attempts at 0 s are drawn on one spot"
    texts = [t.get_text() for t in ax.texts]
    assert "2 attempts at 0 s" in texts and "4 attempts" in texts and "3 attempts" in texts


def test_identical_loss_curves_are_one_line_named_for_both():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "policy": ["a", "a", "b", "b", "c", "c"],
            "outage_s": [10, 60, 10, 60, 10, 60],
            "loss_rate": [0.0, 0.5, 0.0, 0.5, 0.0, 0.1],
        }
    )
    ax = plot.outage_loss(frame)
    labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert labels == ["a = b (identical)", "c"]


def test_load_of_one_webhook_does_not_lie_flat_under_the_total(result):
    ax = plot.attempts_per_second(result)
    twins = [a for a in ax.figure.axes if a is not ax]
    assert len(twins) == 1, "the total over all webhooks has its own scale"
    (one,) = ax.get_lines()[:1]
    assert max(one.get_ydata()) >= 0.5 * ax.get_ylim()[1]
    assert any(t.get_text().startswith("peak ") for t in ax.texts)
