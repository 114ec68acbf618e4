"""THROTTLE: job.progress of one job never twice within 10 s; the terminal event arrives.

Progress events are counted once per event id (a retried event is one emission). The window is
10 s divided by the advertised time scale, with the lower slack of the timing profile.

What is graded is the sender's *emission* spacing, so it is read from evidence that delivery
cannot compress: the events' own ``timestamp`` fields, when they are precise enough (a
resolution of at most a tenth of the window; the reference sender stamps milliseconds). A first
delivery that is slow to arrive (a new connection on a loaded machine) and a second one that is
not would bring two arrivals closer than the sender emitted them; the timestamps do not move.
The first-arrival gaps on the kit's clock are then only a cross-check, recorded in the details.
When the timestamps are coarser than that (whole seconds at time scale 10), the arrival gaps
are all there is, and they are graded instead; the case's details say which evidence it used.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict

from whsim.conformance.case import Case
from whsim.conformance.listener import Arrival
from whsim.core.errors import EventDataError
from whsim.core.spec.events import parse_timestamp
from whsim.core.throttle import WINDOW_MS

from .catalog import case
from .grading import record_arrivals, require
from .scenarios import Scenarios, job_of

_FRACTION = re.compile(r"\.(\d+)Z$")


def _stamp(a: Arrival) -> int | None:
    doc = a.json()
    stamp = doc.get("timestamp") if isinstance(doc, dict) else None
    try:
        return parse_timestamp(stamp) if isinstance(stamp, str) else None
    except (ValueError, EventDataError):
        return None


def _resolution_s(a: Arrival) -> float | None:
    """The resolution of an event's timestamp in seconds (1.0 for whole seconds), None: no stamp."""
    doc = a.json()
    stamp = doc.get("timestamp") if isinstance(doc, dict) else None
    if not isinstance(stamp, str) or _stamp(a) is None:
        return None
    found = _FRACTION.search(stamp)
    return 10.0 ** -min(len(found.group(1)), 3) if found else 1.0


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
    progress = [a for events in by_job.values() for a in events]
    resolutions = [_resolution_s(a) for a in progress]
    coarsest = max((r for r in resolutions if r is not None), default=None)
    by_stamp = (
        bool(progress)
        and None not in resolutions
        and coarsest is not None
        and coarsest <= window / 10
    )
    whsim_case.details.update(
        window_s=round(window, 3),
        lower_bound_s=round(band.low, 3),
        progress_per_job={j: len(v) for j, v in by_job.items()},
        scaled=sender.scaled,
        graded_on="event timestamps" if by_stamp else "first arrivals on the kit's clock",
        timestamp_resolution_s=coarsest,
    )
    long_job = run.details.get("job_id")
    if not by_job:
        whsim_case.fail("no job.progress arrived", expected="progress events", actual="none")
    close_arrivals: list[float] = []
    for job, events in by_job.items():
        events.sort(key=lambda a: (_stamp(a) or 0, a.t_headers_ns) if by_stamp else a.t_headers_ns)
        for a, b in itertools.pairwise(events):
            arrival_gap = (b.t_headers_ns - a.t_headers_ns) / 1e9
            if arrival_gap < band.low:
                close_arrivals.append(round(arrival_gap, 3))
            if by_stamp:
                gap = ((_stamp(b) or 0) - (_stamp(a) or 0)) / 1000
                low = band.low - (coarsest or 0.0)
                what = "were emitted (their timestamps)"
            else:
                gap, low, what = arrival_gap, band.low, "arrived (first arrivals)"
            if gap < low:
                record_arrivals(whsim_case, run, [a, b], "progress too close")
                whsim_case.fail(
                    f"two job.progress events of {job} {what} {gap:.3f} s apart",
                    expected=f"at least {window:.3f} s apart (lower bound {low:.3f} s)",
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
    if close_arrivals:
        # The cross-check: arrivals closer than the window although the emissions were not
        # (delivery delay compressed them); a note, not a verdict.
        whsim_case.details["arrival_gaps_below_bound_s"] = close_arrivals
    if long_job is not None and len(by_job.get(str(long_job), [])) < 2:
        whsim_case.fail(
            f"the long job {long_job} sent fewer than two progress events over 30 steps",
            expected="progress at least once per 10 s while the job runs",
            actual=f"{len(by_job.get(str(long_job), []))} event(s)",
        )
    total = sum(len(v) for v in by_job.values())
    basis = "by their timestamps" if by_stamp else "by their first arrivals"
    note = (
        f" (arrivals came closer, {', '.join(f'{g:.3f}' for g in close_arrivals)} s: delivery "
        "delay, not emission)"
        if close_arrivals
        else ""
    )
    whsim_case.passed(
        f"{total} progress event(s) over {len(by_job)} job(s), spaced {basis} by >= "
        f"{band.low:.3f} s{note}; terminal events arrived"
    )
