"""Contention: clients whose attempts compete for one shared resource, as in Brooker 2015.

Marc Brooker's "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015) models ``clients``
that each update one row once under optimistic concurrency: read the row's version, write with
it; the write fails if another client wrote in between, and the client backs off and starts
again. Every failure is caused by another client's success, so how retries spread in time decides
how much work is wasted. The backoff here is a :class:`~whsim.core.policy.RetryPolicy` (capped
exponential delays) and its jitter is the policy's own :meth:`~RetryPolicy.retry_delay_ms`, the one
jitter definition the simulator and the sender use. Time is integer microseconds, so the policy's
"ms" fields hold µs here (a 10 ms network needs finer steps than a millisecond).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import numpy as np

from whsim.core.errors import ScenarioError
from whsim.core.policy import RetryPolicy

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["JITTER_KINDS", "backoff_policy", "contend", "contention_sweep"]

JITTER_KINDS: Final = ("none", "full", "equal", "decorrelated")
"""Brooker's four strategies, as readings of RETRY-4 (``none`` is capped exponential backoff)."""

_US: Final = 1000
_READ_AT_SERVER, _READ_REPLY, _WRITE_AT_SERVER, _WRITE_REPLY = range(4)
_STREAM: Final = 0x636F6E74  # "cont"


def backoff_policy(
    jitter: str, *, base_ms: float = 5, cap_ms: float = 2000, retries: int = 2000
) -> RetryPolicy:
    """Capped exponential backoff, ``min(cap, base * 2**n)`` before retry ``n``, in µs units."""
    base, cap = round(base_ms * _US), round(cap_ms * _US)
    delays = tuple(min(cap, base * 2**n) for n in range(1, min(retries, 64) + 1))
    delays += (cap,) * (retries - len(delays))
    return RetryPolicy(name=f"expo-{jitter}", delays_ms=delays, jitter=jitter)


def contend(
    clients: int,
    jitter: str,
    *,
    seed: int = 0,
    base_ms: float = 5,
    cap_ms: float = 2000,
    net_mean_ms: float = 10,
    net_sd_ms: float = 2,
) -> tuple[int, float]:
    """Run one contention round: (write calls made, ms until the last client succeeded).

    Network delays are ``|N(net_mean_ms, net_sd_ms)|`` each way; deterministic for ``seed``.
    """
    if clients < 1:
        raise ScenarioError("contention needs at least one client", field="clients")
    policy = backoff_policy(jitter, base_ms=base_ms, cap_ms=cap_ms)
    rng = np.random.default_rng(np.random.SeedSequence([seed & (2**63 - 1), _STREAM]))
    mean, sd = net_mean_ms * _US, net_sd_ms * _US

    def net() -> int:
        return round(abs(rng.normal(mean, sd)))

    order = itertools.count()
    heap: list[tuple[int, int, int, int, int]] = []  # (t_us, seq, kind, client, version)
    for c in range(clients):
        heapq.heappush(heap, (net(), next(order), _READ_AT_SERVER, c, 0))
    attempt = [0] * clients
    previous: list[int | None] = [None] * clients
    version, calls, end = 0, 0, 0
    while heap:
        t, _, kind, c, seen = heapq.heappop(heap)
        end = t
        if kind == _READ_AT_SERVER:
            heapq.heappush(heap, (t + net(), next(order), _READ_REPLY, c, version))
        elif kind == _READ_REPLY:
            heapq.heappush(heap, (t + net(), next(order), _WRITE_AT_SERVER, c, seen))
        elif kind == _WRITE_AT_SERVER:
            calls += 1
            won = seen == version
            version += won
            heapq.heappush(heap, (t + net(), next(order), _WRITE_REPLY, c, int(won)))
        elif not seen:  # the write lost: back off, then read again
            attempt[c] += 1
            if attempt[c] > policy.max_retries:
                raise ScenarioError("a client ran out of retries", field="clients")
            wait = policy.retry_delay_ms(attempt[c], float(rng.random()), previous[c])
            previous[c] = wait
            heapq.heappush(heap, (t + net() + wait, next(order), _READ_AT_SERVER, c, 0))
    return calls, end / _US


def contention_sweep(
    clients: Sequence[int] = (10, 20, 50, 100),
    jitters: Sequence[str] = JITTER_KINDS,
    seeds: Sequence[int] = range(20),
    **options: float,
) -> pd.DataFrame:
    """:func:`contend` for every (jitter, clients, seed): columns ``jitter``, ``clients``,
    ``seed``, ``calls``, ``completion_ms``; summarise the seeds with
    :func:`whsim.sim.sweep.spread`."""
    import pandas as pd

    rows = []
    for jitter, n, seed in itertools.product(jitters, clients, seeds):
        calls, ms = contend(n, jitter, seed=seed, **options)
        rows.append(
            {"jitter": jitter, "clients": n, "seed": seed, "calls": calls, "completion_ms": ms}
        )
    return pd.DataFrame(rows)
