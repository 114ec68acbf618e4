"""The sender under test as the suite sees it: its API, its advertised time, the kit's endpoint,
the trigger that makes it emit events, and the expectations every timing case shares."""

from __future__ import annotations

import json
import shlex
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from whsim.conformance.case import Case
from whsim.conformance.exchange import Exchange, Request, Response
from whsim.conformance.http import UNREACHABLE
from whsim.conformance.listener import Arrival, Listener, Responder
from whsim.conformance.masking import KIT_SECRET_PREFIX
from whsim.conformance.timing import Profile, expected_gaps
from whsim.core.errors import TriggerError
from whsim.core.policy import RetryPolicy
from whsim.core.spec.clauses import reading_names
from whsim.core.spec.events import EVENT_TYPES

__all__ = [
    "API_TIMEOUT_S",
    "SECRET_PREFIX",
    "SenderTarget",
    "Trigger",
    "TriggerError",
    "as_exchange",
]

API_TIMEOUT_S: Final = 20.0
KEEPALIVE_EXPIRY_S: Final = 1.0
"""Idle connections are let go before any common server's keep-alive timeout (see the
receiver target's constant of the same name)."""
"""How long one API call may take (registration runs the handshake, up to 5 s or so)."""
SECRET_PREFIX: Final = KIT_SECRET_PREFIX  # reports mask every secret with this prefix
NOWHERE: Final = "https://whsim-conformance.invalid"
"""A public-looking https base that never resolves (RFC 6761), for production-mode registrations."""


def as_exchange(arrival: Arrival, url: str, note: str = "") -> Exchange:
    """A request the sender made to the kit, as an exchange for the report."""
    # Host, Content-Length and Connection are the HTTP client's own; a replay sets them anew.
    headers = tuple(
        (k, v)
        for k, v in arrival.headers
        if k.lower() not in ("host", "content-length", "connection")
    )
    request = Request(arrival.method, url, headers, arrival.body)
    response = Response(
        None if arrival.client_closed else arrival.status,
        error="the sender closed the connection first" if arrival.client_closed else "",
        elapsed_s=(arrival.t_end_ns - arrival.t_body_ns) / 1e9,
    )
    return Exchange(request, response, note or "received by the kit")


