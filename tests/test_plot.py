"""Every plot returns its Axes and draws what it says."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.axes import Axes

import whsim
from whsim import plot


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
