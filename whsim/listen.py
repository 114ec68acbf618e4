"""``whsim listen``: a local endpoint that shows each delivery as it arrives, verified.

What ``stripe listen`` is for Stripe: point a sender at it (or let it register itself) and every
request prints one line: the event type and id, which attempt of that event it is and the gap
since the previous one, the signature verdict and the schema verdict with their reasons, and the
answer given. The answer comes from a behaviour of :mod:`whsim.core.behaviours` (the same ones
the simulator and ``whsim receiver`` use), or, with ``forward_to``, from the user's own receiver:
the exact bytes and the sender's headers are passed on, and its answer goes back to the sender.

Times are on one monotonic clock, read when a request arrives.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from whsim.core.behaviours import Behaviour, respond
from whsim.core.errors import EventDataError
from whsim.core.signing import SIGNATURE_HEADER, verify
from whsim.core.spec.events import TEST_EVENT_TYPE, VERIFY_TYPE, parse_event

__all__ = ["Arrival", "create_listen_app", "schema_verdict", "signature_verdict"]

HANG_LIMIT_S = 60.0
_HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding", "accept-encoding"}


@dataclass(frozen=True, slots=True)
class Arrival:
    """What one request showed, as printed."""

    kind: str
    event_id: str | None
    attempt: int
    gap_s: float | None
    signature: str
    schema: str
    answer: str

    def line(self, at: datetime) -> str:
        head = f"{at:%H:%M:%S.%f}"[:-3] + f"  {self.kind}"
        if self.event_id is not None:
            gap = (
                ""
                if self.gap_s is None
                else f", +{self.gap_s:.2f} s after attempt {self.attempt - 1}"
            )
            head += f" {self.event_id} attempt {self.attempt}{gap}"
        return f"{head}  | signature {self.signature} | schema {self.schema} | -> {self.answer}"


def signature_verdict(body: bytes, header: str | None, secret: str) -> tuple[bool, str]:
    """(ok, text) for the ``X-Webhook-Signature`` of ``body`` under ``secret``."""
    if header is None:
        return False, f"MISSING (no {SIGNATURE_HEADER} header)"
    if verify(body, header, secret):
        return True, "ok"
    return False, "BAD (not the HMAC-SHA256 hex of the body under --secret)"


def schema_verdict(body: bytes) -> tuple[bool, str, dict[str, Any] | None]:
    """(ok, text, document) for a delivery body against the guide's envelope and data schemas."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return False, f"FAIL (body is not JSON: {exc})", None
    if not isinstance(doc, dict):
        return False, "FAIL (body is not a JSON object)", None
    if doc.get("type") == VERIFY_TYPE:
        ok = isinstance(doc.get("challenge"), str)
        return ok, "ok" if ok else "FAIL (challenge is not a string)", doc
    try:
        parse_event(body, allow_unknown_type=doc.get("type") == TEST_EVENT_TYPE)
    except EventDataError as exc:
        return False, f"FAIL ({exc})", doc
    return True, "ok", doc


