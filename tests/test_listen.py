"""`whsim listen`: each delivery printed with attempt, gap, signature and schema verdicts, answer."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from whsim.core.behaviours import behaviour
from whsim.core.signing import SIGNATURE_HEADER, sign
from whsim.core.spec.events import make_event, verification_body
from whsim.listen import create_listen_app
from whsim.receiver import ReceiverStore, ServerThread, create_app

SECRET = "your_webhook_secret"  # the sender wants 8 to 256 characters


def _event(event_id: str = "evt_1") -> bytes:
    data = {"job_id": "job_1", "proposal_id": "p", "document_id": "d", "status": "completed"}
    return make_event("job.completed", data, id=event_id, timestamp_ms=1_705_314_000_000).body


def _post(url: str, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return httpx.post(url, content=body, headers=headers, timeout=10)


def test_lines_show_attempts_gaps_verdicts_and_the_behaviours_answers() -> None:
    lines: list[str] = []
    app = create_listen_app(SECRET, behaviour=behaviour("fail-twice"), say=lines.append)
    body = _event()
    with ServerThread(app) as base:
        url = f"{base}/webhook"
        challenge = _post(url, verification_body("abc"), sign(verification_body("abc"), SECRET))
        statuses = [_post(url, body, sign(body, SECRET)).status_code for _ in range(3)]
        forged = _post(url, body, sign(body, "other"))
        broken = json.dumps({"id": "e2", "type": "job.completed", "timestamp": "x", "data": {}})
        bad_schema = _post(url, broken.encode(), sign(broken.encode(), SECRET))
    assert challenge.json() == {"challenge": "abc"}
    assert statuses == [500, 500, 200]  # fail-twice, from whsim.core.behaviours
    assert forged.status_code == 401 and bad_schema.status_code == 400
    verify_line, first, second, third, forged_line, schema_line = lines
    assert "webhook.verify" in verify_line and "200 challenge echoed" in verify_line
    assert "job.completed evt_1 attempt 1 " in first and "-> 500 (behaviour fail-twice" in first
    assert re.search(r"attempt 2, \+\d+\.\d\d s after attempt 1", second)
    assert "attempt 3" in third and "-> 200" in third
    assert all("signature ok" in x and "schema ok" in x for x in (first, second, third))
    assert "signature BAD" in forged_line and "attempt 4" in forged_line
    assert "-> 401" in forged_line
    assert "schema FAIL" in schema_line and "timestamp" in schema_line


def test_forward_to_passes_the_exact_bytes_and_shows_the_answer_and_latency() -> None:
    lines: list[str] = []
    store = ReceiverStore()
    # Not the kit's own serialization: spacing and key order a re-serializer would change.
    body = b'{"type":"job.completed",  "id":"evt_9","timestamp":"2024-01-15T10:20:00.000Z",'
    body += b'"data":{"status":"completed","job_id":"j","proposal_id":"p","document_id":"d"}}'
    with ServerThread(create_app(SECRET, store=store)) as own:
        app = create_listen_app(SECRET, forward_to=f"{own}/webhook", say=lines.append)
        with ServerThread(app) as base:
            good = _post(f"{base}/webhook", body, sign(body, SECRET))
            forged = _post(f"{base}/webhook", body, "00" * 32)
        received = httpx.get(f"{own}/received").json()
    assert good.status_code == 200 and forged.status_code == 401  # the user's receiver decided
    rows = received if isinstance(received, list) else received.get("received", received)
    assert any(row.get("event_id") == "evt_9" for row in rows)
    assert re.search(rf"-> 200 from {re.escape(own)}/webhook in \d+\.\d ms", lines[0])
    assert "-> 401 from" in lines[1] and "signature BAD" in lines[1]
    rows = store.received()  # newest first; the receiver keeps no unauthenticated body
    assert len(rows) == 2 and rows[1]["body"].encode() == body  # byte for byte
    assert f"({len(body)} bytes" in rows[0]["outcome"]  # the forged one arrived whole as well


@pytest.mark.slow
def test_register_with_the_reference_sender_and_watch_a_job_arrive(tmp_path: Path) -> None:
    from test_conformance_kit import live_sender

    env = {k: v for k, v in os.environ.items() if not k.startswith("WHSIM_")}
    with live_sender(tmp_path, time_scale=10.0) as sender:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "whsim.cli",
                "listen",
                "--port",
                "0",
                "--secret",
                SECRET,
                "--register",
                sender,
                "--behaviour",
                "fail-twice",
                "--job",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        lines: list[str] = []
        done = threading.Event()

        def read() -> None:  # a thread, so a silent process cannot block the test
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                if "job.completed" in line and "-> 200" in line:
                    done.set()

        threading.Thread(target=read, daemon=True).start()
        try:
            done.wait(60)
        finally:
            proc.terminate()
            proc.wait(10)
    text = "".join(lines)
    assert "webhook.verify" in text and "registered wh_" in text and "(status active)" in text
    assert re.search(r"job\.created \S+ attempt 3, \+\d+\.\d\d s after attempt 2", text), text
    assert "signature ok | schema ok" in text and "signature BAD" not in text
