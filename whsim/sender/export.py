"""The delivery log as a trace: one JSONL line per attempt, the format ``whsim check`` grades.

``GET /api/webhooks/{id}/deliveries?format=jsonl`` and ``whsim export-trace`` both write this
(``docs/trace-format.md``): a header line with the sender's time scale, then every attempt of
the webhook's deliveries, oldest delivery first, each with the URL, the headers the sender set,
the exact bytes sent, start and end on ``time.monotonic_ns()``, the wall start, and the answer
or the error kind. What the wire carried is exported, not what a broken sender's core was told
(a ``retry-after-2xx`` sender's 200 is exported as 200).

Attempts recorded before the store kept requests (an older database, migrated) have no headers
and no monotonic times: they are exported without headers, their start taken from the wall
start (milliseconds) shifted onto the monotonic clock with today's offset, so a trace mixing
both stays on one clock within one boot. Across a reboot the monotonic clock restarts; gaps
that span one are not meaningful.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final

from whsim import __version__
from whsim.sender.store import AttemptRecord, DeliveryRow, Store

__all__ = ["MEDIA_TYPE", "trace_lines"]

MEDIA_TYPE: Final = "application/x-ndjson"
"""What the JSONL export is served as."""

TRACE_VERSION: Final = 1
"""The trace format version written (``whsim.conformance.trace`` reads it; the kit sits above
this shell, so the number is repeated here and a test keeps the two equal)."""

_PAGE: Final = 200


def _wall_ns(text: str) -> int | None:
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000) * 10**6
    except ValueError:
        return None


def attempt_line(row: DeliveryRow, a: AttemptRecord, offset_ns: int) -> dict[str, Any]:
    """One attempt as a trace object (``offset_ns``: wall minus monotonic, for older rows)."""
    body = a.body if a.body is not None else row.body
    headers = a.headers or ()
    event_id = next((v for k, v in headers if k.lower() == "x-webhook-id"), row.event_id)
    doc: dict[str, Any] = {
        "event_id": event_id,
        "url": a.url or row.url,
        "method": "POST",
    }
    if a.headers is not None:
        doc["headers"] = [list(h) for h in a.headers]
    try:
        doc["body"] = body.decode("utf-8")
    except UnicodeDecodeError:
        doc["body_base64"] = base64.b64encode(body).decode("ascii")
    if a.start_ns is not None and a.end_ns is not None:
        start, end = a.start_ns, a.end_ns
    else:
        wall = _wall_ns(a.started_at) or 0
        start = wall - offset_ns
        end = start + round(a.latency_ms * 1e6)
    doc["start_ns"] = start
    doc["end_ns"] = end
    if a.status_code is not None:
        doc["status"] = a.status_code
    else:
        doc["error"] = a.error or "reset"
    doc["started"] = a.started_at
    doc["delivery_id"] = row.id
    doc["attempt"] = a.number
    return doc


def trace_lines(
    store: Store,
    webhook_id: str,
    *,
    time_scale: float,
    live: bool,
    status: str | None = None,
    limit: int | None = None,
) -> Iterator[str]:
    """The webhook's log as JSONL lines (each ending in a newline), one page of rows at a time.

    ``live``: the sender is running, so the header's ``end_ns`` is now (a retry not due yet is
    "not judged"); an offline export ends the recording at its last attempt. ``limit`` caps
    the number of deliveries (oldest first), ``status`` filters them as the JSON list does.
    """
    offset = time.time_ns() - time.monotonic_ns()
    head: dict[str, Any] = {
        "whsim_trace": TRACE_VERSION,
        "source": f"whsim sender {__version__} delivery log, webhook {webhook_id}",
        "time_scale": time_scale,
    }
    if live:
        head["end_ns"] = time.monotonic_ns()
    yield json.dumps(head) + "\n"
    after, left = 0, limit
    while left is None or left > 0:
        page = store.attempt_log(
            webhook_id,
            after_seq=after,
            page=_PAGE if left is None else min(_PAGE, left),
            status=status,
        )
        if not page:
            return
        for seq, row, attempts in page:
            after = seq
            for a in attempts:
                yield json.dumps(attempt_line(row, a, offset), ensure_ascii=False) + "\n"
        if left is not None:
            left -= len(page)
