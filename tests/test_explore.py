"""Exploration: shipped properties get their verdicts, counterexamples are real and minimal."""

import dataclasses

import matplotlib
import pytest

from whsim.analysis.explore import PROPERTIES, explore, explore_named
from whsim.analysis.strategies import scenarios
from whsim.cli import main
from whsim.sim import Downtime, simulate

matplotlib.use("Agg")

FAILING = [name for name, p in PROPERTIES.items() if p.verdict == "fails"]
HOLDING = [name for name, p in PROPERTIES.items() if p.verdict == "holds"]


def _breaks(name, scenario):
    return PROPERTIES[name].check(simulate(scenario, seed=0)) not in (None, True)


@pytest.mark.parametrize("name", FAILING)
def test_false_properties_give_a_real_counterexample(name):
    cx = explore_named(name, max_examples=200, seed=0, time_budget_s=60)
    assert cx is not None, name
    # the counterexample really breaks the property when simulated again
    assert _breaks(name, cx.scenario)
    assert cx.message and cx.examples >= 1


@pytest.mark.parametrize("name", HOLDING)
def test_true_properties_hold_over_many_examples(name):
    assert explore_named(name, max_examples=150, seed=1, time_budget_s=60) is None


def test_outage_counterexample_is_minimal():
    cx = explore_named("no-loss-short-outages", seed=0)
    (outage,) = cx.scenario.receivers[0].outages
    assert outage.end_ms - outage.start_ms == 32_000  # the retry window is 31 s
    shorter = dataclasses.replace(outage, end_ms=outage.end_ms - 1000)
    receiver = dataclasses.replace(cx.scenario.receivers[0], outages=(shorter,))
    assert not _breaks("no-loss-short-outages", cx.scenario.replace(receivers=(receiver,)))


def test_expiry_counterexample_is_minimal():
    cx = explore_named("nothing-expires", seed=0)
    (down,) = cx.scenario.sender.downtime
    assert down.end_ms - down.start_ms == 86_400_001
    sender = dataclasses.replace(cx.scenario.sender, downtime=(Downtime(0, 86_400_000),))
    assert not _breaks("nothing-expires", cx.scenario.replace(sender=sender))


def test_storm_counterexample_is_minimal():
    cx = explore_named("calm-after-recovery", seed=0)
    w = cx.scenario.workload
    assert w.arrival.burst_size == 11
    smaller = dataclasses.replace(w, arrival=dataclasses.replace(w.arrival, burst_size=10))
    assert not _breaks("calm-after-recovery", cx.scenario.replace(workload=smaller))


def test_progress_counterexample_is_minimal():
    cx = explore_named("final-progress-seen", seed=0)
    w = cx.scenario.workload
    steps = w.job_duration_ms // w.progress_every_ms
    assert (steps, w.progress_every_ms) == (3, 1000)
    fewer = dataclasses.replace(w, job_duration_ms=2 * w.progress_every_ms)
    assert not _breaks("final-progress-seen", cx.scenario.replace(workload=fewer))


def test_a_users_property_in_five_lines():
    cx = explore(
        lambda r: r.summary["loss_rate"] == 0,
        scenarios(max_webhooks=1, max_events=20, coupled=False),
        max_examples=100,
    )
    assert cx is not None and cx.result.summary["loss_rate"] > 0
    ax = cx.plot()
    assert ax.get_title()
    assert "violation" in cx.describe()


def test_same_seed_same_counterexample():
    a = explore_named("job-events-in-order", seed=3)
    b = explore_named("job-events-in-order", seed=3)
    assert repr(a.scenario) == repr(b.scenario)


def test_unknown_property():
    with pytest.raises(ValueError, match="no-loss-short-outages"):
        explore_named("everything-is-fine")


def test_cli(capsys, tmp_path):
    assert main(["explore", "nothing-expires", "--plot", str(tmp_path / "cx.png")]) == 1
    out = capsys.readouterr().out
    assert "86400001" in out and "minimal" in out and (tmp_path / "cx.png").stat().st_size > 0
    assert main(["explore", "no-attempt-after-expiry", "--max-examples", "20"]) == 0
    assert "no counterexample" in capsys.readouterr().out
    assert main(["explore", "--list"]) == 0
    assert main(["explore", "nothing-expires", "--max-examples", "0"]) == 2


def test_holding_checks_can_fail():
    """The checks behind the 'holds' verdicts flag a violation when one is there."""
    import types

    import pandas as pd

    from whsim import RetryPolicy

    sender = types.SimpleNamespace(policy=lambda: RetryPolicy.seed("backoff-only"))
    fake = types.SimpleNamespace(
        scenario=types.SimpleNamespace(sender=sender),
        deliveries=pd.DataFrame({"event_id": ["e"], "event_ms": [0], "attempts": [7]}),
        attempts=pd.DataFrame({"event_id": ["e"], "sent_ms": [86_400_001]}),
    )
    assert "7 attempts" in PROPERTIES["attempts-within-reading"].check(fake)
    assert "86400001" in PROPERTIES["no-attempt-after-expiry"].check(fake)
