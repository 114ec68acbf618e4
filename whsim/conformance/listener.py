"""The kit's receiving endpoint for the sender suite: scripted answers per path, every request kept.

A threaded HTTP server (one thread per connection, so a hanging answer never stalls another
scenario) that gives each scenario its own path (``/s/<name>/<nonce>``) and answers it with a
:data:`Responder`: :func:`ok`, :func:`fail`, :func:`always`, :func:`hang`, :func:`redirect`,
:func:`wrong_challenge`. Every request is recorded with its exact bytes and its arrival on the
kit's monotonic clock (``time.monotonic_ns``): when its headers were parsed, when its body was
read, when the answer started (stamped before the first byte is written, so a sender's next
attempt can never come before it), when the answer was written or when the client gave up on
it. Answers carry ``Connection: close`` so each attempt is its own connection and its end is
unambiguous.

A sender under test may be hostile: a body over :data:`MAX_BODY` is answered 413 without being
read, and at most :data:`MAX_KEPT` requests per path are kept (the rest are only counted, in
:meth:`Listener.count`), so a flood costs the kit bounded memory and bounded reports.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whsim.core.spec.events import VERIFY_TYPE

if TYPE_CHECKING:
    from whsim.conformance.trace import Attempt

__all__ = [
    "MAX_BODY",
    "MAX_KEPT",
    "Arrival",
    "Listener",
    "Reply",
    "Responder",
    "always",
    "closed_port",
    "drop_first",
    "fail",
    "hang",
    "ok",
    "redirect",
    "wrong_challenge",
]


MAX_BODY = 1 << 20
"""Largest request body the kit reads (1 MiB; the guide's events are well under 1 KiB)."""
MAX_KEPT = 200
"""Requests kept per path; later ones are counted only."""


@dataclass(frozen=True, slots=True)
class Arrival:
    """One request the kit received. Times are ``time.monotonic_ns()`` of the kit.

    ``t_end_ns`` is when the answer was written, or when the client closed the connection
    before it (then ``client_closed`` is True and ``status`` is what the kit meant to answer).
    """

    path: str
    method: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    t_headers_ns: int
    t_body_ns: int
    t_end_ns: int
    status: int
    client_closed: bool = False
    t_answer_ns: int = 0
    """When the kit started its answer (0: it never answered: the client left, or it dropped)."""
    dropped: bool = False
    """The kit read the request and reset the connection without an answer."""
    size: int = -1
    """The announced body size when the body was not read (over :data:`MAX_BODY`), else -1."""

    @property
    def t_failed_ns(self) -> int:
        """When the attempt ended for the sender: the answer's start, else the end."""
        return self.t_answer_ns or self.t_end_ns

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, ValueError):
            return None

    @property
    def is_verification(self) -> bool:
        doc = self.json()
        return isinstance(doc, dict) and doc.get("type") == VERIFY_TYPE

    @property
    def event_type(self) -> str | None:
        doc = self.json()
        value = doc.get("type") if isinstance(doc, dict) else None
        return value if isinstance(value, str) else None

    @property
    def event_id(self) -> str | None:
        doc = self.json()
        value = doc.get("id") if isinstance(doc, dict) else None
        return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Reply:
    """How to answer: ``hang_s`` > 0 waits that long first (ending early if the client leaves)."""

    status: int = 200
    body: bytes = b'{"status":"ok"}'
    headers: tuple[tuple[str, str], ...] = ()
    hang_s: float = 0.0
    drop: bool = False
    """Read the request, then reset the connection without answering (a network error)."""


Responder = Callable[[bytes, int], Reply]
"""``(body, n) -> Reply``; ``n`` counts the path's requests of this body's event type, from 1.

Counting per event type keeps a scenario's script on its own event when a sender also delivers
other events to the path (retries of one event keep their type even if they change their id).
"""


def _type_of(body: bytes) -> str:
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return ""
    kind = doc.get("type") if isinstance(doc, dict) else None
    return kind if isinstance(kind, str) else ""


def _echo(body: bytes) -> Reply | None:
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    if isinstance(doc, dict) and doc.get("type") == VERIFY_TYPE:
        out = json.dumps({"challenge": doc.get("challenge")}).encode()
        return Reply(200, out)
    return None


def _verifying(then: Callable[[int], Reply]) -> Responder:
    def respond(body: bytes, n: int) -> Reply:
        echo = _echo(body)
        return echo if echo is not None else then(n)

    return respond


