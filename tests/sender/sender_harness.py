"""Harness for the sender tests: a scriptable loopback receiver, in-process and subprocess senders.

Every server binds 127.0.0.1 on a free port and is stopped in a ``finally``.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from jsonschema import Draft202012Validator

from whsim.sender import SenderConfig
from whsim.sender.faults import create_faulty_app
from whsim.sender.openapi import openapi_document
from whsim.serve import bind

SECRET = "s3cr3t-Zebra-Quokka-4711"
ALL_EVENTS = [
    "job.created",
    "job.started",
    "job.progress",
    "job.completed",
    "job.failed",
    "document.created",
    "proposal.created",
]


@dataclass
class Received:
    """One request the receiver got."""

    at: float  # time.monotonic()
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Answer = tuple[int, bytes] | tuple[int, bytes, dict[str, str]]
Behaviour = Callable[[Received], Answer]


def echo_ok(req: Received) -> Answer:
    """A correct receiver: echoes the challenge, answers 200 to everything else."""
    doc = req.json
    if isinstance(doc, dict) and doc.get("type") == "webhook.verify":
        return 200, json.dumps({"challenge": doc["challenge"]}).encode()
    return 200, b'{"status":"ok"}'


def fail_events(status: int = 500) -> Behaviour:
    """Verify correctly, then answer every event with ``status``."""

    def behave(req: Received) -> Answer:
        if req.json.get("type") == "webhook.verify":
            return echo_ok(req)
        return status, b'{"error":"temporary"}'

    return behave


@dataclass
class Receiver:
    """A threaded loopback HTTP receiver; ``behaviours`` maps a path to how it answers."""

    server: ThreadingHTTPServer
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str, behaviour: Behaviour = echo_ok) -> str:
        self.behaviours[path] = behaviour
        return self.base + path

    def requests(self, path: str | None = None, *, events_only: bool = True) -> list[Received]:
        with self.lock:
            got = [r for r in self.received if path is None or r.path == path]
        if events_only:
            got = [r for r in got if r.json.get("type") != "webhook.verify"]
        return got

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition"
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.01)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _handler(receiver_ref: list[Receiver]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            receiver = receiver_ref[0]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            req = Received(time.monotonic(), self.path, dict(self.headers.items()), body)
            with receiver.lock:
                receiver.received.append(req)
            behaviour = receiver.behaviours.get(self.path, echo_ok)
            try:
                answer = behaviour(req)
            except Exception as exc:  # a test bug: make it visible in the delivery log
                answer = (599, repr(exc).encode())
            status, out = answer[0], answer[1]
            extra = answer[2] if len(answer) == 3 else {}
            # RFC 9110 15.3.5: a 204 (like a 1xx or 304) has no content and no Content-Length;
            # bytes after its head would be read as the next answer on the connection.
            bodiless = status in (204, 304) or 100 <= status < 200
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if bodiless:
                    out = b""
                else:
                    self.send_header("Content-Length", str(len(out)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(out)
            except OSError:
                pass  # the sender gave up (timeout) and closed the connection

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    ref: list[Receiver] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ref))
    server.daemon_threads = True
    ref.append(Receiver(server))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield ref[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class LiveSender:
    """A sender running in this process; ``client`` talks to its API."""

    base: str
    client: httpx.Client
    app: Any
    config: SenderConfig
    responses: list[httpx.Response] = field(default_factory=list)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.client.request(method, self.base + path, **kwargs)
        self.responses.append(response)
        return response

    def register(self, url: str, events: list[str] | None = None, secret: str = SECRET) -> Any:
        response = self.call(
            "POST",
            "/api/webhooks",
            json={"url": url, "events": events or ALL_EVENTS, "secret": secret},
        )
        assert response.status_code == 201, response.text
        return response.json()

    def deliveries(self, webhook_id: str, **params: Any) -> list[Any]:
        response = self.call("GET", f"/api/webhooks/{webhook_id}/deliveries", params=params)
        assert response.status_code == 200, response.text
        return list(response.json()["deliveries"])

    def delivery(self, webhook_id: str, delivery_id: str) -> Any:
        response = self.call("GET", f"/api/webhooks/{webhook_id}/deliveries/{delivery_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def proposal(self, title: str = "AI Research Proposal") -> Any:
        response = self.call("POST", "/api/proposals", json={"title": title})
        assert response.status_code == 201, response.text
        return response.json()

    def wait_delivery(
        self, webhook_id: str, predicate: Callable[[list[Any]], bool], timeout: float = 5.0
    ) -> list[Any]:
        deadline = time.monotonic() + timeout
        got: list[Any] = []
        while time.monotonic() < deadline:
            got = self.deliveries(webhook_id, limit=500)
            if predicate(got):
                return got
            time.sleep(0.02)
        raise AssertionError(f"deliveries never matched: {got}")


@contextmanager
def running_sender(tmp_path: Path, **values: Any) -> Iterator[LiveSender]:
    """Start a sender on uvicorn in a thread (its own event loop); stop it on exit.

    ``faults=`` (a set of names) runs the test-only broken sender of :mod:`whsim.sender.faults`.
    """
    values.setdefault("db_path", tmp_path / "sender.db")
    resolver = values.pop("resolver", None)
    faults = frozenset(values.pop("faults", ()))
    config = SenderConfig(**values)
    if resolver:
        app = create_faulty_app(config, faults, resolver=resolver)
    else:
        app = create_faulty_app(config, faults)
    sock = bind()  # whsim's listening socket: TCP_NODELAY on every accepted connection
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sender did not start")
            time.sleep(0.01)
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with httpx.Client(timeout=15) as client:
            yield LiveSender(base, client, app, config)
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@pytest.fixture
def sender(tmp_path: Path) -> Iterator[LiveSender]:
    with running_sender(tmp_path, time_scale=20.0) as live:
        yield live


# --- the real command in a subprocess ------------------------------------------------------


@dataclass
class SenderProcess:
    proc: subprocess.Popen[str]
    base: str
    lines: list[str]


@contextmanager
def sender_process(
    db: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[SenderProcess]:
    """Run ``whsim sender --port 0 --db DB ARGS`` and wait for its readiness line."""
    cmd = [sys.executable, "-m", "whsim", "sender", "--port", "0", "--db", str(db), *args]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    lines: list[str] = []
    ready: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "listening on" in line:
                ready.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        try:
            line = ready.get(timeout=20)
        except queue.Empty:
            raise RuntimeError("no readiness line:\n" + "".join(lines)) from None
        base = line.split("listening on ", 1)[1].split()[0]
        yield SenderProcess(proc, base, lines)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        reader.join(5)


# --- OpenAPI checks -------------------------------------------------------------------------

_DOCUMENT = openapi_document(SenderConfig())


def check_openapi(method: str, template: str, response: httpx.Response) -> None:
    """Assert the answer is described in the OpenAPI document and matches its schema."""
    operation = _DOCUMENT["paths"][template][method.lower()]
    described = operation["responses"].get(str(response.status_code))
    assert described is not None, f"{method} {template} -> {response.status_code} undocumented"
    content = described.get("content")
    if content is None:
        assert not response.content
        return
    schema = content["application/json"]["schema"]
    root = {"components": _DOCUMENT["components"], **schema}
    errors = list(Draft202012Validator(root).iter_errors(response.json()))
    assert not errors, f"{method} {template}: {errors[0].message}"


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    """The common error shape, with the expected status (and code)."""
    assert response.status_code == status, response.text
    doc = response.json()
    assert set(doc) == {"error"}
    assert set(doc["error"]) == {"code", "message", "details"}
    assert isinstance(doc["error"]["message"], str) and doc["error"]["message"]
    if code is not None:
        assert doc["error"]["code"] == code, doc
