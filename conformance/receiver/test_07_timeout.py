"""TIMEOUT: a burst of deliveries, answered within 5 s (TIMEOUT-1, a SHOULD).

The burst is BATCH deliveries of job.progress (the event a busy sender emits most), sent
CONCURRENCY at a time as a sender with parallel workers would. Each answer is timed on the kit's
monotonic clock; a request is abandoned LIMIT_S after it was sent, so a slow receiver costs at
most that. The run's --timeout-budget can shorten the case further.
"""

from __future__ import annotations

import statistics
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from whsim.conformance.case import Case

from .catalog import case
from .target import ReceiverTarget, status_text

BATCH = 40
CONCURRENCY = 40
SHOULD_S = 5.0
LIMIT_S = 6.0


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@case("RCV-TIMEOUT-001")
def test_burst_answered_within_5s(receiver: ReceiverTarget, whsim_case: Case) -> None:
    limit = whsim_case.seconds_left(LIMIT_S)
    if limit < 1.0:
        whsim_case.error("not run: the timeout budget is spent")
    bodies = [
        receiver.event(
            "job.progress",
            {
                "job_id": f"job_t{n}",
                "progress": {"completed": n, "total": BATCH, "percentage": 100 * n / BATCH},
            },
        ).body
        for n in range(1, BATCH + 1)
    ]
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        exchanges = list(
            pool.map(
                lambda b: receiver.send(whsim_case, b, timeout=limit, note="burst delivery"), bodies
            )
        )
    times = [ex.response.elapsed_s if ex.response.status is not None else limit for ex in exchanges]
    slow = [
        ex for ex in exchanges if ex.response.status is None or ex.response.elapsed_s > SHOULD_S
    ]
    whsim_case.details.update(
        batch=BATCH,
        concurrency=CONCURRENCY,
        limit_s=round(limit, 2),
        p50_ms=round(statistics.median(times) * 1000, 1),
        p95_ms=round(_quantile(times, 0.95) * 1000, 1),
        max_ms=round(max(times) * 1000, 1),
        over_5s=len(slow),
        statuses=dict(Counter(str(ex.response.status) for ex in exchanges)),
    )
    summary = (
        f"p50 {whsim_case.details['p50_ms']} ms, p95 {whsim_case.details['p95_ms']} ms, "
        f"max {whsim_case.details['max_ms']} ms over {BATCH} deliveries ({CONCURRENCY} at a time)"
    )
    if slow:
        worst = max(slow, key=lambda ex: ex.response.elapsed_s)
        whsim_case.non_strict(
            f"{len(slow)} of {BATCH} answers took longer than {SHOULD_S:g} s; {summary}",
            expected=f"every answer within {SHOULD_S:g} s",
            actual=f"{worst.response.elapsed_s:.2f} s: {status_text(worst)}",
            primary=worst,
        )
    whsim_case.passed(summary)
