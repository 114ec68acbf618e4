"""The sender's delivery log exported as a trace (``?format=jsonl``, ``whsim export-trace``).

A live reference sender delivering to the reference receiver (which fails each event twice, so
every event is retried) exports a JSONL that ``whsim check`` passes; broken senders of the
test-only faults layer, exported the same way, are failed on the clause they break. Also: the
migration of a database made before the store kept requests, and bad input.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from sender_harness import SECRET, LiveSender, running_sender

from whsim.cli import main
from whsim.conformance import trace
from whsim.conformance.grader import check
from whsim.core.behaviours import behaviour
from whsim.receiver import ReceiverStore, create_app
from whsim.sender import export
from whsim.sender.store import Store
from whsim.serve import ServerThread

SCALE = 2.0  # backoff 1 s, 2 s of policy time: 0.5 s and 1 s of wall time


def _export(live: LiveSender, hook_id: str, path: Path) -> list[dict[str, Any]]:
    response = live.call("GET", f"/api/webhooks/{hook_id}/deliveries", params={"format": "jsonl"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(export.MEDIA_TYPE)
    path.write_bytes(response.content)
    return [json.loads(line) for line in response.text.splitlines()]


def _run(tmp: Path, receiver: str, faults: set[str], events: int = 3) -> tuple[Path, Any]:
    """Deliver ``events`` proposals through ``faults`` to a reference receiver; export the log."""
    app = create_app(SECRET, store=ReceiverStore(), behaviour=behaviour(receiver))
    with (
        ServerThread(app) as url,
        running_sender(tmp, time_scale=SCALE, faults=faults) as live,
    ):
        hook = live.register(url + "/webhook", ["proposal.created"])
        assert hook["status"] == "active"
        for n in range(events):
            live.proposal(f"proposal {n}")
        live.wait_delivery(
            hook["id"],
            lambda ds: len(ds) == events and all(d["status"] != "pending" for d in ds),
            timeout=30,
        )
        if "retry-after-2xx" in faults:
            time.sleep(0.2)  # its extra attempt is recorded before the delivery ends
        lines = _export(live, hook["id"], tmp / "trace.jsonl")
    return tmp / "trace.jsonl", (hook, lines)


def test_reference_sender_log_exports_a_trace_check_passes(tmp_path: Path) -> None:
    path, (_, lines) = _run(tmp_path, "fail-twice", set())
    head, attempts = lines[0], lines[1:]
    assert head["whsim_trace"] == export.TRACE_VERSION == trace.FORMAT_VERSION
    assert head["time_scale"] == SCALE and isinstance(head["end_ns"], int)
    assert len(attempts) == 9  # three events, each failed twice and then delivered
    assert [a["status"] for a in attempts] == [500, 500, 200] * 3
    for a in attempts:
        assert a["start_ns"] <= a["end_ns"] <= head["end_ns"]
        headers = dict(a["headers"])
        assert headers["X-Webhook-Id"] == a["event_id"] == json.loads(a["body"])["id"]
    result = check(path, secret=SECRET)
    got = result.outcomes
    assert result.exit_code == 0, (result.summary_line(), got)
    for case in ("CHK-SIG-001", "CHK-RETRY-001", "CHK-RETRY-003", "CHK-EVENT-001"):
        assert got[case] == "pass", (case, got)
    assert "backoff-only" in next(
        r.message for r in result.report.cases if r.spec.id == "CHK-RETRY-002"
    )
    # The CLI export of the same store, offline, has the same attempts.
    out = tmp_path / "offline.jsonl"
    code = main(["export-trace", "--db", str(tmp_path / "sender.db"), "-o", str(out)])
    assert code == 0
    offline = [json.loads(line) for line in out.read_text().splitlines()]
    assert "end_ns" not in offline[0] and offline[0]["time_scale"] == SCALE
    assert offline[1:] == attempts
    assert check(out, secret=SECRET).exit_code == 0


@pytest.mark.parametrize(
    ("fault", "receiver", "case"),
    [
        ("wrong-backoff", "fail-twice", "CHK-RETRY-001"),
        ("retry-after-2xx", "healthy", "CHK-RETRY-004"),
        ("wrong-secret", "healthy", "CHK-SIG-001"),
    ],
)
def test_broken_sender_log_is_failed_on_its_clause(
    tmp_path: Path, fault: str, receiver: str, case: str
) -> None:
    path, _ = _run(tmp_path, receiver, {fault}, events=2)
    result = check(path, secret=SECRET)
    assert result.exit_code == 1
    assert result.outcomes[case] == "fail", (fault, result.outcomes)


def test_the_export_carries_the_bytes_a_broken_sender_really_sent(tmp_path: Path) -> None:
    # new-id-per-retry sends bytes other than the stored event's: the export has what was sent.
    # The receiver fails each id twice, so every retry (a new id) fails: all six attempts go.
    path, (_, lines) = _run(tmp_path, "fail-twice", {"new-id-per-retry"}, events=1)
    ids = [json.loads(a["body"])["id"] for a in lines[1:]]
    assert len(ids) == 6 and len(set(ids)) == 6
    assert [a["event_id"] for a in lines[1:]] == ids
    got = check(path, secret=SECRET).outcomes
    assert got["CHK-SIG-001"] == "pass", got  # signed over the bytes it sent
    assert got["CHK-RETRY-003"] == "fail", got


def test_query_errors_and_unknown_webhook(tmp_path: Path) -> None:
    with running_sender(tmp_path) as live:
        missing = live.call("GET", "/api/webhooks/wh_nope/deliveries", params={"format": "jsonl"})
        assert missing.status_code == 404
        hook = live.register("http://127.0.0.1:9/none", ["proposal.created"])
        bad = live.call("GET", f"/api/webhooks/{hook['id']}/deliveries", params={"format": "xml"})
        assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "format"
        doc = live.call("GET", "/openapi.json").json()
        answer = doc["paths"]["/api/webhooks/{webhook_id}/deliveries"]["get"]["responses"]["200"]
        assert set(answer["content"]) == {"application/json", export.MEDIA_TYPE}


_OLD_ATTEMPTS = """
CREATE TABLE attempts (
    delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    sent_ms INTEGER NOT NULL,
    finished_ms INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    status_code INTEGER,
    error TEXT,
    error_detail TEXT,
    response_excerpt TEXT,
    response_truncated INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (delivery_id, number)
);
"""


def test_a_database_from_before_the_request_columns_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    raw = sqlite3.connect(db)
    raw.executescript(_OLD_ATTEMPTS)
    raw.commit()
    raw.close()
    store = Store(db, synchronous="NORMAL")
    try:
        columns = {r[1] for r in store._db.execute("PRAGMA table_info(attempts)")}
        assert {"sent_url", "sent_headers", "sent_body", "start_ns", "end_ns"} <= columns
        store._db.execute(
            "INSERT INTO webhooks (id, url, events, secret, status, created_at, updated_at) "
            "VALUES ('wh_1', 'http://x.example/h', '[]', 's', 'active', 't', 't')"
        )
        store._db.execute(
            "INSERT INTO events (id, type, timestamp, body, created_ms) "
            "VALUES ('evt_1', 'proposal.created', 't', X'7B7D', 0)"
        )
        store._db.execute(
            "INSERT INTO deliveries (id, webhook_id, event_id, status, event_ms, created_at) "
            "VALUES ('dlv_1', 'wh_1', 'evt_1', 'delivered', 0, 't')"
        )
        store._db.execute(
            "INSERT INTO attempts (delivery_id, number, started_at, sent_ms, finished_ms, "
            "latency_ms, status_code) VALUES ('dlv_1', 1, '2026-01-01T00:00:00.250Z', 0, 3, 3.0, 200)"
        )
        lines = [json.loads(x) for x in export.trace_lines(store, "wh_1", time_scale=1, live=False)]
    finally:
        store.close()
    (old,) = lines[1:]
    assert "headers" not in old and old["body"] == "{}" and old["status"] == 200
    assert old["end_ns"] - old["start_ns"] == 3_000_000
    assert old["started"] == "2026-01-01T00:00:00.250Z"


def test_export_trace_command_refuses_bad_input(tmp_path: Path, capsys: Any) -> None:
    assert main(["export-trace", "--db", str(tmp_path / "none.db")]) == 2
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    assert main(["export-trace", "--db", str(other)]) == 2
    text = tmp_path / "text.db"
    text.write_text("not a database at all, just text" * 10)
    assert main(["export-trace", "--db", str(text)]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and "not a whsim sender database" in err
    assert "not an SQLite database" in err and "Traceback" not in err
    assert {p.name for p in tmp_path.iterdir()} == {"other.db", "text.db"}
