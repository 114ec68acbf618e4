"""The reference receiver under hostile input: body limit, nothing unauthenticated stored,
a sender that hangs up mid-request logged as one line (real server on loopback)."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import httpx
import pytest

from whsim.core.signing import sign
from whsim.core.spec.events import make_event
from whsim.receiver import ReceiverStore, ServerThread, create_app

SECRET = "limits-secret"


def _event(n: int = 1) -> bytes:
    data = {"job_id": f"job_{n}", "proposal_id": "p", "document_id": "d", "status": "completed"}
    return make_event("job.completed", data, id=f"evt_{n}", timestamp_ms=0).body


def test_unsigned_bodies_are_not_stored(tmp_path: Path) -> None:
    store = ReceiverStore(tmp_path / "r.db")
    big = b'{"type": "job.completed", "pad": "' + b"A" * 900_000 + b'"}'
    with ServerThread(create_app(SECRET, store=store)) as base, httpx.Client() as client:
        for signature in (None, "0" * 64, sign(big, "another-secret")):
            headers = {"X-Webhook-Signature": signature} if signature else {}
            assert client.post(base + "/webhook", content=big, headers=headers).status_code == 401
        good = _event()
        signed = {"X-Webhook-Signature": sign(good, SECRET)}
        assert client.post(base + "/webhook", content=good, headers=signed).status_code == 200
    rows = store.received()
    assert [r["status"] for r in rows] == [200, 401, 401, 401]
    assert rows[0]["body"] == good.decode()
    assert all(r["body"] == "" and "not stored" in r["outcome"] for r in rows[1:])
    store.close()
    assert (tmp_path / "r.db").stat().st_size < 200_000


def test_a_body_over_the_limit_is_413_and_not_read(tmp_path: Path) -> None:
    store = ReceiverStore()
    app = create_app(SECRET, store=store, max_body_bytes=10_000)
    body = b'{"pad": "' + b"x" * 20_000 + b'"}'
    with ServerThread(app) as base, httpx.Client() as client:
        answer = client.post(
            base + "/webhook", content=body, headers={"X-Webhook-Signature": sign(body, SECRET)}
        )
        assert answer.status_code == 413
        assert answer.json() == {
            "error": "the request body is larger than 10000 bytes, the limit of this route",
            "limit": 10000,
        }
        small = _event(2)
        headers = {"X-Webhook-Signature": sign(small, SECRET)}
        assert client.post(base + "/webhook", content=small, headers=headers).status_code == 200
    assert store.processed_count() == 1


def test_a_sender_that_hangs_up_mid_body_logs_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lines: list[str] = []
    uvicorn_error = logging.getLogger("uvicorn.error")
    uvicorn_error.addHandler(caplog.handler)
    try:
        with ServerThread(create_app(SECRET, store=ReceiverStore(), log=lines.append)) as base:
            port = int(base.rsplit(":", 1)[1])
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(
                    b'POST /webhook HTTP/1.1\r\nHost: r\r\nContent-Length: 5000\r\n\r\n{"partial'
                )
                time.sleep(0.2)
            deadline = time.monotonic() + 5
            while not lines and time.monotonic() < deadline:
                time.sleep(0.02)
    finally:
        uvicorn_error.removeHandler(caplog.handler)
    assert any("client disconnected" in line for line in lines), lines
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert "Traceback" not in caplog.text
