"""Grading rules the sender cases share: a scenario's preconditions, gaps, timelines, exchanges."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from whsim.conformance.case import Case
from whsim.conformance.figures import Mark, Window, retry_timeline
from whsim.conformance.listener import Arrival
from whsim.conformance.timing import Band

from .scenarios import Run, Scenarios
from .target import as_exchange

__all__ = ["attempt_rows", "gaps", "record_arrivals", "require", "timeline"]


def require(case: Case, scenarios: Scenarios, name: str) -> Run:
    """The finished scenario ``name``; ends the case untestable or error when it observed nothing."""
    run = scenarios.get(name, timeout=case.seconds_left(300.0))
    for ex in run.exchanges:
        case.record(ex)
    if run.error:
        case.error(run.error)
    if run.untestable:
        case.untestable(run.untestable)
    return run


def record_arrivals(case: Case, run: Run, arrivals: Sequence[Arrival], note: str = "") -> None:
    for i, a in enumerate(arrivals, start=1):
        case.record(as_exchange(a, run.listener.url(a.path), note or f"{run.name}: request {i}"))


def gaps(attempts: Sequence[Arrival]) -> list[float]:
    """Failure-to-next gaps (seconds): from the end of one attempt to the next one's headers.

    The end of an answered attempt is when the kit started its answer (stamped before the first
    byte went out, so the sender cannot have retried earlier); of an unanswered one (the client
    gave up, or the kit reset it) when the kit saw it end, but never later than the next
    attempt's arrival, since the kit may notice a close after the retry has come.
    """
    return [
        (b.t_headers_ns - min(a.t_failed_ns, b.t_headers_ns)) / 1e9
        for a, b in itertools.pairwise(attempts)
    ]


def starts(attempts: Sequence[Arrival]) -> list[float]:
    """Start-to-start gaps (seconds)."""
    return [(b.t_headers_ns - a.t_headers_ns) / 1e9 for a, b in itertools.pairwise(attempts)]


def attempt_rows(attempts: Sequence[Arrival]) -> list[dict[str, Any]]:
    """One row per attempt for the report: offsets from the first, answer, identity."""
    if not attempts:
        return []
    t0 = attempts[0].t_headers_ns
    return [
        {
            "attempt": i,
            "at_s": round((a.t_headers_ns - t0) / 1e9, 3),
            "ended_s": round((a.t_end_ns - t0) / 1e9, 3),
            "answer": "client closed" if a.client_closed else a.status,
            "event_id": a.event_id,
            "type": a.event_type,
        }
        for i, a in enumerate(attempts, start=1)
    ]


def timeline(
    title: str,
    attempts: Sequence[Arrival],
    bands: Sequence[Band],
    *,
    grades: Sequence[str] = (),
    quiet_s: float | None = None,
) -> str:
    """The SVG of observed attempts against expected bands (each band after the previous end)."""
    if not attempts:
        return retry_timeline(title + " (no attempt observed)", [], [])
    t0 = attempts[0].t_headers_ns
    marks = []
    for i, a in enumerate(attempts):
        bad = i - 1 < len(grades) and i >= 1 and grades[i - 1] == "fail"
        label = "closed" if a.client_closed else str(a.status)
        marks.append(
            Mark(
                (a.t_headers_ns - t0) / 1e9,
                label,
                bad=bad or i > len(bands),
                end=(a.t_end_ns - t0) / 1e9,
            )
        )
    windows = []
    anchor = marks[0].end or 0.0
    for k, band in enumerate(bands):
        windows.append(
            Window(
                anchor + band.low, anchor + band.high, anchor + 2 * band.high, f"attempt {k + 2}"
            )
        )
        nxt = k + 1
        anchor = (marks[nxt].end or marks[nxt].t) if nxt < len(marks) else anchor + band.expected
    last = marks[-1].end or marks[-1].t
    quiet = last + quiet_s if quiet_s is not None else None
    return retry_timeline(title, marks, windows, quiet_until=quiet)