def ok() -> Responder:
    """Echo the challenge; 200 to every event."""
    return _verifying(lambda n: Reply())


def fail(times: int, status: int = 500) -> Responder:
    """Echo the challenge; ``status`` to the first ``times`` events, then 200."""
    return _verifying(lambda n: Reply(status, b'{"error":"temporary"}') if n <= times else Reply())


def always(status: int) -> Responder:
    """Echo the challenge; ``status`` to every event."""
    return _verifying(lambda n: Reply(status, b'{"error":"scripted"}'))


def hang(seconds: float, times: int = 1) -> Responder:
    """Echo the challenge; hold the first ``times`` events ``seconds`` before a 200, then 200."""
    return _verifying(lambda n: Reply(hang_s=seconds) if n <= times else Reply())


def redirect(location: str, status: int = 307) -> Responder:
    """Echo the challenge; answer every event with a redirect to ``location``."""
    return _verifying(
        lambda n: Reply(status, b"", (("Location", location),)),
    )


def drop_first() -> Responder:
    """Echo the challenge; reset the connection of the first event unanswered, then 200."""
    return _verifying(lambda n: Reply(drop=True) if n == 1 else Reply())


def wrong_challenge() -> Responder:
    """Answer the verification with a different challenge; 200 to events."""

    def respond(body: bytes, n: int) -> Reply:
        if _echo(body) is not None:
            return Reply(200, b'{"challenge":"not-the-one-you-sent"}')
        return Reply()

    return respond


def closed_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (bound, then released)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class _State:
    responders: dict[str, Responder] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    arrivals: list[Arrival] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)


