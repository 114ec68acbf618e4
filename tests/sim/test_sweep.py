"""whsim.sim.sweep: the questions the notebooks ask, answered the same way every time."""

import pytest

from whsim import RetryPolicy, ScenarioError
from whsim.sim import simulate, sweep


def test_one_failing_event_follows_each_reading():
    for reading in ("backoff-only", "immediate-plus-five", "immediate-counts"):
        offsets = sweep.failing_attempts(reading)
        schedule = RetryPolicy.named(reading).attempt_offsets()
        assert len(offsets) == len(schedule)
        # each failed attempt's 500 takes 20 ms, and backoff counts from the failure
        for k, (got, want) in enumerate(zip(offsets, schedule, strict=True)):
            assert got == pytest.approx(want + 0.02 * k, abs=1e-9)


def test_jitter_draws_differ_by_seed_and_never_lengthen_the_window():
    draws = {tuple(sweep.failing_attempts("backoff-only", jitter="full", seed=s)) for s in range(5)}
    assert len(draws) > 1
    assert all(d[-1] <= 31.1 for d in draws)


def test_a_receiver_that_fails_twice_is_reached_on_the_third_attempt():
    assert sweep.failing_attempts("backoff-only", receiver="fail-twice") == [0.0, 1.02, 3.04]


def test_outage_scenario_creates_every_event_inside_the_outage():
    scenario = sweep.outage_scenario(60, "backoff-only", events=30)
    result = simulate(scenario)
    (outage,) = scenario.receivers[0].outages
    assert len(result.events) == 30
    assert result.events["time_ms"].max() < outage.end_ms


def test_outage_loss_grows_with_the_outage():
    frame = sweep.outage_loss(["backoff-only", "svix"], [10, 60, 600, 7200], events=50)
    guide = frame[frame["policy"] == "backoff-only"].set_index("outage_s")["loss_rate"]
    assert guide[10.0] == 0 and 0 < guide[60.0] < guide[600.0] <= guide[7200.0] <= 1
    assert (frame[frame["policy"] == "svix"]["loss_rate"] == 0).all()
    assert set(frame.columns) >= {"policy", "outage_s", "events", "lost", "loss_rate"}


def test_shortest_lossy_outage_is_just_past_the_retry_window():
    assert sweep.shortest_lossy_outage("backoff-only") == 32.0
    assert sweep.shortest_lossy_outage("immediate-counts") == 16.0
    assert sweep.shortest_lossy_outage("backoff-only", max_s=20) is None


def test_lifting_the_expiry_lets_long_schedules_run_their_course():
    capped = sweep.shortest_lossy_outage("stripe-like", resolution_s=60)
    free = sweep.shortest_lossy_outage("stripe-like", resolution_s=60, expiry_s=None)
    assert capped is not None and free is not None
    assert capped < 86_400 < free


def test_an_outage_needs_a_length_and_events():
    with pytest.raises(ScenarioError, match="outage_s"):
        sweep.outage_scenario(0, "backoff-only")
    with pytest.raises(ScenarioError, match="events"):
        sweep.outage_scenario(10, "backoff-only", events=0)


def test_seeds_are_a_dimension_and_spread_summarises_them():
    frame = sweep.outage_loss(["backoff-only", "svix"], [60], events=20, seeds=[0, 1, 2])
    assert sorted(frame["seed"].unique()) == [0, 1, 2] and len(frame) == 6
    band = sweep.spread(frame, "loss_rate", "policy").set_index("policy")
    assert (band["seeds"] == 3).all()
    assert (band["p5"] <= band["median"]).all() and (band["median"] <= band["p95"]).all()


def test_first_losses_vary_with_the_seed_only_where_there_is_jitter():
    frame = sweep.first_losses(["svix", "convoy"], seeds=range(6), resolution_s=60)
    per = frame.groupby("policy")["first_loss_s"].nunique()
    assert per["convoy"] == 1 and per["svix"] > 1
    band = sweep.spread(frame, "first_loss_s", "policy").set_index("policy")
    assert band.loc["svix", "p5"] < band.loc["svix", "median"] < band.loc["svix", "p95"]


