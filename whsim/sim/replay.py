"""Replay a recording on the virtual clock: when would the model have made each attempt?

Given when an event's first attempt was made and how the receiver answered each attempt
(:class:`~whsim.core.behaviours.Recorded`), :func:`replay_event` steps the core's delivery state
machine (:func:`whsim.core.delivery.before_attempt` / :func:`~whsim.core.delivery.after_attempt`,
the functions the reference sender drives and whose kernel both simulator engines call) on a
virtual clock in policy milliseconds, and returns the attempt times the reading predicts.

A recorded delivery is one event to one endpoint with its own answers, so deliveries do not
interact here (no concurrency cap, no sender downtime): each is replayed on its own, which is
what the reference engine's independent loop does with every delivery. The event is taken to be
created at its first attempt (the expiry counts from there under either EXPIRY-1 reading); a
recorded timeout ends when the recording saw it end (whether the sender's timeout itself holds
is CHK-TIMEOUT-001's question, not the schedule's); a
jittered reading is replayed at the middle of its jitter's range (``jitter_u = 0.5``), so the
prediction is the centre of what the reading allows, not a draw.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from whsim.core.behaviours import Recorded
from whsim.core.delivery import after_attempt, before_attempt, new_delivery
from whsim.core.policy import RetryPolicy

__all__ = ["Replayed", "ReplayedAttempt", "replay", "replay_event"]


@dataclass(frozen=True, slots=True)
class ReplayedAttempt:
    """One predicted attempt: sent and finished (policy ms), and the recorded answer it got."""

    attempt: int
    sent_ms: int
    finished_ms: int
    answer: str


@dataclass(frozen=True, slots=True)
class Replayed:
    """What the model does with one recorded delivery.

    ``status`` is the delivery's end (``delivered``, ``rejected``, ``exhausted``, ``expired``) or
    ``pending`` when the model makes an attempt the recording has no answer for; ``next_ms`` is
    then when (policy ms), the attempt the trace should show next.
    """

    key: str
    arrival_ms: int
    attempts: tuple[ReplayedAttempt, ...]
    status: str
    next_ms: int | None = None


def replay_event(
    receiver: Recorded, arrival_ms: int, policy: RetryPolicy, *, key: str = ""
) -> Replayed:
    """The attempts ``policy`` makes for an event first attempted at ``arrival_ms`` (policy ms)
    against a receiver that answers as ``receiver`` recorded; see the module docstring."""
    state = new_delivery(arrival_ms)
    made: list[ReplayedAttempt] = []
    timeout = policy.timeout_ms
    while not state.terminal:
        due = state.next_attempt_ms
        assert due is not None  # a pending delivery has a due time
        state = before_attempt(state, policy, due)
        if state.terminal:
            break
        answer = receiver.answer(state.attempts + 1)
        if answer is None:
            return Replayed(key, arrival_ms, tuple(made), "pending", due)
        status: int | None = None
        error: str | None = None
        if answer.kind == "status" and answer.latency_ms <= timeout:
            status, took, label = answer.status, answer.latency_ms, str(answer.status)
        elif answer.kind == "refused":
            error, took, label = "connect", answer.latency_ms, "connect"
        elif answer.kind == "hang" and answer.latency_ms > 0:  # a timeout as it was recorded
            error, took, label = "timeout", answer.latency_ms, "timeout"
        else:  # a hang of unknown length, or an answer slower than the timeout
            error, took, label = "timeout", timeout, "timeout"
        state = after_attempt(
            state, policy, sent_ms=due, finished_ms=due + took, status=status, error=error
        )
        made.append(ReplayedAttempt(state.attempts, due, due + took, label))
    return Replayed(key, arrival_ms, tuple(made), str(state.status))


def replay(recordings: Iterable[tuple[str, int, Recorded]], policy: RetryPolicy) -> list[Replayed]:
    """:func:`replay_event` over ``(key, arrival_ms, receiver)`` recordings, in order."""
    return [replay_event(r, t, policy, key=k) for k, t, r in recordings]
