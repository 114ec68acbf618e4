"""Signatures: the guide's scheme and the Standard Webhooks profile.

The guide's scheme (clause SIG-1): ``X-Webhook-Signature`` is the lowercase hex HMAC-SHA256 of the
raw body bytes, keyed with the UTF-8 bytes of the secret. Nothing else is signed, so a captured
request can be replayed (finding SIG-6).

The Standard Webhooks profile signs ``{webhook-id}.{webhook-timestamp}.{body}`` with the base64-
decoded part of a ``whsec_`` secret, sends ``v1,<base64>`` (several, space separated, during a
secret rotation) and lets the receiver refuse stale timestamps. The current time is passed in;
nothing here reads a clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from typing import Final

from whsim.core.errors import SignatureFormatError
from whsim.core.spec.clauses import resolve_reading

__all__ = [
    "SIGNATURE_HEADER",
    "STANDARD_TOLERANCE_S",
    "sign",
    "signature_value",
    "standard_headers",
    "standard_secret",
    "standard_sign",
    "standard_verify",
    "verify",
    "verify_reading",
]

SIGNATURE_HEADER: Final = "X-Webhook-Signature"
STANDARD_TOLERANCE_S: Final = 300
"""Standard Webhooks timestamp tolerance; the spec names none, every reference library uses 5 min."""

_HEX_LEN: Final = 64
_HEX_DIGITS: Final = frozenset("0123456789abcdef")


def sign(body: bytes, secret: str) -> str:
    """The guide's ``X-Webhook-Signature`` value: lowercase hex HMAC-SHA256 of the raw body."""
    return hmac.digest(secret.encode("utf-8"), body, "sha256").hex()  # one-shot C HMAC


def signature_value(body: bytes, secret: str, reading: str | None = None) -> str:
    """The ``X-Webhook-Signature`` header a sender sends under a reading of SIG-1.

    ``bare-hex`` (default) is :func:`sign`; ``sha256-prefix`` is ``"sha256=" + sign(...)``, as
    GitHub sends it.
    """
    digest = sign(body, secret)
    if resolve_reading("SIG-1", reading) == "sha256-prefix":
        return "sha256=" + digest
    return digest


def verify(body: bytes, signature: str | None, secret: str) -> bool:
    """True when ``signature`` is the lowercase hex HMAC-SHA256 of ``body``; never raises.

    Exactly as strict as the guide's own receiver, which compares ``hexdigest()`` (lowercase)
    with the header as sent (clause SIG-1, reading bare-hex): uppercase hex, a ``sha256=``
    prefix and surrounding spaces are all False, as are None, empty, non-hex and wrong-length
    values. The comparison is constant-time.
    """
    if not isinstance(signature, str) or len(signature) != _HEX_LEN:
        return False
    if not _HEX_DIGITS.issuperset(signature):
        return False
    try:
        expected = sign(bytes(body), secret)
    except (TypeError, AttributeError):
        return False
    return hmac.compare_digest(expected, signature)


def verify_reading(
    body: bytes,
    signature: str | None,
    secret: str,
    *,
    scheme: str = "bare-hex",
    tolerance: str = "exact-hex",
) -> bool:
    """:func:`verify` under a reading of SIG-1 (``scheme``) and SIG-2 (``tolerance``).

    ``sha256-prefix`` wants ``sha256=<hex>`` (GitHub's form), ``bare-hex`` the hex alone;
    ``tolerant`` also accepts the other form and uppercase hex, ``exact-hex`` nothing else.
    Never raises.
    """
    scheme = resolve_reading("SIG-1", scheme)
    tolerance = resolve_reading("SIG-2", tolerance)
    if not isinstance(signature, str):
        return False
    if tolerance == "tolerant":
        return verify(body, signature.removeprefix("sha256=").lower(), secret)
    if scheme == "sha256-prefix":
        return signature.startswith("sha256=") and verify(body, signature[7:], secret)
    return verify(body, signature, secret)


def standard_secret(key: bytes) -> str:
    """A ``whsec_`` secret for raw key bytes (Standard Webhooks asks for 24 to 64 random bytes)."""
    if not 24 <= len(key) <= 64:
        raise SignatureFormatError(
            f"Standard Webhooks keys are 24 to 64 bytes, got {len(key)}", field="secret"
        )
    return "whsec_" + base64.b64encode(key).decode("ascii")


def _key(secret: str) -> bytes:
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureFormatError(
            "a Standard Webhooks secret is 'whsec_' followed by base64", field="secret"
        ) from None


def _check_id(msg_id: str) -> None:
    if not msg_id or "." in msg_id:
        raise SignatureFormatError(
            f"webhook-id must be non-empty and contain no '.', got {msg_id!r}", field="webhook-id"
        )


def standard_sign(msg_id: str, timestamp: int, body: bytes, secret: str) -> str:
    """One ``v1,<base64>`` signature over ``msg_id.timestamp.body``."""
    _check_id(msg_id)
    content = f"{msg_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def standard_headers(
    msg_id: str, timestamp: int, body: bytes, secrets: str | Sequence[str]
) -> dict[str, str]:
    """The three ``webhook-*`` headers; with several secrets (rotation) every one signs."""
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    if not keys:
        raise SignatureFormatError("at least one secret is needed", field="secret")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": " ".join(standard_sign(msg_id, timestamp, body, k) for k in keys),
    }


def standard_verify(
    msg_id: str | None,
    timestamp: str | None,
    signature_header: str | None,
    body: bytes,
    secrets: str | Iterable[str],
    *,
    now: int,
    tolerance_s: int = STANDARD_TOLERANCE_S,
) -> bool:
    """True when any ``v1`` signature in the header matches any secret and the time is fresh.

    ``now`` is the receiver's time in epoch seconds, passed in. Malformed headers (no comma,
    bad base64, missing values) are False, never an exception: a receiver that lets them raise
    answers 500 where 401 is right.
    """
    if not msg_id or "." in msg_id or not timestamp or not signature_header:
        return False
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > tolerance_s:
        return False
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    expected: list[bytes] = []
    for secret in keys:
        try:
            key = _key(secret)
        except SignatureFormatError:
            continue
        content = f"{msg_id}.{ts}.".encode() + body
        expected.append(hmac.new(key, content, hashlib.sha256).digest())
    for item in signature_header.split(" "):
        version, sep, value = item.partition(",")
        if not sep or version != "v1":
            continue
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if any(hmac.compare_digest(given, e) for e in expected):
            return True
    return False
