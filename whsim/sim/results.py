"""What a run hands back: tidy DataFrames built on demand from the engine's raw log.

Attempts are put in canonical order (sent time, event, webhook, attempt) whatever order the
engine processed them in, so two engines that agree produce equal tables and equal hashes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from whsim.core.spec.events import EVENT_TYPES, Event, format_timestamp, make_event
from whsim.sim import chunked
from whsim.sim.chunked import each_chunk
from whsim.sim.engine import RawLog
from whsim.sim.plan import (
    CONNECT,
    DELIVERED,
    EXHAUSTED,
    EXPIRED,
    REJECTED,
    STATES,
    TIMEOUT,
    Plan,
)

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    from whsim.sim.tally import Tally

__all__ = [
    "EPOCH_MS",
    "OUTCOMES",
    "SimResult",
    "attempts_hash",
    "canonical_order",
    "summary_of",
]

EPOCH_MS: Final = 1_705_314_600_000
"""Virtual time 0 as epoch ms: 2024-01-15T10:30:00Z, the guide's first example timestamp."""

OUTCOMES: Final = ("delivered", "retry", "rejected", "exhausted", "expired")
"""Per-attempt outcome: what this attempt meant for its delivery."""


def canonical_order(plan: Plan, log: RawLog) -> npt.NDArray[np.int64]:
    """Indices that sort ``log``'s attempts by (sent, event, webhook, attempt).

    Deliveries are event-major, so (event, webhook) order is delivery order: one argsort of a
    composite (sent, delivery, attempt) key when it fits in 63 bits (built a chunk of the log
    at a time, into the one key array), a lexsort otherwise.
    """
    return _canonical_order(plan, log)[0]


