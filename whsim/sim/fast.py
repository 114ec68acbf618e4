"""The vectorised engine: the one documented twin of the core's delivery kernel, in numpy.

It runs :func:`whsim.core.delivery.settle` (and ``may_start``) over every live delivery at once,
one pass per attempt number, with :func:`whsim.sim.plan.answers` as the vectorised twin of
:func:`whsim.core.behaviours.outage_answer`; the deadline comes from the core's
:func:`~whsim.core.delivery.expiry_deadline` on arrays. Valid only when deliveries do not
interact (no concurrency cap, no sender downtime), which :func:`applicable` checks. It reads the
same :class:`~whsim.sim.plan.Plan` as the reference engine, which steps every attempt through the
kernel itself; ``tests/sim/test_engines.py`` drives both through generated (hypothesis) scenarios
and compares every attempt, and the golden digests hold both to the recorded behaviour. A rule
change in the kernel must be made here too: those tests fail until it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from whsim.core.delivery import expiry_deadline
from whsim.core.errors import ScenarioError
from whsim.sim.engine import RawLog
from whsim.sim.plan import (
    DELIVERED,
    EXHAUSTED,
    EXPIRED,
    REJECTED,
    RETRY_V,
    SUCCESS_V,
    Plan,
    answers,
)

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["applicable", "run_fast"]


def applicable(plan: Plan) -> bool:
    """Whether the vectorised engine gives the reference engine's answer for ``plan``."""
    return not plan.scenario.coupled


def run_fast(plan: Plan) -> RawLog:
    """Run ``plan`` in ``max_attempts`` vectorised passes; raises if deliveries interact."""
    if not applicable(plan):
        raise ScenarioError(
            "the numpy engine needs independent deliveries (no concurrency cap, no downtime)",
            field="engine",
        )
    n, A = plan.n, plan.max_attempts
    state = np.zeros(n, dtype=np.int8)
    ended = np.zeros(n, dtype=np.int64)
    basis = expiry_deadline(plan.policy, plan.event_ms, None)
    deadline = np.full(n, 2**62, dtype=np.int64) if basis is None else basis
    out_j, out_t, out_f, out_c = [], [], [], []
    # pass 1 reads every delivery: its live set, sent times and deadlines are the plan's arrays
    # and ``deadline`` themselves, not gathered copies (nothing below writes into them in place)
    live = np.arange(n, dtype=np.int64)
    slot: npt.NDArray[np.signedinteger[Any]] = live  # each live delivery's slot in the plan's row
    t = plan.ready_ms
    for k in range(1, A + 1):
        if len(live) == 0:
            break
        if k == 1 and basis is None:
            deadline = expiry_deadline(plan.policy, plan.event_ms, t)
        dl = deadline if k == 1 else deadline[live]
        late = t > dl
        if late.any():
            state[live[late]] = EXPIRED
            ended[live[late]] = t[late]
            keep = ~late
            live, t, dl, slot = live[keep], t[keep], dl[keep], slot[keep]
        j = live if k == 1 else (k - 1) * n + live
        code, took = answers(plan, slot, live, t)
        fin = took
        fin += t
        del took
        out_j.append(j)
        out_t.append(t)
        out_f.append(fin)
        out_c.append(code.astype(np.int16))  # codes are statuses or -1/-2: a quarter the memory
        v = plan.verdict[code + 2]
        done = v != RETRY_V
        state[live[v == SUCCESS_V]] = DELIVERED
        rejected = v != SUCCESS_V
        state[live[done & rejected]] = REJECTED
        ended[live[done]] = fin[done]
        retry = ~done
        if k == A:
            state[live[retry]] = EXHAUSTED
            ended[live[retry]] = fin[retry]
            break
        base = t if plan.backoff_from_send else fin
        nxt = np.maximum(base + plan.delay[slot], fin)
        expired = retry & (nxt > dl)
        state[live[expired]] = EXPIRED
        ended[live[expired]] = fin[expired]
        go = retry & ~expired
        live, t = live[go], nxt[go]
        slot = plan.next_slot[slot[go]]  # a retry's next attempt is always drawn
    # one column at a time, each pass's pieces freed as it is joined: a log's worth of memory
    # at the peak, not two
    return RawLog(
        j=_join(out_j),
        sent_ms=_join(out_t),
        finished_ms=_join(out_f),
        code=_join(out_c, np.int16),
        state=state,
        ended_ms=ended,
    )


def _join(chunks: list[npt.NDArray[Any]], dtype: type[np.signedinteger[Any]] = np.int64) -> Any:
    """The chunks as one array of ``dtype``; empties the list."""
    out = np.concatenate(chunks).astype(dtype, copy=False) if chunks else np.zeros(0, dtype)
    chunks.clear()
    return out
