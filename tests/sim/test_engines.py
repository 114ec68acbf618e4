"""The two engines agree with each other and with the pure delivery state machine."""

from __future__ import annotations

import dataclasses
import heapq

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sim_strategies import scenarios

from whsim.core.delivery import after_attempt, before_attempt, new_delivery
from whsim.core.policy import RetryPolicy
from whsim.sim import Arrival, Scenario, Sender, Webhook, Workload
from whsim.sim.engine import RawLog, run_reference
from whsim.sim.fast import run_fast
from whsim.sim.plan import (
    CONNECT,
    STATES,
    TIMEOUT,
    Plan,
    compile_plan,
    verdict_table,
)
from whsim.sim.results import attempts_hash

CODES = [200, 204, 301, 400, 401, 404, 408, 429, 500, 502, 503, TIMEOUT, CONNECT]


def _single_plan(
    sender: Sender, codes: list[int], took: list[int], us: list[float], t0: int
) -> Plan:
    """A compiled one-delivery plan whose answers are replaced by the given sequence."""
    scenario = Scenario(
        webhooks=(Webhook("wh", events=("proposal.created",)),),
        sender=sender,
        workload=Workload(duration_ms=1_000, arrival=Arrival("constant", 1.0), max_events=1),
    )
    plan = compile_plan(scenario, 0)
    assert plan.n == 1
    policy = plan.policy
    A = policy.max_attempts
    delay = [policy.retry_delay_ms(k, us[k - 1]) for k in range(1, A)] + [0]
    return dataclasses.replace(
        plan,
        event_ms=np.array([t0], dtype=np.int64),
        ready_ms=np.array([t0], dtype=np.int64),
        code=np.array(codes[:A], dtype=np.int32),
        took=np.array(took[:A], dtype=np.int32),
        latency=np.array(took[:A], dtype=np.int32),
        delay=np.array(delay, dtype=np.int64),
        verdict=verdict_table(policy),
        # every attempt drawn: row k is slot k - 1, which is also its name j (n = 1)
        row_start=np.arange(A + 1, dtype=np.int64),
        drawn=np.zeros(A - 1, dtype=np.int32),
        next_slot=np.arange(1, A, dtype=np.int32),
    )


def _step_state_machine(
    policy: RetryPolicy, codes: list[int], took: list[int], us: list[float], t0: int
) -> tuple[list[tuple[int, int, int, int]], str, int]:
    state = new_delivery(t0)
    attempts: list[tuple[int, int, int, int]] = []
    while True:
        assert state.next_attempt_ms is not None
        now = state.next_attempt_ms
        state = before_attempt(state, policy, now)
        if state.terminal:
            break
        k = state.attempts
        code = codes[k]
        status = code if code > 0 else None
        error = None if code > 0 else ("timeout" if code == TIMEOUT else "connect")
        fin = now + took[k]
        attempts.append((k + 1, now, fin, code))
        state = after_attempt(
            state, policy, sent_ms=now, finished_ms=fin, status=status, error=error, jitter_u=us[k]
        )
        if state.terminal:
            break
    assert state.ended_ms is not None
    return attempts, str(state.status), state.ended_ms


@st.composite
def single_cases(draw: st.DrawFn) -> tuple[Sender, list[int], list[int], list[float], int]:
    sender = Sender(
        retry=draw(st.sampled_from(RetryPolicy.names())),
        jitter=draw(st.sampled_from([None, "full", "equal", "proportional", "decorrelated"])),
        codes=draw(st.sampled_from([None, "all-non-2xx", "only-500"])),
        backoff_from=draw(st.sampled_from([None, "from-send"])),
        expiry_from=draw(st.sampled_from([None, "from-first-attempt"])),
        timeout_ms=draw(st.sampled_from([1_000, 5_000])),
        expiry_ms=draw(st.sampled_from([1, 500, 3_000, 20_000, 86_400_000])),
        concurrency=draw(st.sampled_from([0, 1])),
    )
    A = sender.policy().max_attempts
    codes = draw(st.lists(st.sampled_from(CODES), min_size=A, max_size=A))
    timeout = sender.timeout_ms
    took = [
        timeout if c == TIMEOUT else 0 if c == CONNECT else draw(st.integers(0, timeout))
        for c in codes
    ]
    us = draw(st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=A, max_size=A))
    return sender, codes, took, us, draw(st.integers(0, 10**9))


@settings(max_examples=150)
@given(single_cases())
def test_engines_step_like_the_delivery_state_machine(case):
    sender, codes, took, us, t0 = case
    plan = _single_plan(sender, codes, took, us, t0)
    expected, status, ended = _step_state_machine(plan.policy, codes, took, us, t0)
    logs = [run_reference(plan)]
    if not sender.coupled:
        logs.append(run_fast(plan))
    for log in logs:
        got = [
            (int(j) + 1, int(s), int(f), int(c))
            for j, s, f, c in zip(log.j, log.sent_ms, log.finished_ms, log.code, strict=True)
        ]
        assert got == expected
        assert STATES[int(log.state[0])] == status
        assert int(log.ended_ms[0]) == ended


@settings(max_examples=100)
@given(scenarios(), st.integers(0, 2**32))
def test_numpy_engine_equals_reference_engine(scenario, seed):
    plan = compile_plan(scenario, seed)
    assert attempts_hash(plan, run_fast(plan)) == attempts_hash(plan, run_reference(plan))


