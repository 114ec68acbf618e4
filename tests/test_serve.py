"""whsim.serve: TCP_NODELAY both ways, connection deadlines, per-route body limits (real sockets).

Every server test runs with both parsers whsim can serve with (httptools, the default when it is
installed, and h11): the limits live in whsim's protocol mixins, not in either parser.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import statistics
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from whsim.serve import MAX_HEADER_BYTES, BodyLimit, Deadlines, ServerThread, bind

FAST = Deadlines(idle_timeout_s=0.5, header_timeout_s=1.0, body_timeout_s=1.0)
SLACK_S = 2.5  # scheduling slack on a loaded machine; still far below "never closed"


def _app(limit: int = 1000) -> Starlette:
    seen: list[str] = []

    async def echo(request: Request) -> Response:
        body = await request.body()
        return JSONResponse({"length": len(body)})

    async def small(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def left(request: Request, exc: Exception) -> Response:
        seen.append("disconnect")
        return JSONResponse({"app": "answered after the refusal"}, status_code=499)

    app = Starlette(
        routes=[Route("/echo", echo, methods=["POST"]), Route("/small", small, methods=["POST"])],
        middleware=[Middleware(BodyLimit, limit=lambda m, p: 10 if p == "/small" else limit)],
        exception_handlers={ClientDisconnect: left},
    )
    app.state.seen = seen
    return app


@pytest.fixture(params=["httptools", "h11"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, ServerThread]]:
    thread = ServerThread(_app(), deadlines=FAST, http=request.param)
    with thread as url:
        yield url, thread


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _closed_after(sock: socket.socket, start: float, limit_s: float) -> float | None:
    """Seconds from ``start`` until the peer closed ``sock`` (reading what it sends), or None."""
    sock.setblocking(False)
    while time.monotonic() - start < limit_s:
        readable, _, _ = select.select([sock], [], [], 0.05)
        if readable:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                return time.monotonic() - start
            if not data:
                return time.monotonic() - start
    return None


# --- TCP_NODELAY -----------------------------------------------------------------------------


def test_every_accepted_connection_has_tcp_nodelay(served: tuple[str, ServerThread]) -> None:
    url, thread = served
    with socket.create_connection(("127.0.0.1", _port(url))) as client:
        client.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
        assert client.recv(4096).startswith(b"HTTP/1.1 200")
        assert thread.server is not None
        connections = list(thread.server.server_state.connections)
        assert connections
        for protocol in connections:
            sock = protocol.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_a_plain_listening_socket_would_not_get_nodelay_from_asyncio() -> None:
    # Why bind() passes IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets whose proto is TCP.
    sock = bind()
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
    plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        assert plain.proto == 0
    finally:
        plain.close()


def test_httpx_clients_set_tcp_nodelay(served: tuple[str, ServerThread]) -> None:
    url, _ = served
    with httpx.Client() as client:
        response = client.post(url + "/echo", content=b"x")
        sock = response.extensions["network_stream"].get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0

    async def async_option() -> int:
        async with httpx.AsyncClient() as client:
            response = await client.post(url + "/echo", content=b"x")
            sock = response.extensions["network_stream"].get_extra_info("socket")
            return int(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    assert asyncio.run(async_option()) != 0


def test_a_keep_alive_exchange_is_not_stalled_by_nagle(served: tuple[str, ServerThread]) -> None:
    # With Nagle and delayed ACKs each exchange of a request whose headers and body are separate
    # writes waits ~40 ms for an ACK; the median of many stays far below that with TCP_NODELAY.
    url, _ = served
    with httpx.Client() as client:
        client.post(url + "/echo", content=b"warm-up")
        times = []
        for _ in range(30):
            start = time.monotonic()
            response = client.post(url + "/echo", content=b"x" * 100)
            times.append(time.monotonic() - start)
            assert response.status_code == 200
    assert statistics.median(times) < 0.02, times


# --- deadlines -------------------------------------------------------------------------------


def test_a_connection_that_sends_nothing_is_closed_after_the_idle_timeout(
    served: tuple[str, ServerThread],
) -> None:
    url, _ = served
    with socket.create_connection(("127.0.0.1", _port(url))) as sock:
        after = _closed_after(sock, time.monotonic(), FAST.idle_timeout_s + SLACK_S)
    assert after is not None


def test_an_idle_keep_alive_connection_is_closed(served: tuple[str, ServerThread]) -> None:
    url, _ = served
    with socket.create_connection(("127.0.0.1", _port(url))) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        after = _closed_after(sock, time.monotonic(), FAST.idle_timeout_s + SLACK_S)
    assert after is not None


def test_partial_headers_are_closed_within_the_header_timeout(
    served: tuple[str, ServerThread],
) -> None:
    url, _ = served
    with socket.create_connection(("127.0.0.1", _port(url))) as sock:
        start = time.monotonic()
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\n")
        after = _closed_after(sock, start, FAST.header_timeout_s + SLACK_S)
    assert after is not None
    assert after >= FAST.idle_timeout_s  # bytes arrived, so the longer header deadline applied


def test_a_partial_body_is_answered_408_and_closed(served: tuple[str, ServerThread]) -> None:
    url, _ = served
    with socket.create_connection(("127.0.0.1", _port(url))) as sock:
        start = time.monotonic()
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-some")
        sock.settimeout(FAST.body_timeout_s + SLACK_S)
        answer = b""
        while chunk := sock.recv(4096):  # ends when the server closes the connection
            answer += chunk
        assert time.monotonic() - start < FAST.body_timeout_s + SLACK_S
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"did not arrive within" in answer


def test_200_slowloris_connections_are_all_closed(served: tuple[str, ServerThread]) -> None:
    # Each connection trickles one header byte every 0.2 s: the header deadline is a total, so
    # trickling cannot keep a connection open.
    url, _ = served
    port = _port(url)
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
    try:
        start = time.monotonic()
        for s in socks:
            s.sendall(b"GET / HTTP/1.1\r\n")
            s.setblocking(False)
        open_ = set(socks)
        bound = FAST.header_timeout_s + SLACK_S + 2
        next_trickle = start
        while open_ and time.monotonic() - start < bound:
            if time.monotonic() >= next_trickle:
                next_trickle += 0.2
                for s in list(open_):
                    try:
                        s.send(b"X")
                    except OSError:
                        open_.discard(s)
            readable, _, _ = select.select(list(open_), [], [], 0.05)
            for s in readable:
                try:
                    if not s.recv(4096):
                        open_.discard(s)
                except OSError:
                    open_.discard(s)
        assert not open_, f"{len(open_)} of 200 slowloris connections still open"
    finally:
        for s in socks:
            s.close()


# --- the parser and the header bound ----------------------------------------------------------


def test_auto_serves_with_httptools_and_h11_on_request() -> None:
    for http, parser in (("auto", "HttpTools"), ("httptools", "HttpTools"), ("h11", "H11")):
        thread = ServerThread(_app(), deadlines=FAST, http=http)  # type: ignore[arg-type]
        with thread as url, httpx.Client() as client:
            assert client.post(url + "/echo", content=b"abc").json() == {"length": 3}
            assert thread.server is not None
            names = {type(p).__name__ for p in thread.server.server_state.connections}
            assert names == {f"Deadline_Deadline{parser}"}, (http, names)


def _answer_and_close(sock: socket.socket, limit_s: float) -> tuple[bytes, bool]:
    """What the server sends on ``sock`` until it closes it (or ``limit_s`` passes)."""
    sock.settimeout(limit_s)
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except TimeoutError:
        return answer, False
    except ConnectionResetError:
        pass
    return answer, True


def test_headers_over_the_bound_are_refused_and_the_connection_closed(
    served: tuple[str, ServerThread],
) -> None:
    # Both parsers bound what they buffer of an incomplete request line and headers (h11 answers
    # its own 400, httptools whsim's 431); a complete header block that arrives in one read is
    # parsed whatever its size (at most one read is buffered).
    url, thread = served
    with socket.create_connection(("127.0.0.1", _port(url))) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * (MAX_HEADER_BYTES + 100))
        time.sleep(0.3)  # the server reads the unfinished headers on their own
        with contextlib.suppress(OSError):  # it may have closed already
            sock.sendall(b"\r\nContent-Length: 0\r\n\r\n")
        start = time.monotonic()
        answer, closed = _answer_and_close(sock, FAST.idle_timeout_s)
    assert closed and time.monotonic() - start < FAST.idle_timeout_s
    if thread.http == "httptools":
        assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
        assert b"longer than 16384 bytes" in answer
    else:
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    with httpx.Client() as client:  # headers under the bound pass
        headers = {"X-Pad": "p" * (MAX_HEADER_BYTES - 500)}
        assert client.post(url + "/echo", content=b"ab", headers=headers).status_code == 200


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_a_header_value_that_never_ends_is_cut_off_at_the_bound(http: str) -> None:
    # httptools would buffer an unfinished header value without limit until the header
    # deadline (here far away); the bound closes the connection as soon as it is passed.
    slow = Deadlines(idle_timeout_s=30, header_timeout_s=60, body_timeout_s=60)
    thread = ServerThread(_app(), deadlines=slow, http=http)  # type: ignore[arg-type]
    with thread as url, socket.create_connection(("127.0.0.1", _port(url))) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: ")
        sent = 0
        with contextlib.suppress(OSError):
            while sent < 4 * MAX_HEADER_BYTES:
                sock.sendall(b"v" * 4096)
                sent += 4096
        answer, closed = _answer_and_close(sock, 10)
    assert closed, "the connection stayed open past the header bound"
    assert answer.startswith(b"HTTP/1.1 4"), answer[:200]


def test_a_refused_body_longer_than_the_header_bound_keeps_the_connection(
    served: tuple[str, ServerThread],
) -> None:
    # After a 413 the server reads and drops the rest of the body: those bytes are body, not
    # headers, so the header bound must not count them and close the connection.
    url, _ = served
    size = 8 * MAX_HEADER_BYTES
    with socket.create_connection(("127.0.0.1", _port(url))) as sock:
        sock.sendall(f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode())
        sock.settimeout(FAST.idle_timeout_s + SLACK_S)
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 413")  # refused before the body came
        for _ in range(size // 8192):  # the body, in reads of its own
            sock.sendall(b"x" * 8192)
            time.sleep(0.002)
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        while b'{"length":3}' not in answer:
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
    assert answer.count(b"HTTP/1.1 ") == 2 and b"HTTP/1.1 200" in answer, answer


def test_large_bodies_and_pipelined_requests_are_not_headers(
    served: tuple[str, ServerThread],
) -> None:
    url, _ = served
    with socket.create_connection(("127.0.0.1", _port(url))) as sock:
        one = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\n" + b"b" * 900
        sock.sendall(one * 40)  # 40 requests in one write, ~38 KiB: more than the header bound
        sock.settimeout(FAST.idle_timeout_s + SLACK_S)
        answer = b""
        while answer.count(b'{"length":900}') < 40:
            chunk = sock.recv(65536)
            assert chunk, answer[-300:]
            answer += chunk
    assert answer.count(b"HTTP/1.1 200") == 40


# --- body limits -----------------------------------------------------------------------------


def test_a_declared_body_over_the_limit_is_413_and_the_connection_still_works(
    served: tuple[str, ServerThread],
) -> None:
    url, _ = served
    with httpx.Client() as client:
        response = client.post(url + "/echo", content=b"x" * 1001)
        assert response.status_code == 413
        assert response.json()["error"]["details"] == {"limit": 1000}
        assert "larger than 1000 bytes" in response.json()["error"]["message"]
        assert client.post(url + "/echo", content=b"x" * 1000).json() == {"length": 1000}


def test_limits_are_per_route(served: tuple[str, ServerThread]) -> None:
    url, _ = served
    with httpx.Client() as client:
        assert client.post(url + "/small", content=b"x" * 11).status_code == 413
        assert client.post(url + "/echo", content=b"x" * 11).status_code == 200


def test_a_streamed_body_is_cut_off_at_the_limit(served: tuple[str, ServerThread]) -> None:
    url, thread = served

    def chunks() -> Iterator[bytes]:
        for _ in range(50):
            yield b"y" * 100

    with httpx.Client() as client:
        response = client.post(url + "/echo", content=chunks())  # chunked: no Content-Length
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    # The app saw a disconnect; what it answered then never reached the client. The 413 is the
    # guard's and can reach the client before the app's task has run on, so wait for the app.
    app = thread.app
    deadline = time.monotonic() + 5
    while not app.state.seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert app.state.seen == ["disconnect"]
