"""THROTTLE: job.progress of one job never twice within 10 s; the terminal event arrives.

Progress events are counted once per event id (a retried event is one emission) and spaced by
their first arrival on the kit's clock. The window is 10 s divided by the advertised time scale,
with the lower slack of the timing profile.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

from whsim.conformance.case import Case
from whsim.conformance.listener import Arrival
from whsim.core.errors import EventDataError
from whsim.core.spec.events import parse_timestamp
from whsim.core.throttle import WINDOW_MS

from .catalog import case
from .grading import record_arrivals, require
from .scenarios import Scenarios, job_of


def _stamp(a: Arrival) -> int | None:
    doc = a.json()
    stamp = doc.get("timestamp") if isinstance(doc, dict) else None
    try:
        return parse_timestamp(stamp) if isinstance(stamp, str) else None
    except (ValueError, EventDataError):
        return None


@case("SND-THROTTLE-001")
def test_progress_throttled(scenarios: Scenarios, whsim_case: Case) -> None:
    run = require(whsim_case, scenarios, "throttle")
    sender = run.target
    window = WINDOW_MS / 1000 / sender.time_scale
    band = sender.timing.band(window)
    firsts: dict[str, Arrival] = {}
    for a in run.deliveries():
        key = a.event_id or a.body.decode("utf-8", "replace")
        firsts.setdefault(key, a)
    by_job: dict[str, list[Arrival]] = defaultdict(list)
    ended: dict[str, Arrival] = {}
    for a in firsts.values():
        job = job_of(a)
        if job is None:
            continue
        if a.event_type == "job.progress":
            by_job[job].append(a)
        elif a.event_type in ("job.completed", "job.failed"):
            ended.setdefault(job, a)
    whsim_case.details.update(
        window_s=round(window, 3),
        lower_bound_s=round(band.low, 3),
        progress_per_job={j: len(v) for j, v in by_job.items()},
        scaled=sender.scaled,
    )
    long_job = run.details.get("job_id")
    if not by_job:
        whsim_case.fail("no job.progress arrived", expected="progress events", actual="none")
    for job, events in by_job.items():
        events.sort(key=lambda a: a.t_headers_ns)
        for a, b in itertools.pairwise(events):
            gap = (b.t_headers_ns - a.t_headers_ns) / 1e9
            if gap < band.low:
                record_arrivals(whsim_case, run, [a, b], "progress too close")
                whsim_case.fail(
                    f"two job.progress events of {job} arrived {gap:.3f} s apart",
                    expected=f"at least {window:.3f} s apart (lower bound {band.low:.3f} s)",
                    actual=f"{gap:.3f} s",
                )
        if job not in ended:
            whsim_case.fail(
                f"job {job} reported progress but its terminal event never arrived",
                expected="job.completed or job.failed",
                actual="none",
            )
        # Deliveries may overtake each other (EVENT-12, unordered): compare the event times.
        end = _stamp(ended[job])
        late = [a for a in events if end is not None and (_stamp(a) or 0) > end]
        if late:
            whsim_case.non_strict(
                f"job.progress of {job} arrived after its terminal event (THROTTLE-3)",
                expected="no progress after job.completed/job.failed",
                actual=f"{len(late)} late progress event(s)",
            )
    if long_job is not None and len(by_job.get(str(long_job), [])) < 2:
        whsim_case.fail(
            f"the long job {long_job} sent fewer than two progress events over 30 steps",
            expected="progress at least once per 10 s while the job runs",
            actual=f"{len(by_job.get(str(long_job), []))} event(s)",
        )
    total = sum(len(v) for v in by_job.values())
    whsim_case.passed(
        f"{total} progress event(s) over {len(by_job)} job(s), spaced by >= {band.low:.3f} s; terminal events arrived"
    )
