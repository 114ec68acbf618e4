"""Hypothesis strategies for small simulation scenarios (kept small: every example runs twice)."""

from __future__ import annotations

from hypothesis import strategies as st

from whsim.core.behaviours import Behaviour, Latency, Outage
from whsim.core.policy import RetryPolicy
from whsim.core.spec.events import EVENT_TYPES
from whsim.sim import Arrival, Downtime, Scenario, Sender, Webhook, Workload

HORIZON_MS = 20 * 60_000


@st.composite
def latencies(draw: st.DrawFn) -> Latency:
    kind = draw(st.sampled_from(["fixed", "uniform", "exponential"]))
    ms = draw(st.integers(0, 3_000))
    if kind == "uniform":
        return Latency("uniform", ms, high_ms=ms + draw(st.integers(0, 4_000)))
    if kind == "exponential":
        return Latency("exponential", ms, mean_ms=draw(st.integers(0, 3_000)))
    return Latency("fixed", draw(st.integers(0, 7_000)))


@st.composite
def outages(draw: st.DrawFn) -> tuple[Outage, ...]:
    count = draw(st.integers(0, 2))
    points = sorted(
        draw(
            st.lists(
                st.integers(0, HORIZON_MS), min_size=2 * count, max_size=2 * count, unique=True
            )
        )
    )
    kinds = draw(
        st.lists(st.sampled_from(["down", "hang", "status"]), min_size=count, max_size=count)
    )
    statuses = draw(st.lists(st.sampled_from([400, 429, 500, 503]), min_size=count, max_size=count))
    return tuple(
        Outage(points[2 * i], points[2 * i + 1], kinds[i], statuses[i]) for i in range(count)
    )


@st.composite
def behaviours(draw: st.DrawFn, name: str) -> Behaviour:
    return Behaviour(
        name=name,
        latency=draw(latencies()),
        failure_probability=draw(st.sampled_from([0.0, 0.1, 0.5, 1.0])),
        failure_status=draw(st.sampled_from([500, 503, 400, 429, 404])),
        hang_probability=draw(st.sampled_from([0.0, 0.0, 0.1])),
        fail_first=draw(st.integers(0, 3)),
        outages=draw(outages()),
        success_status=draw(st.sampled_from([200, 200, 204])),
        verify=draw(st.sampled_from(["echo", "echo", "wrong"])),
    )


@st.composite
def senders(draw: st.DrawFn, *, coupled: bool = False) -> Sender:
    downtime: tuple[Downtime, ...] = ()
    concurrency = 0
    if coupled:
        concurrency = draw(st.sampled_from([0, 1, 2, 5]))
        if draw(st.booleans()) or concurrency == 0:
            start = draw(st.integers(0, HORIZON_MS))
            downtime = (Downtime(start, start + draw(st.integers(1, 30 * 60_000))),)
    return Sender(
        retry=draw(st.sampled_from(RetryPolicy.names())),
        jitter=draw(st.sampled_from([None, "full", "equal", "proportional", "decorrelated"])),
        codes=draw(st.sampled_from([None, "all-non-2xx", "only-500"])),
        backoff_from=draw(st.sampled_from([None, "from-send"])),
        expiry_from=draw(st.sampled_from([None, "from-first-attempt"])),
        timeout_ms=draw(st.sampled_from([1_000, 5_000])),
        expiry_ms=draw(st.sampled_from([86_400_000, 60_000, 600_000])),
        throttle=draw(st.sampled_from(["coalesce", "drop"])),
        concurrency=concurrency,
        downtime=downtime,
    )


@st.composite
def scenarios(draw: st.DrawFn, *, coupled: bool = False) -> Scenario:
    groups = draw(st.integers(1, 3))
    receivers = tuple(draw(behaviours(f"r{i}")) for i in range(groups))
    hooks = tuple(
        Webhook(
            f"g{i}",
            receiver=f"r{i}",
            count=draw(st.integers(1, 3)),
            events=tuple(draw(st.sets(st.sampled_from(EVENT_TYPES), min_size=1))),
            status=draw(st.sampled_from(["active", "active", "pending_verification", "disabled"])),
        )
        for i in range(groups)
    )
    arrival = Arrival(
        kind=draw(st.sampled_from(["constant", "poisson", "bursts"])),
        rate_per_s=draw(st.sampled_from([0.01, 0.05])),
        burst_size=draw(st.integers(1, 5)),
        burst_every_ms=draw(st.sampled_from([60_000, 300_000])),
    )
    workload = Workload(
        duration_ms=draw(st.integers(60_000, HORIZON_MS)),
        arrival=arrival,
        job_duration_ms=draw(st.sampled_from([0, 30_000, 90_000])),
        progress_every_ms=draw(st.sampled_from([1_000, 4_000])),
        job_failure_probability=draw(st.sampled_from([0.0, 0.3])),
    )
    return Scenario(
        name="generated",
        webhooks=hooks,
        receivers=receivers,
        sender=draw(senders(coupled=coupled)),
        workload=workload,
    )
