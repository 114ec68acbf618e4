"""The sender's HTTP API as a Starlette app; every route is described in ``GET /openapi.json``.

Errors share one shape, ``{"error": {"code", "message", "details"}}``: 400 for a body that is
not JSON, 404 for an unknown id or path, 405 for a wrong method, 409 for a state conflict, 413
for a body over the limit, 415 for a declared Content-Type that is not JSON, 422 for JSON that
breaks the rules (a string with control, bidirectional-control or lone surrogate characters
included, see :mod:`whsim.sender.text`); a key repeated in one object is 400. A bug answers
500 in the same shape, without a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from whsim.core.errors import EventDataError, RegistrationError, SenderError
from whsim.core.spec.events import EVENT_TYPES, TEST_EVENT_TYPE, data_schema
from whsim.sender import netguard
from whsim.sender.config import SenderConfig
from whsim.sender.export import MEDIA_TYPE as EXPORT_MEDIA_TYPE
from whsim.sender.openapi import openapi_document
from whsim.sender.service import DELIVERY_STATUSES, Sender
from whsim.sender.source import EventSource
from whsim.sender.text import unsafe_character
from whsim.serve import BodyLimit

__all__ = ["create_app"]

log = logging.getLogger("whsim.sender")

Handler = Callable[[Request], Awaitable[Response]]


def _error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status)


def _int(text: str | None) -> int | None:
    return None if text is None else int(text)


async def _lines(lines: Iterator[str]) -> AsyncIterator[str]:
    # An async iterator, so Starlette reads the store on the event loop (the store's thread)
    # one page at a time, letting deliveries run between pages.
    for n, line in enumerate(lines):
        yield line
        if n % 500 == 499:
            await asyncio.sleep(0)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise _DuplicateKey(key)
        doc[key] = value
    return doc


def _check_text(value: object, where: str = "") -> None:
    """Raise 422 naming the field when any key or string in ``value`` breaks the text rule."""
    if isinstance(value, str):
        problem = unsafe_character(value)
        if problem:
            field = where or "body"
            raise SenderError(
                f"{field}: {problem}; text may not contain control, bidirectional-control or "
                "surrogate characters",
                status=422,
                code="invalid_text",
                details={"field": field},
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, f"{where}.<key>" if where else "<key>")
            _check_text(item, f"{where}.{key}" if where else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_text(item, f"{where}[{i}]")


def _check_content_type(request: Request) -> None:
    raw = request.headers.get("content-type")
    if raw is None:
        return  # no declared type: read as JSON, the only thing this API takes
    media = raw.split(";", 1)[0].strip().lower()
    if media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    ):
        return
    raise SenderError(
        f"Content-Type {media or raw!r} is not supported; send application/json",
        status=415,
        code="unsupported_media_type",
        details={"field": "Content-Type"},
    )


async def read_json(request: Request) -> object:
    """The request body as JSON text the API can store.

    415 for a declared Content-Type other than JSON; 400 when the body is not JSON or repeats a
    key in one object; 422 when a string breaks :mod:`whsim.sender.text`'s rule. The body limit
    (413) is :class:`whsim.serve.BodyLimit`'s, in front of every route.
    """
    _check_content_type(request)
    data = await request.body()
    if not data.strip():
        raise SenderError(
            "the request body is empty; send a JSON object", status=400, code="invalid_json"
        )
    try:
        doc = json.loads(
            bytes(data), parse_constant=_reject_constant, object_pairs_hook=_unique_keys
        )
    except _DuplicateKey as dup:
        raise SenderError(
            f"the key {dup.key!r} appears more than once in one object",
            status=400,
            code="duplicate_key",
            details={"field": dup.key},
        ) from None
    except UnicodeDecodeError:
        raise SenderError(
            "the request body is not UTF-8", status=400, code="invalid_json"
        ) from None
    except json.JSONDecodeError as exc:
        raise SenderError(
            f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            status=400,
            code="invalid_json",
        ) from None
    except (ValueError, RecursionError) as exc:
        message = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise SenderError(
            f"the request body is not valid JSON: {message}", status=400, code="invalid_json"
        ) from None
    _check_text(doc)
    return doc


def create_app(
    config: SenderConfig,
    *,
    resolver: netguard.Resolver = netguard.system_resolver,
    sender: Sender | None = None,
    make_source: Callable[[Sender], EventSource] = EventSource,
) -> Starlette:
    """The sender app; its lifespan opens the store and runs the dispatcher.

    ``sender`` replaces the :class:`Sender` built from ``config`` (the test-only faults layer
    passes its broken one; ``make_source`` builds the event source likewise).
    ``app.state.sender`` and ``app.state.source`` are set while it runs.
    """
    if sender is None:
        sender = Sender(config, resolver=resolver)
    source = make_source(sender)
    limit = config.max_body_bytes

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await sender.start()
        await source.start()
        app.state.sender = sender
        app.state.source = source
        try:
            yield
        finally:
            await source.stop()
            await sender.stop()

    def path(request: Request, name: str) -> str:
        return str(request.path_params[name])

    async def meta(request: Request) -> Response:
        return JSONResponse(sender.meta())

    async def event_types(request: Request) -> Response:
        items = [
            {"type": t, "data_schema": data_schema(t), "subscribable": t != TEST_EVENT_TYPE}
            for t in (*EVENT_TYPES, TEST_EVENT_TYPE)
        ]
        return JSONResponse({"event_types": items})

    async def create_webhook(request: Request) -> Response:
        body = await read_json(request)
        return JSONResponse(await sender.create_webhook(body), status_code=201)

    async def list_webhooks(request: Request) -> Response:
        return JSONResponse(sender.list_webhooks())

    async def get_webhook(request: Request) -> Response:
        return JSONResponse(sender.get_webhook(path(request, "webhook_id")))

    async def update_webhook(request: Request) -> Response:
        webhook_id = path(request, "webhook_id")
        sender.get_webhook(webhook_id)  # 404 before 400/422
        body = await read_json(request)
        return JSONResponse(await sender.update_webhook(webhook_id, body))

    async def delete_webhook(request: Request) -> Response:
        await sender.delete_webhook(path(request, "webhook_id"))
        return Response(status_code=204)

    async def test_webhook(request: Request) -> Response:
        return JSONResponse(sender.send_test(path(request, "webhook_id")), status_code=202)

    async def list_deliveries(request: Request) -> Response:
        webhook_id = path(request, "webhook_id")
        sender.get_webhook(webhook_id)
        query = request.query_params
        unknown = sorted(set(query) - {"limit", "status", "format"})
        if unknown:
            raise SenderError(
                f"unknown query parameter {unknown[0]!r}; allowed: limit, status, format",
                status=422,
                code="invalid_query",
                details={"field": unknown[0]},
            )
        kind = query.get("format", "json")
        if kind not in ("json", "jsonl"):
            raise SenderError(
                "format must be json or jsonl",
                status=422,
                code="invalid_query",
                details={"field": "format", "allowed": ["json", "jsonl"]},
            )
        raw_limit = query.get("limit")
        # isascii: "²" and other Unicode digits pass isdigit() and then break int().
        if raw_limit is not None and (
            not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= 500
        ):
            raise SenderError(
                "limit must be an integer within 1..500",
                status=422,
                code="invalid_query",
                details={"field": "limit"},
            )
        status = query.get("status")
        if status is not None and status not in DELIVERY_STATUSES:
            raise SenderError(
                f"status must be one of: {', '.join(DELIVERY_STATUSES)}",
                status=422,
                code="invalid_query",
                details={"field": "status", "allowed": list(DELIVERY_STATUSES)},
            )
        if kind == "jsonl":
            return StreamingResponse(
                _lines(sender.export_trace(webhook_id, status=status, limit=_int(raw_limit))),
                media_type=EXPORT_MEDIA_TYPE,
            )
        limit = int(raw_limit) if raw_limit is not None else 50
        return JSONResponse(sender.list_deliveries(webhook_id, limit=limit, status=status))

    async def get_delivery(request: Request) -> Response:
        doc = sender.get_delivery(path(request, "webhook_id"), path(request, "delivery_id"))
        return JSONResponse(doc)

    async def redeliver(request: Request) -> Response:
        doc = sender.redeliver(path(request, "webhook_id"), path(request, "delivery_id"))
        return JSONResponse(doc, status_code=202)

    async def create_proposal(request: Request) -> Response:
        body = await read_json(request)
        return JSONResponse(source.create_proposal(body), status_code=201)

    async def get_proposal(request: Request) -> Response:
        return JSONResponse(source.get_proposal(path(request, "proposal_id")))

    async def create_job(request: Request) -> Response:
        body = await read_json(request)
        return JSONResponse(source.create_job(body), status_code=201)

    async def get_job(request: Request) -> Response:
        return JSONResponse(source.get_job(path(request, "job_id")))

    document = openapi_document(config)

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    def by_method(**handlers: Handler) -> Handler:
        # One Route per path, so a 405 lists every allowed method in Allow.
        async def endpoint(request: Request) -> Response:
            response = await handlers[request.method.lower()](request)
            if request.method != "GET":  # what it acknowledged is on the disk before it answers
                await sender.sync()
                await source.sync()
            return response

        return endpoint

    def route(path: str, **handlers: Handler) -> Route:
        methods = [m.upper() for m in handlers]
        if "get" in handlers:
            handlers["head"] = handlers["get"]
        return Route(path, by_method(**handlers), methods=methods)

    routes = [
        route("/openapi.json", get=openapi),
        route("/api/meta", get=meta),
        route("/api/event-types", get=event_types),
        route("/api/webhooks", post=create_webhook, get=list_webhooks),
        route(
            "/api/webhooks/{webhook_id}", get=get_webhook, put=update_webhook, delete=delete_webhook
        ),
        route("/api/webhooks/{webhook_id}/test", post=test_webhook),
        route("/api/webhooks/{webhook_id}/deliveries", get=list_deliveries),
        route("/api/webhooks/{webhook_id}/deliveries/{delivery_id}", get=get_delivery),
        route("/api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", post=redeliver),
        route("/api/proposals", post=create_proposal),
        route("/api/proposals/{proposal_id}", get=get_proposal),
        route("/api/jobs", post=create_job),
        route("/api/jobs/{job_id}", get=get_job),
    ]

    async def sender_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SenderError)
        return _error(exc.status, exc.code, exc.message, exc.details)

    async def registration_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RegistrationError)
        details: dict[str, Any] = {"field": exc.field}
        if exc.clause:
            details["clause"] = exc.clause
        return _error(422, exc.code, exc.message, details)

    async def event_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, EventDataError)
        return _error(422, "invalid_event", exc.message, {"field": exc.field})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return _error(404, "not_found", f"no route for {request.url.path}")
        if exc.status_code == 405:
            response = _error(405, "method_not_allowed", f"{request.method} is not allowed here")
            if exc.headers and "Allow" in exc.headers:
                response.headers["Allow"] = exc.headers["Allow"]
            return response
        return _error(exc.status_code, "http_error", str(exc.detail))

    async def client_left(request: Request, exc: Exception) -> Response:
        # The client went away mid-body, or BodyLimit cut the body off and has answered already.
        return _error(400, "client_disconnected", "the client closed the request early")

    async def internal_error(request: Request, exc: Exception) -> Response:
        return _error(500, "internal_error", "the sender failed; see its log")

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(BodyLimit, limit=lambda _method, _path: limit)],
        exception_handlers={
            ClientDisconnect: client_left,
            SenderError: sender_error,
            RegistrationError: registration_error,
            EventDataError: event_error,
            HTTPException: http_error,
            Exception: internal_error,
        },
    )
