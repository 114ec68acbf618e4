"""Benchmark: milliseconds per keep-alive request to a whsim server, with and without TCP_NODELAY.

Both servers run in this process on loopback, one after the other, with the same app (the
reference receiver's ``GET /received`` and a signed ``POST``): ``whsim.serve`` (TCP_NODELAY on
every accepted connection) and, as the baseline, the same uvicorn server on a listening socket
made the way whsim made it before (plain ``socket.socket()``, so asyncio does not set
TCP_NODELAY). Prints one JSON object. Run: ``python benchmarks/keepalive.py``.
"""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time

import httpx
import uvicorn

from whsim.core.signing import sign
from whsim.core.spec.events import make_event
from whsim.receiver import ReceiverStore, ServerThread, create_app

REQUESTS = 200


def _exchange_ms(base: str) -> float:
    body = make_event(
        "job.completed",
        {"job_id": "j", "proposal_id": "p", "document_id": "d", "status": "completed"},
        id="e",
        timestamp_ms=0,
    ).body
    headers = {"X-Webhook-Signature": sign(body, "bench"), "Content-Type": "application/json"}
    with httpx.Client() as client:
        client.post(base + "/webhook", content=body, headers=headers)
        times = []
        for _ in range(REQUESTS):
            start = time.perf_counter()
            client.post(base + "/webhook", content=body, headers=headers)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _without_nodelay() -> float:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # proto 0: asyncio skips NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        create_app("bench", store=ReceiverStore()), log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        return _exchange_ms(f"http://127.0.0.1:{sock.getsockname()[1]}")
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def main() -> None:
    baseline = _without_nodelay()
    with ServerThread(create_app("bench", store=ReceiverStore())) as base:
        ours = _exchange_ms(base)
    print(
        json.dumps(
            {
                "benchmark": "keepalive",
                "requests": REQUESTS,
                "median_ms_whsim_serve": round(ours, 3),
                "median_ms_baseline_no_nodelay": round(baseline, 3),
                "ratio_to_baseline": round(ours / baseline, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