def create_listen_app(
    secret: str,
    *,
    behaviour: Behaviour | None = None,
    forward_to: str | None = None,
    say: Callable[[str], None] = print,
    rng: random.Random | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> Starlette:
    """The endpoint (``POST /webhook``, any other path too) as a Starlette app."""
    draw = rng if rng is not None else random.Random()
    origin = monotonic()
    seen: dict[str, tuple[int, float]] = {}  # event id -> (attempts so far, last arrival)
    client: list[Any] = []

    async def forward(request: Request, body: bytes) -> tuple[Response, str]:
        import httpx

        if not client:
            client.append(httpx.AsyncClient(timeout=10.0))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        started = monotonic()
        try:
            got = await client[0].post(str(forward_to), content=body, headers=headers)
        except httpx.HTTPError as exc:
            ms = (monotonic() - started) * 1000
            text = f"forward to {forward_to} failed after {ms:.0f} ms: {type(exc).__name__}"
            return JSONResponse({"error": "forward failed"}, status_code=502), f"502 ({text})"
        ms = (monotonic() - started) * 1000
        answer = Response(
            got.content,
            status_code=got.status_code,
            media_type=got.headers.get("content-type"),
        )
        return answer, f"{got.status_code} from {forward_to} in {ms:.1f} ms"

    async def own_answer(kind: str, challenge: str | None, attempt: int) -> tuple[Response, str]:
        name = behaviour.name if behaviour else "healthy"
        now_ms = int((monotonic() - origin) * 1000)
        if challenge is not None:
            how = behaviour.verify if behaviour else "echo"
            if behaviour is not None and behaviour.outage_at(now_ms) is not None:
                return JSONResponse(
                    {"error": "down"}, status_code=503
                ), f"503 (behaviour {name}: outage)"
            if how == "status" and behaviour is not None:
                code = behaviour.failure_status
                return JSONResponse(
                    {"error": "injected"}, status_code=code
                ), f"{code} (behaviour {name})"
            if how == "hang":
                await asyncio.sleep(HANG_LIMIT_S)
                return JSONResponse(
                    {"error": "hung"}, status_code=504
                ), f"504 (behaviour {name}: hang)"
            echo = challenge if how == "echo" else challenge + "-wrong"
            return JSONResponse(
                {"challenge": echo}
            ), f"200 challenge {'echoed' if how == 'echo' else 'answered wrong'}"
        if behaviour is None:
            return JSONResponse({"status": "ok"}), "200"
        got = respond(
            behaviour,
            now_ms=now_ms,
            attempt=attempt,
            u_fail=draw.random(),
            u_latency=draw.random(),
            u_hang=draw.random(),
        )
        if got.kind == "hang":
            await asyncio.sleep(HANG_LIMIT_S)
            return JSONResponse(
                {"error": "hung"}, status_code=504
            ), f"504 after hanging (behaviour {name})"
        if got.kind == "refused":
            return JSONResponse(
                {"error": "down"}, status_code=503, headers={"Connection": "close"}
            ), f"503 (behaviour {name}: down)"
        await asyncio.sleep(got.latency_ms / 1000)
        status = got.status or 500
        body = (
            {"status": "ok"}
            if status == behaviour.success_status
            else {"error": "injected failure"}
        )
        return JSONResponse(
            body, status_code=status
        ), f"{status} (behaviour {name}, {got.latency_ms} ms)"

    async def webhook(request: Request) -> Response:
        body = await request.body()
        arrived = monotonic()
        at = datetime.now()
        sig_ok, sig_text = signature_verdict(body, request.headers.get(SIGNATURE_HEADER), secret)
        schema_ok, schema_text, doc = schema_verdict(body)
        kind = str(doc.get("type")) if doc and isinstance(doc.get("type"), str) else "(no type)"
        challenge = doc.get("challenge") if doc and kind == VERIFY_TYPE else None
        event_id = doc.get("id") if doc and isinstance(doc.get("id"), str) else None
        attempt, gap = 1, None
        if event_id is not None:
            count, last = seen.get(event_id, (0, arrived))
            attempt, gap = count + 1, (arrived - last if count else None)
            seen[event_id] = (attempt, arrived)
        if forward_to is not None:
            answer, text = await forward(request, body)
        elif not sig_ok and not (
            challenge is not None and request.headers.get(SIGNATURE_HEADER) is None
        ):
            answer, text = (
                JSONResponse({"error": "invalid signature"}, status_code=401),
                "401 (signature)",
            )
        elif not schema_ok:
            answer, text = JSONResponse({"error": schema_text}, status_code=400), "400 (schema)"
        else:
            answer, text = await own_answer(
                kind, challenge if isinstance(challenge, str) else None, attempt
            )
        say(Arrival(kind, event_id, attempt, gap, sig_text, schema_text, text).line(at))
        return answer

    return Starlette(routes=[Route("/{path:path}", webhook, methods=["POST"])])
