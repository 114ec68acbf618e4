"""TIMEOUT: every answer of the run within 5 s (TIMEOUT-1, a SHOULD), and a burst.

The kit waits for each answer as long as the guide's sender would (5 s, clause TIMEOUT-2); a
later answer is recorded as timed out. This case runs after every other case and grades every
answer the run saw, per event type (p50, p95, max), each slow answer linked to the case that
got it; then a burst of BATCH job.progress deliveries, all at once as a sender with parallel
workers would send them.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from whsim.conformance.case import Case
from whsim.conformance.exchange import Exchange

from .catalog import case
from .target import REQUEST_TIMEOUT_S, ReceiverTarget, status_text, timed_out

BATCH = 40
SHOULD_S = REQUEST_TIMEOUT_S


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _kind(ex: Exchange) -> str:
    try:
        doc = json.loads(ex.request.body)
    except ValueError:
        return "(not JSON)"
    kind = doc.get("type") if isinstance(doc, dict) else None
    return kind if isinstance(kind, str) else "(no type)"


def _late(ex: Exchange) -> bool:
    return timed_out(ex) or (ex.response.status is not None and ex.response.elapsed_s > SHOULD_S)


@case("RCV-TIMEOUT-001")
def test_every_answer_within_5s(receiver: ReceiverTarget, whsim_case: Case) -> None:
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
    with ThreadPoolExecutor(BATCH) as pool:
        burst = list(
            pool.map(
                lambda b: receiver.send(whsim_case, b, bounded=False, note="burst delivery"),
                bodies,
            )
        )
    seen = [
        (cid, ex) for cid, ex in receiver.log if ex.response.status is not None or timed_out(ex)
    ]
    by_type: dict[str, list[float]] = defaultdict(list)
    for _, ex in seen:
        by_type[_kind(ex)].append(REQUEST_TIMEOUT_S if timed_out(ex) else ex.response.elapsed_s)
    table = {
        kind: {
            "answers": len(values),
            "p50_ms": round(statistics.median(values) * 1000, 1),
            "p95_ms": round(_quantile(values, 0.95) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1),
        }
        for kind, values in sorted(by_type.items())
    }
    slow = [(cid, ex) for cid, ex in seen if _late(ex)]
    burst_times = [REQUEST_TIMEOUT_S if timed_out(ex) else ex.response.elapsed_s for ex in burst]
    whsim_case.details.update(
        answers=len(seen),
        attempt_timeout_s=REQUEST_TIMEOUT_S,
        per_event_type=table,
        burst={
            "deliveries": BATCH,
            "p50_ms": round(statistics.median(burst_times) * 1000, 1),
            "p95_ms": round(_quantile(burst_times, 0.95) * 1000, 1),
            "max_ms": round(max(burst_times) * 1000, 1),
        },
        p95_ms=round(_quantile([t for v in by_type.values() for t in v], 0.95) * 1000, 1),
        over_5s=len(slow),
        slow_answers=[
            {
                "case": cid,
                "type": _kind(ex),
                "note": ex.note,
                "answer": status_text(ex),
                "elapsed_s": round(ex.response.elapsed_s, 3),
            }
            for cid, ex in slow[:50]
        ],
    )
    summary = (
        f"{len(seen)} answers over the run, {len(slow)} later than {SHOULD_S:g} s; "
        + "; ".join(
            f"{k}: p50 {v['p50_ms']} / p95 {v['p95_ms']} / max {v['max_ms']} ms"
            for k, v in table.items()
        )
    )
    own = {id(ex) for ex in whsim_case.exchanges}
    for _, ex in slow[:50]:
        if id(ex) not in own:
            whsim_case.record(ex)
    if slow:
        cid, worst = max(slow, key=lambda item: item[1].response.elapsed_s)
        kinds = sorted({_kind(ex) for _, ex in slow})
        whsim_case.non_strict(
            f"{len(slow)} of {len(seen)} answers took longer than {SHOULD_S:g} s or never came "
            f"({', '.join(kinds)}); the guide's sender times them out and retries; {summary}",
            expected=f"every answer within {SHOULD_S:g} s",
            actual=f"{worst.response.elapsed_s:.2f} s in {cid}: {status_text(worst)}",
            primary=worst,
        )
    whsim_case.passed(summary)
