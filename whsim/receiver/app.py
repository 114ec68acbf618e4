"""The reference receiver as a Starlette app.

Order of checks, and why: the signature first (on the raw bytes, before any parsing, so nothing
unauthenticated is processed), then the verification challenge, then the event's schema (400),
then idempotency by event id. Events as the guide prints them carry no ``id`` (clause EVENT-9):
such an event is accepted and deduplicated by the key ``sha256:<hex of its exact body bytes>``
(a sender's retry repeats the same bytes, so a retry is seen as the duplicate it is). An unsigned verification request is still answered (clause
VERIFY-5: the guide's own example answers before any signature check, so a sender may not sign
it); a verification request with a wrong signature gets 401 like anything else.

Limits: a body over ``max_body_bytes`` is answered 413 before it is read in full, and a request
that fails the signature is logged without its body, so unauthenticated senders cannot fill the
database. A sender that drops the connection mid-request is logged as one line, not a traceback.

Readings (``readings``, declared in :data:`whsim.core.honoured.RECEIVER`): SIG-1 and SIG-2 pick
the signature form it accepts (:func:`whsim.core.signing.verify_reading`), CODES-5
``reject-400`` answers an unknown event type 400 instead of accepting it. EVENT-9 and VERIFY-5 are
what the sender does: the receiver handles both readings of each as above (an event without
``id`` is keyed by its body hash; an unsigned verification request is answered, a signed one
checked), so it honours both with the same code.

Faults (``behaviour``) are applied to signed, well-formed requests only, so a demo receiver that
"fails twice" still rejects forgeries. A ``down`` outage cannot refuse connections from inside
the server; it answers 503 and closes the connection instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from whsim.core.behaviours import Behaviour, LoadMeter, respond
from whsim.core.clock import Clock, WallClock
from whsim.core.errors import EventDataError
from whsim.core.honoured import RECEIVER
from whsim.core.readings import Readings
from whsim.core.signing import SIGNATURE_HEADER, verify_reading
from whsim.core.spec.events import VERIFY_TYPE, Event, parse_event
from whsim.receiver.store import ReceiverStore
from whsim.serve import BodyLimit

__all__ = ["create_app"]

MAX_BODY_BYTES = 1024 * 1024
"""Default largest webhook body the receiver reads (1 MiB); larger ones get 413."""

HANG_LIMIT_S = 600.0
"""A hanging answer gives up after this long, or as soon as the client goes away."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _challenge(body: bytes) -> str | None:
    """The challenge when ``body`` is a verification request, else None."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if isinstance(doc, dict) and doc.get("type") == VERIFY_TYPE:
        challenge = doc.get("challenge")
        return challenge if isinstance(challenge, str) else None
    return None


def _parse(body: bytes, unknown_types: bool = True) -> Event:
    """The event in ``body``; one without an ``id`` gets its body-hash key as id (EVENT-9).
    ``unknown_types`` False refuses a type the guide does not list (CODES-5 ``reject-400``)."""
    try:
        return parse_event(body, allow_unknown_type=unknown_types)
    except EventDataError as exc:
        if exc.field != "id":
            raise
        doc = json.loads(body)
        if not isinstance(doc, dict) or "id" in doc:
            raise
        key = "sha256:" + hashlib.sha256(body).hexdigest()
        event = parse_event(
            json.dumps({**doc, "id": key}).encode(), allow_unknown_type=unknown_types
        )
        return dataclasses.replace(event, body=bytes(body))


async def _hang(request: Request) -> Response:
    waited = 0.0
    while waited < HANG_LIMIT_S and not await request.is_disconnected():
        await asyncio.sleep(0.1)
        waited += 0.1
    return JSONResponse({"error": "hung"}, status_code=504)


def create_app(
    secret: str,
    *,
    store: ReceiverStore | None = None,
    behaviour: Behaviour | None = None,
    rng: random.Random | None = None,
    clock: Clock | None = None,
    log: Callable[[str], None] | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    readings: Readings | None = None,
) -> Starlette:
    """The receiver app. ``behaviour`` (None: no faults) runs on ``clock``, zero at creation.

    Bodies over ``max_body_bytes`` (any path) are answered 413 ``{"error": ..., "limit": N}``.
    ``readings`` not honoured by the receiver raise ``ReadingNotHonouredError`` here.
    """
    chosen = RECEIVER.check(readings if readings is not None else Readings())
    scheme, tolerance = chosen["SIG-1"], chosen["SIG-2"]
    unknown_types = chosen["CODES-5"] == "accept"
    db = store if store is not None else ReceiverStore()
    draw = rng if rng is not None else random.Random()
    wall = clock if clock is not None else WallClock()
    origin = wall.now_ms()
    say = log if log is not None else (lambda _line: None)
    # a behaviour with a capacity fails by its load: one meter, fed every faultable attempt
    meter = LoadMeter(behaviour.capacity) if behaviour and behaviour.capacity else None

    def record(
        request: Request,
        status: int,
        outcome: str,
        body: bytes,
        event_id: str | None = None,
        event_type: str | None = None,
    ) -> None:
        at = _now()
        db.log(
            at=at,
            path=request.url.path,
            status=status,
            outcome=outcome,
            event_id=event_id,
            event_type=event_type,
            signature=request.headers.get(SIGNATURE_HEADER),
            body=body,
        )
        say(f"{at} {request.url.path} {status} {event_type or '-'} {event_id or '-'} {outcome}")

    async def webhook(request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get(SIGNATURE_HEADER)
        challenge = _challenge(body)
        unsigned_verification = challenge is not None and signature is None
        valid = verify_reading(body, signature, secret, scheme=scheme, tolerance=tolerance)
        if not unsigned_verification and not valid:
            why = "missing signature" if signature is None else "invalid signature"
            record(request, 401, f"{why} ({len(body)} bytes, not stored)", b"")
            return JSONResponse({"error": why}, status_code=401)
        now_ms = wall.now_ms() - origin
        outage = behaviour.outage_at(now_ms) if behaviour else None
        if challenge is not None:
            return await verification(request, body, challenge, outage is not None)
        try:
            event = _parse(body, unknown_types)
        except EventDataError as exc:
            record(request, 400, f"bad data: {exc.field}", body)
            return JSONResponse({"error": exc.message, "field": exc.field}, status_code=400)
        if behaviour is not None:
            attempt = db.attempts(event.id) + 1
            answer = respond(
                behaviour,
                now_ms=now_ms,
                attempt=attempt,
                u_fail=draw.random(),
                u_latency=draw.random(),
                u_hang=draw.random(),
                load=meter.admit(now_ms) if meter is not None else None,
            )
            if answer.kind == "hang":
                record(request, 504, f"fault: hang (attempt {attempt})", body, event.id, event.type)
                return await _hang(request)
            if answer.kind == "refused":
                record(request, 503, f"fault: down (attempt {attempt})", body, event.id, event.type)
                return JSONResponse(
                    {"error": "down"}, status_code=503, headers={"Connection": "close"}
                )
            await asyncio.sleep(answer.latency_ms / 1000)
            if answer.status != behaviour.success_status:
                status = answer.status or 500
                record(
                    request,
                    status,
                    f"fault: status (attempt {attempt})",
                    body,
                    event.id,
                    event.type,
                )
                return JSONResponse({"error": "injected failure"}, status_code=status)
        first = db.mark_processed(event.id, event.type, _now())
        status = behaviour.success_status if behaviour else 200
        outcome = "processed" if first else "duplicate"
        record(request, status, outcome, body, event.id, event.type)
        return JSONResponse({"status": "ok" if first else "already_processed"}, status_code=status)

    async def verification(request: Request, body: bytes, challenge: str, down: bool) -> Response:
        kind = behaviour.verify if behaviour else "echo"
        if down or kind == "status":
            status = behaviour.failure_status if behaviour and not down else 503
            record(request, status, "fault: verification failed", body, event_type=VERIFY_TYPE)
            return JSONResponse({"error": "injected failure"}, status_code=status)
        if kind == "hang":
            record(request, 504, "fault: verification hang", body, event_type=VERIFY_TYPE)
            return await _hang(request)
        echo = challenge if kind == "echo" else challenge + "-wrong"
        record(request, 200, f"verification ({kind})", body, event_type=VERIFY_TYPE)
        return JSONResponse({"challenge": echo})

    async def received(request: Request) -> Response:
        try:
            limit = max(1, min(1000, int(request.query_params.get("limit", "100"))))
        except ValueError:
            limit = 100
        return JSONResponse({"received": db.received(limit), "processed": db.processed_count()})

    async def index(request: Request) -> Response:
        return PlainTextResponse(
            "whsim reference receiver: POST signed webhooks to any path; GET /received lists "
            "what arrived.\n"
        )

    async def client_left(request: Request, exc: Exception) -> Response:
        # The sender dropped the connection mid-request (or the body limit cut it off): nothing
        # to answer, and not an error of the receiver.
        say(f"{_now()} {request.url.path} - - - client disconnected before the body was read")
        return Response(status_code=400)

    return Starlette(
        routes=[
            Route("/received", received, methods=["GET"]),
            Route("/{path:path}", webhook, methods=["POST"]),
            Route("/{path:path}", index, methods=["GET", "HEAD"]),
        ],
        middleware=[Middleware(BodyLimit, limit=lambda _m, _p: max_body_bytes, refusal=_refusal)],
        exception_handlers={ClientDisconnect: client_left},
    )


def _refusal(status: int, code: str, message: str, details: dict[str, Any]) -> bytes:
    return json.dumps({"error": message, **details}).encode()
