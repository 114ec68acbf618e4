"""Secrets never reach a report: the signing secret given to the kit, the registration secrets it
generated, any ``"secret"`` value in a JSON body and credentials in headers are masked.

Masking is done on the case results before any report is written (:func:`mask_results`), on the
bytes of each exchange, so the text, the base64 copy and the curl replay of a body agree. A
replayed registration then registers the placeholder as its secret; give your own to replay it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

from whsim.conformance.case import CaseResult
from whsim.conformance.exchange import Exchange, Request, Response

__all__ = ["KIT_SECRET_PREFIX", "MASK", "Masker", "mask_results"]

KIT_SECRET_PREFIX: Final = "whsim-conformance-secret-"
"""Every registration secret the sender suite generates starts with this."""
MASK: Final = "***masked***"
_KIT_SECRET = re.compile(re.escape(KIT_SECRET_PREFIX) + r"[A-Za-z0-9_\-]*")
_JSON_SECRET = re.compile(r'("secret"\s*:\s*")((?:[^"\\]|\\.)*)(")')
_CREDENTIAL_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "x-api-key"})


class Masker:
    """Replaces the given secrets (and the kit's own) in text and bytes by :data:`MASK`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is masked whole. Very short strings
        # would mask ordinary words; a secret of fewer than 4 characters is not a secret.
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, MASK)
        value = _KIT_SECRET.sub(MASK, value)
        if '"secret"' not in value:
            return value
        return _JSON_SECRET.sub(lambda m: m.group(1) + MASK + m.group(3), value)

    def data(self, body: bytes) -> bytes:
        for secret in self.secrets:
            body = body.replace(secret.encode(), MASK.encode())
        if KIT_SECRET_PREFIX.encode() not in body and b'"secret"' not in body:
            return body
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return re.sub(_KIT_SECRET.pattern.encode(), MASK.encode(), body)
        return self.text(text).encode("utf-8")

    def headers(self, headers: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        out = []
        for name, value in headers:
            if name.lower() in _CREDENTIAL_HEADERS and value:
                scheme, _, rest = value.partition(" ")
                value = f"{scheme} {MASK}" if rest else MASK
            out.append((name, self.text(value)))
        return tuple(out)

    def exchange(self, ex: Exchange) -> Exchange:
        req, resp = ex.request, ex.response
        return Exchange(
            Request(req.method, self.text(req.url), self.headers(req.headers), self.data(req.body)),
            Response(
                resp.status,
                self.headers(resp.headers),
                self.data(resp.body),
                resp.elapsed_s,
                self.text(resp.error),
            ),
            self.text(ex.note),
        )

    def value(self, value: Any) -> Any:
        """Any JSON-like value with every string masked (figures, which are SVG, included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes):
            return self.data(value)
        if isinstance(value, dict):
            return {k: MASK if k == "secret" else self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.value(v) for v in value)
        return value

    def result(self, r: CaseResult) -> CaseResult:
        return dataclasses.replace(
            r,
            message=self.text(r.message),
            expected=self.text(r.expected),
            actual=self.text(r.actual),
            exchanges=[self.exchange(e) for e in r.exchanges],
            details=self.value(r.details),
        )


def mask_results(results: Iterable[CaseResult], secrets: Iterable[str] = ()) -> list[CaseResult]:
    """Copies of ``results`` with every secret masked (see the module docstring)."""
    masker = Masker(secrets)
    return [masker.result(r) for r in results]
