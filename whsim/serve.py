"""The one way whsim serves HTTP: sockets, uvicorn, connection deadlines and body limits.

Every server whsim runs (``whsim receiver``, ``whsim sender``, the in-process
:class:`ServerThread` of tests and benchmarks) goes through :func:`make_server`, so each of
them gets, without asking:

- **TCP_NODELAY on every accepted connection.** Without it Nagle's algorithm and the peer's
  delayed ACK stall each keep-alive exchange about 40 ms (asyncio only sets it itself when the
  listening socket was made with ``IPPROTO_TCP``, which a plain ``socket.socket()`` is not).
  The kit's listener runs its own threaded stdlib server and sets the stdlib's switch for it
  (``disable_nagle_algorithm``); any other server on raw sockets calls :func:`tune_accepted`.
- **Connection deadlines** (:class:`Deadlines`): a connection waiting for a request is closed
  when no byte arrives within ``idle_timeout_s``, or when the request's headers are not complete
  within ``header_timeout_s`` (slowloris, partial headers); a request whose body does not arrive
  within ``body_timeout_s`` of its headers is answered 408 and its connection closed. Time the
  app spends answering is not limited here (the receiver's ``hang`` fault needs minutes).
- **Body limits per route** when the app wraps itself in :class:`BodyLimit`: a declared or
  streamed body over the route's limit is answered 413 before the app reads more of it.
- **A bound on the request line and headers** (:data:`MAX_HEADER_BYTES`): past it the request
  is refused and its connection closed.
- **A fast HTTP parser.** uvicorn's httptools protocol (the C parser ``uvicorn[standard]``
  installs) when httptools is importable, h11 otherwise (``http="h11"`` asks for it). Both get
  the same deadlines and limits.

This is a shell-layer module: it reads the wall clock and owns sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Literal

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is not installed: h11 serves
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

__all__ = [
    "DEFAULT_DEADLINES",
    "MAX_HEADER_BYTES",
    "BodyGuard",
    "BodyLimit",
    "Deadlines",
    "ServerThread",
    "bind",
    "make_server",
    "run_server",
    "tune_accepted",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Lifespan = Literal["auto", "on", "off"]
Parser = Literal["auto", "h11", "httptools"]

MAX_HEADER_BYTES: Final = 16 * 1024
"""The most bytes a request line and its headers may take (h11's own default bound)."""


@dataclass(frozen=True, slots=True)
class Deadlines:
    """How long a connection may take at each stage before the server closes it (seconds).

    ``idle_timeout_s``: a connection that waits for a request (just opened, or after an answer)
    and receives no byte at all. ``header_timeout_s``: from the start of that wait until the
    request's headers are complete. ``body_timeout_s``: from the headers until the last byte of
    the body has been read (answered 408).
    """

    idle_timeout_s: float = 5.0
    header_timeout_s: float = 10.0
    body_timeout_s: float = 15.0

    def __post_init__(self) -> None:
        for name in ("idle_timeout_s", "header_timeout_s", "body_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")


DEFAULT_DEADLINES: Final = Deadlines()


def tune_accepted(sock: socket.socket) -> None:
    """Set what every accepted connection needs (TCP_NODELAY); no-op for non-TCP sockets."""
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def bind(host: str = "127.0.0.1", port: int = 0, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket (port 0: any free port); raises OSError when it cannot bind.

    Made with ``IPPROTO_TCP`` so that asyncio also sets TCP_NODELAY on what it accepts.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class _Deadline:
    """Mixin for a uvicorn HTTP protocol: TCP_NODELAY and the idle and header deadlines.

    While the connection waits for a request, one timer runs: ``idle_timeout_s`` from the start
    of the wait, moved to ``header_timeout_s`` from the start when the first byte arrives. It is
    cancelled as soon as uvicorn has a request in flight, and started again when the answer is
    complete (unless the next, pipelined request is already in flight). Written against what
    uvicorn's h11 and httptools protocols share: ``loop``, ``transport``, ``cycle``,
    ``data_received`` and ``on_response_complete``.
    """

    deadlines: Deadlines = DEFAULT_DEADLINES
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # a closed or non-TCP socket: nothing to tune
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._deadline: asyncio.TimerHandle | None = None
        self._wait_start(got_bytes=False)

    def _in_flight(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _wait_start(self, *, got_bytes: bool) -> None:
        self._waiting_since = self.loop.time()
        self._got_bytes = got_bytes
        limit = self.deadlines.header_timeout_s if got_bytes else self.deadlines.idle_timeout_s
        self._arm(self._waiting_since + limit)

    def _arm(self, when: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_at(when, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self._in_flight() and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        waiting = self._deadline is not None
        if waiting and not self._got_bytes:
            self._got_bytes = True
            self._arm(self._waiting_since + self.deadlines.header_timeout_s)
        super().data_received(data)  # type: ignore[misc]
        if waiting and self._in_flight():
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if not self.transport.is_closing() and not self._in_flight():
            self._wait_start(got_bytes=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]


class _DeadlineH11(_Deadline, H11Protocol):  # type: ignore[misc]
    """h11 (pure Python). It bounds the request line and headers itself
    (``h11_max_incomplete_event_size``) and answers 400 past it."""


_TOO_LARGE = (
    f"the request line and headers are longer than {MAX_HEADER_BYTES} bytes, the limit"
).encode()


class _HttpToolsLimits:
    """Mixin for uvicorn's httptools protocol: the header bound that h11 has and httptools lacks.

    httptools buffers a request line or a header value until it is complete, without a bound;
    so the reads fed to the parser while it is not inside a body are counted from the last read
    that completed a request's headers, and past :data:`MAX_HEADER_BYTES` (so at most that plus
    one read is buffered) the request is answered 431 and the connection closed. Reads inside a
    body (also a refused body that the server reads and drops after a 413) never count, nor
    does a read that completes headers (pipelined requests in one read).
    """

    transport: asyncio.Transport

    def connection_made(self, transport: asyncio.Transport) -> None:
        self._head_bytes = 0
        self._in_body = False
        self._completed = False
        super().connection_made(transport)  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return  # refused: nothing more is parsed
        counted = not self._in_body
        self._completed = False
        super().data_received(data)  # type: ignore[misc]
        if self._completed:
            self._head_bytes = 0  # what follows the last headers is at most this read
        elif counted:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():
                self.transport.write(
                    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                    b"content-type: text/plain; charset=utf-8\r\n"
                    b"content-length: " + str(len(_TOO_LARGE)).encode() + b"\r\n"
                    b"connection: close\r\n\r\n" + _TOO_LARGE
                )
                self.transport.close()

    def on_headers_complete(self) -> None:
        self._head_bytes = 0
        self._in_body = True
        self._completed = True
        super().on_headers_complete()  # type: ignore[misc]

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()  # type: ignore[misc]


if HttpToolsProtocol is not None:

    class _DeadlineHttpTools(_Deadline, _HttpToolsLimits, HttpToolsProtocol):  # type: ignore[misc]
        """httptools (C, llhttp), with the header bound of :class:`_HttpToolsLimits`."""


def _protocol_class(deadlines: Deadlines, http: Parser = "auto") -> type[asyncio.Protocol]:
    """The protocol class uvicorn runs for ``http``: "auto" is httptools when installed."""
    if http == "httptools" and HttpToolsProtocol is None:
        raise ValueError('http="httptools" needs the httptools package (pip install httptools)')
    base: type[asyncio.Protocol] = _DeadlineH11
    if http != "h11" and HttpToolsProtocol is not None:
        base = _DeadlineHttpTools
    return type(f"Deadline{base.__name__}", (base,), {"deadlines": deadlines})


def _json_refusal(status: int, code: str, message: str, details: dict[str, Any]) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "details": details}}).encode()


Refusal = Callable[[int, str, str, dict[str, Any]], bytes]
"""``(status, code, message, details) -> JSON body`` of a refusal made by this module."""


async def _refuse(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status != 413:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyGuard:
    """ASGI middleware: 413 for a body over ``limit(method, path)`` bytes; 408 for a late body.

    Either check is off when its argument is None. A declared ``Content-Length`` over the limit
    is refused before the app runs; a streamed body is counted as the app reads it, and the
    moment it passes the limit (or ``body_timeout_s`` passes before its last byte) the refusal is
    sent, the app sees ``http.disconnect`` (Starlette raises ``ClientDisconnect``) and anything it
    answers after that is dropped. A 413 keeps the connection: the server reads and drops the
    rest of the body (within the connection's header deadline) so the client can read the
    answer; closing at once would reset the connection under a client still sending. A 408
    closes it. ``refusal`` shapes the JSON body (default: the sender API's
    ``{"error": {"code", "message", "details"}}``).
    """

    def __init__(
        self,
        app: ASGIApp,
        limit: Callable[[str, str], int] | None = None,
        *,
        body_timeout_s: float | None = None,
        refusal: Refusal = _json_refusal,
    ) -> None:
        self.app = app
        self.limit = limit
        self.body_timeout_s = body_timeout_s
        self.refusal = refusal

    def _too_large(self, limit: int) -> bytes:
        return self.refusal(
            413,
            "body_too_large",
            f"the request body is larger than {limit} bytes, the limit of this route",
            {"limit": limit},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope["method"], scope["path"]) if self.limit is not None else None
        if limit is not None:
            for name, value in scope["headers"]:
                if name == b"content-length":
                    text = value.decode("latin-1").strip()
                    if text.isascii() and text.isdigit() and int(text) > limit:
                        await _refuse(send, 413, self._too_large(limit))
                        return
        loop = asyncio.get_running_loop()
        timeout_s = self.body_timeout_s
        deadline = loop.time() + timeout_s if timeout_s is not None else None
        state = {"read": 0, "body_done": False, "refused": False, "started": False}

        async def refuse(status: int, body: bytes) -> Message:
            state["refused"] = True
            if not state["started"]:
                state["started"] = True
                await _refuse(send, status, body)
            return {"type": "http.disconnect"}

        async def guarded_receive() -> Message:
            if state["refused"]:
                return {"type": "http.disconnect"}
            if state["body_done"] or deadline is None:
                message = await receive()
            else:
                try:
                    async with asyncio.timeout(deadline - loop.time()):
                        message = await receive()
                except TimeoutError:
                    return await refuse(
                        408,
                        self.refusal(
                            408,
                            "body_timeout",
                            f"the request body did not arrive within {timeout_s:g} s",
                            {"timeout_s": timeout_s},
                        ),
                    )
            if message["type"] == "http.request" and not state["body_done"]:
                state["read"] += len(message.get("body", b""))
                if limit is not None and state["read"] > limit:
                    return await refuse(413, self._too_large(limit))
                if not message.get("more_body", False):
                    state["body_done"] = True
            return message

        async def guarded_send(message: Message) -> None:
            if state["refused"]:
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        await self.app(scope, guarded_receive, guarded_send)


class BodyLimit(BodyGuard):
    """The per-route body limit alone (413): what an app adds to itself, served or in-process.

    The body deadline (408) is the server's: :func:`make_server` adds it to every app.
    """

    def __init__(
        self, app: ASGIApp, limit: Callable[[str, str], int], *, refusal: Refusal = _json_refusal
    ) -> None:
        super().__init__(app, limit, refusal=refusal)


def make_server(
    app: Any,
    *,
    deadlines: Deadlines = DEFAULT_DEADLINES,
    lifespan: Lifespan = "auto",
    log_level: str = "warning",
    access_log: bool = False,
    graceful_s: float | None = 1.0,
    http: Parser = "auto",
) -> uvicorn.Server:
    """A uvicorn server for ``app`` with whsim's protocol (TCP_NODELAY, idle/header deadlines).

    Serve it on a socket from :func:`bind` (``server.run(sockets=[sock])``) or with
    :func:`run_server`. ``graceful_s`` bounds how long a stop waits for answers in progress
    (None: as long as they take). ``http`` picks the parser: "auto" is httptools when it is
    installed, else h11; "httptools" without it is a ValueError.
    """
    config = uvicorn.Config(
        BodyGuard(app, body_timeout_s=deadlines.body_timeout_s),
        http=_protocol_class(deadlines, http),
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        log_level=log_level,
        access_log=access_log,
        lifespan=lifespan,
        timeout_keep_alive=max(1, round(deadlines.idle_timeout_s)),
        timeout_graceful_shutdown=None if graceful_s is None else max(1, round(graceful_s)),
    )
    return uvicorn.Server(config)


def run_server(
    server: uvicorn.Server, sock: socket.socket, on_ready: Callable[[], None] | None = None
) -> bool:
    """Serve on ``sock`` until stopped (Ctrl-C, SIGTERM); ``on_ready()`` once it accepts.

    Returns whether the server started (False: the app's startup failed).
    """

    async def serve() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started and on_ready is not None:
            on_ready()
        await task

    asyncio.run(serve())
    return bool(server.started)


class ServerThread:
    """``with ServerThread(app) as url:`` serves ``app`` on 127.0.0.1 (a free port) meanwhile.

    The server runs in a background thread with its own event loop and always stops on exit.
    """

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        deadlines: Deadlines = DEFAULT_DEADLINES,
        lifespan: Lifespan = "auto",
        http: Parser = "auto",
    ) -> None:
        self.app = app
        self.http = http
        self.host = host
        self.port = port
        self.url = ""
        self.deadlines = deadlines
        self.lifespan = lifespan
        self.server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    def __enter__(self) -> str:
        self._sock = bind(self.host, self.port)
        self.port = self._sock.getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{self.port}"
        self.server = make_server(
            self.app, deadlines=self.deadlines, lifespan=self.lifespan, http=self.http
        )
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError("the server thread did not start")
            time.sleep(0.01)
        return self.url

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self._sock is not None:
            self._sock.close()