def test_expiry_capped_policies_are_the_ones_whose_schedule_outlasts_the_expiry():
    capped = {p for p in RetryPolicy.names() if sweep.expiry_capped(p)}
    assert capped == {"svix", "standard-webhooks", "stripe-like"}
    assert not any(sweep.expiry_capped(p, expiry_s=None) for p in RetryPolicy.names())
    assert sweep.schedule_reach_s("backoff-only") == 31.0
    assert sweep.schedule_reach_s("backoff-only", kind="hang") == 56.0


def test_over_seeds_runs_each_label_once_per_seed():
    one = sweep.outage_scenario(30, "backoff-only", events=10, jitter="full")
    frame = sweep.over_seeds({"full": one}, [0, 1], keys=["attempts", "delivered"])
    assert list(frame.columns) == ["label", "seed", "attempts", "delivered"]
    assert frame["seed"].tolist() == [0, 1]


@pytest.mark.parametrize(("policy", "kind"), [("convoy", "hang"), ("backoff-only", "down")])
def test_a_seed_free_outage_run_is_simulated_once_and_matches_every_seed(policy, kind):
    """The shortcut in outage_loss: no jitter and a refusing or hanging receiver give the same
    counts whatever the seed, so the repeated row equals a run on that seed."""
    frame = sweep.outage_loss([policy], [45, 950], kind=kind, events=20, seeds=[0, 7])
    for length in (45, 950):
        run = simulate(sweep.outage_scenario(length, policy, events=20, kind=kind), seed=7)
        row = frame[(frame["seed"] == 7) & (frame["outage_s"] == length)].iloc[0]
        lost = int(run.summary["deliveries"]) - int(run.summary["delivered"])
        assert (row["lost"], row["attempts"]) == (lost, run.summary["attempts"])


def test_a_jittered_policy_is_run_per_seed():
    frame = sweep.outage_loss(["svix"], [86_400], events=50, seeds=range(6))
    assert frame["lost"].nunique() > 1


def test_a_readings_value_is_the_same_sender_as_its_name():
    from whsim import Readings

    for name, value in (
        ("immediate-counts", Readings.parse(["RETRY-1=immediate-counts"])),
        ("svix", Readings(policy="svix")),
    ):
        assert sweep.failing_attempts(value, seed=4) == sweep.failing_attempts(name, seed=4)
        assert sweep.label(value) == name
    jittered = Readings.parse(["RETRY-1=backoff-only", "RETRY-4=full"])
    assert sweep.failing_attempts(jittered, seed=2) == sweep.failing_attempts(
        "backoff-only", jitter="full", seed=2
    )
    assert sweep.label(jittered) == "backoff-only (RETRY-4=full)"
    frame = sweep.outage_loss([Readings(policy="svix"), "backoff-only"], [60], events=20)
    assert list(frame["policy"]) == ["svix", "backoff-only"]


def test_other_readings_of_a_value_change_the_sweep():
    from whsim import Readings

    base = Readings.parse(["RETRY-1=backoff-only"])
    from_send = base.with_reading("RETRY-3", "from-send")
    # backoff counted from the send, not from the 20 ms failure: every offset 20 ms earlier per retry
    got = sweep.failing_attempts(from_send)
    assert got == pytest.approx([0, 1, 3, 7, 15, 31])
    assert sweep.failing_attempts(base) != got


def test_a_reading_the_simulator_refuses_is_named():
    from whsim import Readings
    from whsim.core.errors import ReadingNotHonouredError

    with pytest.raises(ReadingNotHonouredError, match="SIG-2=tolerant"):
        sweep.failing_attempts(Readings.parse(["SIG-2=tolerant"]))
