"""Event-loop lag from a wave of hanging attempts, with the slow lane paced and unpaced; one JSON.

In one process: a loopback server that accepts and never answers; ``--attempts`` workers (64:
the default slow-lane cap) each make ``--waves`` attempts through :class:`whsim.sender.isolation.
Lanes` in the slow lane with the sender's own HTTP client (:func:`whsim.sender.dispatcher.post`,
``--timeout`` s each), so every wave times out together and restarts on new connections. A
monitor sleeping 2 ms records how late it wakes (lag). Unpaced (``slow_burst`` 10**9, the
baseline of the same run) against paced (``slow_burst`` 1, the sender's default), alternating,
``--runs`` times each; the figures are medians of the summed lag over 4 ms and of the worst lag.

Usage: python benchmarks/bench_slow_lane.py [--attempts 64] [--waves 3] [--timeout 1] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import time
from typing import Any

from whsim.core.registry import Mode
from whsim.sender.dispatcher import new_client, post
from whsim.sender.isolation import Lanes


async def _hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(BaseException):
        await asyncio.sleep(3600)


async def _wave(attempts: int, waves: int, timeout_s: float, burst: int) -> dict[str, float]:
    server = await asyncio.start_server(_hang, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    clients = [new_client(8) for _ in range(attempts)]
    lanes = Lanes(2 * attempts, attempts, burst)
    lags: list[float] = []

    async def monitor() -> None:
        while True:
            start = time.monotonic()
            await asyncio.sleep(0.002)
            lag = time.monotonic() - start - 0.002
            if lag > 0.004:
                lags.append(lag * 1000)

    async def worker(client: Any) -> None:
        for _ in range(waves):
            await lanes.acquire(True)
            try:
                await post(client, url, b"{}", {}, mode=Mode.DEVELOPMENT, timeout_s=timeout_s)
            finally:
                lanes.release(True)

    # First request of the HTTP stack outside the measurement (its imports and first connection).
    await post(clients[0], url, b"{}", {}, mode=Mode.DEVELOPMENT, timeout_s=0.1)
    watch = asyncio.create_task(monitor())
    await asyncio.sleep(0.05)
    await asyncio.gather(*(worker(c) for c in clients))
    watch.cancel()
    for client in clients:
        await client.close()
    server.close()
    return {
        "lag_over_4ms_total_ms": round(sum(lags), 1),
        "worst_lag_ms": round(max(lags, default=0), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--attempts", type=int, default=64)
    parser.add_argument("--waves", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"unpaced": [], "paced": []}
    for _ in range(args.runs):
        for name, burst in (("unpaced", 10**9), ("paced", 1)):
            runs[name].append(asyncio.run(_wave(args.attempts, args.waves, args.timeout, burst)))
    medians = {
        name: {key: statistics.median(r[key] for r in results) for key in results[0]}
        for name, results in runs.items()
    }
    print(
        json.dumps(
            {
                "benchmark": "event-loop lag from a wave of hanging attempts, slow lane paced or not",
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "median": medians,
                "runs": runs,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
