"""The large-trace paths of `whsim check`: the fast line reader, retired jobs, bounded state.

``benchmarks/bench_check.py`` measures the speed; these tests hold the shortcuts to the verdicts
of the full paths: the fast JSONL row equals :func:`attempt_row`, the cached wall-clock parse
equals the full parse, a job graded and forgotten mid-stream still fails a late job.progress,
and the grader's state stays bounded however long the trace.
"""

from __future__ import annotations

import gc
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from whsim.conformance.grader import Grader, check
from whsim.conformance.trace import Attempt, _fast_row, _wall_ms, attempt_row
from whsim.core.errors import TraceError
from whsim.core.readings import Readings
from whsim.core.spec.events import format_timestamp, make_event

T0 = 1_700_000_000_000  # ms


def _attempt(n: int, event: Any, start_ms: int, status: int = 200, url: str = "") -> Attempt:
    doc = json.loads(event.body)
    return Attempt(
        n,
        url or f"https://h.example/{n % 50}",
        "POST",
        (("Content-Type", "application/json"),),
        event.body,
        start_ms * 1_000_000,
        (start_ms + 20) * 1_000_000,
        status,
        None,
        event.id,
        start_ms,
        doc,
    )


def _line(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "url": "https://h.example/w",
        "headers": [["Content-Type", "application/json"], ["X-Webhook-Signature", "ab"]],
        "body": '{"id":"evt_1","type":"proposal.created"}',
        "start_ns": 10,
        "end_ns": 20,
        "status": 200,
        "started": "2026-01-01T00:00:00.250Z",
    }
    doc.update(over)
    return {k: v for k, v in doc.items() if v is not ...}


@pytest.mark.parametrize(
    "over",
    [
        {},
        {"method": "", "event_id": ""},
        {"event_id": "evt_x", "method": "PUT"},
        {"status": ..., "error": "timeout"},
        {"status": 503, "error": "anything"},
        {"headers": ...},
        {"body": "not json"},
        {"body": "[1, 2"},
        {"body": ' {"id": "evt_space"}'},
        {"started": ...},
        {"started": "2026-01-01T00:00:00Z"},
        {"started": "2026-01-01T00:00:00.250+02:00"},
    ],
)
def test_the_fast_row_is_attempt_row(over: dict[str, Any]) -> None:
    doc = _line(**over)
    fast = _fast_row(doc, 7)
    assert fast is not None
    full = attempt_row(doc, "line 7", 7)
    assert fast == full and fast.doc == full.doc


@pytest.mark.parametrize(
    "over",
    [
        {"status": True},
        {"status": 700},
        {"status": ..., "error": ["timeout"]},
        {"status": ..., "error": "other"},
        {"end_ns": 5},
        {"headers": {"A": "b"}},
        {"headers": [["A", 1]]},
        {"body": "\ud800"},
        {"body": ..., "body_base64": "e30="},
        {"method": 3},
        {"started": "2026-13-01T00:00:00.250Z"},
        {"started": "2026-01-01T00:00:00.2²0Z"},
    ],
)
def test_what_the_fast_row_does_not_take_goes_the_full_way(over: dict[str, Any]) -> None:
    doc = _line(**over)
    try:
        expected: object = attempt_row(doc, "line 7", 7)
    except TraceError as exc:
        expected = str(exc)
    try:
        got: object = _fast_row(doc, 7)
        if got is None:
            got = attempt_row(doc, "line 7", 7)
    except TraceError as exc:
        got = str(exc)
    assert got == expected


def test_the_cached_wall_clock_parse_is_the_full_parse() -> None:
    rng = random.Random(3)
    for _ in range(2000):
        ms = rng.randrange(0, 4_000_000_000_000)
        text = format_timestamp(ms)
        if "." not in text:
            text = text[:-1] + ".000Z"
        assert _wall_ms(text, "x", "started") == ms
    with pytest.raises(TraceError, match=re.escape("2026-13-01T00:00:00.250Z")):
        _wall_ms("2026-13-01T00:00:00.250Z", "line 1", "started")


def _stream(tmp: Path, late_progress: bool) -> tuple[list[Attempt], Any]:
    job = {"job_id": "job_1", "proposal_id": "prop_1", "status": "pending"}
    atts = [
        _attempt(1, make_event("job.created", job, id="evt_jc", timestamp_ms=T0), T0, url="u"),
        _attempt(
            2,
            make_event(
                "job.completed",
                {
                    "job_id": "job_1",
                    "proposal_id": "prop_1",
                    "document_id": "doc_1",
                    "status": "completed",
                },
                id="evt_jd",
                timestamp_ms=T0 + 100,
            ),
            T0 + 100,
            url="u",
        ),
    ]
    # 25,000 one-attempt events over 2,500 s: two sweeps retire the job mid-stream
    for n in range(25_000):
        ms = T0 + 1_000 + n * 100
        ev = make_event(
            "proposal.created",
            {"proposal_id": f"prop_{n}", "title": "t"},
            id=f"evt_{n:024d}"[:28],
            timestamp_ms=ms,
        )
        atts.append(_attempt(n + 3, ev, ms))
    if late_progress:
        late = T0 + 2_600_000
        progress = {"job_id": "job_1", "progress": {"completed": 1, "total": 2, "percentage": 50}}
        ev = make_event("job.progress", progress, id="evt_late", timestamp_ms=late)
        atts.append(_attempt(len(atts) + 1, ev, late, url="u"))
    return atts, None


@pytest.mark.parametrize("late", [False, True])
def test_a_retired_job_still_fails_a_late_progress(tmp_path: Path, late: bool) -> None:
    atts, _ = _stream(tmp_path, late)
    g = Grader(readings=Readings(), secrets=None)
    for a in atts[:-1] if late else atts:
        g.add(a)
    assert not g.jobs and len(g.done_jobs) == 1, "the finished job was not retired"
    assert len(g.open) < 25_000, "closed events were kept"
    if late:
        g.add(atts[-1])
    results = {r.spec.id: r for r in g.finish()}
    after = results["CHK-THROTTLE-002"]
    assert str(after.outcome) == ("non-strict" if late else "untestable"), after.message  # SHOULD
    order = results["CHK-ORDER-001"]  # an INFO case: its violations say what it saw
    assert order.details["violations"] == (1 if late else 0), order.message


def test_check_leaves_the_cycle_collector_as_it_found_it(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(_line()) + "\n")
    assert gc.isenabled()
    check(path)
    assert gc.isenabled()
    gc.disable()
    try:
        check(path)
        assert not gc.isenabled()
    finally:
        gc.enable()
