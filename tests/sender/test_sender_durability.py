"""The real ``whsim sender`` process: kill -9 and restart lose nothing; expiry survives downtime."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sender_harness import SECRET, Received, Receiver, SenderProcess, echo_ok, sender_process


def kill_9(process: SenderProcess) -> None:
    process.proc.send_signal(signal.SIGKILL)
    process.proc.wait(10)


def register(client: httpx.Client, url: str) -> Any:
    response = client.post(
        "/api/webhooks", json={"url": url, "events": ["proposal.created"], "secret": SECRET}
    )
    assert response.status_code == 201 and response.json()["status"] == "active", response.text
    return response.json()


def wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.mark.slow
def test_kill_9_and_restart_lose_no_delivery(tmp_path: Path, receiver: Receiver) -> None:
    db = tmp_path / "sender.db"
    phase = {"broken": True}
    release = threading.Event()

    def flaky(req: Received) -> tuple[int, bytes]:
        if req.json["type"] == "webhook.verify":
            return echo_ok(req)
        return (500, b"down") if phase["broken"] else (200, b"ok")

    def hung(req: Received) -> tuple[int, bytes]:
        if req.json["type"] == "webhook.verify":
            return echo_ok(req)
        if phase["broken"]:
            release.wait(10)
        return 200, b"ok"

    lines: list[str] = []
    try:
        with sender_process(db, "--time-scale", "20") as first:
            client = httpx.Client(base_url=first.base, timeout=10)
            flaky_hook = register(client, receiver.url("/flaky", flaky))
            hung_hook = register(client, receiver.url("/hung", hung))
            events = [
                client.post("/api/proposals", json={"title": f"p{i}"}).json()["event_id"]
                for i in range(5)
            ]

            def attempts(path: str) -> Counter[str]:
                return Counter(r.json["id"] for r in receiver.requests(path))

            # Retries under way at /flaky, every first attempt in flight at /hung: then kill.
            wait(
                lambda: (
                    all(attempts("/flaky")[e] >= 2 for e in events)
                    and all(attempts("/hung")[e] >= 1 for e in events)
                ),
                10,
                "retries and hung attempts",
            )
            kill_9(first)
            lines += first.lines
        before_flaky, before_hung = attempts("/flaky"), attempts("/hung")
        phase["broken"] = False
        release.set()

        with sender_process(db, "--time-scale", "20", "--access-log") as second:
            client = httpx.Client(base_url=second.base, timeout=10)

            def log(hook: Any) -> list[Any]:
                got = client.get(f"/api/webhooks/{hook['id']}/deliveries", params={"limit": 100})
                return list(got.json()["deliveries"])

            wait(
                lambda: all(d["status"] == "delivered" for d in log(flaky_hook) + log(hung_hook)),
                10,
                "every delivery to end delivered",
            )
            for hook, path, before in (
                (flaky_hook, "/flaky", before_flaky),
                (hung_hook, "/hung", before_hung),
            ):
                deliveries = log(hook)
                assert sorted(d["event_id"] for d in deliveries) == sorted(events)
                for d in deliveries:
                    detail = client.get(f"/api/webhooks/{hook['id']}/deliveries/{d['id']}").json()
                    numbers = [a["number"] for a in detail["attempts"]]
                    assert numbers == list(range(1, len(numbers) + 1))
                    sent = attempts(path)[d["event_id"]]
                    # Logged attempts plus at most the one that was in flight at the kill.
                    assert len(numbers) <= sent <= len(numbers) + 1, (path, numbers, sent)
                    assert sent > before[d["event_id"]]  # it was really attempted again
            second.proc.send_signal(signal.SIGTERM)
            second.proc.wait(10)
            lines += second.lines
    finally:
        release.set()
    assert any("listening on" in line for line in lines)
    assert any("POST /api/webhooks" in line or "GET /api/webhooks" in line for line in lines)
    leaked = [line for line in lines if SECRET in line]
    assert not leaked, leaked


@pytest.mark.slow
def test_events_older_than_24_h_after_downtime_are_recorded_expired(
    tmp_path: Path, receiver: Receiver
) -> None:
    db = tmp_path / "sender.db"
    release = threading.Event()

    def hung(req: Received) -> tuple[int, bytes]:
        if req.json["type"] == "webhook.verify":
            return echo_ok(req)
        release.wait(10)
        return 200, b"ok"

    scale = "200000"  # a day of policy time in 0.43 s
    try:
        with sender_process(db, "--time-scale", scale) as first:
            client = httpx.Client(base_url=first.base, timeout=10)
            hook = register(client, receiver.url("/late", hung))
            event_id = client.post("/api/proposals", json={"title": "late"}).json()["event_id"]
            wait(lambda: len(receiver.requests("/late")) == 1, 5, "the first attempt")
            kill_9(first)
        release.set()
        time.sleep(0.6)  # down for more than a day of policy time
        with sender_process(db, "--time-scale", scale) as second:
            client = httpx.Client(base_url=second.base, timeout=10)

            def status() -> Any:
                got = client.get(f"/api/webhooks/{hook['id']}/deliveries").json()["deliveries"]
                return got[0]

            wait(lambda: status()["status"] != "pending", 5, "the delivery to end")
            done = status()
            meta = client.get("/api/meta").json()
    finally:
        release.set()
    assert done["event_id"] == event_id
    assert done["status"] == "expired" and done["attempt_count"] == 0
    assert "expiry" in done["reason"]
    assert len(receiver.requests("/late")) == 1
    assert meta["time_scale"] == float(scale)


def test_sigterm_finishes_attempts_in_flight_and_sends_nothing_twice(
    tmp_path: Path, receiver: Receiver
) -> None:
    """SIGTERM while 4 attempts are in flight and 8 more are queued behind them.

    Before the graceful stop the 4 in flight were cancelled (the receiver had them, the store
    still said pending), the exit status was -15, and the restart sent them a second time.
    Now they end and are recorded, the queued ones wait for the restart, and every event
    arrives exactly once.
    """
    db = tmp_path / "sender.db"

    def slow_ok(req: Received) -> tuple[int, bytes]:
        if req.json["type"] == "webhook.verify":
            return echo_ok(req)
        time.sleep(1.5)  # well inside the 5 s timeout
        return 200, b"ok"

    with sender_process(db, "--max-per-endpoint", "4") as first:
        client = httpx.Client(base_url=first.base, timeout=10)
        hook = register(client, receiver.url("/slow", slow_ok))
        for k in range(12):
            assert client.post("/api/proposals", json={"title": f"p{k}"}).status_code == 201
        wait(lambda: len(receiver.requests("/slow")) >= 4, 10, "4 attempts in flight")
        first.proc.send_signal(signal.SIGTERM)
        # Bounded by the 5 s timeout plus the grace second; 30 s guards only against a hang.
        assert first.proc.wait(30) == 0, "".join(first.lines)
        client.close()
    in_flight_at_stop = len(receiver.requests("/slow"))
    assert in_flight_at_stop < 12, "every attempt was made before the stop; nothing was tested"
    with sender_process(db, "--max-per-endpoint", "4") as second:
        client = httpx.Client(base_url=second.base, timeout=10)
        url = f"/api/webhooks/{hook['id']}/deliveries"

        def all_delivered() -> bool:
            got = client.get(url, params={"limit": 50}).json()["deliveries"]
            return len(got) == 12 and all(d["status"] == "delivered" for d in got)

        wait(all_delivered, 30, "every delivery delivered after the restart")
        attempts = [d["attempt_count"] for d in client.get(url).json()["deliveries"]]
        client.close()
    ids = Counter(r.json["id"] for r in receiver.requests("/slow"))
    assert len(ids) == 12
    duplicates = {i: n for i, n in ids.items() if n > 1}
    assert not duplicates, f"sent twice because of the shutdown: {duplicates}"
    assert attempts == [1] * 12
