"""Senders written from the guide alone, without whsim, to check the sender suite's verdicts.

A small registration API on the standard library's ``http.server`` and ``urllib``: it verifies
a new webhook with the challenge before answering, keeps webhooks in memory, and delivers a
signed ``webhook.test`` event on ``POST /api/webhooks/{id}/test`` with the guide's schedule
(attempts at 0, 1, 3, 7, 15, 31 s, each with a 5 s timeout; advertised through ``GET /api/meta``
at time scale 10, as the reference sender does, so a run is short). Each variant breaks one
thing its name says:

- ``uppercase-hex``: signs with ``hexdigest().upper()`` (the guide's receiver rejects it)
- ``sha256-prefix``: sends ``sha256=<hex>`` (the guide's receiver rejects it)
- ``hangs-registration``: never answers ``POST /api/webhooks``
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from stdlib_server import serving

SENDERS: dict[str, str] = {
    "correct": "the guide's sender, nothing broken",
    "uppercase-hex": "signs with uppercase hex",
    "sha256-prefix": "prefixes the signature with 'sha256='",
    "hangs-registration": "never answers a registration",
}
SCALE = 10.0
DELAYS = (1, 2, 4, 8, 16)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float = 5.0) -> int | None:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read()
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


urllib.request.install_opener(urllib.request.build_opener(_NoRedirect))


class _Sender:
    def __init__(self, name: str) -> None:
        self.name = name
        self.hooks: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def signature(self, body: bytes, secret: str) -> str:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if self.name == "uppercase-hex":
            return digest.upper()
        if self.name == "sha256-prefix":
            return "sha256=" + digest
        return digest

    def register(self, doc: Any) -> tuple[int, Any]:
        if self.name == "hangs-registration":
            time.sleep(3600)
        if not isinstance(doc, dict) or not isinstance(doc.get("url"), str):
            return 422, {"error": {"code": "invalid", "message": "url is required"}}
        challenge = secrets.token_hex(8)
        body = json.dumps({"type": "webhook.verify", "challenge": challenge}).encode()
        secret = str(doc.get("secret", ""))
        status = "verification_failed"
        request = urllib.request.Request(
            doc["url"],
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Webhook-Signature": self.signature(body, secret),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                echoed = json.loads(answer.read()).get("challenge")
                if answer.status == 200 and echoed == challenge:
                    status = "active"
        except (OSError, ValueError, AttributeError):
            pass
        hook = {
            "id": "webhook_" + secrets.token_hex(6),
            "url": doc["url"],
            "events": list(doc.get("events") or []),
            "status": status,
            "created_at": _now(),
        }
        with self.lock:
            self.hooks[hook["id"]] = {**hook, "secret": secret}
        return 201, hook

    def public(self, hook: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in hook.items() if k != "secret"}

    def deliver(self, hook: dict[str, Any]) -> None:
        event = {
            "id": "evt_" + secrets.token_hex(8),
            "type": "webhook.test",
            "timestamp": _now(),
            "data": {"webhook_id": hook["id"], "message": "test"},
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Webhook-Signature": self.signature(body, hook["secret"]),
        }
        for delay in (0, *DELAYS):
            time.sleep(delay / SCALE)
            status = _post(hook["url"], body, headers)
            if status is not None and 200 <= status < 300:
                return
            if status is not None and status < 500 and status not in (408, 429):
                return


def _handler(sender: _Sender) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self, status: int, doc: Any = None) -> None:
            data = b"" if doc is None else json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                return json.loads(raw) if raw else None
            except ValueError:
                return None

        def _hook(self) -> dict[str, Any] | None:
            parts = self.path.split("?")[0].strip("/").split("/")
            return sender.hooks.get(parts[2]) if len(parts) >= 3 else None

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/api/meta":
                self._reply(200, {"time_scale": SCALE, "mode": "development"})
            elif path == "/api/webhooks":
                self._reply(200, {"webhooks": [sender.public(h) for h in sender.hooks.values()]})
            elif (hook := self._hook()) is not None:
                self._reply(200, sender.public(hook))
            else:
                self._reply(404, {"error": {"code": "not_found", "message": "no such webhook"}})

        def do_POST(self) -> None:
            path = self.path.split("?")[0]
            doc = self._body()
            if path == "/api/webhooks":
                self._reply(*sender.register(doc))
            elif path.endswith("/test") and (hook := self._hook()) is not None:
                if hook["status"] != "active":
                    self._reply(409, {"error": {"code": "inactive", "message": "not active"}})
                    return
                threading.Thread(target=sender.deliver, args=(hook,), daemon=True).start()
                self._reply(202, {"status": "queued"})
            else:
                self._reply(404, {"error": {"code": "not_found", "message": path}})

        def do_PUT(self) -> None:
            hook = self._hook()
            doc = self._body()
            if hook is None or not isinstance(doc, dict):
                self._reply(404, {"error": {"code": "not_found", "message": "no such webhook"}})
                return
            hook.update({k: doc[k] for k in ("url", "events") if k in doc})
            self._reply(200, sender.public(hook))

        def do_DELETE(self) -> None:
            hook = self._hook()
            if hook is None:
                self._reply(404, {"error": {"code": "not_found", "message": "no such webhook"}})
                return
            sender.hooks.pop(hook["id"], None)
            self._reply(204)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serve(name: str) -> Iterator[str]:
    """Serve sender ``name`` (one of :data:`SENDERS`) on a free loopback port; yields its URL."""
    if name not in SENDERS:
        raise ValueError(f"unknown sender {name!r}; known: {', '.join(SENDERS)}")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(_Sender(name)))
    server.daemon_threads = True
    with serving(server) as url:
        yield url
