"""Receivers written without whsim, in other stacks, to check the kit's verdicts on code like users'.

Nothing here imports whsim: each receiver is what a user might write from the guide alone, in
the standard library's ``http.server`` (threaded), in Werkzeug (Flask's own request and response
layer, so these behave as Flask apps do), or as a raw ASGI callable served by uvicorn. Each is
correct but for the one thing its name says, or is correct and differs from the reference
receiver (``guide-fixed``, ``tolerant``). :func:`serve` starts one on a free loopback port.

    with serve("slow-5.6", secret) as base:   # base URL; POST {base}/webhook
        ...
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from stdlib_server import serving

# name -> (stack, what it does); the verdict table and tests use these names.
RECEIVERS: dict[str, str] = {
    "guide-fixed": "Werkzeug: the guide's three snippets (challenge, signature, idempotency) "
    "with its two defects fixed (bytes not .encode(), a missing header is 401)",
    "slow-5.6": "http.server: correct, but answers every event after 5.6 s",
    "slow-completed": "Werkzeug: correct, but answers job.completed after 6 s",
    "uppercase-hex": "http.server: compares hexdigest().upper() with the header",
    "python-dumps": "Werkzeug: verifies over json.dumps(request.json), Python's default form",
    "tolerant": "raw ASGI: accepts the right digest also with 'sha256=' or in uppercase",
    "requires-id": "http.server: refuses an event without an 'id' with 400",
    "not-found": "http.server: 404 for every path (a wrong URL)",
    "html-page": "http.server: a web page, 200 text/html for everything",
}

_EVENTS = {
    "job.created",
    "job.started",
    "job.progress",
    "job.completed",
    "job.failed",
    "document.created",
    "proposal.created",
}


def _hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _valid(doc: Any) -> bool:
    """The envelope a careful user checks: an object with type, timestamp and an object data."""
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("type"), str)
        and isinstance(doc.get("timestamp"), str)
        and isinstance(doc.get("data"), dict)
    )


class _Logic:
    """One receiver's rules over (body, signature header) -> (status, JSON answer)."""

    def __init__(self, name: str, secret: str) -> None:
        self.name, self.secret = name, secret
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def signature_ok(self, body: bytes, header: str | None) -> bool:
        if header is None:
            return False
        if self.name == "uppercase-hex":
            return hmac.compare_digest(_hex(self.secret, body).upper(), header)
        if self.name == "python-dumps":
            try:
                signed = json.dumps(json.loads(body)).encode()
            except ValueError:
                return False
            return hmac.compare_digest(_hex(self.secret, signed), header)
        if self.name == "tolerant":
            header = header.strip().removeprefix("sha256=").lower()
        return hmac.compare_digest(_hex(self.secret, body), header)

    def answer(self, body: bytes, header: str | None) -> tuple[int, Any, float]:
        """(status, JSON body, seconds to wait before answering)."""
        if self.name == "not-found":
            return 404, {"error": "Not Found"}, 0.0
        if not self.signature_ok(body, header):
            return 401, {"error": "Invalid signature"}, 0.0
        try:
            doc = json.loads(body)
        except ValueError:
            return 400, {"error": "not JSON"}, 0.0
        if isinstance(doc, dict) and doc.get("type") == "webhook.verify":
            return 200, {"challenge": doc.get("challenge")}, 0.0
        if not _valid(doc):
            return 400, {"error": "invalid event"}, 0.0
        if self.name == "requires-id" and not isinstance(doc.get("id"), str):
            return 400, {"error": "id is required"}, 0.0
        delay = 0.0
        if self.name == "slow-5.6":
            delay = 5.6
        elif self.name == "slow-completed" and doc["type"] == "job.completed":
            delay = 6.0
        key = doc.get("id") if isinstance(doc.get("id"), str) else hashlib.sha256(body).hexdigest()
        with self.lock:
            first = key not in self.seen
            self.seen.add(key)
        return 200, {"status": "ok" if first else "already_processed"}, delay


