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


def test_loss_vs_outage_has_a_line_per_policy():
    ax = plot.loss_vs_outage(("backoff-only", "svix"), (0, 60, 600), seed=1)
    assert [line.get_label() for line in ax.lines] == ["backoff-only", "svix"]
    backoff = ax.lines[0].get_ydata()
    assert backoff[0] == 0 and backoff[-1] > backoff[1] > 0
    assert max(ax.lines[1].get_ydata()) == 0


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
    assert len(fig.axes) == 2
