"""What a run hands back: tidy DataFrames built on demand from the engine's raw log.

Attempts are put in canonical order (sent time, event, webhook, attempt) whatever order the
engine processed them in, so two engines that agree produce equal tables and equal hashes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from whsim.core.spec.events import EVENT_TYPES, Event, format_timestamp, make_event
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

__all__ = ["EPOCH_MS", "OUTCOMES", "SimResult", "attempts_hash", "canonical_order"]

EPOCH_MS: Final = 1_705_314_600_000
"""Virtual time 0 as epoch ms: 2024-01-15T10:30:00Z, the guide's first example timestamp."""

OUTCOMES: Final = ("delivered", "retry", "rejected", "exhausted", "expired")
"""Per-attempt outcome: what this attempt meant for its delivery."""


def canonical_order(plan: Plan, log: RawLog) -> npt.NDArray[np.int64]:
    """Indices that sort ``log``'s attempts by (sent, event, webhook, attempt)."""
    d = log.j % plan.n
    k = log.j // plan.n
    return np.lexsort((k, plan.hook[d], plan.event[d], log.sent_ms))


def attempts_hash(plan: Plan, log: RawLog) -> str:
    """sha256 of the canonical attempts table (event, webhook, attempt, sent, finished, code)."""
    order = canonical_order(plan, log)
    j = log.j[order]
    d = j % plan.n
    table = np.stack(
        [
            plan.event[d],
            plan.hook[d],
            j // plan.n + 1,
            log.sent_ms[order],
            log.finished_ms[order],
            log.code[order],
        ]
    ).astype("<i8")
    digest = hashlib.sha256(np.ascontiguousarray(table.T).tobytes())
    digest.update(np.ascontiguousarray(log.state.astype("<i8")).tobytes())
    digest.update(np.ascontiguousarray(log.ended_ms.astype("<i8")).tobytes())
    return digest.hexdigest()


def _categorical(codes: npt.NDArray[np.int64], categories: list[str]) -> pd.Categorical[str]:
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

    @cached_property
    def _order(self) -> npt.NDArray[np.int64]:
        return canonical_order(self.plan, self.log)

    def attempts_hash(self) -> str:
        """sha256 of the canonical attempts table and final states; equal runs, equal hashes."""
        return attempts_hash(self.plan, self.log)

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

        plan, log, order = self.plan, self.log, self._order
        j = log.j[order]
        d = j % plan.n
        k = j // plan.n + 1
        code = log.code[order]
        sent = log.sent_ms[order]
        fin = log.finished_ms[order]
        outcome = self._outcomes(j, d, code)
        error = np.where(code == TIMEOUT, 1, np.where(code == CONNECT, 2, 0))
        status = pd.array(np.where(code > 0, code, 0), dtype="Int64")
        status[code <= 0] = pd.NA
        return pd.DataFrame(
            {
                "event_id": _categorical(plan.event[d], self.event_ids()),
                "webhook_id": _categorical(plan.hook[d], list(plan.hook_ids)),
                "attempt": k,
                "sent_ms": sent,
                "latency_ms": fin - sent,
                "status": status,
                "error": _categorical(error, ["", "timeout", "connect"]),
                "outcome": _categorical(outcome, list(OUTCOMES)),
            }
        )

    def _outcomes(
        self, j: npt.NDArray[np.int64], d: npt.NDArray[np.int64], code: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        plan, log = self.plan, self.log
        v = plan.verdict[code + 2].astype(np.int64)  # 0 success, 1 retry, 2 rejected
        outcome = np.where(v == 0, 0, np.where(v == 2, 2, 1))
        # the last attempt of a delivery that ended exhausted/expired carries that end
        last = np.zeros(plan.n, dtype=np.int64) - 1
        np.maximum.at(last, d, j)
        is_last = last[d] == j
        st = log.state[d]
        outcome = np.where(is_last & (v == 1) & (st == EXHAUSTED), 3, outcome)
        return np.where(is_last & (v == 1) & (st == EXPIRED), 4, outcome)

    @cached_property
    def deliveries(self) -> pd.DataFrame:
        """One row per (event, webhook): final state, attempts used, time to delivery."""
        import pandas as pd

        plan, log = self.plan, self.log
        used = np.bincount(log.j % plan.n, minlength=plan.n) if plan.n else np.zeros(0, int)
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
                "attempts": used,
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
        plan, log = self.plan, self.log
        states = np.bincount(log.state.astype(np.int64), minlength=len(STATES))
        n_att = len(log.j)
        peak, peak_hook = 0, ""
        if n_att:
            h = plan.hook[log.j % plan.n]
            bins = log.sent_ms // 1000
            key = h * (int(bins.max()) + 1) + bins
            _, counts = np.unique(key, return_counts=True)
            top = int(np.argmax(counts))
            peak = int(counts[top])
            uniq = np.unique(key)
            peak_hook = plan.hook_ids[int(uniq[top] // (int(bins.max()) + 1))]
        n = plan.n
        delivered = log.state == DELIVERED
        ttd = (log.ended_ms - plan.event_ms)[delivered]
        failed_verify = sum(1 for s in plan.hook_status if s == "verification_failed")
        from whsim import __version__

        return {
            "whsim": __version__,
            "scenario": plan.scenario.name,
            "seed": plan.seed,
            "engine": self.engine,
            "policy": plan.policy.name,
            "webhooks": len(plan.hook_ids),
            "webhooks_failed_verification": failed_verify,
            "events": len(plan.events),
            "deliveries": n,
            "attempts": n_att,
            "delivered": int(states[DELIVERED]),
            "exhausted": int(states[EXHAUSTED]),
            "expired": int(states[EXPIRED]),
            "rejected": int(states[REJECTED]),
            "loss_rate": round(1 - int(states[DELIVERED]) / n, 6) if n else 0.0,
            "amplification": round(n_att / n, 4) if n else 0.0,
            "attempts_per_event": round(n_att / len(plan.events), 4) if len(plan.events) else 0.0,
            "timeouts": int(np.count_nonzero(log.code == TIMEOUT)),
            "refused": int(np.count_nonzero(log.code == CONNECT)),
            "peak_attempts_per_s": peak,
            "peak_webhook": peak_hook,
            "p50_time_to_delivery_ms": int(np.percentile(ttd, 50)) if len(ttd) else None,
            "p99_time_to_delivery_ms": int(np.percentile(ttd, 99)) if len(ttd) else None,
            "virtual_end_ms": int(log.ended_ms.max()) if n else 0,
            "attempts_sha256": self.attempts_hash(),
        }