def _client_left(sock: socket.socket, seconds: float) -> bool:
    """Wait up to ``seconds``; True as soon as the peer closes the connection."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        readable, _, _ = select.select([sock], [], [], min(left, 0.05))
        if readable:
            try:
                data = sock.recv(1, socket.MSG_PEEK)
            except OSError:
                return True
            if not data:
                return True
            time.sleep(min(left, 0.05))  # pipelined bytes: not a close


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # TCP_NODELAY, as whsim.serve sets on its servers

        def _any(self) -> None:
            t_headers = time.monotonic_ns()
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            path = self.path.split("?", 1)[0]
            if length > MAX_BODY or length < 0:
                self._refuse(path, t_headers, length)
                return
            body = self.rfile.read(length) if length > 0 else b""
            t_body = time.monotonic_ns()
            key = f"{path} {_type_of(body)}"
            with state.lock:
                responder = state.responders.get(path)
                n = state.counts.get(key, 0)
                if _echo(body) is None:
                    n += 1
                    state.counts[key] = n
            reply = (
                Reply(404, b'{"error":"unknown path"}') if responder is None else responder(body, n)
            )
            if self.command != "POST" and responder is not None:
                reply = Reply(405, b'{"error":"webhooks are POSTed"}')
            closed = reply.hang_s > 0 and _client_left(self.connection, reply.hang_s)
            t_answer = 0
            if reply.drop:
                self._reset()
            elif not closed:
                t_answer = time.monotonic_ns()
                try:
                    self._write(reply.status, reply.body, reply.headers)
                except OSError:
                    closed = True
            self.close_connection = True
            self._keep(
                Arrival(
                    path=path,
                    method=self.command,
                    headers=tuple(self.headers.items()),
                    body=body,
                    t_headers_ns=t_headers,
                    t_body_ns=t_body,
                    t_end_ns=time.monotonic_ns(),
                    status=reply.status,
                    client_closed=closed,
                    t_answer_ns=t_answer,
                    dropped=reply.drop,
                )
            )

        def _write(self, status: int, body: bytes, headers: tuple[tuple[str, str], ...]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

        def _reset(self) -> None:
            # SO_LINGER 0: close() sends RST, the sender sees a connection reset, no answer.
            with contextlib.suppress(OSError):
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )

        def _refuse(self, path: str, t_headers: int, length: int) -> None:
            t_answer = time.monotonic_ns()
            message = (
                f'{{"error":"body over the kit\'s limit of {MAX_BODY} bytes"}}'.encode()
                if length > 0
                else b'{"error":"bad Content-Length"}'
            )
            with contextlib.suppress(OSError):
                self._write(413 if length > 0 else 400, message, ())
            self.close_connection = True
            self._keep(
                Arrival(
                    path=path,
                    method=self.command,
                    headers=tuple(self.headers.items()),
                    body=b"",
                    t_headers_ns=t_headers,
                    t_body_ns=t_answer,
                    t_end_ns=time.monotonic_ns(),
                    status=413 if length > 0 else 400,
                    t_answer_ns=t_answer,
                    size=length,
                )
            )

        def _keep(self, arrival: Arrival) -> None:
            with state.changed:
                total = state.totals.get(arrival.path, 0) + 1
                state.totals[arrival.path] = total
                if total <= MAX_KEPT:
                    state.arrivals.append(arrival)
                state.changed.notify_all()

        do_POST = do_GET = do_PUT = do_HEAD = do_DELETE = do_PATCH = _any

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class Listener:
    """``with Listener() as kit:`` serves scenario paths on ``host:port`` (0: a free port).

    ``public_url`` is the base URL the sender must use when it cannot reach ``host:port``
    directly (a tunnel or another host); paths are appended to it. :meth:`stop` and
    :meth:`start` may be called again to refuse connections for a while on the same port.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, public_url: str | None = None):
        self.host = host
        self.port = port
        self.public_url = public_url.rstrip("/") if public_url else None
        self.nonce = secrets.token_hex(4)
        self.trace_time_scale = 1.0
        """The time scale of the sender whose requests this records (written in the trace's
        header line, so ``whsim check`` reads them in policy time without --time-scale)."""
        self._state = _State()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> Listener:
        """Listen (again); raises OSError when the address cannot be bound."""
        if self._server is not None:
            return self
        server_cls = type(
            "_S",
            (_Server,),
            {"address_family": socket.AF_INET6 if ":" in self.host else socket.AF_INET},
        )
        server = server_cls((self.host, self.port), _handler(self._state))
        self.port = int(server.server_address[1])
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop listening: new connections are refused until :meth:`start`."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(5)

    def __enter__(self) -> Listener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def path(self, name: str, responder: Responder) -> str:
        """A new unique path for scenario ``name``, answered by ``responder``; returns the path."""
        path = f"/s/{name}/{self.nonce}-{secrets.token_hex(3)}"
        with self._state.lock:
            self._state.responders[path] = responder
        return path

    def url(self, path: str) -> str:
        return self.base_url + path

    def arrivals(self, path: str | None = None) -> list[Arrival]:
        """Requests received so far (on ``path``), in arrival order."""
        with self._state.lock:
            return [a for a in self._state.arrivals if path is None or a.path == path]

    def trace(self, path: str | None = None) -> list[Attempt]:
        """The requests received (on ``path``) as recorded attempts (:mod:`whsim.conformance.trace`).

        Times are the kit's monotonic clock; an attempt ends when the kit started its answer (as
        the suite's gaps count it), carries ``error="timeout"`` when the sender gave up first and
        ``error="reset"`` when the kit dropped it. This is what ``whsim check`` grades.
        """
        from whsim.conformance.trace import Attempt

        return [
            Attempt(
                index=i,
                url=self.url(a.path),
                method=a.method,
                headers=a.headers,
                body=a.body,
                start_ns=a.t_headers_ns,
                end_ns=a.t_failed_ns,
                status=None if a.client_closed or a.dropped else a.status,
                error="timeout" if a.client_closed else "reset" if a.dropped else None,
            )
            for i, a in enumerate(self.arrivals(path), start=1)
        ]

    def write_trace(self, out: str | Path, path: str | None = None) -> int:
        """Write :meth:`trace` as a JSONL trace (``docs/trace-format.md``); returns the count."""
        from whsim.conformance.trace import TraceMeta, write_jsonl

        until = time.monotonic_ns()
        return write_jsonl(
            self.trace(path),
            out,
            meta=TraceMeta(source="whsim listener", time_scale=self.trace_time_scale, end_ns=until),
        )

    def count(self, path: str) -> int:
        """How many requests came to ``path``, kept or not (see :data:`MAX_KEPT`)."""
        with self._state.lock:
            return self._state.totals.get(path, 0)

    def wait(self, predicate: Callable[[list[Arrival]], bool], path: str, timeout: float) -> bool:
        """Wait until ``predicate(arrivals(path))`` holds or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        with self._state.changed:
            while True:
                got = [a for a in self._state.arrivals if a.path == path]
                if predicate(got):
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._state.changed.wait(min(left, 0.1))
