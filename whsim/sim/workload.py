"""The Proposal Generator on a virtual clock: proposals and jobs producing the guide's events.

:func:`generate` turns a :class:`~whsim.sim.scenario.Workload` and a seed into a columnar
:class:`Events` table, time-sorted. ``job.progress`` goes through :func:`whsim.core.throttle.throttle`
(the same code the reference sender uses), so the throttle reading changes what is produced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from whsim.core.errors import ScenarioError
from whsim.core.spec.events import EVENT_TYPES
from whsim.core.throttle import throttle
from whsim.sim.scenario import Arrival, Workload

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["TYPE_CODE", "Events", "arrival_times", "generate"]

TYPE_CODE: Final = {name: i for i, name in enumerate(EVENT_TYPES)}
"""Event type -> small integer code used in the columnar tables (index into EVENT_TYPES)."""

_WORKLOAD_STREAM: Final = 0x776F726B  # "work": the workload's own SeedSequence branch
_PC, _JC, _JS, _JP, _JD, _JF, _DC = (
    TYPE_CODE[t]
    for t in (
        "proposal.created",
        "job.created",
        "job.started",
        "job.progress",
        "job.completed",
        "job.failed",
        "document.created",
    )
)


@dataclass(frozen=True, slots=True)
class Events:
    """Produced events, sorted by time (ties in production order); one row per event.

    ``job`` and ``proposal`` are -1 where they do not apply; ``completed``/``total`` are set
    for ``job.progress`` only. ``audience`` is None when every webhook sees every event (one
    throttle window per job, THROTTLE-2 ``per-job``); under ``per-webhook`` it is ``(lo, hi)``
    per row: the row is for the webhooks of cohorts ``lo <= c < hi`` (indices into
    ``progress_from``; every cohort for rows other than ``job.progress``).
    """

    time_ms: npt.NDArray[np.int64]
    type: npt.NDArray[np.int8]
    proposal: npt.NDArray[np.int64]
    job: npt.NDArray[np.int64]
    completed: npt.NDArray[np.int64]
    total: npt.NDArray[np.int64]
    audience: npt.NDArray[np.int64] | None = None

    def __len__(self) -> int:
        return len(self.time_ms)

    def data(self, i: int) -> dict[str, Any]:
        """The ``data`` object of event ``i`` as the guide's examples show it."""
        kind = EVENT_TYPES[int(self.type[i])]
        prop = f"prop_{int(self.proposal[i]):06d}"
        job = f"job_{int(self.job[i]):06d}"
        if kind == "proposal.created":
            return {"proposal_id": prop, "title": f"Proposal {int(self.proposal[i])}"}
        if kind == "job.created":
            return {"job_id": job, "proposal_id": prop, "status": "pending"}
        if kind == "job.started":
            return {"job_id": job, "status": "processing"}
        if kind == "job.progress":
            done, total = int(self.completed[i]), int(self.total[i])
            pct = round(100 * done / total)
            return {
                "job_id": job,
                "progress": {"completed": done, "total": total, "percentage": pct},
            }
        doc = f"doc_{int(self.job[i]):06d}"
        if kind == "job.completed":
            return {"job_id": job, "proposal_id": prop, "document_id": doc, "status": "completed"}
        if kind == "job.failed":
            return {"job_id": job, "error": "generation failed", "error_details": {}}
        return {"document_id": doc, "proposal_id": prop, "version": 1}


