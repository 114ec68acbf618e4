"""Deliberately broken webhook receivers, one fault each, to prove the receiver suite can fail.

Each is a small Starlette app written independently of whsim's reference receiver: a plain
correct receiver (``good``) with exactly one thing changed. ``guide_example`` is the guide's own
Flask code transcribed to Starlette with its bugs kept: ``payload.encode()`` on bytes raises
AttributeError on every request (Flask answers 500), and ``compare_digest(str, None)`` raises
TypeError when the header is missing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from whsim.core.errors import EventDataError
from whsim.core.spec.events import parse_event

Handler = Callable[[Request], Awaitable[Response]]
FAULTS = (
    "no-challenge-echo",
    "accepts-bad-signatures",
    "reserialized-json",
    "500-on-missing-header",
    "500-on-duplicate",
    "slow",
    "500-on-bad-data",
    "sha256-prefix",
)


def _app(handler: Handler) -> Starlette:
    return Starlette(routes=[Route("/{path:path}", handler, methods=["POST", "GET"])])


def _hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _js_number(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _js_int(text: str) -> float | int:
    value = int(text)
    return value if abs(value) <= 2**53 else float(value)


def _js_order(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # JavaScript objects list integer-like keys first, ascending, then the rest in insertion order.
    index = sorted(
        (p for p in pairs if p[0].isdigit() and str(int(p[0])) == p[0]), key=lambda p: int(p[0])
    )
    return dict(index + [p for p in pairs if p not in index])


def js_reserialize(body: bytes) -> bytes:
    """``JSON.stringify(JSON.parse(body))`` as Node computes it, written in Python."""
    doc = json.loads(body, parse_float=_js_number, parse_int=_js_int, object_pairs_hook=_js_order)
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def good(secret: str, fault: str | None = None) -> Starlette:
    """A correct receiver, or one with ``fault`` (one of :data:`FAULTS`)."""
    seen: set[str] = set()
    slow_lock = asyncio.Lock()

    def signature_ok(body: bytes, header: str | None) -> bool:
        if fault == "accepts-bad-signatures":
            return True
        if header is None:
            if fault == "500-on-missing-header":
                raise TypeError(
                    "unsupported operand types(s) or combination of types: 'str' and 'NoneType'"
                )
            return False
        signed = js_reserialize(body) if fault == "reserialized-json" else body
        expected = _hex(secret, signed)
        if fault == "sha256-prefix":
            expected = "sha256=" + expected
        return hmac.compare_digest(expected, header)

    async def handler(request: Request) -> Response:
        body = await request.body()
        try:
            if not signature_ok(body, request.headers.get("X-Webhook-Signature")):
                return JSONResponse({"error": "Invalid signature"}, status_code=401)
        except ValueError:  # reserialized-json on a body that is not JSON
            return JSONResponse({"error": "Invalid signature"}, status_code=401)
        except TypeError:
            return PlainTextResponse("Internal Server Error", status_code=500)
        try:
            doc = json.loads(body)
        except ValueError:
            return _bad_data("not JSON")
        if isinstance(doc, dict) and doc.get("type") == "webhook.verify":
            if fault == "no-challenge-echo":
                return JSONResponse({"status": "ok"})
            return JSONResponse({"challenge": doc.get("challenge")})
        try:
            event = parse_event(body, allow_unknown_type=True)
        except EventDataError as exc:
            if exc.field != "id" or not isinstance(doc, dict) or "id" in doc:
                return _bad_data(exc.message)
            # The guide prints events without an id: keyed by the body's hash instead.
            keyed = {**doc, "id": "sha256:" + hashlib.sha256(body).hexdigest()}
            try:
                event = parse_event(json.dumps(keyed).encode(), allow_unknown_type=True)
            except EventDataError as again:
                return _bad_data(again.message)
        if event.type == "job.progress" and fault == "slow":
            # One progress writer at a time, 0.2 s each: a burst queues up past 5 s.
            async with slow_lock:
                if not await request.is_disconnected():
                    await asyncio.sleep(0.2)
        if event.id in seen:
            if fault == "500-on-duplicate":
                return PlainTextResponse("IntegrityError: duplicate key", status_code=500)
            return JSONResponse({"status": "already_processed"})
        seen.add(event.id)
        return JSONResponse({"status": "ok"})

    def _bad_data(why: str) -> Response:
        if fault == "500-on-bad-data":
            return PlainTextResponse(f"Traceback ... {why}", status_code=500)
        return JSONResponse({"error": why}, status_code=400)

    return _app(handler)


class _BadRequest(Exception):
    pass


def _flask_json(request_body: bytes) -> Any:
    # Flask's request.json: a 400 Bad Request when the body does not parse.
    try:
        return json.loads(request_body)
    except ValueError:
        raise _BadRequest from None


def guide_example(secret: str, *, encode_fixed: bool = False) -> Starlette:
    """The guide's "Signature Verification" receiver, as written (Flask semantics kept).

    With ``encode_fixed`` the one obvious bug (``payload.encode()``) is fixed and the rest is
    kept, which shows the second bug: a missing header raises TypeError, answered 500.
    """
    WEBHOOK_SECRET = secret

    def verify_webhook_signature(payload: Any, signature: Any, secret: str) -> bool:
        expected_signature = hmac.new(
            secret.encode(),
            payload if encode_fixed else payload.encode(),
            hashlib.sha256,
        ).hexdigest()
        return hmac.compare_digest(expected_signature, signature)

    async def webhook(request: Request) -> Response:
        data = await request.body()  # Flask's request.data: bytes
        try:
            signature = request.headers.get("X-Webhook-Signature")
            if not verify_webhook_signature(data, signature, WEBHOOK_SECRET):
                return JSONResponse({"error": "Invalid signature"}, status_code=401)
            event = _flask_json(data)  # noqa: F841 - "# Process event"
            return JSONResponse({"status": "ok"}, status_code=200)
        except _BadRequest:
            return PlainTextResponse("400 Bad Request", status_code=400)
        except Exception:  # Flask turns any unhandled exception into a 500
            return PlainTextResponse("500 Internal Server Error", status_code=500)

    return _app(webhook)