@dataclass
class Trigger:
    """How the suite makes the sender emit events: ``http``, ``none`` or a command template."""

    spec: str
    target: SenderTarget
    log: list[str] = field(default_factory=list)

    @property
    def available(self) -> bool:
        return self.spec != "none"

    def emit(self, event_type: str, webhook_id: str, *, long: bool = False) -> str | None:
        """Make the sender emit ``event_type`` (``long``: a job with many progress steps).

        Returns the job id when the http trigger started a job (a command trigger: None).
        """
        if self.spec == "none":
            raise TriggerError("no trigger (--trigger none)")
        if self.spec == "http":
            return self._http(event_type, long=long)
        command = self.spec.format(event_type=event_type, webhook_id=webhook_id)
        self.log.append(command)
        try:
            done = subprocess.run(
                shlex.split(command), capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TriggerError(f"trigger command {command!r} failed: {exc}") from None
        if done.returncode != 0:
            raise TriggerError(
                f"trigger command {command!r} exited {done.returncode}: {done.stderr[-300:]}"
            )
        return None

    def _post(self, path: str, body: Mapping[str, Any]) -> Any:
        ex = self.target.call(None, "POST", path, body)
        status = ex.response.status
        if status is None or not 200 <= status < 300:
            raise TriggerError(
                f"POST {path} (the reference sender's event source) answered "
                f"{status}: {ex.response.body[:200]!r}"
            )
        return json.loads(ex.response.body)

    def _http(self, event_type: str, *, long: bool) -> str | None:
        self.log.append(f"http: {event_type}{' (long job)' if long else ''}")
        proposal = self._post("/api/proposals", {"title": "whsim conformance proposal"})
        if event_type == "proposal.created":
            return None
        job: dict[str, Any] = {"proposal_id": proposal["id"], "steps": 2, "step_seconds": 0}
        if long:
            job.update(steps=30, step_seconds=1.0)
        if event_type == "job.failed":
            job["fail_at_step"] = 2
        created = self._post("/api/jobs", job)
        job_id = created.get("id") if isinstance(created, dict) else None
        return job_id if isinstance(job_id, str) else None


class SenderTarget:
    """The API under test plus the kit's receiving endpoint; thread-safe for scenario threads."""

    def __init__(
        self,
        base_url: str,
        listener: Listener,
        *,
        trigger: str,
        seed: int,
        mode: str | None,
        reading: str | None,
        timing: Profile,
    ) -> None:
        self.base = base_url.rstrip("/")
        self.listener = listener
        self.seed = seed
        self.timing = timing
        self.client = httpx.Client(
            follow_redirects=False,
            timeout=API_TIMEOUT_S,
            trust_env=False,
            limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY_S),
        )
        self._lock = threading.Lock()
        self._ids = 0
        self.meta = self._meta()
        self.time_scale = float(self.meta.get("time_scale") or 1.0)
        advertised = self.meta.get("mode")
        self.mode = mode or (
            advertised if advertised in ("development", "production") else "development"
        )
        self.reading = reading or "backoff-only"
        if self.reading not in reading_names("RETRY-1"):
            raise ValueError(
                f"unknown reading {self.reading!r} of RETRY-1; known: {', '.join(reading_names('RETRY-1'))}"
            )
        self.policy = RetryPolicy.seed(self.reading)
        self.trigger = Trigger(trigger, self)
        self.created: list[str] = []
        self.secrets: dict[str, str] = {}
        """Endpoint URL (as the kit's listener records it) -> the secret registered for it: what
        ``whsim check trace.jsonl --secrets trace-secrets.json`` needs to grade the same run."""

    def close(self) -> None:
        for webhook_id in list(self.created):
            self.call(None, "DELETE", f"/api/webhooks/{webhook_id}")
        self.client.close()

    # --- time ----------------------------------------------------------------------------------

    def gaps(self, reading: str | None = None) -> tuple[float, ...]:
        """Expected gaps between attempts (wall seconds) under a reading, scaled."""
        return expected_gaps(reading or self.reading, self.time_scale)

    def longest_gap(self, k: int) -> float:
        """Gap ``k`` (0-based) of the reading where it is longest; 0 when no reading has it."""
        values = [g[k] for g in (self.gaps(r) for r in reading_names("RETRY-1")) if k < len(g)]
        return max(values, default=0.0)

    @property
    def scaled(self) -> bool:
        return self.time_scale != 1.0

    # --- the API ------------------------------------------------------------------------------

    def _meta(self) -> dict[str, Any]:
        try:
            answer = self.client.get(self.base + "/api/meta", timeout=5.0)
            doc = answer.json() if answer.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            doc = {}
        return doc if isinstance(doc, dict) else {}

    def call(
        self,
        case: Case | None,
        method: str,
        path: str,
        body: object = None,
        *,
        raw: bytes | None = None,
        note: str = "",
        timeout: float | None = None,
    ) -> Exchange:
        """One API request, recorded on ``case``; an unreachable sender ends the case as error."""
        url = self.base + path
        content = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        headers = {"Content-Type": "application/json"} if content else {}
        request = Request(method, url, tuple(headers.items()), content)
        start = time.monotonic()
        try:
            answer = self.client.request(
                method,
                url,
                content=content or None,
                headers=headers,
                timeout=API_TIMEOUT_S if timeout is None else timeout,
            )
        except httpx.HTTPError as exc:
            kind = UNREACHABLE if isinstance(exc, httpx.ConnectError) else type(exc).__name__
            response = Response(None, elapsed_s=time.monotonic() - start, error=f"{kind}: {exc}")
        else:
            response = Response(
                answer.status_code,
                tuple(answer.headers.multi_items()),
                answer.content,
                time.monotonic() - start,
            )
        ex = Exchange(request, response, note)
        if case is not None:
            case.record(ex)
            if response.error.startswith(UNREACHABLE):
                case.error(f"cannot reach the sender at {self.base}: {response.error}")
        return ex

    def secret(self) -> str:
        with self._lock:
            self._ids += 1
            return f"{SECRET_PREFIX}{self.listener.nonce}-{self._ids}"

    @property
    def can_deliver(self) -> str | None:
        """None when the sender may deliver to the kit; else why not (production and http)."""
        if self.mode == "production" and not self.listener.base_url.startswith("https://"):
            return (
                "the sender runs in production mode, which must refuse the kit's http endpoint "
                f"({self.listener.base_url}); give --public-url https://... that reaches it"
            )
        return None

    def register_url(self, path: str) -> str:
        """A URL to register that the sender accepts in its mode (may not be callable)."""
        if self.can_deliver is None:
            return self.listener.url(path)
        return NOWHERE + path

    def register(
        self,
        case: Case | None,
        name: str,
        responder: Responder,
        events: list[str] | None = None,
    ) -> Registered:
        """Register a webhook for a fresh path of scenario ``name``; never raises for answers."""
        return self.register_on(self.listener, name, responder, events, case=case)

    def register_on(
        self,
        listener: Listener,
        name: str,
        responder: Responder,
        events: list[str] | None = None,
        *,
        case: Case | None = None,
    ) -> Registered:
        """:meth:`register` on another kit endpoint (the refused-connection scenario's)."""
        path = listener.path(name, responder)
        secret = self.secret()
        url = listener.url(path) if listener is not self.listener else self.register_url(path)
        with self._lock:
            self.secrets[listener.url(path)] = secret
        body = {"url": url, "events": events or list(EVENT_TYPES), "secret": secret}
        ex = self.call(case, "POST", "/api/webhooks", body, note=f"register ({name})")
        doc = _json(ex.response.body)
        webhook_id = doc.get("id") if isinstance(doc, dict) else None
        status = ex.response.status
        ok = status is not None and 200 <= status < 300 and isinstance(webhook_id, str)
        if ok:
            with self._lock:
                self.created.append(str(webhook_id))
        return Registered(
            name, path, url, secret, str(webhook_id) if ok else None, ex, body, time.monotonic()
        )

    def test_event(self, case: Case | None, webhook_id: str) -> Exchange:
        return self.call(case, "POST", f"/api/webhooks/{webhook_id}/test", note="send a test event")


@dataclass
class Registered:
    """A webhook the suite registered (``webhook_id`` None when the sender refused it)."""

    name: str
    path: str
    url: str
    secret: str
    webhook_id: str | None
    exchange: Exchange
    body: dict[str, Any]
    at: float

    @property
    def doc(self) -> Any:
        return _json(self.exchange.response.body)


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, ValueError):
        return None
