"""What the sender benchmarks (``bench_sender.py``, ``bench_isolation.py``,
``bench_isolation_loop.py``) share: a minimal keep-alive HTTP receiver protocol, starting and
stopping their processes, registering webhooks and pacing their events, percentiles.

The receiver is a bare ``asyncio.Protocol`` on purpose: the benchmarks measure the sender, so the
receiver must cost as little CPU per request as possible (no framework, no validation).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from datetime import datetime
from typing import Any


def event_ms(text: str) -> float:
    """An event's ``timestamp`` (ISO 8601, ``Z``) as epoch milliseconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile by rank (nan for no values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def start(cmd: list[str], marker: str) -> tuple[subprocess.Popen[str], str]:
    """Start ``cmd`` and wait (30 s at most) for a stdout line containing ``marker`` ("" for
    the first line); returns the process and that line. Killed if it never comes."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if marker in line or marker == "":
            return proc, line.strip()
    proc.kill()
    proc.wait(10)
    raise RuntimeError(f"{cmd[:4]} did not start")


async def register(client: Any, base: str, urls: list[str], secret: str) -> None:
    """Registers each URL for ``proposal.created`` on the sender at ``base`` (an
    ``httpx.AsyncClient``); fails loudly unless every webhook comes back active."""
    for url in urls:
        got = await client.post(
            base + "/api/webhooks",
            json={"url": url, "events": ["proposal.created"], "secret": secret},
        )
        assert got.json()["status"] == "active", got.text


async def post_proposals(client: Any, base: str, n: int, rate: float, begin: float) -> None:
    """Creates ``n`` proposals (one ``proposal.created`` event each) on the sender at ``base``,
    the k-th at ``begin + k / rate`` on the monotonic clock (late ones go at once, so a stall is
    not stretched); fails loudly on any answer but 201."""
    for k in range(n):
        delay = begin + k / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        got = await client.post(base + "/api/proposals", json={"title": f"p{k}"})
        assert got.status_code == 201, got.text


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


class Receiver(asyncio.Protocol):
    """Parses keep-alive HTTP/1.1 requests with a Content-Length and hands each to
    :meth:`answer`; :meth:`reply` writes a 200 with a JSON body. Setting ``hanging`` stops
    reading further requests on the connection (the request is never answered)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""
        self.hanging = False

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while not self.hanging:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self.answer(head[0].split(" ")[1], headers, body)

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> None:
        raise NotImplementedError

    def reply(self, out: bytes) -> None:
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(out)).encode()
            + b"\r\n\r\n"
            + out
        )
