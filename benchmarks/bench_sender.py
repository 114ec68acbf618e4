"""Benchmark the reference sender against the ceiling of a plain httpx client; prints one JSON object.

Three processes on loopback: a fast receiver (raw asyncio, keep-alive), the real ``whsim sender``
(SQLite WAL store, durable), and this script as the driver.

- ceiling: plain ``httpx.AsyncClient`` s post pre-signed event bodies to the receiver as fast as
  they can: the better of one client and one client per webhook, with the sender's concurrency
  per client.
- throughput: ``--webhooks`` webhooks subscribe to proposal.created; the driver creates
  ``--proposals`` proposals through the API as fast as it can, so each one fans out to one
  delivery per webhook. Deliveries/s counts from the first API call to the last arrival.
- latency: enqueue (the event's timestamp, taken when it is stored) to the receiver's arrival of
  attempt 1: test events to one webhook paced at ``--single-rate`` per second; proposals
  fanned out to every webhook at ``--paced-rate`` per second; and under full load.

- durability: the cost of power-safe acknowledgements. Two more sender processes, one with
  ``--sqlite-synchronous FULL`` (the default: an acknowledged event is fsynced before the API
  answers) and one with ``NORMAL`` (survives kill -9, not a power cut), each take
  ``--durability-proposals`` proposals as fast as the driver can send them; the figures are the
  API's acknowledgement latency and the delivery rate, and their FULL/NORMAL ratios.

Usage: python benchmarks/bench_sender.py [--proposals 300] [--webhooks 16]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from harness import Receiver, event_ms, percentile, start

# --- the fast receiver (runs in its own process: --serve-receiver) ---------------------------

_STATS: dict[str, Any] = {"events": 0, "first": [], "last_arrival": 0.0}


class _Receiver(Receiver):
    def answer(self, path: str, headers: dict[str, str], body: bytes) -> None:
        now_ms = time.time() * 1000
        out = b'{"status":"ok"}'
        if path == "/__stats":
            out = json.dumps(_STATS).encode()
        elif path == "/__reset":
            _STATS.update(events=0, first=[], last_arrival=0.0)
        else:
            doc = json.loads(body)
            if doc.get("type") == "webhook.verify":
                out = json.dumps({"challenge": doc["challenge"]}).encode()
            else:
                _STATS["events"] += 1
                _STATS["last_arrival"] = now_ms
                if headers.get("x-webhook-attempt", "1") == "1":
                    _STATS["first"].append(now_ms - event_ms(doc["timestamp"]))
        self.reply(out)


async def _serve_receiver() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Receiver, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


# --- the driver ------------------------------------------------------------------------------


_CPU_MS: dict[int, float] = {}


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _ceiling(receiver: str, n: int, clients: int, per_client: int) -> float:
    """Deliveries/s of plain httpx clients posting pre-signed bodies, no store, no policy."""
    from whsim.core.signing import sign
    from whsim.core.spec.events import make_event

    now = int(time.time() * 1000)
    queue: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue()
    for i in range(n):
        body = make_event(
            "proposal.created",
            {"proposal_id": f"prop_{i}", "title": f"proposal {i}"},
            id=f"evt_{i:024d}",
            timestamp_ms=now,
        ).body
        queue.put_nowait((body, sign(body, "bench-secret-123")))
    limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
    pool = [httpx.AsyncClient(limits=limits, timeout=5) for _ in range(clients)]

    async def worker(k: int) -> None:
        client = pool[k % clients]
        while not queue.empty():
            body, signature = queue.get_nowait()
            headers = {
                "Content-Type": "application/json",
                "X-Webhook-Signature": signature,
                "X-Webhook-Attempt": "1",
            }
            response = await client.post(
                f"{receiver}/c{k % clients}", content=body, headers=headers
            )
            response.raise_for_status()

    try:
        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(k) for k in range(clients * per_client)))
        _CPU_MS[clients] = (time.process_time() - cpu) * 1000 / n
        return n / (time.perf_counter() - start)
    finally:
        await asyncio.gather(*(c.aclose() for c in pool))


# --- the aiohttp baselines: the best asyncio client stack, alone and with the sender's store ---


def _bench_events(n: int) -> list[bytes]:
    from whsim.core.spec.events import make_event

    now = int(time.time() * 1000)
    return [
        make_event(
            "proposal.created",
            {"proposal_id": f"prop_{i}", "title": f"proposal {i}"},
            id=f"evt_{i:024d}",
            timestamp_ms=now,
        ).body
        for i in range(n)
    ]


async def _aiohttp_plain(receiver: str, n: int, sessions: int, per_session: int) -> float:
    """Deliveries/s of plain aiohttp sessions posting pre-signed bodies: no store, no policy."""
    import aiohttp

    from whsim.core.signing import sign

    queue: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue()
    for body in _bench_events(n):
        queue.put_nowait((body, sign(body, "bench-secret-123")))
    pool = [
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=per_session))
        for _ in range(sessions)
    ]

    async def worker(k: int) -> None:
        session = pool[k % sessions]
        url = f"{receiver}/a{k % sessions}"
        while not queue.empty():
            body, signature = queue.get_nowait()
            headers = {
                "Content-Type": "application/json",
                "X-Webhook-Signature": signature,
                "X-Webhook-Attempt": "1",
            }
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                response.raise_for_status()

    try:
        start = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(sessions * per_session)))
        return n / (time.perf_counter() - start)
    finally:
        await asyncio.gather(*(s.close() for s in pool))


_CLAIM = """
SELECT e.body, w.url, w.secret, d.attempts FROM deliveries d
JOIN events e ON e.id = d.event_id JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = ?
"""
_RECORD_STATE = (
    "UPDATE deliveries SET status = ?, attempts = ?, next_attempt_ms = ?, first_attempt_ms = ?, "
    "last_sent_ms = ?, ended_ms = ?, reason = ?, ended_at = ? WHERE id = ?"
)
_RECORD_ATTEMPT = (
    "INSERT OR REPLACE INTO attempts (delivery_id, number, started_at, sent_ms, finished_ms, "
    "latency_ms, status_code, error, error_detail, response_excerpt, response_truncated) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)


class _Baseline:
    """aiohttp with SQLite WAL in the sender's transaction shape, without its API framework,
    policy or isolation.

    :meth:`ingest` stores an event and one delivery per webhook in one transaction, hands the
    deliveries to their webhook's queue and fsyncs the WAL (an acknowledged event, FULL);
    per webhook ``per_webhook`` workers, one aiohttp session per webhook, claim each attempt
    (read its row), sign and send it, and record it (state and attempt in one transaction,
    NORMAL) in the same database. Use inside ``async with``.
    """

    def __init__(self, receiver: str, webhooks: int, per_webhook: int) -> None:
        self.receiver, self.webhooks, self.per_webhook = receiver, webhooks, per_webhook
        self.delivered = 0
        self.wanted = 0
        self.done = asyncio.Event()
        self._seq = 0

    async def __aenter__(self) -> _Baseline:
        import sqlite3

        import aiohttp

        from whsim.sender.store import Store, WebhookRow

        self._tmp = tempfile.TemporaryDirectory()
        path = Path(self._tmp.name) / "baseline.db"
        store = Store(path)  # the sender's schema
        self.hooks = [f"wh_{i}" for i in range(self.webhooks)]
        stamp = "2026-01-01T00:00:00.000Z"
        for i, hook in enumerate(self.hooks):
            url = f"{self.receiver}/b{i}"
            events = ("proposal.created",)
            secret = "bench-secret-123"
            row = WebhookRow(hook, url, events, secret, "active", stamp, stamp, stamp, None)
            store.insert_webhook(row)
        store.close()
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.wal = os.open(f"{path}-wal", os.O_RDONLY)
        self.queues: dict[str, asyncio.Queue[str]] = {h: asyncio.Queue() for h in self.hooks}
        self.sessions = {
            h: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.per_webhook))
            for h in self.hooks
        }
        self.workers = [
            asyncio.create_task(self._worker(h))
            for h in self.hooks
            for _ in range(self.per_webhook)
        ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self.workers:
            task.cancel()
        await asyncio.gather(*self.workers, return_exceptions=True)
        await asyncio.gather(*(s.close() for s in self.sessions.values()))
        os.close(self.wal)
        self.db.close()
        self._tmp.cleanup()

    async def ingest(self, title: str) -> str:
        """Store one proposal.created event fanned out to every webhook; its id once durable."""
        self._seq += 1
        event_id = f"evt_{self._seq:024d}"
        now = int(time.time() * 1000)
        stamp = datetime.fromtimestamp(now / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        envelope = {
            "id": event_id,
            "type": "proposal.created",
            "timestamp": stamp + "Z",
            "data": {"proposal_id": f"prop_{self._seq}", "title": title},
        }
        body = json.dumps(envelope, separators=(",", ":")).encode()
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO events (id, type, timestamp, body, created_ms) VALUES (?, ?, ?, ?, ?)",
            (event_id, "proposal.created", stamp, body, now),
        )
        ids = []
        for hook in self.hooks:
            delivery = f"dlv_{self._seq}_{hook}"
            db.execute(
                "INSERT INTO deliveries (id, webhook_id, event_id, status, event_ms, "
                "next_attempt_ms, created_at) VALUES (?, ?, ?, 'pending', ?, ?, ?)",
                (delivery, hook, event_id, now, now, stamp),
            )
            ids.append((hook, delivery))
        db.execute("COMMIT")
        for hook, delivery in ids:
            self.queues[hook].put_nowait(delivery)
        await asyncio.to_thread(os.fsync, self.wal)
        return event_id

    async def _worker(self, hook: str) -> None:
        from whsim.core.signing import sign

        db, session, queue = self.db, self.sessions[hook], self.queues[hook]
        while True:
            delivery = await queue.get()
            body, url, secret, attempts = db.execute(_CLAIM, (delivery,)).fetchone()
            number = attempts + 1
            headers = {
                "Content-Type": "application/json",
                "X-Webhook-Id": delivery,
                "X-Webhook-Attempt": str(number),
                "X-Webhook-Signature": sign(body, secret),
            }
            sent = time.time() * 1000
            async with session.post(url, data=body, headers=headers) as response:
                excerpt = await response.content.read(64 * 1024)
                status = response.status
            finished = time.time() * 1000
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                _RECORD_STATE, ("succeeded", number, None, sent, sent, finished, "", "t", delivery)
            )
            db.execute(
                _RECORD_ATTEMPT,
                (
                    delivery,
                    number,
                    "t",
                    sent,
                    finished,
                    finished - sent,
                    status,
                    None,
                    None,
                    excerpt.decode("utf-8", "replace"),
                    0,
                ),
            )
            db.execute("COMMIT")
            self.delivered += 1
            if self.delivered >= self.wanted:
                self.done.set()


async def _aiohttp_sqlite(receiver: str, proposals: int, webhooks: int, per_webhook: int) -> float:
    """Deliveries/s of :class:`_Baseline` fed in process by eight producers (no HTTP ingest)."""
    async with _Baseline(receiver, webhooks, per_webhook) as baseline:
        baseline.wanted = proposals * webhooks
        left = iter(range(proposals))

        async def producer() -> None:
            for i in left:
                await baseline.ingest(f"proposal {i}")

        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(producer() for _ in range(8)))
        await baseline.done.wait()
        _CPU_MS.setdefault(-1, (time.process_time() - cpu) * 1000 / (proposals * webhooks))
        return proposals * webhooks / (time.perf_counter() - start)


async def _serve_baseline(receiver: str, webhooks: int, per_webhook: int) -> None:
    """:class:`_Baseline` behind an aiohttp server: ``POST /api/proposals`` as the sender's API
    takes it (JSON ``{"title": ...}``, 201 once the event is durable), so the driver feeds it
    exactly as it feeds the sender (same client, same concurrency, same process hop)."""
    from aiohttp import web

    async with _Baseline(receiver, webhooks, per_webhook) as baseline:

        async def create(request: web.Request) -> web.Response:
            doc = await request.json()
            title = doc.get("title") if isinstance(doc, dict) else None
            if not isinstance(title, str) or not title:
                return web.json_response({"error": "title"}, status=422)
            event_id = await baseline.ingest(title)
            return web.json_response({"event_id": event_id}, status=201)

        app = web.Application()
        app.router.add_post("/api/proposals", create)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        print(server.sockets[0].getsockname()[1], flush=True)  # type: ignore[union-attr]
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()


async def _post_proposals(
    base: str, count: int, rate: float | None, concurrency: int = 8, path: str = "/api/proposals"
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        if rate is None:
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(count):
                queue.put_nowait(i)

            async def worker() -> None:
                while not queue.empty():
                    i = queue.get_nowait()
                    r = await client.post("/api/proposals", json={"title": f"p{i}"})
                    r.raise_for_status()

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return
        start = time.perf_counter()
        for i in range(count):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            r = await client.post(path, json={"title": f"paced {i}"})
            r.raise_for_status()


def _sender(db: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "whsim.cli", "sender", "--port", "0", "--db", str(db)]
    proc, line = start([*cmd, "--log-level", "warning", *extra], "listening on")
    return proc, line.split("listening on ", 1)[1].split()[0]


def _register(base: str, receiver: str, count: int) -> list[str]:
    ids = []
    for i in range(count):
        r = httpx.post(
            f"{base}/api/webhooks",
            json={
                "url": f"{receiver}/h{i}",
                "events": ["proposal.created"],
                "secret": "b-secret-1",
            },
        )
        assert r.status_code == 201 and r.json()["status"] == "active", r.text
        ids.append(r.json()["id"])
    return ids


async def _acked(base: str, count: int, concurrency: int) -> list[float]:
    """POST ``count`` proposals as fast as possible; each one's acknowledgement latency (ms)."""
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                started = time.perf_counter()
                r = await client.post("/api/proposals", json={"title": f"d{i}"})
                latencies.append((time.perf_counter() - started) * 1000)
                r.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def _durability_run(
    receiver: str, synchronous: str, proposals: int, webhooks: int
) -> dict[str, Any]:
    httpx.post(f"{receiver}/__reset", content=b"")
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = _sender(Path(tmp) / "d.db", "--sqlite-synchronous", synchronous)
        try:
            _register(base, receiver, webhooks)
            start_ms = time.time() * 1000
            acks = asyncio.run(_acked(base, proposals, 8))
            got = _wait_events(receiver, proposals * webhooks, timeout=120)
        finally:
            proc.terminate()
            proc.wait(10)
    return {
        "ack_ms_p50": round(percentile(acks, 0.5), 2),
        "ack_ms_p99": round(percentile(acks, 0.99), 2),
        "deliveries_per_s": round(got["events"] / ((got["last_arrival"] - start_ms) / 1000), 1),
        "delivered": got["events"],
    }


