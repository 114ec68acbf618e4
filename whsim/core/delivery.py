"""The delivery state machine: one event to one webhook, from first attempt to a final state.

Pure functions over a frozen :class:`DeliveryState`; times are integer milliseconds passed in.
The simulator and the reference sender both call :func:`before_attempt` when an attempt is due and
:func:`after_attempt` when it ended, so a rule fixed here is fixed in both.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum

from whsim.core.errors import SpecInputError
from whsim.core.policy import RetryPolicy, Verdict

__all__ = [
    "TERMINAL",
    "DeliveryState",
    "DeliveryStatus",
    "after_attempt",
    "before_attempt",
    "cancel",
    "expiry_deadline_ms",
    "new_delivery",
]


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    EXHAUSTED = "exhausted"
    EXPIRED = "expired"
    REJECTED = "rejected"


TERMINAL = frozenset(
    {
        DeliveryStatus.DELIVERED,
        DeliveryStatus.EXHAUSTED,
        DeliveryStatus.EXPIRED,
        DeliveryStatus.REJECTED,
    }
)


@dataclass(frozen=True, slots=True)
class DeliveryState:
    """Where one delivery stands.

    ``next_attempt_ms`` is set while pending; ``ended_ms`` and ``reason`` once terminal.
    ``event_ms`` is the event's timestamp, the base of the 24 h expiry by default.
    """

    event_ms: int
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    next_attempt_ms: int | None = None
    first_attempt_ms: int | None = None
    last_sent_ms: int | None = None
    ended_ms: int | None = None
    reason: str = ""
    # the previous wait, which decorrelated jitter draws from; bookkeeping the sender does not
    # store (it honours no jitter reading), so not part of a state's identity
    last_delay_ms: int | None = field(default=None, compare=False)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


def new_delivery(event_ms: int, ready_ms: int | None = None) -> DeliveryState:
    """A pending delivery whose first attempt is due at ``ready_ms`` (default: the event time)."""
    ready = event_ms if ready_ms is None else ready_ms
    if ready < event_ms:
        raise SpecInputError("a delivery cannot be ready before its event exists", field="ready_ms")
    return DeliveryState(event_ms=event_ms, next_attempt_ms=ready)


def expiry_deadline_ms(state: DeliveryState, policy: RetryPolicy) -> int | None:
    """The last instant an attempt may start; None while the basis is unknown.

    Under ``from-first-attempt`` a delivery that was never attempted has no deadline yet.
    """
    if policy.expiry_from == "from-event-timestamp":
        return state.event_ms + policy.expiry_ms
    if state.first_attempt_ms is None:
        return None
    return state.first_attempt_ms + policy.expiry_ms


def _end(state: DeliveryState, status: DeliveryStatus, at_ms: int, reason: str) -> DeliveryState:
    return dataclasses.replace(
        state, status=status, next_attempt_ms=None, ended_ms=at_ms, reason=reason
    )


def before_attempt(state: DeliveryState, policy: RetryPolicy, now_ms: int) -> DeliveryState:
    """Check a due attempt: the same state if it may go ahead, EXPIRED if the event is too old.

    "Events older than 24 hours are dropped": an attempt may start while the age is at most
    ``expiry_ms``. Raises if the delivery is terminal or the attempt is early.
    """
    if state.terminal:
        raise SpecInputError(f"delivery is already {state.status}", field="status")
    if state.next_attempt_ms is not None and now_ms < state.next_attempt_ms:
        raise SpecInputError(
            f"attempt at {now_ms} ms is before its due time {state.next_attempt_ms} ms",
            field="now_ms",
        )
    deadline = expiry_deadline_ms(state, policy)
    if deadline is not None and now_ms > deadline:
        return _end(state, DeliveryStatus.EXPIRED, now_ms, "older than the expiry when due")
    return state


def after_attempt(
    state: DeliveryState,
    policy: RetryPolicy,
    *,
    sent_ms: int,
    finished_ms: int,
    status: int | None,
    error: str | None = None,
    jitter_u: float = 0.5,
) -> DeliveryState:
    """The state after an attempt sent at ``sent_ms`` ended at ``finished_ms``.

    Success ends as DELIVERED; a non-retryable answer as REJECTED; a retryable failure schedules
    the next attempt per the policy, or ends as EXHAUSTED (no retries left) or EXPIRED (the next
    attempt would start after the expiry). ``jitter_u`` in [0, 1) draws the jitter.
    """
    if state.terminal:
        raise SpecInputError(f"delivery is already {state.status}", field="status")
    if finished_ms < sent_ms:
        raise SpecInputError("an attempt cannot finish before it was sent", field="finished_ms")
    if state.last_sent_ms is not None and sent_ms < state.last_sent_ms:
        raise SpecInputError("attempts must be reported in order", field="sent_ms")
    attempts = state.attempts + 1
    first = state.first_attempt_ms if state.first_attempt_ms is not None else sent_ms
    state = dataclasses.replace(
        state, attempts=attempts, first_attempt_ms=first, last_sent_ms=sent_ms
    )
    verdict = policy.classify(status, error)
    if verdict is Verdict.SUCCESS:
        return _end(state, DeliveryStatus.DELIVERED, finished_ms, f"HTTP {status}")
    outcome = f"HTTP {status}" if status is not None else (error or "error")
    if verdict is Verdict.REJECTED:
        return _end(state, DeliveryStatus.REJECTED, finished_ms, f"{outcome} is not retried")
    if attempts >= policy.max_attempts:
        return _end(
            state,
            DeliveryStatus.EXHAUSTED,
            finished_ms,
            f"{outcome} on attempt {attempts} of {policy.max_attempts}",
        )
    delay = policy.retry_delay_ms(attempts, jitter_u, state.last_delay_ms)
    base = finished_ms if policy.backoff_from == "from-failure" else sent_ms
    next_ms = max(base + delay, finished_ms)
    deadline = expiry_deadline_ms(state, policy)
    if deadline is not None and next_ms > deadline:
        return _end(
            state,
            DeliveryStatus.EXPIRED,
            finished_ms,
            "the next attempt would start after the expiry",
        )
    return dataclasses.replace(state, next_attempt_ms=next_ms, last_delay_ms=delay)


def cancel(state: DeliveryState, now_ms: int, reason: str) -> DeliveryState:
    """End a pending delivery without an attempt, as REJECTED: its webhook stopped receiving.

    The guide sends events to active webhooks only (REG-8); a delivery whose webhook was
    disabled or failed verification before the attempt was due ends here, with ``reason``.
    """
    if state.terminal:
        raise SpecInputError(f"delivery is already {state.status}", field="status")
    return _end(state, DeliveryStatus.REJECTED, now_ms, reason)
