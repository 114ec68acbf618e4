"""Where the sender's event loop spends CPU beside hanging endpoints; prints one JSON object.

``bench_isolation.py`` measures latency, which machine load moves as much as the sender does.
This measures work, in CPU time of the event loop's thread (``time.thread_time``), which load
moves little: the same traffic (``--healthy`` webhooks, plus ``--hanging`` ones that never
answer, ``--rate`` events/s for ``--duration`` s), against a sender whose every event-loop
callback is timed, in the baseline and with hanging endpoints, ``--runs`` rounds alternating.

Per run, over the time events are sent and delivered:

- ``loop_cpu_ms_per_event``: CPU of all callbacks, per event;
- ``stalls_over_2ms``: callbacks that took more than 2 ms of CPU over the median of callbacks
  of the same name (count, sum of their CPU): work that delays every delivery waiting behind
  it and that the usual step does not do (an inline SQLite checkpoint was one; a GC pass in a
  step is another);
- ``gc``: collections per generation (count, summed and worst ms);
- ``top``: the callbacks with the most CPU per event, named by the task and where it stopped
  (``task:Dispatcher._worker>DataQueue.read`` is a worker step that sent a request).

The instrumentation (a wrapper around ``asyncio.Handle._run``) costs the sender CPU of its own,
alike in both configurations. Linux; all traffic on loopback, every process stopped at the end (the
sender writes its timeline on SIGUSR1 and is then killed).

Usage: python benchmarks/bench_isolation_loop.py [--healthy 10] [--hanging 50] [--rate 10]
       [--duration 20] [--runs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from harness import post_proposals, register, start, stop

# --- the instrumented sender (its own process: --serve-sender OUT ARGS) ------------------------


def _serve_sender(out: str, argv: list[str]) -> int:
    import asyncio.events as events

    from whsim.cli import main as whsim_main

    timeline: list[tuple[float, float, str]] = []  # (wall start, CPU s, name)
    collections: dict[int, list[float]] = {0: [0, 0.0, 0.0], 1: [0, 0.0, 0.0], 2: [0, 0.0, 0.0]}
    run = events.Handle._run

    def name(handle: Any) -> str:
        callback = handle._callback
        task = getattr(callback, "__self__", None)
        if isinstance(task, asyncio.Task):
            coro: Any = task.get_coro()
            inner = coro
            while hasattr(getattr(inner, "cr_await", None), "cr_frame"):
                inner = inner.cr_await
            return f"task:{coro.__qualname__}>{getattr(inner, '__qualname__', '?')}"
        return getattr(callback, "__qualname__", None) or type(callback).__name__

    def timed(handle: Any) -> None:
        wall, cpu = time.time(), time.thread_time()
        run(handle)
        timeline.append((wall, time.thread_time() - cpu, name(handle)))

    started: dict[str, float] = {}

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started["cpu"] = time.thread_time()
            return
        took = time.thread_time() - started.get("cpu", time.thread_time())
        entry = collections[info["generation"]]
        entry[0] += 1
        entry[1] += took
        entry[2] = max(entry[2], took)

    def dump(signum: int, frame: object) -> None:
        # In the main thread between two bytecodes: the timeline is consistent. Written aside
        # and renamed, so the driver never reads half a file.
        doc = {
            "timeline": timeline,
            "gc": {str(k): [int(v[0]), v[1], v[2]] for k, v in collections.items()},
        }
        Path(out + ".part").write_text(json.dumps(doc))
        os.replace(out + ".part", out)

    events.Handle._run = timed  # type: ignore[method-assign, assignment]
    gc.callbacks.append(on_gc)
    signal.signal(signal.SIGUSR1, dump)
    return whsim_main(["sender", *argv])


# --- the driver -------------------------------------------------------------------------------


async def _run(healthy: int, hanging: int, rate: float, duration: float) -> dict[str, Any]:
    here = str(Path(__file__).with_name("bench_isolation.py"))
    receiver, port = start([sys.executable, here, "--serve-receiver"], "")
    dead, dead_port = start([sys.executable, here, "--serve-receiver"], "")
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "loop.json")
        cmd = [sys.executable, __file__, "--serve-sender", out, "--port", "0"]
        cmd += ["--log-level", "error", "--db", str(Path(tmp) / "sender.db")]
        sender, line = start(cmd, "listening on")
        base = line.split("listening on ", 1)[1].split()[0]
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                urls = [f"http://127.0.0.1:{port}/h/{i}" for i in range(healthy)]
                urls += [f"http://127.0.0.1:{dead_port}/d/{i}" for i in range(hanging)]
                await register(client, base, urls, "s" * 16)
                # The first event outside the window (first connections, first request).
                await client.post(base + "/api/proposals", json={"title": "warm-up"})
                await asyncio.sleep(1.0)
                window = [time.time(), 0.0]
                n = max(1, int(duration * rate))
                begin = time.monotonic()
                await post_proposals(client, base, n, rate, begin)
                want = (n + 1) * healthy
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    stats = await client.post(f"http://127.0.0.1:{port}/__stats", content=b"{}")
                    if len(stats.json()["healthy"]) >= want:
                        break
                    await asyncio.sleep(0.2)
                window[1] = time.time()
            sender.send_signal(signal.SIGUSR1)  # the timeline so far, then it is killed
            waited = time.monotonic() + 60
            while not Path(out).exists() and time.monotonic() < waited:
                await asyncio.sleep(0.1)
            doc = json.loads(Path(out).read_text())
        finally:
            stop(sender)
            stop(receiver)
            stop(dead)
    inside = [
        (cpu, label) for wall, cpu, label in doc["timeline"] if window[0] <= wall <= window[1]
    ]
    per_label: Counter[str] = Counter()
    for cpu, label in inside:
        per_label[label] += cpu
    usual: dict[str, list[float]] = {}
    for cpu, label in inside:
        usual.setdefault(label, []).append(cpu)
    typical = {label: statistics.median(cpus) for label, cpus in usual.items()}
    stalls = [cpu for cpu, label in inside if cpu > typical[label] + 0.002]
    return {
        "events": n,
        "loop_cpu_ms_per_event": round(sum(cpu for cpu, _ in inside) * 1000 / n, 3),
        "stalls_over_2ms": {"count": len(stalls), "sum_ms": round(sum(stalls) * 1000, 1)},
        "gc": {
            gen: {"count": c, "sum_ms": round(s * 1000, 1), "worst_ms": round(w * 1000, 1)}
            for gen, (c, s, w) in doc["gc"].items()
        },
        "top": {label: round(cpu * 1000 / n, 3) for label, cpu in per_label.most_common(8)},
    }


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--serve-sender":
        sys.exit(_serve_sender(sys.argv[2], sys.argv[3:]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--healthy", type=int, default=10)
    parser.add_argument("--hanging", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0, help="events per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of events")
    parser.add_argument("--runs", type=int, default=1, help="rounds of (baseline, hanging)")
    args = parser.parse_args()
    load_before = [round(x, 2) for x in os.getloadavg()]
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "with_hanging": []}
    for _ in range(args.runs):
        for name, hanging in (("baseline", 0), ("with_hanging", args.hanging)):
            figures = asyncio.run(_run(args.healthy, hanging, args.rate, args.duration))
            runs[name].append(figures)
    medians = {
        name: {
            "loop_cpu_ms_per_event": statistics.median(r["loop_cpu_ms_per_event"] for r in results),
            "stalls_over_2ms": statistics.median(r["stalls_over_2ms"]["count"] for r in results),
        }
        for name, results in runs.items()
    }
    base, loaded = medians["baseline"], medians["with_hanging"]
    print(
        json.dumps(
            {
                "benchmark": "sender event-loop CPU per event beside hanging endpoints",
                "cpus": os.cpu_count(),
                "load_average_before": load_before,
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
                "ratio_loop_cpu_per_event": round(
                    loaded["loop_cpu_ms_per_event"] / base["loop_cpu_ms_per_event"], 2
                ),
                "median": medians,
                "runs": runs,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
