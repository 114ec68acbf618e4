"""Isolation between endpoints: the global cap on attempts in flight, split into two lanes.

Mature senders keep one dead endpoint from delaying everyone else's deliveries the same way:
each endpoint has its own queue and its own concurrency, and a per-endpoint circuit notices an
endpoint that keeps timing out (Convoy's circuit breaker, Svix's per-endpoint workers). Here:

- **Per endpoint** (the dispatcher): its own queue of due deliveries and at most
  ``max_per_endpoint`` attempts in flight.
- **Globally** (:class:`Lanes`): at most ``total`` attempts in flight in all. Endpoints whose
  circuit is open (:class:`Circuit`) draw from the *slow lane*, which may hold at most
  ``slow_cap`` (half the total by default) of them: a group of dead endpoints can never take
  the whole cap, and healthy endpoints always find at least ``total - slow_cap`` slots. When the
  total is the binding limit, a freed slot goes to a waiting healthy attempt first.
- **The circuit** opens as soon as an attempt to the endpoint has been in flight longer than
  ``slow_after_s`` (wall seconds) or ended in a timeout, and closes when an attempt ends
  quickly (any answer or a fast error), which also *proves* the endpoint. An endpoint not yet
  proven (new, or its circuit opened since) has at most one attempt in the healthy lane; its
  other attempts use the slow lane. So a burst of new dead endpoints holds at most one healthy
  slot each, and a healthy endpoint that goes dead at most ``max_per_endpoint`` until its
  circuit opens. An open circuit never skips or delays an attempt by itself: every attempt
  still goes out when the retry reading says, as long as the slow lane has room; what it
  changes is which lane the attempt waits in. Only the endpoint's own deliveries queue when
  the slow lane is full.

Pure asyncio bookkeeping; no I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass

__all__ = ["Circuit", "Lanes", "LanesClosed"]


class LanesClosed(Exception):
    """The lanes were closed (the sender is stopping): no new attempt may start."""


@dataclass(slots=True)
class Circuit:
    """One endpoint's circuit: open while its attempts are slow (see the module docstring).

    ``busy`` counts the endpoint's attempts holding or waiting for a slot.
    """

    open: bool = False
    proven: bool = False
    opened: int = 0
    busy: int = 0

    def lane(self) -> bool:
        """The lane the endpoint's next attempt waits in: True for the slow lane."""
        return self.open or (not self.proven and self.busy > 0)

    def slow(self) -> bool:
        """Mark the endpoint slow; True if this opened the circuit."""
        self.proven = False
        if self.open:
            return False
        self.open = True
        self.opened += 1
        return True

    def fast(self) -> bool:
        """Mark the endpoint responsive (and proven); True if this closed the circuit."""
        was, self.open, self.proven = self.open, False, True
        return was


class Lanes:
    """The global attempt cap: ``total`` slots, of which slow attempts hold at most ``slow_cap``.

    ``acquire(slow)`` waits for a slot in the lane and returns; ``release(slow)`` gives it back.
    Waiters are served first come, first served within a lane, healthy before slow. The slow
    lane grants at most ``slow_burst`` slots per event-loop iteration (see the module
    docstring); the healthy lane is not paced. After :meth:`close`, waiting and new acquires
    raise :class:`LanesClosed`.
    """

    def __init__(self, total: int, slow_cap: int | None = None, slow_burst: int = 1) -> None:
        if total < 1:
            raise ValueError("total must be at least 1")
        if slow_burst < 1:
            raise ValueError("slow_burst must be at least 1")
        self.total = total
        self.slow_cap = max(1, total // 2) if slow_cap is None else max(1, min(slow_cap, total))
        self.slow_burst = slow_burst
        self.fast_used = 0
        self.slow_used = 0
        self._waiting: dict[bool, deque[asyncio.Future[None]]] = {False: deque(), True: deque()}
        self._closed = False
        self._slow_started = 0  # slow grants in the current loop iteration
        self._tick: asyncio.Handle | None = None

    @property
    def used(self) -> int:
        return self.fast_used + self.slow_used

    def _room(self, slow: bool) -> bool:
        if self.used >= self.total:
            return False
        if not slow:
            return True
        return self.slow_used < self.slow_cap and self._slow_started < self.slow_burst

    def _take(self, slow: bool) -> None:
        if not slow:
            self.fast_used += 1
            return
        self.slow_used += 1
        self._slow_started += 1
        if self._tick is None:
            # Runs in the next loop iteration, after the loop has polled its sockets.
            self._tick = asyncio.get_running_loop().call_soon(self._next_iteration)

    def _next_iteration(self) -> None:
        self._tick = None
        self._slow_started = 0
        self._wake()

    async def acquire(self, slow: bool) -> None:
        if self._closed:
            raise LanesClosed
        if self._room(slow) and not self._waiting[slow] and not (slow and self._waiting[False]):
            self._take(slow)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[slow].append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release(slow)  # granted, then cancelled before use
            else:
                self._discard(slow, future)
            raise

    def _discard(self, slow: bool, future: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            self._waiting[slow].remove(future)

    def release(self, slow: bool) -> None:
        if slow:
            self.slow_used -= 1
        else:
            self.fast_used -= 1
        self._wake()

    def _wake(self) -> None:
        for lane in (False, True):
            queue = self._waiting[lane]
            while queue and self._room(lane):
                future = queue.popleft()
                if future.done():
                    continue
                self._take(lane)
                future.set_result(None)

    def close(self) -> None:
        """Refuse every waiting and future acquire (slots in use stay until released)."""
        self._closed = True
        for queue in self._waiting.values():
            while queue:
                future = queue.popleft()
                if not future.done():
                    future.set_exception(LanesClosed())
