"""Receivers whose failures depend on their load: the meter, the answer, and the storm they make.

One definition (:class:`whsim.core.behaviours.Capacity`, :class:`LoadMeter`, :func:`respond`)
serves the simulator's coupled loop and ``whsim receiver``; these tests pin what it means.
"""

from __future__ import annotations

import pytest

import whsim
from whsim import ScenarioError
from whsim.core.behaviours import (
    Answer,
    Behaviour,
    Capacity,
    Latency,
    LoadMeter,
    behaviour_from_dict,
    respond,
)
from whsim.sim import keyed, sweep


def test_the_meter_tips_over_above_capacity_and_needs_the_load_below_the_threshold():
    meter = LoadMeter(Capacity(per_s=3, recover_below=1, window_ms=1000))
    states = [meter.admit(t).overloaded for t in (0, 10, 20, 30)]
    assert states == [False, False, False, True]
    assert meter.admit(1500).overloaded  # 1 in the window is not below 1
    assert not LoadMeter(Capacity(per_s=3)).admit(0).overloaded
    plain = LoadMeter(Capacity(per_s=3))  # without hysteresis: back as soon as within capacity
    for t in (0, 1, 2, 3):
        plain.admit(t)
    assert not plain.admit(1002).overloaded


def test_overloaded_answers_are_the_capacitys_status_or_a_growing_delay():
    base = dict(now_ms=0, attempt=1, u_fail=0.9, u_latency=0.0)
    status = Behaviour(latency=Latency("fixed", 30), capacity=Capacity(per_s=1))
    meter = LoadMeter(status.capacity)  # type: ignore[arg-type]
    assert respond(status, load=meter.admit(0), **base) == Answer("status", 200, 30)
    assert respond(status, load=meter.admit(1), **base) == Answer("status", 503, 30)
    slow = Behaviour(
        latency=Latency("fixed", 30), capacity=Capacity(per_s=1, answer="slow", slow_ms=700)
    )
    meter = LoadMeter(slow.capacity)  # type: ignore[arg-type]
    for t in range(3):
        got = respond(slow, load=meter.admit(t), **base)
    assert got == Answer("status", 200, 30 + 2 * 700)  # two over capacity: 1.4 s more


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"capacity": {"per_s": 0}}, "capacity.per_s"),
        ({"capacity": {"per_s": 5, "recover_below": 9}}, "capacity.recover_below"),
        ({"capacity": {"per_s": 5, "answer": "crash"}}, "capacity.answer"),
        ({"capacity": {"recover_below": 1}}, "capacity.per_s"),
        ({"capacity": {"per_s": 5, "limit": 1}}, "capacity.limit"),
    ],
)
def test_bad_capacities_name_the_field(doc, field):
    with pytest.raises(ScenarioError) as info:
        behaviour_from_dict(doc)
    assert info.value.field == field


def test_the_engine_answers_as_the_core_would_attempt_by_attempt():
    scenario = sweep.storm_scenario(duration_s=200)
    result = whsim.simulate(scenario, seed=3)
    assert result.summary["engine"] == "reference"  # load couples deliveries
    plan, b = result.plan, scenario.receivers[0]
    meter = LoadMeter(b.capacity)  # type: ignore[arg-type]
    a = result.attempts.sort_values("sent_ms", kind="stable")
    log = result.log
    order = sorted(range(len(log.j)), key=lambda i: (int(log.sent_ms[i]), i))
    assert len(order) == len(a)
    for i in order:
        j, t = int(log.j[i]), int(log.sent_ms[i])
        d, k = j % plan.n, j // plan.n + 1
        e = int(plan.event[d])
        want = respond(
            b,
            now_ms=t,
            attempt=k,
            u_fail=keyed.uniform_py(plan.seed, 0, e, k, keyed.FAIL),
            u_latency=keyed.uniform_py(plan.seed, 0, e, k, keyed.LATENCY),
            u_hang=keyed.uniform_py(plan.seed, 0, e, k, keyed.HANG),
            load=meter.admit(t),
        )
        assert int(log.code[i]) == want.status


def test_retries_keep_a_metastable_receiver_down_long_after_the_outage():
    control = sweep.storm_metrics(whsim.simulate(sweep.storm_scenario(outage_s=0)))
    assert control["lost"] == 0 and control["work"] == 1.0  # 2/s is a fifth of its capacity
    storm = sweep.storm_metrics(whsim.simulate(sweep.storm_scenario()))
    # the outage lasted 30 s; its retries (7 attempts per event) keep the load above the
    # recovery threshold, so events created after the outage are lost too
    assert storm["down_after_s"] > 60 and storm["lost_after"] > 0.1
    # retries go on until the last refusal's retry, at most the schedule's 31 s after it; the
    # control has nothing to drain
    assert storm["down_after_s"] <= storm["drain_s"] <= storm["down_after_s"] + 32
    assert control["drain_s"] == 0
    no_hysteresis = sweep.storm_metrics(whsim.simulate(sweep.storm_scenario(recover_below=None)))
    assert no_hysteresis["lost_after"] < storm["lost_after"] / 5
    long_schedule = sweep.storm_metrics(whsim.simulate(sweep.storm_scenario("svix")))
    assert long_schedule["lost"] == 0


def test_load_dependent_runs_are_deterministic():
    a = whsim.simulate(sweep.storm_scenario(jitter="full", duration_s=120), seed=5)
    b = whsim.simulate(sweep.storm_scenario(jitter="full", duration_s=120), seed=5)
    assert a.summary["attempts_sha256"] == b.summary["attempts_sha256"]
