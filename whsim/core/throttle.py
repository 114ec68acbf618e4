"""job.progress throttling: at most one progress event per job per 10 s (clause THROTTLE-1).

Readings: ``coalesce`` (default) holds the newest update that arrives inside the window and emits
it when the window ends; ``drop`` discards it. Either way the first update is sent at once, and
nothing is emitted after the job's terminal event: a held update is discarded then
(THROTTLE-3). :func:`offer`, :func:`flush` and :func:`terminate` are the incremental form the
reference sender drives; :func:`throttle` applies them to a whole series, as the simulator does.

THROTTLE-2 says what one window is counted per: ``per-job`` (default) keeps one state per job,
shared by every webhook; ``per-webhook`` one per (webhook, job). :func:`window_key` is that rule.
The two differ only for a webhook that does not see the job's whole progress stream, i.e. one
activated (or re-verified) mid-job: its own window opens at its first update, where the shared
window may still be closed. :func:`throttle` with ``since_ms`` is the stream such a window sees.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from whsim.core.errors import ThrottleInputError
from whsim.core.spec.clauses import resolve_reading

__all__ = [
    "WINDOW_MS",
    "ThrottleState",
    "due_ms",
    "flush",
    "offer",
    "terminate",
    "throttle",
    "window_key",
]

WINDOW_MS: Final = 10_000
"""The guide's progress throttle window."""

T = TypeVar("T")
K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class ThrottleState(Generic[T]):
    """Throttle state of one job (or one job and webhook, under reading ``per-webhook``)."""

    reading: str = "coalesce"
    window_ms: int = WINDOW_MS
    last_emit_ms: int | None = None
    held: T | None = None
    has_held: bool = False
    terminated: bool = False

    def __post_init__(self) -> None:
        resolve_reading("THROTTLE-1", self.reading)


def window_key(reading: str, job: K, webhook: K) -> K | tuple[K, K]:
    """What one throttle window is kept per under THROTTLE-2 ``reading``: the job
    (``per-job``) or the (webhook, job) pair (``per-webhook``)."""
    if resolve_reading("THROTTLE-2", reading) == "per-job":
        return job
    return (webhook, job)


def due_ms(state: ThrottleState[T]) -> int | None:
    """When the held update is to be emitted, or None if nothing is held."""
    if not state.has_held or state.last_emit_ms is None:
        return None
    return state.last_emit_ms + state.window_ms


def flush(state: ThrottleState[T], now_ms: int) -> tuple[ThrottleState[T], T | None, int | None]:
    """Emit the held update if its window has ended by ``now_ms``.

    Returns the new state, the emitted update (or None) and the time it is emitted at, which is
    the end of the window, not ``now_ms``.
    """
    due = due_ms(state)
    if due is None or now_ms < due or state.terminated:
        return state, None, None
    held = state.held
    return dataclasses.replace(state, last_emit_ms=due, held=None, has_held=False), held, due


def offer(state: ThrottleState[T], now_ms: int, update: T) -> tuple[ThrottleState[T], T | None]:
    """Offer one progress update at ``now_ms``; returns the new state and the update if sent now.

    Call :func:`flush` first when time has passed a held update's due time.
    """
    if state.terminated:
        return state, None
    if state.last_emit_ms is None or now_ms - state.last_emit_ms >= state.window_ms:
        return dataclasses.replace(state, last_emit_ms=now_ms, held=None, has_held=False), update
    if state.reading == "coalesce":
        return dataclasses.replace(state, held=update, has_held=True), None
    return state, None


def terminate(state: ThrottleState[T]) -> ThrottleState[T]:
    """The job reached its terminal event: discard any held update and emit nothing more."""
    return dataclasses.replace(state, held=None, has_held=False, terminated=True)


def throttle(
    updates: Iterable[tuple[int, T]],
    terminal_ms: int | None = None,
    *,
    reading: str = "coalesce",
    window_ms: int = WINDOW_MS,
    since_ms: int = 0,
) -> list[tuple[int, T]]:
    """The progress events a job emits for raw ``updates`` (time-sorted ``(t_ms, payload)``).

    ``terminal_ms`` is when the job completed or failed; updates at or after it are not emitted,
    and a held update due at or before it is emitted first. ``since_ms`` opens the window at
    that time: updates before it are not offered (a per-webhook window of a webhook active
    from ``since_ms``, THROTTLE-2 ``per-webhook``).
    """
    state: ThrottleState[T] = ThrottleState(reading=reading, window_ms=window_ms)
    out: list[tuple[int, T]] = []
    last_t: int | None = None
    for t, update in updates:
        if last_t is not None and t < last_t:
            raise ThrottleInputError("updates must be sorted by time")
        last_t = t
        if t < since_ms:
            continue
        if terminal_ms is not None and t >= terminal_ms:
            break
        state, held, at = flush(state, t)
        if held is not None and at is not None:
            out.append((at, held))
        state, sent = offer(state, t, update)
        if sent is not None:
            out.append((t, sent))
    end = terminal_ms
    if end is not None:
        state, held, at = flush(state, end)
        if held is not None and at is not None:
            out.append((at, held))
        state = terminate(state)
    else:
        due = due_ms(state)
        if due is not None:
            state, held, at = flush(state, due)
            if held is not None and at is not None:
                out.append((at, held))
    return out
