"""The delivery rule: one event to one webhook, from first attempt to a final state.

The rule (may a due attempt start, what an answer means, when the next one is due, when to give
up or expire) is written once, as integer functions: :func:`may_start`, :func:`outcome`,
:func:`retry_rule` and :func:`expiry_deadline` (:func:`settle` is outcome-then-retry in one
call). Two faces use them:

- :func:`before_attempt` / :func:`after_attempt`: pure functions over a frozen
  :class:`DeliveryState` (times in integer ms), which the reference sender calls;
- :func:`kernel`: the same functions precomputed for one policy (a table of outcomes by attempt
  code and a retry closure over the policy's constants), which the simulator's event loops call
  per attempt with no object built per attempt (a dataclass per attempt would cost them most of
  their speed).

So a rule fixed here is fixed for both clocks. The numpy engine (:mod:`whsim.sim.fast`) is the one
vectorised twin of :func:`settle`; ``tests/sim/test_engines.py`` compares them attempt by
attempt on generated cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from whsim.core.behaviours import CONNECT_CODE, TIMEOUT_CODE
from whsim.core.errors import SpecInputError
from whsim.core.policy import RetryPolicy, Verdict

__all__ = [
    "CODES",
    "CODE_OF",
    "DELIVERED_C",
    "EXHAUSTED_C",
    "EXPIRED_C",
    "PENDING_C",
    "REJECTED_C",
    "REJECT_V",
    "RETRY_V",
    "STATUS_OF",
    "SUCCESS_V",
    "TERMINAL",
    "DeliveryState",
    "DeliveryStatus",
    "Kernel",
    "RetryRule",
    "after_attempt",
    "before_attempt",
    "cancel",
    "expiry_deadline_ms",
    "kernel",
    "may_start",
    "new_delivery",
    "outcome",
    "retry_rule",
    "settle",
    "verdict_code",
    "verdicts_by_code",
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


# --- the integer kernel ------------------------------------------------------------------------
PENDING_C, DELIVERED_C, EXHAUSTED_C, EXPIRED_C, REJECTED_C = range(5)
"""Delivery states as small ints (the simulator's ``state`` array holds these)."""
STATUS_OF: Final = (
    DeliveryStatus.PENDING,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.EXHAUSTED,
    DeliveryStatus.EXPIRED,
    DeliveryStatus.REJECTED,
)
"""DeliveryStatus by state code."""
CODE_OF: Final = {status: code for code, status in enumerate(STATUS_OF)}

SUCCESS_V, RETRY_V, REJECT_V = 0, 1, 2
"""Verdicts as small ints, the kernel's input (see :func:`verdict_code`)."""
_VERDICT_CODE: Final = {
    Verdict.SUCCESS: SUCCESS_V,
    Verdict.RETRY: RETRY_V,
    Verdict.REJECTED: REJECT_V,
}


def verdict_code(verdict: Verdict) -> int:
    """The kernel's int for a :class:`Verdict`."""
    return _VERDICT_CODE[verdict]


def expiry_deadline(policy: RetryPolicy, event_ms: Any, first_attempt_ms: Any) -> Any:
    """The last instant an attempt may start (clause EXPIRY-1); None while the basis is unknown.

    The basis is the event's timestamp or, under ``from-first-attempt``, the first attempt's
    start (None before it). Plain arithmetic, so it also takes numpy arrays of times.
    """
    if policy.expiry_from == "from-event-timestamp":
        return event_ms + policy.expiry_ms
    if first_attempt_ms is None:
        return None
    return first_attempt_ms + policy.expiry_ms


def may_start(now_ms: int, deadline_ms: int | None) -> bool:
    """Whether a due attempt may start: "events older than 24 hours are dropped", so an attempt
    may start while ``now_ms`` is at most the deadline."""
    return deadline_ms is None or now_ms <= deadline_ms


def outcome(verdict: int) -> int:
    """What an answer means for its delivery: the state it ends it in, or ``PENDING_C`` (retry).

    A success delivers, a retryable failure leaves the delivery pending (:func:`retry_rule`
    decides what comes next), anything else rejects it. ``verdict`` is :func:`verdict_code` of
    the answer.
    """
    if verdict == SUCCESS_V:
        return DELIVERED_C
    if verdict == RETRY_V:
        return PENDING_C
    return REJECTED_C


RetryRule = Callable[[int, int, int, int, int], int]
"""``due(attempt, sent_ms, finished_ms, delay_ms, deadline_ms) -> int``, see :func:`retry_rule`."""


def retry_rule(max_attempts: int, backoff_from_send: bool) -> RetryRule:
    """When the next attempt after a retryable failure is due, for one policy's constants.

    The returned ``due(attempt, sent_ms, finished_ms, delay_ms, deadline_ms)`` gives the due
    time of the next attempt (``>= 0``), or ``-EXHAUSTED_C`` when ``attempt`` (1-based) was the
    last allowed, or ``-EXPIRED_C`` when the next attempt would start after ``deadline_ms``.
    ``delay_ms`` is the drawn wait (jitter included), counted from the failure or, under RETRY-3
    ``from-send`` (``backoff_from_send``), from the send, never before the failure. A closure
    over ints, so a loop that calls it once per failed attempt pays one call and no lookups.
    """

    def due(attempt: int, sent_ms: int, finished_ms: int, delay_ms: int, deadline_ms: int) -> int:
        if attempt >= max_attempts:
            return -EXHAUSTED_C
        nxt = (sent_ms if backoff_from_send else finished_ms) + delay_ms
        if nxt < finished_ms:
            nxt = finished_ms
        if nxt > deadline_ms:
            return -EXPIRED_C
        return nxt

    return due


def settle(
    verdict: int,
    attempt: int,
    max_attempts: int,
    sent_ms: int,
    finished_ms: int,
    delay_ms: int,
    deadline_ms: int,
    backoff_from_send: bool,
) -> int:
    """What an ended attempt means, on ints: the next attempt's due time, or ``-state``.

    :func:`outcome`, then for a retry :func:`retry_rule`, in one call (the sender's
    :func:`after_attempt` uses it; the simulator's loops use the same two functions through
    :func:`kernel`). A result ``>= 0`` is the due time of the next attempt (the delivery stays
    pending); a negative one is ``-DELIVERED_C``, ``-REJECTED_C``, ``-EXHAUSTED_C`` or
    ``-EXPIRED_C``, reached when the attempt ended (``finished_ms``).
    """
    end = outcome(verdict)
    if end != PENDING_C:
        return -end
    return retry_rule(max_attempts, backoff_from_send)(
        attempt, sent_ms, finished_ms, delay_ms, deadline_ms
    )


CODES: Final = range(-2, 600)
"""Attempt codes a kernel table covers: ``CONNECT_CODE``, ``TIMEOUT_CODE``, 0 and HTTP statuses."""


def verdicts_by_code(policy: RetryPolicy) -> list[int]:
    """:func:`verdict_code` of ``policy.classify`` for every attempt code, indexed ``code + 2``.

    ``TIMEOUT_CODE`` and ``CONNECT_CODE`` are the network errors; statuses 100-599 are answers;
    other codes never occur and are rejections.
    """
    table = [REJECT_V] * len(CODES)
    table[TIMEOUT_CODE + 2] = verdict_code(policy.classify(None, "timeout"))
    table[CONNECT_CODE + 2] = verdict_code(policy.classify(None, "connect"))
    for status in range(100, 600):
        table[status + 2] = verdict_code(policy.classify(status, None))
    return table


@dataclass(frozen=True, slots=True)
class Kernel:
    """The delivery rule of one policy, precomputed for a loop that runs it once per attempt.

    ``ends[code + 2]`` is :func:`outcome` of the answer ``code`` (0, ``PENDING_C``, for a retry);
    ``retry`` is :func:`retry_rule` for the policy; ``verdicts`` is :func:`verdicts_by_code`.
    Built by :func:`kernel` from the functions above as they are when it is called, so a rule
    changed in this module is the rule a loop that builds its kernel per run executes.
    """

    ends: list[int]
    retry: RetryRule
    verdicts: list[int]
    max_attempts: int


def kernel(policy: RetryPolicy) -> Kernel:
    """The :class:`Kernel` of ``policy``: plain lists and a closure, no objects per attempt."""
    verdicts = verdicts_by_code(policy)
    return Kernel(
        ends=[outcome(v) for v in verdicts],
        retry=retry_rule(policy.max_attempts, policy.backoff_from == "from-send"),
        verdicts=verdicts,
        max_attempts=policy.max_attempts,
    )


# --- the state-machine face ---------------------------------------------------------------------
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
    """:func:`expiry_deadline` of a delivery state."""
    deadline: int | None = expiry_deadline(policy, state.event_ms, state.first_attempt_ms)
    return deadline


# The states below are built field by field, not with dataclasses.replace: replace was half of
# after_attempt's cost (~20 us of ~40), once per attempt in the sender and the reference engine.
# tests/test_delivery.py checks that every field a step does not set is carried over.


def _end(state: DeliveryState, status: DeliveryStatus, at_ms: int, reason: str) -> DeliveryState:
    return DeliveryState(
        event_ms=state.event_ms,
        status=status,
        attempts=state.attempts,
        next_attempt_ms=None,
        first_attempt_ms=state.first_attempt_ms,
        last_sent_ms=state.last_sent_ms,
        ended_ms=at_ms,
        reason=reason,
        last_delay_ms=state.last_delay_ms,
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
    if not may_start(now_ms, expiry_deadline_ms(state, policy)):
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
    state = DeliveryState(
        event_ms=state.event_ms,
        status=state.status,
        attempts=attempts,
        next_attempt_ms=state.next_attempt_ms,
        first_attempt_ms=first,
        last_sent_ms=sent_ms,
        ended_ms=state.ended_ms,
        reason=state.reason,
        last_delay_ms=state.last_delay_ms,
    )
    verdict = policy.classify(status, error)
    outcome = f"HTTP {status}" if status is not None else (error or "error")
    delay = (
        policy.retry_delay_ms(attempts, jitter_u, state.last_delay_ms)
        if attempts < policy.max_attempts
        else 0
    )
    deadline = expiry_deadline_ms(state, policy)
    due = settle(
        verdict_code(verdict),
        attempts,
        policy.max_attempts,
        sent_ms,
        finished_ms,
        delay,
        2**62 if deadline is None else deadline,
        policy.backoff_from == "from-send",
    )
    if due >= 0:
        return DeliveryState(
            event_ms=state.event_ms,
            status=state.status,
            attempts=attempts,
            next_attempt_ms=due,
            first_attempt_ms=first,
            last_sent_ms=sent_ms,
            ended_ms=state.ended_ms,
            reason=state.reason,
            last_delay_ms=delay,
        )
    code = -due
    reason = {
        DELIVERED_C: outcome,
        REJECTED_C: f"{outcome} is not retried",
        EXHAUSTED_C: f"{outcome} on attempt {attempts} of {policy.max_attempts}",
        EXPIRED_C: "the next attempt would start after the expiry",
    }[code]
    return _end(state, STATUS_OF[code], finished_ms, reason)


def cancel(state: DeliveryState, now_ms: int, reason: str) -> DeliveryState:
    """End a pending delivery without an attempt, as REJECTED: its webhook stopped receiving.

    The guide sends events to active webhooks only (REG-8); a delivery whose webhook was
    disabled or failed verification before the attempt was due ends here, with ``reason``.
    """
    if state.terminal:
        raise SpecInputError(f"delivery is already {state.status}", field="status")
    return _end(state, DeliveryStatus.REJECTED, now_ms, reason)