@settings(max_examples=25)
@given(scenarios(), st.integers(0, 2**32))
def test_coupled_loop_without_contention_equals_independent_engines(scenario, seed):
    """A cap nobody reaches and no downtime: the coupled loop must change nothing."""
    plan = compile_plan(scenario, seed)
    roomy = scenario.replace(sender=dataclasses.replace(scenario.sender, concurrency=10**9))
    assert roomy.coupled
    coupled = dataclasses.replace(plan, scenario=roomy)
    assert attempts_hash(plan, run_reference(coupled)) == attempts_hash(plan, run_fast(plan))


@settings(max_examples=25)
@given(scenarios(coupled=True), st.integers(0, 2**32))
def test_coupled_runs_respect_caps_downtime_and_expiry(scenario, seed):
    plan = compile_plan(scenario, seed)
    log = run_reference(plan)
    assert attempts_hash(plan, log) == attempts_hash(plan, run_reference(plan))
    assert int(np.count_nonzero(log.state == 0)) == 0  # nothing left pending
    d = log.j % plan.n
    # no attempt starts during sender downtime
    for w in scenario.sender.downtime:
        assert not np.any((log.sent_ms >= w.start_ms) & (log.sent_ms < w.end_ms))
    # an attempt only starts while its event is young enough
    if plan.policy.expiry_from == "from-event-timestamp":
        assert np.all(log.sent_ms <= plan.event_ms[d] + plan.expiry_ms)
    cap = scenario.sender.concurrency
    if cap:
        hooks = plan.hook[d]
        for h in np.unique(hooks):
            mine = hooks == h
            starts, ends = log.sent_ms[mine], log.finished_ms[mine]
            # in flight at each start: started before or at it and not finished yet
            order = np.argsort(starts, kind="stable")
            starts, ends = starts[order], ends[order]
            for i in range(len(starts)):
                busy = np.count_nonzero((starts[:i] <= starts[i]) & (ends[:i] > starts[i]))
                assert busy < cap


@settings(max_examples=30)
@given(scenarios(), st.integers(0, 2**32))
def test_every_attempt_is_what_respond_answers_with_the_keyed_uniforms(scenario, seed):
    """The plan's vectorised draws plus the engines' outage handling equal behaviours.respond."""
    from whsim.core.behaviours import respond
    from whsim.sim import keyed

    plan = compile_plan(scenario, seed)
    log = run_reference(plan)
    behaviours = {
        one: scenario.behaviour(hook.receiver) for hook in scenario.webhooks for one in hook.ids()
    }
    timeout = plan.timeout_ms
    for x in range(0, len(log.j), max(1, len(log.j) // 200)):
        j = int(log.j[x])
        d, k = j % plan.n, j // plan.n + 1
        h, v = int(plan.hook[d]), int(plan.event[d])
        sent = int(log.sent_ms[x])
        answer = respond(
            behaviours[plan.hook_ids[h]],
            now_ms=sent,
            attempt=k,
            u_fail=keyed.uniform_py(seed, h, v, k, keyed.FAIL),
            u_latency=keyed.uniform_py(seed, h, v, k, keyed.LATENCY),
            u_hang=keyed.uniform_py(seed, h, v, k, keyed.HANG),
        )
        if answer.kind == "refused":
            expected = (CONNECT, 0)
        elif answer.kind == "hang" or answer.latency_ms > timeout:
            expected = (TIMEOUT, timeout)
        else:
            expected = (answer.status, answer.latency_ms)
        assert (int(log.code[x]), int(log.finished_ms[x]) - sent) == expected


def _assert_plain_heap_order(plan: Plan, log: RawLog) -> None:
    """``log`` is in the order a plain heap of (due, j) gives, retries first at equal times.

    The attempts themselves come from the log: a retry enters the heap, at the time it was sent,
    when the attempt before it is taken; first attempts stream in delivery order.
    """
    n = plan.n
    js, sent = log.j.tolist(), log.sent_ms.tolist()
    at = {j: x for x, j in enumerate(js)}
    ready = plan.ready_ms.tolist()
    heap: list[tuple[int, int]] = []
    i = 0
    for x in range(len(js)):
        while i < n and i not in at:  # a first attempt that never started
            i += 1
        if heap and (i >= n or heap[0][0] <= ready[i]):
            t, j = heapq.heappop(heap)
        else:
            t, j = ready[i], i
            i += 1
        assert (js[x], sent[x]) == (j, t), f"attempt {x} of the log"
        if j + n in at:
            heapq.heappush(heap, (sent[at[j + n]], j + n))
    assert not heap


@settings(max_examples=60)
@given(scenarios(), st.integers(0, 2**32), st.integers(0, 2**32), st.sampled_from([1, 7, 60_000]))
def test_reference_engine_takes_retries_in_due_then_attempt_order(scenario, seed, rng_seed, q):
    """Many retries due at one instant (batched behind one heap entry) in every order.

    Answers take 0-2 ms and retries wait 0-3 ms, deliveries are ready on a coarse grid: retries of
    different attempts and events fall due together, interleaved, and at the instant they failed.
    """
    plan = compile_plan(scenario, seed)
    rng = np.random.default_rng(rng_seed)
    crowded = dataclasses.replace(
        plan,
        ready_ms=plan.ready_ms // q * q,
        took=rng.integers(0, 3, size=plan.took.shape).astype(plan.took.dtype),
        delay=rng.integers(0, 4, size=plan.delay.shape).astype(plan.delay.dtype),
    )
    log = run_reference(crowded)
    _assert_plain_heap_order(crowded, log)
    assert attempts_hash(crowded, log) == attempts_hash(crowded, run_fast(crowded))
