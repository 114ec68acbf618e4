"""Progress throttle: spacing, the terminal event, and what each reading keeps."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from whsim.core.errors import UnknownReadingError
from whsim.core.throttle import ThrottleState, due_ms, flush, offer, terminate, throttle

TIMES = st.lists(st.integers(0, 120_000), max_size=60).map(sorted)


@given(
    times=TIMES,
    terminal=st.one_of(st.none(), st.integers(0, 130_000)),
    reading=st.sampled_from(["drop", "coalesce"]),
)
def test_spacing_and_terminal(times, terminal, reading):
    updates = [(t, i) for i, t in enumerate(times)]
    out = throttle(updates, terminal, reading=reading)
    sent_times = [t for t, _ in out]
    assert sent_times == sorted(sent_times)
    assert all(b - a >= 10_000 for a, b in itertools.pairwise(sent_times))
    if terminal is not None:
        assert all(t <= terminal for t in sent_times)
        assert all(times[i] < terminal for _, i in out)
    # nothing is invented, nothing is sent before it happened, order is kept
    payloads = [p for _, p in out]
    assert payloads == sorted(set(payloads))
    assert all(times[p] <= t for t, p in out)
    if updates and (terminal is None or updates[0][0] < terminal):
        assert out[0] == updates[0]  # the first update goes out at once


@given(times=TIMES)
def test_coalesce_sends_the_newest_and_drop_a_subset(times):
    updates = [(t, i) for i, t in enumerate(times)]
    dropped = throttle(updates, reading="drop")
    coalesced = throttle(updates, reading="coalesce")
    assert set(dropped) <= set(updates)
    assert len(coalesced) >= len(dropped)
    if updates:
        # with no terminal event, coalesce always ends on the newest update
        assert coalesced[-1][1] == updates[-1][1]


def test_coalesce_emits_held_update_at_window_end():
    out = throttle([(0, "a"), (2_000, "b"), (3_000, "c"), (25_000, "d")], reading="coalesce")
    assert out == [(0, "a"), (10_000, "c"), (25_000, "d")]
    assert throttle([(0, "a"), (2_000, "b"), (3_000, "c"), (25_000, "d")], reading="drop") == [
        (0, "a"),
        (25_000, "d"),
    ]


def test_held_update_is_lost_when_the_job_ends_first():
    # the designer's trap: the last progress before completion never arrives
    out = throttle([(0, "10%"), (4_000, "90%")], terminal_ms=6_000, reading="coalesce")
    assert out == [(0, "10%")]
    out = throttle([(0, "10%"), (4_000, "90%")], terminal_ms=10_000, reading="coalesce")
    assert out == [(0, "10%"), (10_000, "90%")]


def test_incremental_form():
    state: ThrottleState[str] = ThrottleState(reading="coalesce")
    state, sent = offer(state, 0, "a")
    assert sent == "a"
    state, sent = offer(state, 1_000, "b")
    assert sent is None and due_ms(state) == 10_000
    state, held, at = flush(state, 9_999)
    assert held is None
    state, held, at = flush(state, 12_000)
    assert (held, at) == ("b", 10_000)
    state, sent = offer(state, 15_000, "c")
    assert sent is None
    state = terminate(state)
    assert due_ms(state) is None
    assert offer(state, 99_000, "d")[1] is None


def test_unknown_reading():
    with pytest.raises(UnknownReadingError):
        ThrottleState(reading="squash")
    with pytest.raises(ValueError, match="sorted"):
        throttle([(5, 1), (1, 2)])


def test_window_key_is_the_job_or_the_job_and_webhook():
    from whsim.core.throttle import window_key

    assert window_key("per-job", "job_1", "wh_a") == window_key("per-job", "job_1", "wh_b")
    assert window_key("per-webhook", "job_1", "wh_a") != window_key("per-webhook", "job_1", "wh_b")
    with pytest.raises(UnknownReadingError):
        window_key("per-tenant", "job_1", "wh_a")


def test_a_window_opened_mid_job_sends_its_first_update_at_once():
    raw = [(t, t) for t in range(1_000, 30_000, 1_000)]
    shared = throttle(raw, 30_000)
    late = throttle(raw, 30_000, since_ms=2_500)
    assert [t for t, _ in shared] == [1_000, 11_000, 21_000]
    assert [t for t, _ in late] == [3_000, 13_000, 23_000]
    # a window opened at 0 is the shared one
    assert throttle(raw, 30_000, since_ms=0) == shared
