""" "First loses": the shortest outage that loses an event, checked against arithmetic.

An event created as the receiver goes out is lost when every attempt the policy makes before the
expiry falls inside the outage. For a policy without jitter and a receiver that refuses (0 ms) or
hangs (the timeout) the attempt times follow from ``RetryPolicy.attempt_offsets`` alone, so the
threshold has a closed form; the simulator's bisection must find exactly it.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from whsim import RetryPolicy
from whsim.sim import simulate, sweep

DETERMINISTIC = tuple(n for n in RetryPolicy.names() if RetryPolicy.named(n).jitter == "none")


def closed_form_first_loss_s(policy: RetryPolicy, kind: str, expiry_ms: int) -> int:
    """Smallest whole-second outage that loses the event created at its start."""
    took = 0 if kind == "down" else policy.timeout_ms  # refused at once, or hung to the timeout
    sent = [round(o * 1000) + k * took for k, o in enumerate(policy.attempt_offsets())]
    reached = [t for t in sent if t <= expiry_ms]  # an attempt due after the expiry is not made
    return reached[-1] // 1000 + 1


def test_every_deterministic_policy_is_covered():
    assert {"backoff-only", "convoy", "stripe-like", "standard-webhooks"} <= set(DETERMINISTIC)


@settings(max_examples=12)
@given(
    policy=st.sampled_from(DETERMINISTIC),
    kind=st.sampled_from(["down", "hang"]),
    expiry_s=st.one_of(st.just(86_400), st.integers(20, 4 * 86_400)),
)
@example(policy="convoy", kind="down", expiry_s=86_400)  # 901 s (the float step said 919)
@example(policy="stripe-like", kind="down", expiry_s=86_400)  # 61,381 s (was 62,729)
@example(policy="backoff-only", kind="hang", expiry_s=86_400)  # 57 s
def test_first_loss_equals_the_closed_form(policy, kind, expiry_s):
    want = closed_form_first_loss_s(
        RetryPolicy.named(policy, expiry_ms=expiry_s * 1000), kind, expiry_s * 1000
    )
    got = sweep.shortest_lossy_outage(policy, kind=kind, expiry_s=expiry_s)
    assert got == want


@settings(max_examples=25)
@given(
    policy=st.sampled_from(RetryPolicy.names()),
    kind=st.sampled_from(["down", "hang", "status"]),
    seed=st.integers(0, 2**31),
    shorter_s=st.integers(1, 3 * 86_400),
    longer_by_s=st.integers(1, 86_400),
)
@example(policy="convoy", kind="down", seed=0, shorter_s=910, longer_by_s=8)  # 910 lost, 918 not
def test_first_loss_is_monotone_in_the_outage_length(policy, kind, seed, shorter_s, longer_by_s):
    lost_shorter = sweep.first_event_lost(shorter_s, policy, kind=kind, seed=seed)
    lost_longer = sweep.first_event_lost(shorter_s + longer_by_s, policy, kind=kind, seed=seed)
    assert lost_longer or not lost_shorter


@settings(max_examples=30)
@given(outage_ms=st.integers(1, 10**9), events=st.integers(1, 500))
@example(outage_ms=901_000, events=1)
def test_an_outage_scenario_has_exactly_its_events_all_inside_the_outage(outage_ms, events):
    scenario = sweep.outage_scenario(outage_ms / 1000, "backoff-only", events=events)
    (outage,) = scenario.receivers[0].outages
    produced = simulate(scenario).events["time_ms"]
    assert len(produced) == min(events, max(1, outage.end_ms // 100))
    assert produced.max() < outage.end_ms