def arrival_times(
    arrival: Arrival, duration_ms: int, rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """Sorted proposal arrival times in [0, duration_ms)."""
    if arrival.kind == "constant":
        return np.arange(0, duration_ms, arrival.step_ms, dtype=np.int64)
    if arrival.kind == "poisson":
        mean = 1000.0 / arrival.rate_per_s
        expected = int(duration_ms / mean)
        chunks: list[npt.NDArray[np.float64]] = []
        last = 0.0
        while last < duration_ms:
            gaps = rng.exponential(mean, size=max(16, expected + 4 * int(expected**0.5) + 16))
            times = last + np.cumsum(gaps)
            chunks.append(times)
            last = float(times[-1])
        all_times = np.concatenate(chunks)
        return all_times[all_times < duration_ms].astype(np.int64)
    starts = np.arange(0, duration_ms, arrival.burst_every_ms, dtype=np.int64)
    offsets = rng.integers(
        0, arrival.burst_spread_ms + 1, size=(len(starts), arrival.burst_size), dtype=np.int64
    )
    bursts: npt.NDArray[np.int64] = np.sort((starts[:, None] + offsets).reshape(-1))
    return bursts[bursts < duration_ms]


def generate(
    workload: Workload,
    seed: int,
    *,
    throttle_reading: str = "coalesce",
    progress_from: tuple[int, ...] = (0,),
) -> Events:
    """The events ``workload`` produces under ``seed`` (same seed, same events).

    ``progress_from`` are the times webhooks become active, under THROTTLE-2 ``per-webhook``
    (:func:`whsim.core.throttle.window_key`): webhooks active from the same time see the same
    updates, so their per-(webhook, job) windows are equal and each such cohort gets one
    stream, :func:`~whsim.core.throttle.throttle` from its time on (``audience`` says which).
    A cohort active by a job's first update sees that job's whole stream, the one every webhook
    active from 0 sees, and shares its rows.
    ``(0,)``, the default, is one stream per job for everyone (``per-job``). ``max_events``
    counts the events of the stream every webhook active from 0 sees.
    """
    if (
        not progress_from
        or progress_from[0] != 0
        or list(progress_from) != sorted(set(progress_from))
    ):
        raise ScenarioError("must be sorted distinct times starting at 0", field="progress_from")
    cohorts = len(progress_from) > 1
    rng = np.random.default_rng(np.random.SeedSequence([seed & (2**63 - 1), _WORKLOAD_STREAM]))
    proposals = arrival_times(workload.arrival, workload.duration_ms, rng)
    n_jobs = len(proposals) * workload.jobs_per_proposal
    fails = rng.random(n_jobs) < workload.job_failure_probability
    fail_at = rng.random(n_jobs)
    # time, order, type, prop, job, completed, total, audience (lo, hi)
    rows: list[tuple[int, int, int, int, int, int, int, int, int]] = []
    every_cohort = len(progress_from)
    order = 0
    every, length = workload.progress_every_ms, workload.job_duration_ms
    total = max(1, length // every)
    job = 0
    for p, t0 in enumerate(proposals.tolist()):
        rows.append((t0, order, _PC, p, -1, 0, 0, 0, every_cohort))
        order += 1
        for j in range(workload.jobs_per_proposal):
            created = t0 + 1 + j  # a proposal's jobs are created one ms apart, after it
            started = created + workload.start_delay_ms
            end = started + length
            if fails[job]:
                end = started + int(length * float(fail_at[job]))
            rows.append((created, order, _JC, p, job, 0, 0, 0, every_cohort))
            rows.append((started, order + 1, _JS, p, job, 0, 0, 0, every_cohort))
            order += 2
            raw = [(started + m * every, m) for m in range(1, total) if started + m * every < end]
            first = raw[0][0] if raw else end
            shared = sum(1 for since in progress_from if since <= first)
            for c, since in enumerate(progress_from):
                if c and c < shared:
                    continue  # active by the first update: the stream of cohort 0
                if since >= end:
                    break
                hi = shared if c == 0 else c + 1
                for at, done in throttle(raw, end, reading=throttle_reading, since_ms=since):
                    rows.append((at, order, _JP, p, job, done, total, c, hi))
                    order += 1
            if fails[job]:
                rows.append((end, order, _JF, p, job, 0, 0, 0, every_cohort))
                order += 1
            else:
                rows.append((end, order, _JD, p, job, 0, 0, 0, every_cohort))
                rows.append((end, order + 1, _DC, p, job, 0, 0, 0, every_cohort))
                order += 2
            job += 1
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return Events(
            empty,
            np.zeros(0, dtype=np.int8),
            empty,
            empty,
            empty,
            empty,
            np.zeros((0, 2), dtype=np.int64) if cohorts else None,
        )
    table = np.array(rows, dtype=np.int64)
    table = table[np.lexsort((table[:, 1], table[:, 0]))]
    if workload.max_events is not None:
        # count the stream seen from 0 only; a later cohort's rows up to its last event stay
        seen = np.cumsum(table[:, 7] == 0)
        keep = int(np.searchsorted(seen, workload.max_events)) + 1 if workload.max_events else 0
        table = table[:keep]
    return Events(
        time_ms=np.ascontiguousarray(table[:, 0]),
        type=table[:, 2].astype(np.int8),
        proposal=np.ascontiguousarray(table[:, 3]),
        job=np.ascontiguousarray(table[:, 4]),
        completed=np.ascontiguousarray(table[:, 5]),
        total=np.ascontiguousarray(table[:, 6]),
        audience=np.ascontiguousarray(table[:, 7:9]) if cohorts else None,
    )
