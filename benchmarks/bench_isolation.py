"""Benchmark head-of-line isolation in the reference sender; prints one JSON object.

Healthy webhooks' delivery latency (event timestamp to the receiver's arrival of attempt 1) is
measured with and without hanging webhooks in the same run, each configuration against a fresh
``whsim sender`` process (time scale 1, its default limits) and a fresh SQLite file:

- baseline: ``--healthy`` webhooks only;
- with hanging: the same healthy webhooks plus ``--hanging`` webhooks that answer the
  verification challenge and then never answer an event (each attempt waits out the guide's
  5 s timeout, and is retried on the guide's schedule).

The healthy webhooks and the hanging ones are served by two receiver processes (both started
in both configurations), as they would be different hosts: the healthy receiver, which stamps
the arrivals, does the same work in both, and the hanging endpoints' connections never queue
in its event loop beside the healthy requests it times.

Every webhook subscribes to proposal.created; the driver creates ``--rate`` proposals per second
for ``--warmup`` plus ``--duration`` seconds. Events of the first ``--warmup`` seconds are not
counted in the steady-state figures (first connection to every endpoint, first request of the
HTTP stack); ``cold_p99_s`` counts them. One event reaches every healthy webhook at once, so a
stall delays ``--healthy`` samples together: the default rate (10/s for 30 s: 300 events) keeps
p99 from being the single worst event.

Beside the latencies, each run reports the CPU seconds the sender and the healthy receiver
used while the events were sent and delivered (``/proc``; Linux), a figure that machine load
does not move much: ``ratio_sender_cpu`` says how much more work the sender did per event
beside the hanging endpoints.

``--runs`` rounds (default 3) each run the baseline and then the configuration with hanging
webhooks, so drifting machine load hits both alike; the figures are the median over the rounds,
and the ratios are ratios of those medians. The figure of merit is ``ratio_p99`` (target: within
1.5). ``--large`` adds the same rounds with 450 healthy webhooks, alone and beside the hanging
ones, at ``--large-rate`` (default 1 event/s: 450 deliveries/s).

All traffic is on loopback; every process is stopped before the script exits.

Usage: python benchmarks/bench_isolation.py [--healthy 10] [--hanging 50] [--rate 10]
       [--duration 30] [--warmup 3] [--runs 3] [--large]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from harness import Receiver, event_ms, percentile, post_proposals, register, start, stop

# --- the receiver (its own process: --serve-receiver) -----------------------------------------

_STATS: dict[str, Any] = {"healthy": [], "hanging_arrivals": 0, "open_hanging": 0}


class _Receiver(Receiver):
    """Answers ``/h/*`` at once, verifies ``/d/*`` and then never answers its events."""

    def connection_lost(self, exc: Exception | None) -> None:
        if self.hanging:
            _STATS["open_hanging"] -= 1

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> None:
        now_ms = time.time() * 1000
        out = b'{"status":"ok"}'
        if path == "/__stats":
            out = json.dumps(_STATS).encode()
        else:
            doc = json.loads(body)
            if doc.get("type") == "webhook.verify":
                out = json.dumps({"challenge": doc["challenge"]}).encode()
            elif path.startswith("/d/"):
                _STATS["hanging_arrivals"] += 1
                _STATS["open_hanging"] += 1
                self.hanging = True
                return  # never answer
            elif headers.get("x-webhook-attempt", "1") == "1":
                sent_ms = event_ms(doc["timestamp"])
                _STATS["healthy"].append((sent_ms, now_ms - sent_ms))
        self.reply(out)


async def _serve_receiver() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Receiver, "127.0.0.1", 0, backlog=2048)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


# --- the driver -------------------------------------------------------------------------------


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (None where /proc is missing)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _used(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else round(after - before, 2)


async def _run(
    healthy: int, hanging: int, rate: float, duration: float, warmup: float
) -> dict[str, Any]:
    """One sender, two receivers: healthy latencies (s) with ``hanging`` dead webhooks beside."""
    receiver, port_line = start([sys.executable, __file__, "--serve-receiver"], "")
    rbase = f"http://127.0.0.1:{port_line}"
    dead, dead_port = start([sys.executable, __file__, "--serve-receiver"], "")
    dbase = f"http://127.0.0.1:{dead_port}"
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "whsim", "sender", "--port", "0", "--log-level", "error"]
        sender, line = start([*cmd, "--db", str(Path(tmp) / "sender.db")], "listening on")
        base = line.split("listening on ", 1)[1].split()[0]
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                urls = [f"{rbase}/h/{i}" for i in range(healthy)]
                urls += [f"{dbase}/d/{i}" for i in range(hanging)]
                await register(client, base, urls, "bench-secret-123")
                cpu_before = (_cpu_s(sender.pid), _cpu_s(receiver.pid))
                started = time.monotonic()
                counted_from_ms = (time.time() + warmup) * 1000
                n = max(1, int((warmup + duration) * rate))
                await post_proposals(client, base, n, rate, started)
                want = n * healthy
                deadline = time.monotonic() + 60
                stats: dict[str, Any] = {}
                dead_stats: dict[str, Any] = {}
                while time.monotonic() < deadline:
                    stats = (await client.post(rbase + "/__stats", content=b"{}")).json()
                    if len(stats["healthy"]) >= want:
                        break
                    await asyncio.sleep(0.5)
                cpu_after = (_cpu_s(sender.pid), _cpu_s(receiver.pid))
                dead_stats = (await client.post(dbase + "/__stats", content=b"{}")).json()
        finally:
            stop(sender)
            stop(receiver)
            stop(dead)
    samples = stats.get("healthy", [])
    every = [ms / 1000 for _, ms in samples]
    steady = [ms / 1000 for event_ms, ms in samples if event_ms >= counted_from_ms]
    return {
        "events": n,
        "healthy_deliveries": len(every),
        "healthy_expected": want,
        "counted": len(steady),
        "hanging_attempts_seen": dead_stats.get("hanging_arrivals", 0),
        "p50_s": round(percentile(steady, 0.5), 4),
        "p99_s": round(percentile(steady, 0.99), 4),
        "max_s": round(max(steady), 4) if steady else None,
        "cold_p99_s": round(percentile(every, 0.99), 4),
        "cold_max_s": round(max(every), 4) if every else None,
        "sender_cpu_s": _used(cpu_before[0], cpu_after[0]),
        "healthy_receiver_cpu_s": _used(cpu_before[1], cpu_after[1]),
    }


def _rounds(
    runs: int, healthy: int, hanging: int, rate: float, duration: float, warmup: float
) -> dict[str, Any]:
    """``runs`` rounds of (baseline, with hanging); medians per figure and ratios of medians."""
    rounds: dict[str, list[dict[str, Any]]] = {"baseline": [], "with_hanging": []}
    for _ in range(runs):
        rounds["baseline"].append(asyncio.run(_run(healthy, 0, rate, duration, warmup)))
        rounds["with_hanging"].append(asyncio.run(_run(healthy, hanging, rate, duration, warmup)))
    out: dict[str, Any] = {
        "healthy_webhooks": healthy,
        "hanging_webhooks": hanging,
        "events_per_second": rate,
        "counted_seconds": duration,
        "warmup_seconds": warmup,
    }
    for name, results in rounds.items():
        medians = {
            key: round(statistics.median(r[key] for r in results), 4)
            for key in ("p50_s", "p99_s", "max_s", "cold_p99_s")
        }
        for key in ("sender_cpu_s", "healthy_receiver_cpu_s"):
            used = [r[key] for r in results if r[key] is not None]
            if used:
                medians[key] = round(statistics.median(used), 2)
        out[name] = {"median": medians, "runs": results}
    base, loaded = out["baseline"]["median"], out["with_hanging"]["median"]
    out["ratio_p50"] = round(loaded["p50_s"] / base["p50_s"], 2)
    out["ratio_p99"] = round(loaded["p99_s"] / base["p99_s"], 2)
    out["ratio_p99_per_run"] = [
        round(h["p99_s"] / b["p99_s"], 2)
        for b, h in zip(rounds["baseline"], rounds["with_hanging"], strict=True)
    ]
    out["ratio_cold_p99"] = round(loaded["cold_p99_s"] / base["cold_p99_s"], 2)
    if base.get("sender_cpu_s") and loaded.get("sender_cpu_s"):
        out["ratio_sender_cpu"] = round(loaded["sender_cpu_s"] / base["sender_cpu_s"], 2)
    return out


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--serve-receiver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--healthy", type=int, default=10)
    parser.add_argument("--hanging", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0, help="events per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of counted events")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of uncounted events")
    parser.add_argument("--runs", type=int, default=3, help="rounds; figures are medians")
    parser.add_argument("--large", action="store_true", help="also run 450 healthy + hanging")
    parser.add_argument("--large-rate", type=float, default=1.0, help="events/s with --large")
    args = parser.parse_args()
    if args.serve_receiver:
        asyncio.run(_serve_receiver())
        return
    load_before = _load()
    small = _rounds(args.runs, args.healthy, args.hanging, args.rate, args.duration, args.warmup)
    result: dict[str, Any] = {
        "benchmark": "sender isolation: healthy delivery latency beside hanging endpoints",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "ratio_p99": small["ratio_p99"],
        "ratio_p50": small["ratio_p50"],
        "ratio_sender_cpu": small.get("ratio_sender_cpu"),
        "target_ratio_p99": 1.5,
        "small": small,
    }
    if args.large:
        large = _rounds(args.runs, 450, args.hanging, args.large_rate, args.duration, args.warmup)
        result["large_ratio_p99"] = large["ratio_p99"]
        result["large_ratio_p50"] = large["ratio_p50"]
        result["large"] = large
    result["load_average_after"] = _load()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