def _canonical_order(
    plan: Plan, log: RawLog
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64] | None]:
    """:func:`canonical_order`, and the int64 key array it sorted (dead: free to reuse), if any."""
    n, A = plan.n, plan.max_attempts
    if not len(log.j):
        return np.zeros(0, dtype=np.int64), None
    span = n * A
    if (int(log.sent_ms.max()) + 1) * span < 2**63:
        key = np.empty(len(log.j), dtype=np.int64)  # sent * span + d * A + k

        def build(rows: slice) -> None:
            k, d = np.divmod(log.j[rows], n)
            at = key[rows]
            np.multiply(log.sent_ms[rows], span, out=at)
            at += k
            d *= A
            at += d

        each_chunk(len(log.j), build)
        # the engines log in runs that are nearly time-sorted (passes, or time order itself)
        return np.argsort(key, kind="stable").astype(np.int64, copy=False), key
    return np.lexsort((log.j // n, log.j % n, log.sent_ms)), None


def attempts_hash(plan: Plan, log: RawLog) -> str:
    """sha256 of every attempt and final state, as a tree with one leaf per webhook.

    See :mod:`whsim.sim.tally`: the same value whether the run was done in one piece or in
    endpoint shards on any number of workers, and whatever order the engine logged attempts in.
    """
    from whsim.sim.tally import tally

    return tally(plan, log).digest()


def _codes(index: npt.NDArray[np.int64], categories: int) -> npt.NDArray[np.signedinteger[Any]]:
    """``index`` in the integer dtype pandas keeps for codes of ``categories`` categories."""
    for dtype in (np.int8, np.int16, np.int32):
        if categories < np.iinfo(dtype).max:
            return index.astype(dtype)
    return index


def _categorical(
    codes: npt.NDArray[np.signedinteger[Any]], categories: list[str]
) -> pd.Categorical[str]:
    import pandas as pd

    return pd.Categorical.from_codes(codes, categories=pd.Index(categories))


@dataclass(frozen=True)
class SimResult:
    """The result of :func:`whsim.simulate`.

    Times in the tables are ms of virtual time since the run's start (``EPOCH_MS`` on the
    wall calendar). ``engine`` says which engine ran; ``seconds`` how long it took.
    """

    plan: Plan
    log: RawLog
    engine: str
    seconds: float = 0.0
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def scenario(self) -> Any:
        return self.plan.scenario

    @property
    def seed(self) -> int:
        return self.plan.seed

    def attempts_hash(self) -> str:
        """sha256 of every attempt and final state (:mod:`whsim.sim.tally`); equal runs, equal hashes."""
        return self.tally.digest()

    def event_ids(self) -> list[str]:
        return [f"evt_{i:08d}" for i in range(len(self.plan.events))]

    def event(self, i: int) -> Event:
        """Event ``i`` as the sender would send it (validated, serialized, ready to sign)."""
        ev = self.plan.events
        return make_event(
            EVENT_TYPES[int(ev.type[i])],
            ev.data(i),
            id=f"evt_{i:08d}",
            timestamp_ms=EPOCH_MS + int(ev.time_ms[i]),
        )

    @cached_property
    def events(self) -> pd.DataFrame:
        """One row per produced event: id, type, time, proposal, job, progress."""
        import pandas as pd

        ev = self.plan.events
        job = ev.job
        return pd.DataFrame(
            {
                "event_id": self.event_ids(),
                "type": _categorical(ev.type.astype(np.int64), list(EVENT_TYPES)),
                "time_ms": ev.time_ms,
                "timestamp": [format_timestamp(EPOCH_MS + t) for t in ev.time_ms.tolist()],
                "proposal_id": [f"prop_{p:06d}" for p in ev.proposal.tolist()],
                "job_id": pd.array(
                    [f"job_{x:06d}" if x >= 0 else None for x in job.tolist()], dtype="string"
                ),
                "progress_completed": ev.completed,
                "progress_total": ev.total,
            }
        )

    @cached_property
    def attempts(self) -> pd.DataFrame:
        """One row per attempt, in (sent, event, webhook, attempt) order.

        ``status`` is the HTTP status (NA when there was none); ``error`` is ``timeout``,
        ``connect`` or empty; ``outcome`` is one of :data:`OUTCOMES`.
        """
        import pandas as pd

        plan, log = self.plan, self.log
        n = plan.n
        # outcomes are worked out in the engine's order (where a delivery's rows are near each
        # other), then every column is gathered into canonical order a chunk at a time, straight
        # into its final array; columns are built in their final dtypes and handed to the frame
        # uncopied (no consolidation copy). The sort key's memory, dead once sorted, becomes the
        # ``sent_ms`` column, and the order's the ``attempt`` column (a chunk of the order is
        # copied out before its place is written): two attempt-sized arrays fewer to fault in.
        # On a large log the sort runs on a thread of its own beside the outcomes' pass.
        big = len(log.j) > chunked.CHUNK
        (order, key), outcomes = chunked.alongside(
            lambda: _canonical_order(plan, log), self._outcomes, parallel=big
        )
        events, hooks = self.event_ids(), list(plan.hook_ids)
        by_event, by_hook = _codes(plan.event, len(events)), _codes(plan.hook, len(hooks))
        size = len(order)
        event_codes = np.empty(size, dtype=by_event.dtype)
        hook_codes = np.empty(size, dtype=by_hook.dtype)
        k = order
        outcome = np.empty(size, dtype=np.int8)
        code = np.empty(size, dtype=np.int64)
        no_status = np.empty(size, dtype=np.bool_)
        error = np.empty(size, dtype=np.int8)  # 0 none, 1 timeout, 2 connect
        sent = key if key is not None else np.empty(size, dtype=np.int64)
        latency = np.empty(size, dtype=np.int64)

        def gather(part: slice) -> None:
            at = order[part].copy()
            j, d = np.divmod(log.j[at], n)
            event_codes[part] = by_event[d]
            hook_codes[part] = by_hook[d]
            del d
            j += 1
            k[part] = j
            outcome[part] = outcomes[at]
            got = code[part]
            got[:] = log.code[at]
            np.less_equal(got, 0, out=no_status[part])
            err = error[part]
            np.equal(got, TIMEOUT, out=err, casting="unsafe")
            err[got == CONNECT] = 2
            sent[part] = log.sent_ms[at]
            latency[part] = log.finished_ms[at]
            latency[part] -= sent[part]

        each_chunk(size, gather)
        status = pd.arrays.IntegerArray(code, no_status)  # values under the mask are not read
        frame = pd.DataFrame(
            {
                "event_id": _categorical(event_codes, events),
                "webhook_id": _categorical(hook_codes, hooks),
                "attempt": k,
                "sent_ms": sent,
                "latency_ms": latency,
                "status": status,
                "error": _categorical(error, ["", "timeout", "connect"]),
                "outcome": _categorical(outcome, list(OUTCOMES)),
            },
            copy=False,
        )
        return frame

    def _outcomes(self) -> npt.NDArray[np.int8]:
        """Each logged attempt's index into :data:`OUTCOMES`, in the log's order (in chunks)."""
        plan, log = self.plan, self.log
        n = plan.n
        outcome = np.empty(len(log.j), dtype=np.int8)
        st = log.state
        # by delivery: 3 exhausted, 4 expired, 0 neither; None when no delivery ended so
        last: npt.NDArray[np.int8] | None = None
        if np.any((st == EXHAUSTED) | (st == EXPIRED)):
            last = np.zeros(n, dtype=np.int8)
            last[st == EXHAUSTED] = 3
            last[st == EXPIRED] = 4
        used = self._used if last is not None else None

        def work(part: slice) -> None:
            out = outcome[part]
            # 0 success -> delivered, 1 retry -> retry, 2 rejected -> rejected
            out[:] = plan.verdict[log.code[part] + 2]
            if last is None or used is None:  # no delivery ended exhausted or expired
                return
            # the last attempt of a delivery that ended exhausted/expired carries that end
            j = log.j[part]
            d = j % n
            ends = last[d]
            at = np.flatnonzero(ends)  # attempts of such deliveries
            da = d[at]
            at = at[(j[at] // n + 1 == used[da]) & (out[at] == 1)]  # their last, failed
            out[at] = ends[at]

        each_chunk(len(log.j), work)
        return outcome

    @cached_property
    def _used(self) -> npt.NDArray[np.signedinteger[Any]]:
        """Attempts logged per delivery (:func:`whsim.sim.tally.attempts_used`), shared by the
        tables and the tally; kept in int8 when a policy allows fewer than 128 attempts (8 MB,
        not 64, at 8 M deliveries, for as long as the result lives)."""
        from whsim.sim.tally import attempts_used

        used = attempts_used(self.plan.n, self.log)
        return _codes(used, self.plan.max_attempts + 1)

    @cached_property
    def deliveries(self) -> pd.DataFrame:
        """One row per (event, webhook): final state, attempts used, time to delivery."""
        import pandas as pd

        plan, log = self.plan, self.log
        used = self._used
        first = np.full(plan.n, -1, dtype=np.int64)
        is_first = log.j < plan.n
        first[log.j[is_first]] = log.sent_ms[is_first]
        delivered = log.state == DELIVERED
        ttd = pd.array(np.where(delivered, log.ended_ms - plan.event_ms, 0), dtype="Int64")
        ttd[~delivered] = pd.NA
        first_sent = pd.array(first, dtype="Int64")
        first_sent[first < 0] = pd.NA
        frame = pd.DataFrame(
            {
                "event_id": _categorical(plan.event, self.event_ids()),
                "webhook_id": _categorical(plan.hook, list(plan.hook_ids)),
                "event_type": _categorical(
                    plan.events.type[plan.event].astype(np.int64), list(EVENT_TYPES)
                ),
                "event_ms": plan.event_ms,
                "state": _categorical(log.state.astype(np.int64), list(STATES)),
                "attempts": used.astype(np.int64),
                "first_sent_ms": first_sent,
                "ended_ms": log.ended_ms,
                "time_to_delivery_ms": ttd,
            }
        )
        return frame

    @cached_property
    def summary(self) -> dict[str, Any]:
        """Counts, loss rate, amplification and peak load, as plain JSON-ready values.

        ``amplification`` is attempts per delivery (an event sent to one webhook): 1.0 when every
        first attempt succeeds. ``peak_attempts_per_s`` is the most attempts one webhook got in
        one second of virtual time.
        """
        plan = self.plan
        t = self.tally
        return summary_of(
            t,
            scenario=plan.scenario.name,
            seed=plan.seed,
            engine=self.engine,
            policy=plan.policy.name,
            webhooks=len(plan.hook_ids),
            events=len(plan.events),
            peak_webhook=plan.hook_ids[t.peak_hook - t.first_hook] if t.peak_hook >= 0 else "",
        )

    @cached_property
    def tally(self) -> Tally:
        """The mergeable reductions behind :attr:`summary` and :meth:`attempts_hash`."""
        from whsim.sim.tally import tally

        # the attempts per delivery are counted while the plan's webhook order is sorted beside
        return tally(self.plan, self.log, self.plan.first_hook, lambda: self._used)


def summary_of(
    t: Tally,
    *,
    scenario: str,
    seed: int,
    engine: str,
    policy: str,
    webhooks: int,
    events: int,
    peak_webhook: str,
) -> dict[str, Any]:
    """The summary dict of a run from its (merged) tally; :attr:`SimResult.summary` documents it."""
    from whsim import __version__

    states = t.states
    n, n_att = t.deliveries, t.attempts
    return {
        "whsim": __version__,
        "scenario": scenario,
        "seed": seed,
        "engine": engine,
        "policy": policy,
        "webhooks": webhooks,
        "webhooks_failed_verification": t.failed_verification,
        "events": events,
        "deliveries": n,
        "attempts": n_att,
        "delivered": int(states[DELIVERED]),
        "exhausted": int(states[EXHAUSTED]),
        "expired": int(states[EXPIRED]),
        "rejected": int(states[REJECTED]),
        "loss_rate": round(1 - int(states[DELIVERED]) / n, 6) if n else 0.0,
        "amplification": round(n_att / n, 4) if n else 0.0,
        "attempts_per_event": round(n_att / events, 4) if events else 0.0,
        "timeouts": t.timeouts,
        "refused": t.refused,
        "peak_attempts_per_s": t.peak,
        "peak_webhook": peak_webhook,
        "p50_time_to_delivery_ms": t.percentile_ttd(50),
        "p99_time_to_delivery_ms": t.percentile_ttd(99),
        "virtual_end_ms": t.virtual_end_ms,
        "attempts_sha256": t.digest(),
    }
