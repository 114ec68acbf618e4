"""The sender API's connection deadlines and body limit, on a real socket (whsim.serve)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from whsim.sender import SenderConfig, create_app
from whsim.serve import Deadlines, ServerThread

FAST = Deadlines(idle_timeout_s=0.5, header_timeout_s=1.0, body_timeout_s=1.0)
LIMIT = 2048


@pytest.fixture
def api(tmp_path: Path) -> Iterator[str]:
    config = SenderConfig(db_path=tmp_path / "s.db", max_body_bytes=LIMIT)
    with ServerThread(create_app(config), deadlines=FAST, lifespan="on") as url:
        yield url


def _seconds_until_closed(port: int, send: bytes, bound: float) -> float | None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        start = time.monotonic()
        sock.sendall(send)
        sock.settimeout(0.1)
        while time.monotonic() - start < bound:
            try:
                if not sock.recv(4096):
                    return time.monotonic() - start
            except TimeoutError:
                continue
            except ConnectionResetError:
                return time.monotonic() - start
    return None


@pytest.mark.parametrize(
    "send",
    [b"", b"POST /api/proposals HTTP/1.1\r\nHost: s\r\n", b"GET /api/meta HTTP/1.1\r\nHo"],
    ids=["idle", "partial-headers", "partial-line"],
)
def test_slow_or_idle_connections_are_closed(api: str, send: bytes) -> None:
    port = int(api.rsplit(":", 1)[1])
    assert _seconds_until_closed(port, send, FAST.header_timeout_s + 3) is not None


def test_a_partial_body_gets_408(api: str) -> None:
    port = int(api.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /api/proposals HTTP/1.1\r\nHost: s\r\nContent-Type: application/json\r\n"
            b'Content-Length: 50\r\n\r\n{"title": '
        )
        sock.settimeout(FAST.body_timeout_s + 3)
        answer = b""
        while chunk := sock.recv(4096):  # the server closes after its answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b'"body_timeout"' in answer


def test_every_api_route_answers_413_over_the_limit(api: str) -> None:
    with httpx.Client(base_url=api) as client:
        document = client.get("/openapi.json").json()
        routes = [
            (method.upper(), path.replace("{", "x").replace("}", ""))
            for path, item in document["paths"].items()
            for method in item
            if method in ("get", "post", "put", "delete")
        ]
        assert len(routes) >= 15
        for method, path in routes:
            response = client.request(
                method,
                path,
                content=b"{" + b" " * LIMIT + b"}",
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 413, (method, path, response.text)
            error = response.json()["error"]
            assert error["code"] == "body_too_large"
            assert error["details"] == {"limit": LIMIT}
        # A body within the limit still works on the same connection.
        assert client.post("/api/proposals", json={"title": "t"}).status_code == 201