# --- http.server ------------------------------------------------------------------------------


def _http_server(logic: _Logic) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if logic.name == "html-page":
                self._send(
                    200, b"<!doctype html><html><body><h1>Welcome</h1></body></html>", "text/html"
                )
                return
            status, doc, delay = logic.answer(body, self.headers.get("X-Webhook-Signature"))
            time.sleep(delay)
            self._send(status, json.dumps(doc).encode(), "application/json")

        def do_GET(self) -> None:
            if logic.name == "html-page":
                self._send(200, b"<!doctype html><html><body>Welcome</body></html>", "text/html")
            else:
                self._send(404 if logic.name == "not-found" else 405, b"{}", "application/json")

        def _send(self, status: int, data: bytes, kind: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (the kit's 5 s timeout)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


# --- Werkzeug (Flask's layer) -------------------------------------------------------------------


def _werkzeug_app(logic: _Logic) -> Callable[..., Any]:
    from werkzeug.exceptions import BadRequest
    from werkzeug.wrappers import Request, Response

    processed: set[Any] = set()

    def guide(request: Request) -> Response:
        # The guide's snippets, in order, as a Flask user composes them; request.json is
        # Flask's (werkzeug's get_json): a 400 when the body does not parse.
        def reply(doc: Any, status: int) -> Response:
            return Response(json.dumps(doc), status=status, mimetype="application/json")

        try:
            event = request.get_json(force=True)
        except BadRequest:
            return reply({"error": "Bad Request"}, 400)
        try:
            if event.get("type") == "webhook.verify":
                return reply({"challenge": event["challenge"]}, 200)
            signature = request.headers.get("X-Webhook-Signature")
            if signature is None or not hmac.compare_digest(
                _hex(logic.secret, request.get_data()), signature
            ):
                return reply({"error": "Invalid signature"}, 401)
            event_id = event.get("id")
            if event_id in processed:
                return reply({"status": "already_processed"}, 200)
            processed.add(event_id)
            return reply({"status": "ok"}, 200)
        except Exception:  # Flask answers an unhandled exception with 500
            return Response("500 Internal Server Error", status=500)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        if logic.name == "guide-fixed":
            response = guide(request)
        else:
            status, doc, delay = logic.answer(
                request.get_data(), request.headers.get("X-Webhook-Signature")
            )
            time.sleep(delay)
            response = Response(json.dumps(doc), status=status, mimetype="application/json")
        return response(environ, start_response)

    return app


@contextmanager
def _werkzeug(logic: _Logic) -> Iterator[str]:
    import logging

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with serving(make_server("127.0.0.1", 0, _werkzeug_app(logic), threaded=True)) as url:
        yield url


# --- raw ASGI -------------------------------------------------------------------------------------


def _asgi_app(logic: _Logic) -> Callable[..., Any]:
    async def app(
        scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        status, doc, delay = logic.answer(b"".join(chunks), headers.get("x-webhook-signature"))
        await asyncio.sleep(delay)
        data = json.dumps(doc).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})

    return app


@contextmanager
def _uvicorn(app: Callable[..., Any]) -> Iterator[str]:
    import socket

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


@contextmanager
def serve(name: str, secret: str) -> Iterator[str]:
    """Serve receiver ``name`` (one of :data:`RECEIVERS`); yields its base URL."""
    if name not in RECEIVERS:
        raise ValueError(f"unknown receiver {name!r}; known: {', '.join(RECEIVERS)}")
    logic = _Logic(name, secret)
    stack = RECEIVERS[name].split(":", 1)[0]
    if stack == "Werkzeug":
        with _werkzeug(logic) as url:
            yield url
    elif stack == "raw ASGI":
        with _uvicorn(_asgi_app(logic)) as url:
            yield url
    else:
        with serving(_http_server(logic)) as url:
            yield url
