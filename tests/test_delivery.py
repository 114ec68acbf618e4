"""The delivery state machine, for any sequence of answers (hypothesis) and at its edges."""

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

import whsim
from whsim.core.delivery import (
    DeliveryState,
    DeliveryStatus,
    after_attempt,
    before_attempt,
    cancel,
    expiry_deadline_ms,
    new_delivery,
)

OUTCOMES = st.one_of(
    st.tuples(
        st.sampled_from([200, 201, 204, 301, 400, 401, 404, 408, 429, 500, 502, 503]), st.none()
    ),
    st.tuples(st.none(), st.sampled_from(["timeout", "connect", "reset"])),
)
POLICIES = st.one_of(
    st.sampled_from(["backoff-only", "immediate-plus-five", "immediate-counts"]).map(
        whsim.RetryPolicy.seed
    ),
    st.sampled_from(whsim.RetryPolicy.names()).map(whsim.RetryPolicy.named),
)


def run(policy, answers, *, latency_ms, queue_delay_ms=0, jitter=0.5):
    """Drive one delivery through the machine; returns (final state, list of sent times)."""
    state = new_delivery(0, ready_ms=queue_delay_ms)
    sent: list[int] = []
    for status, error in answers:
        if state.terminal:
            break
        now = state.next_attempt_ms
        state = before_attempt(state, policy, now)
        if state.terminal:
            break
        sent.append(now)
        took = policy.timeout_ms if error == "timeout" else latency_ms
        state = after_attempt(
            state,
            policy,
            sent_ms=now,
            finished_ms=now + took,
            status=status,
            error=error,
            jitter_u=jitter,
        )
    return state, sent


@given(
    policy=POLICIES,
    answers=st.lists(OUTCOMES, min_size=1, max_size=20),
    latency=st.integers(0, 6000),
    queue=st.integers(0, 2 * 86_400_000),
    jitter=st.floats(0, 1, exclude_max=True),
)
def test_machine_invariants(policy, answers, latency, queue, jitter):
    state, sent = run(policy, answers, latency_ms=latency, queue_delay_ms=queue, jitter=jitter)
    # never more attempts than the reading allows
    assert len(sent) == state.attempts <= policy.max_attempts
    # never schedules before the previous attempt
    assert sent == sorted(sent)
    # never attempts after expiry
    assert all(t - 0 <= policy.expiry_ms for t in sent)
    # stops on the first success
    verdicts = [policy.classify(s, e) for s, e in answers[: len(sent)]]
    if "success" in verdicts:
        assert verdicts.index("success") == len(sent) - 1
        assert state.status == DeliveryStatus.DELIVERED
    if state.status == DeliveryStatus.EXHAUSTED:
        assert len(sent) == policy.max_attempts
    if state.status == DeliveryStatus.REJECTED:
        assert verdicts[-1] == "rejected"
    if not state.terminal:
        assert len(sent) == len(answers)


def test_schedule_matches_attempt_offsets_when_failing_instantly():
    for name in ("backoff-only", "immediate-plus-five", "immediate-counts"):
        policy = whsim.RetryPolicy.seed(name)
        state, sent = run(policy, [(500, None)] * 10, latency_ms=0)
        assert tuple(t / 1000 for t in sent) == policy.attempt_offsets()
        assert state.status == DeliveryStatus.EXHAUSTED


def test_backoff_basis_reading():
    policy = whsim.RetryPolicy.seed()
    state = after_attempt(
        new_delivery(0), policy, sent_ms=0, finished_ms=5000, status=None, error="timeout"
    )
    assert state.next_attempt_ms == 6000  # from-failure: 5 s timeout + 1 s
    from_send = dataclasses.replace(policy, backoff_from="from-send")
    state = after_attempt(
        new_delivery(0), from_send, sent_ms=0, finished_ms=5000, status=None, error="timeout"
    )
    assert state.next_attempt_ms == 5000  # 1 s after the send, but not before it ended


def test_expiry_of_a_queued_event():
    policy = whsim.RetryPolicy.seed()
    state = new_delivery(0, ready_ms=86_400_000)
    assert before_attempt(state, policy, 86_400_000) is state  # exactly 24 h old: not older
    late = before_attempt(new_delivery(0, ready_ms=86_400_001), policy, 86_400_001)
    assert late.status == DeliveryStatus.EXPIRED and late.attempts == 0


def test_retry_that_would_land_after_expiry_expires():
    policy = whsim.RetryPolicy.seed()
    state = new_delivery(0, ready_ms=86_399_500)
    state = after_attempt(state, policy, sent_ms=86_399_500, finished_ms=86_399_600, status=500)
    assert state.status == DeliveryStatus.EXPIRED


def test_expiry_from_first_attempt():
    policy = dataclasses.replace(whsim.RetryPolicy.seed(), expiry_from="from-first-attempt")
    state = new_delivery(0, ready_ms=100_000_000)
    assert expiry_deadline_ms(state, policy) is None
    assert before_attempt(state, policy, 100_000_000) is state


def test_misuse_is_refused():
    policy = whsim.RetryPolicy.seed()
    state = new_delivery(0, ready_ms=10)
    with pytest.raises(whsim.SpecInputError):
        before_attempt(state, policy, 5)
    done = after_attempt(state, policy, sent_ms=10, finished_ms=20, status=200)
    with pytest.raises(whsim.SpecInputError):
        after_attempt(done, policy, sent_ms=30, finished_ms=40, status=200)
    with pytest.raises(whsim.SpecInputError):
        after_attempt(state, policy, sent_ms=10, finished_ms=5, status=200)
    with pytest.raises(whsim.SpecInputError):
        new_delivery(10, ready_ms=5)


def test_every_field_a_step_does_not_set_is_carried_over() -> None:
    # after_attempt and the terminal steps build states field by field (faster than
    # dataclasses.replace); a field added to DeliveryState and forgotten there would be reset to
    # its default. Each field starts away from its default, so a dropped one shows.
    policy = whsim.RetryPolicy.seed("backoff-only")
    state = DeliveryState(
        event_ms=1_000,
        attempts=1,
        next_attempt_ms=5_000,
        first_attempt_ms=2_000,
        last_sent_ms=2_000,
        reason="earlier",
        last_delay_ms=3_000,
    )
    defaults = DeliveryState(event_ms=0)
    for field in dataclasses.fields(DeliveryState):
        if field.name not in ("status", "ended_ms"):  # PENDING and None while pending
            assert getattr(state, field.name) != getattr(defaults, field.name), field.name
    sets = {
        "retry": ({"attempts", "last_sent_ms", "next_attempt_ms", "last_delay_ms"}, 500),
        "delivered": (
            {"attempts", "last_sent_ms", "next_attempt_ms", "status", "ended_ms", "reason"},
            200,
        ),
    }
    for name, (changed, status) in sets.items():
        after = after_attempt(state, policy, sent_ms=5_000, finished_ms=5_010, status=status)
        for field in dataclasses.fields(DeliveryState):
            if field.name not in changed:
                assert getattr(after, field.name) == getattr(state, field.name), (name, field)
    ended = cancel(state, 6_000, "gone")
    for field in dataclasses.fields(DeliveryState):
        if field.name not in ("status", "next_attempt_ms", "ended_ms", "reason"):
            assert getattr(ended, field.name) == getattr(state, field.name), field.name