def _wait_events(receiver: str, expected: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stats: dict[str, Any] = httpx.get(f"{receiver}/__stats").json()
        if stats["events"] >= expected or time.monotonic() > deadline:
            return stats
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=300)
    parser.add_argument("--webhooks", type=int, default=16)
    parser.add_argument("--paced-proposals", type=int, default=100)
    parser.add_argument("--paced-rate", type=float, default=10.0)
    parser.add_argument("--single-events", type=int, default=200)
    parser.add_argument("--single-rate", type=float, default=50.0)
    parser.add_argument("--max-in-flight", type=int, default=128)
    parser.add_argument("--max-per-endpoint", type=int, default=8)
    parser.add_argument("--durability-proposals", type=int, default=200)
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of (aiohttp+SQLite baseline, sender)"
    )
    parser.add_argument("--no-durability", action="store_true", help="skip the FULL/NORMAL runs")
    parser.add_argument(
        "--profile", metavar="PATH", help="run the measured sender under cProfile, stats to PATH"
    )
    parser.add_argument("--serve-receiver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-baseline", metavar="RECEIVER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_receiver:
        asyncio.run(_serve_receiver())
        return 0
    if args.serve_baseline:
        asyncio.run(_serve_baseline(args.serve_baseline, args.webhooks, args.max_per_endpoint))
        return 0

    concurrency = min(args.max_in_flight, args.webhooks * args.max_per_endpoint)
    total = args.proposals * args.webhooks
    receiver_proc, port = start([sys.executable, __file__, "--serve-receiver"], "")
    receiver = f"http://127.0.0.1:{port}"
    sender_proc = baseline_proc = None
    try:
        # "As fast as it can": the better of one pool and the sender's layout (a pool per
        # webhook), both with the sender's concurrency per pool.
        ceilings = {
            "one_client": asyncio.run(_ceiling(receiver, total, 1, args.max_per_endpoint)),
            "client_per_webhook": asyncio.run(
                _ceiling(receiver, total, args.webhooks, args.max_per_endpoint)
            ),
        }
        ceiling = max(ceilings.values())
        aiohttp_plain = {
            "one_session": asyncio.run(_aiohttp_plain(receiver, total, 1, args.max_per_endpoint)),
            "session_per_webhook": asyncio.run(
                _aiohttp_plain(receiver, total, args.webhooks, args.max_per_endpoint)
            ),
        }
        baselines: list[float] = []
        in_process: list[float] = []
        baseline_proc, port = start(
            [
                sys.executable,
                __file__,
                "--serve-baseline",
                receiver,
                "--webhooks",
                str(args.webhooks),
                "--max-per-endpoint",
                str(args.max_per_endpoint),
            ],
            "",
        )
        baseline_base = f"http://127.0.0.1:{port}"
        sender_rates: list[float] = []
        httpx.post(f"{receiver}/__reset", content=b"")
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.db"
            profile = ["-m", "cProfile", "-o", args.profile] if args.profile else []
            sender_proc, line = start(
                [
                    sys.executable,
                    *profile,
                    "-m",
                    "whsim.cli",
                    "sender",
                    "--port",
                    "0",
                    "--db",
                    str(db),
                    "--log-level",
                    "warning",
                    "--max-in-flight",
                    str(args.max_in_flight),
                    "--max-per-endpoint",
                    str(args.max_per_endpoint),
                ],
                "listening on",
            )
            base = line.split("listening on ", 1)[1].split()[0]
            hook_ids = []
            for i in range(args.webhooks):
                r = httpx.post(
                    f"{base}/api/webhooks",
                    json={
                        "url": f"{receiver}/h{i}",
                        "events": ["proposal.created"],
                        "secret": "bench-secret-123",
                    },
                )
                assert r.status_code == 201 and r.json()["status"] == "active", r.text
                hook_ids.append(r.json()["id"])

            def served_round(proposals: int) -> tuple[float, float]:
                """The served baseline fed by the driver: (deliveries/s, its CPU ms/delivery)."""
                httpx.post(f"{receiver}/__reset", content=b"")
                assert baseline_proc is not None
                start_ms, cpu = time.time() * 1000, _cpu_s(baseline_proc.pid)
                asyncio.run(_post_proposals(baseline_base, proposals, None))
                got = _wait_events(receiver, proposals * args.webhooks, timeout=120)
                spent = (_cpu_s(baseline_proc.pid) - cpu) * 1000 / (proposals * args.webhooks)
                return got["events"] / ((got["last_arrival"] - start_ms) / 1000), spent

            def sender_round(proposals: int) -> tuple[float, float, float, dict[str, Any]]:
                """The sender fed by the driver: (deliveries/s, CPU ms/delivery, API s, stats)."""
                httpx.post(f"{receiver}/__reset", content=b"")
                assert sender_proc is not None
                start_ms, cpu = time.time() * 1000, _cpu_s(sender_proc.pid)
                asyncio.run(_post_proposals(base, proposals, None))
                api_s = time.time() - start_ms / 1000
                got = _wait_events(receiver, proposals * args.webhooks, timeout=120)
                spent = (_cpu_s(sender_proc.pid) - cpu) * 1000 / (proposals * args.webhooks)
                rate = got["events"] / ((got["last_arrival"] - start_ms) / 1000)
                return rate, spent, api_s, got

            # The machine's load changes from one second to the next (other work shares it), so
            # each sender round is bracketed by a baseline round just before and one just after
            # it, and its ratio is to their mean: a load that rises or falls linearly over the
            # three runs cancels. The rounds share the bracketing baselines: b0 i0 s0 b1 i1 s1 b2
            # ... (b: served baseline, i: in-process baseline, s: sender; each ratio is to the b
            # or the i on either side of its s).
            # A short warm-up of both first (connections, caches, the first transactions) is
            # not counted: first rounds were the outliers.
            warm = max(1, args.proposals // 6)
            served_round(warm)
            sender_round(warm)
            load_start = os.getloadavg()
            cpu_ms: list[float] = []
            baseline_cpu_ms: list[float] = []
            ingest_s: list[float] = []
            rate, spent = served_round(args.proposals)
            baselines.append(rate)
            baseline_cpu_ms.append(spent)
            for k in range(args.repeat + 1):
                in_process.append(
                    asyncio.run(
                        _aiohttp_sqlite(
                            receiver, args.proposals, args.webhooks, args.max_per_endpoint
                        )
                    )
                )
                if k == args.repeat:
                    break  # the last in-process run closes the last bracket
                rate, spent, api_s, loaded = sender_round(args.proposals)
                sender_rates.append(rate)
                cpu_ms.append(spent)
                ingest_s.append(api_s)
                rate, spent = served_round(args.proposals)
                baselines.append(rate)
                baseline_cpu_ms.append(spent)
            load_end = os.getloadavg()
            sender_cpu_ms = statistics.median(cpu_ms)
            sender_rate = statistics.median(sender_rates)
            bracket = [(a + b) / 2 for a, b in itertools.pairwise(baselines)]
            ratios = [s / b for s, b in zip(sender_rates, bracket, strict=True)]
            cpu_bracket = [(a + b) / 2 for a, b in itertools.pairwise(baseline_cpu_ms)]
            cpu_ratios = [b / s for s, b in zip(cpu_ms, cpu_bracket, strict=True)]
            httpx.post(f"{receiver}/__reset", content=b"")
            asyncio.run(_post_proposals(base, args.paced_proposals, args.paced_rate))
            paced = _wait_events(receiver, args.paced_proposals * args.webhooks, timeout=60)
            # One delivery per event: test events to one webhook, paced.
            httpx.post(f"{receiver}/__reset", content=b"")
            test_path = f"/api/webhooks/{hook_ids[0]}/test"
            asyncio.run(_post_proposals(base, args.single_events, args.single_rate, path=test_path))
            single = _wait_events(receiver, args.single_events, timeout=60)
        sender_proc.terminate()
        sender_proc.wait(10)
        sender_proc = None
        durability: dict[str, Any] = {}
        if not args.no_durability:
            durability = {
                level: _durability_run(receiver, level, args.durability_proposals, args.webhooks)
                for level in ("NORMAL", "FULL")
            }
    finally:
        for proc in (sender_proc, baseline_proc, receiver_proc):
            if proc is not None:
                proc.terminate()
                proc.wait(10)
    result = {
        "sender_deliveries_per_s": round(sender_rate, 1),
        "ceiling_deliveries_per_s": round(ceiling, 1),
        "ceilings": {k: round(v, 1) for k, v in ceilings.items()},
        "ratio": round(sender_rate / ceiling, 3),
        "aiohttp_sqlite_deliveries_per_s": round(statistics.median(baselines), 1),
        "aiohttp_sqlite_in_process_deliveries_per_s": round(statistics.median(in_process), 1),
        "ratio_to_aiohttp_sqlite_in_process": round(
            statistics.median(
                s / ((a + b) / 2)
                for s, (a, b) in zip(sender_rates, itertools.pairwise(in_process), strict=True)
            ),
            3,
        ),
        "ratio_to_aiohttp_sqlite": round(statistics.median(ratios), 3),
        "ratio_to_aiohttp_sqlite_cpu": round(statistics.median(cpu_ratios), 3),
        "rounds": {
            "sender_deliveries_per_s": [round(v, 1) for v in sender_rates],
            "aiohttp_sqlite_deliveries_per_s": [round(v, 1) for v in baselines],
            "aiohttp_sqlite_in_process_deliveries_per_s": [round(v, 1) for v in in_process],
            "ratio_to_aiohttp_sqlite": [round(v, 3) for v in ratios],
            "ratio_to_aiohttp_sqlite_cpu": [round(v, 3) for v in cpu_ratios],
            "sender_cpu_ms_per_delivery": [round(v, 3) for v in cpu_ms],
            "aiohttp_sqlite_cpu_ms_per_delivery": [round(v, 3) for v in baseline_cpu_ms],
            "sender_api_s": [round(v, 3) for v in ingest_s],
        },
        "load_average_1m": {"start": round(load_start[0], 2), "end": round(load_end[0], 2)},
        "aiohttp_plain_deliveries_per_s": {k: round(v, 1) for k, v in aiohttp_plain.items()},
        "enqueue_to_first_attempt_ms": {
            "p50": round(percentile(single["first"], 0.50), 2),
            "p99": round(percentile(single["first"], 0.99), 2),
            "at_deliveries_per_s": args.single_rate,
            "fan_out": 1,
        },
        "enqueue_to_first_attempt_fan_out_ms": {
            "p50": round(percentile(paced["first"], 0.50), 2),
            "p99": round(percentile(paced["first"], 0.99), 2),
            "at_deliveries_per_s": args.paced_rate * args.webhooks,
            "fan_out": args.webhooks,
        },
        "enqueue_to_first_attempt_under_full_load_ms": {
            "p50": round(percentile(loaded["first"], 0.50), 2),
            "p99": round(percentile(loaded["first"], 0.99), 2),
        },
        "cpu_ms_per_delivery": {
            "sender": round(sender_cpu_ms, 3),
            "ceiling_one_client": round(_CPU_MS.get(1, float("nan")), 3),
            "ceiling_client_per_webhook": round(_CPU_MS.get(args.webhooks, float("nan")), 3),
            "aiohttp_sqlite": round(statistics.median(baseline_cpu_ms), 3),
            "aiohttp_sqlite_in_process": round(_CPU_MS.get(-1, float("nan")), 3),
        },
        "deliveries": total,
        "delivered": loaded["events"],
        "webhooks": args.webhooks,
        "concurrency": concurrency,
        "store": "sqlite WAL; acknowledged writes at synchronous=FULL (survive a power cut), "
        "attempt records at NORMAL (survive kill -9)",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    if durability:
        result["durability"] = {
            **durability,
            "full_over_normal": {
                key: round(durability["FULL"][key] / durability["NORMAL"][key], 2)
                for key in ("ack_ms_p50", "ack_ms_p99", "deliveries_per_s")
            },
        }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
