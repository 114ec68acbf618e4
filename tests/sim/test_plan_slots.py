"""The plan stores only reachable attempts, in rows of slots; the slots and the names agree."""

from __future__ import annotations

import numpy as np
import pytest

from whsim.sim.engine import run_reference
from whsim.sim.fast import run_fast
from whsim.sim.plan import compile_plan
from whsim.sim.scenarios import load_scenario


@pytest.mark.parametrize("name", ["flaky", "outage-10min", "retry-storm"])
def test_rows_link_by_next_slot_and_every_logged_attempt_was_drawn(name):
    plan = compile_plan(load_scenario(name), 1)
    n, A = plan.n, plan.max_attempts
    assert int(plan.row_start[0]) == 0 and int(plan.row_start[1]) == n
    assert len(plan.next_slot) == len(plan.delay) == int(plan.row_start[A - 1])
    for k in range(1, A):
        lo, hi = int(plan.row_start[k - 1]), int(plan.row_start[k])
        nxt = plan.next_slot[lo:hi]
        linked = nxt >= 0
        # the next row holds exactly the linked deliveries, in order, at consecutive slots
        following = plan.slot_deliveries(k + 1)
        assert np.array_equal(following, plan.slot_deliveries(k)[linked])
        assert np.array_equal(nxt[linked], np.arange(hi, hi + len(following)))
    tables = plan.dense_tables()
    for log in (run_reference(plan), run_fast(plan)):
        slots = plan.slot_of(log.j)
        # every attempt an engine reached has its slot, and the slot holds its dense answer
        assert np.array_equal(plan.slot_deliveries(1)[slots[log.j < n]], log.j[log.j < n])
        assert np.array_equal(plan.code[slots], tables.code[log.j])
        assert np.array_equal(plan.took[slots], tables.took[log.j])
        for k in range(2, A + 1):
            mine = log.j // n == k - 1
            row = plan.slot_deliveries(k)
            assert np.isin(log.j[mine] % n, row).all()


def test_dense_tables_are_zero_where_nothing_was_drawn():
    plan = compile_plan(load_scenario("healthy"), 0)
    tables = plan.dense_tables()
    n, A = plan.n, plan.max_attempts
    drawn = np.zeros(A * n, dtype=bool)
    drawn[:n] = True
    for k in range(2, A + 1):
        drawn[(k - 1) * n + plan.slot_deliveries(k)] = True
    assert not tables.code[~drawn].any() and not tables.took[~drawn].any()
    assert len(plan.code) == int(drawn.sum()) < A * n  # a healthy run stores far fewer answers


@pytest.mark.parametrize("chunk", [1, 7, 100])
def test_rows_drawn_in_chunks_are_the_rows_drawn_whole(monkeypatch, chunk):
    # compile_plan draws each row in chunks of deliveries to bound its temporaries, on threads:
    # where the chunks cut, and which thread draws one, must change nothing (decorrelated jitter
    # reads the previous row's delays)
    from whsim.core.readings import Readings
    from whsim.sim import chunked

    scenario = load_scenario("outage-10min")
    scenario = scenario.replace(
        sender=scenario.sender.with_readings(Readings({"RETRY-4": "decorrelated"}))
    )
    whole = compile_plan(scenario, 7)
    monkeypatch.setattr(chunked, "CHUNK", chunk)  # many chunks: drawn on threads, too
    cut = compile_plan(scenario, 7)
    for name in ("code", "took", "latency", "delay", "row_start", "drawn", "next_slot"):
        assert np.array_equal(getattr(cut, name), getattr(whole, name)), name
    assert len(whole.outages) and whole.policy.jitter == "decorrelated"
