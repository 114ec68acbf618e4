"""Sending one request and keeping the exchange, whatever happens (answer, timeout, refusal).

Connection failures are not raised: they come back as a :class:`Response` with ``status`` None
and ``error`` set, so a case can grade "no answer" itself. Elapsed time is measured on the kit's
own monotonic clock, from just before sending to the last byte of the answer.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import httpx

from whsim.conformance.exchange import Exchange, Request, Response

__all__ = ["UNREACHABLE", "post", "probe"]

UNREACHABLE = "unreachable"
"""Prefix of :attr:`Response.error` when no connection could be made at all."""


def _error(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return f"{UNREACHABLE}: {type(exc).__name__}: {exc}"
    if isinstance(exc, httpx.TimeoutException):
        return f"timeout: no answer ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"


def post(
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
    note: str = "",
) -> Exchange:
    """POST ``body`` exactly as given with ``headers``; never raises for network trouble."""
    request = Request("POST", url, tuple(headers.items()), body)
    start = time.monotonic()
    try:
        answer = client.post(url, content=body, headers=dict(headers), timeout=timeout)
    except httpx.HTTPError as exc:
        response = Response(None, elapsed_s=time.monotonic() - start, error=_error(exc))
    else:
        response = Response(
            answer.status_code,
            tuple(answer.headers.multi_items()),
            answer.content,
            time.monotonic() - start,
        )
    return Exchange(request, response, note)


def probe(url: str, *, timeout: float = 5.0) -> str | None:
    """None when something answers HTTP at ``url`` (any status); else why it cannot be reached.

    A read timeout counts as reachable: the target accepted the connection, so the suite grades it.
    """
    try:
        with httpx.Client(timeout=timeout) as client:
            client.get(url)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol) as exc:
        return f"{type(exc).__name__}: {exc}"
    except httpx.TimeoutException:
        return None
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
