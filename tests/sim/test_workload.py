"""The Proposal Generator workload, the keyed randomness and the vectorised policy pieces."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from whsim.core.behaviours import Behaviour, Latency, respond
from whsim.core.policy import RetryPolicy
from whsim.core.spec.events import EVENT_TYPES
from whsim.sim import Arrival, Workload, keyed
from whsim.sim.plan import HANG, jitter_delays, respond_many
from whsim.sim.workload import arrival_times, generate


@given(
    st.integers(0, 2**64 - 1),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**7)), min_size=1, max_size=20),
    st.integers(1, 20),
    st.integers(0, 3),
)
def test_keyed_uniforms_are_the_same_in_python_and_numpy(seed, pairs, attempt, stream):
    e = np.array([p[0] for p in pairs], dtype=np.int64)
    v = np.array([p[1] for p in pairs], dtype=np.int64)
    got = keyed.uniforms_np(keyed.keys_np(seed, e, v), attempt, stream)
    want = [keyed.uniform_py(seed, a, b, attempt, stream) for a, b in pairs]
    assert got.tolist() == want
    assert all(0.0 <= u < 1.0 for u in want)


def test_keyed_uniforms_look_uniform():
    keys = keyed.keys_np(7, np.zeros(100_000, dtype=np.int64), np.arange(100_000, dtype=np.int64))
    u = keyed.uniforms_np(keys, 1, keyed.FAIL)
    assert abs(u.mean() - 0.5) < 0.01
    assert np.histogram(u, bins=10, range=(0, 1))[0].min() > 9_500


@st.composite
def behaviours(draw):
    kind = draw(st.sampled_from(["fixed", "uniform", "exponential"]))
    ms = draw(st.integers(0, 5000))
    latency = Latency(
        kind, ms, high_ms=ms + draw(st.integers(0, 5000)), mean_ms=draw(st.integers(0, 5000))
    )
    return Behaviour(
        latency=latency,
        failure_probability=draw(st.floats(0, 1)),
        hang_probability=draw(st.floats(0, 1)),
        fail_first=draw(st.integers(0, 3)),
        failure_status=draw(st.sampled_from([500, 503, 404])),
    )


@given(
    behaviours(),
    st.integers(1, 6),
    st.lists(st.tuples(*[st.floats(0, 1, exclude_max=True)] * 3), min_size=1, max_size=30),
)
def test_respond_many_is_respond_over_arrays(behaviour, attempt, us):
    fail, lat, hang = (np.array(col, dtype=np.float64) for col in zip(*us, strict=True))
    status, latency = respond_many(behaviour, attempt, fail, lat, hang)
    for i, (uf, ul, uh) in enumerate(us):
        answer = respond(behaviour, now_ms=0, attempt=attempt, u_fail=uf, u_latency=ul, u_hang=uh)
        if answer.kind == "hang":
            assert status[i] == HANG
        else:
            assert (status[i], latency[i]) == (answer.status, answer.latency_ms)


@given(
    st.sampled_from(RetryPolicy.names()),
    st.sampled_from(["none", "full", "equal", "proportional", "decorrelated"]),
    st.floats(0, 1),
    st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=20),
)
def test_vectorised_jitter_is_retry_delay_ms(name, jitter, ratio, us):
    policy = RetryPolicy.named(name, jitter=jitter, jitter_ratio=ratio)
    for retry in range(1, policy.max_attempts):
        got = jitter_delays(policy, retry, np.array(us)).tolist()
        assert got == [policy.retry_delay_ms(retry, u) for u in us]


def test_arrival_processes():
    rng = np.random.default_rng(0)
    constant = arrival_times(Arrival("constant", 0.5), 60_000, rng)
    assert constant.tolist() == list(range(0, 60_000, 2_000))
    # whole-ms steps: 1/3 s is 333 ms, and 1000 / (1000 / 918000) lands just below 918000 in
    # floating point, which once gave a second arrival at 917999 ms
    assert arrival_times(Arrival("constant", 3.0), 1_000, rng).tolist() == [0, 333, 666, 999]
    assert arrival_times(Arrival("constant", 1000 / 918_000), 918_000, rng).tolist() == [0]
    every = Arrival("constant", 1.0, every_ms=250)
    assert arrival_times(every, 1_000, rng).tolist() == [0, 250, 500, 750]
    poisson = arrival_times(Arrival("poisson", 1.0), 3_600_000, rng)
    assert 3_300 < len(poisson) < 3_900 and np.all(np.diff(poisson) >= 0)
    bursts = arrival_times(
        Arrival("bursts", 1.0, burst_size=5, burst_every_ms=60_000, burst_spread_ms=1_000),
        180_000,
        rng,
    )
    assert len(bursts) == 15 and set((bursts // 60_000).tolist()) == {0, 1, 2}


def test_workload_is_seeded_and_the_throttle_reading_matters():
    w = Workload(duration_ms=1_800_000, job_duration_ms=120_000, progress_every_ms=1_000)
    a, b = generate(w, 4), generate(w, 4)
    assert np.array_equal(a.time_ms, b.time_ms) and np.array_equal(a.type, b.type)
    progress = EVENT_TYPES.index("job.progress")
    coalesced = generate(w, 4, throttle_reading="coalesce")
    dropped = generate(w, 4, throttle_reading="drop")
    n_c = int(np.count_nonzero(coalesced.type == progress))
    n_d = int(np.count_nonzero(dropped.type == progress))
    assert 0 < n_d <= n_c
    jobs = coalesced.job[coalesced.type == progress]
    times = coalesced.time_ms[coalesced.type == progress]
    for job in np.unique(jobs):
        assert np.all(np.diff(times[jobs == job]) >= 10_000)


def test_max_events_caps_the_workload():
    assert len(generate(Workload(max_events=17), 0)) == 17
