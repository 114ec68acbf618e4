"""Webhook registrations: validation, statuses and the verification handshake as a state machine.

Validation takes any decoded JSON value and either returns a typed result or raises
:class:`RegistrationError` naming the field; it never raises anything else. URL host rules that
need DNS are split: :func:`address_refusal` judges one resolved address (pure), and the caller
(the reference sender) resolves names and asks it, at registration and again at connection time.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from urllib.parse import urlsplit

from whsim.core.errors import RegistrationError
from whsim.core.spec.clauses import resolve_reading
from whsim.core.spec.events import EVENT_TYPES

__all__ = [
    "Mode",
    "Registration",
    "WebhookStatus",
    "address_refusal",
    "challenge_accepted",
    "status_after_url_change",
    "status_after_verification",
    "validate_registration",
    "validate_update",
    "validate_url",
]

MAX_URL_LENGTH: Final = 2048
SECRET_MIN, SECRET_MAX = 8, 256


class WebhookStatus(StrEnum):
    """Where a webhook stands (clause REG-8). Only ``active`` webhooks receive events."""

    PENDING_VERIFICATION = "pending_verification"
    ACTIVE = "active"
    VERIFICATION_FAILED = "verification_failed"
    DISABLED = "disabled"


class Mode(StrEnum):
    """The sender's declared mode (reading ``mode-flag`` of HTTPS-1)."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


@dataclass(frozen=True, slots=True)
class Registration:
    """A validated registration body."""

    url: str
    events: tuple[str, ...]
    secret: str


_METADATA_HOSTS: Final = frozenset({"metadata.google.internal", "metadata", "instance-data"})
_CGNAT: Final = ipaddress.ip_network("100.64.0.0/10")
_METADATA_V4: Final = ipaddress.ip_address("169.254.169.254")
_METADATA_V6: Final = ipaddress.ip_address("fd00:ec2::254")
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL: Final = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE: Final = ipaddress.ip_network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address carries, each with the name of the form that carries it.

    A packet to one of these forms can end up at the embedded IPv4 address (a 6to4 or Teredo
    relay, a NAT64 gateway, a dual stack treating mapped or compatible addresses as IPv4).
    """
    if ip.ipv4_mapped is not None:
        return [("IPv4-mapped", ip.ipv4_mapped)]
    if ip.sixtofour is not None:
        return [("6to4", ip.sixtofour)]
    if ip.teredo is not None:
        server, client = ip.teredo
        return [("Teredo server", server), ("Teredo client", client)]
    if ip in _NAT64:
        return [("NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))]
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:
        return [("IPv4-compatible", ipaddress.IPv4Address(int(ip)))]
    return []


def address_refusal(address: str) -> str | None:
    """Why production must not connect to this resolved IP address, or None when it may.

    Refuses loopback, private (RFC 1918, ULA), link-local, CGNAT (100.64/10), cloud metadata,
    multicast, reserved and unspecified addresses. An IPv6 address that embeds an IPv4 one
    (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, 6to4 ``2002::/16``, Teredo
    ``2001::/32``, NAT64 ``64:ff9b::/96``) is refused when the embedded address would be;
    local-use NAT64 (``64:ff9b:1::/48``, RFC 8215) is refused whole, since where its IPv4 sits
    depends on the operator's prefix length.
    """
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return f"{ip} is a local-use NAT64 (64:ff9b:1::/48) address, internal by definition"
        for form, embedded in _embedded_ipv4(ip):
            reason = _refusal(embedded)
            if reason:
                return f"{ip} embeds {embedded} ({form}): {reason}"
        if ip.ipv4_mapped is not None:
            return None  # judged as the IPv4 address it is
    return _refusal(ip)


def _refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if ip in (_METADATA_V4, _METADATA_V6):
        return f"{ip} is a cloud metadata address"
    if ip.is_loopback:
        return f"{ip} is a loopback address"
    if ip.is_link_local:
        return f"{ip} is a link-local address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return f"{ip} is a carrier-grade NAT (100.64.0.0/10) address"
    if ip.is_private:
        return f"{ip} is a private address"
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return f"{ip} is a multicast, reserved or unspecified address"
    return None


def validate_url(
    url: object, mode: Mode | str = Mode.DEVELOPMENT, *, https_reading: str | None = None
) -> str:
    """The URL if it may be registered in ``mode``; else :class:`RegistrationError` (field ``url``).

    Literal IP hosts and ``localhost`` are judged here; names that need DNS are the caller's job
    (see :func:`address_refusal`).
    """
    reading = resolve_reading("HTTPS-1", https_reading)
    mode = Mode(mode)

    def bad(message: str, code: str = "invalid_url") -> RegistrationError:
        return RegistrationError(message, field="url", code=code, clause="HTTPS-1")

    if not isinstance(url, str):
        raise bad(f"url must be a string, got {_kind(url)}")
    if not url or len(url) > MAX_URL_LENGTH:
        raise bad(f"url must be 1 to {MAX_URL_LENGTH} characters")
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise bad("url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise bad(f"url is malformed: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise bad(f"url scheme must be http or https, got {parts.scheme or 'none'!r}")
    host = (parts.hostname or "").lower()
    if not host:
        raise bad("url has no host")
    if parts.username is not None or parts.password is not None:
        raise bad("url must not carry credentials")
    if parts.fragment:
        raise bad("url must not carry a fragment")
    if port == 0:
        raise bad("url port must be 1 to 65535")
    literal = _literal_ip(host)
    is_local_name = host == "localhost" or host.endswith(".localhost")
    loopback = is_local_name or (literal is not None and ipaddress.ip_address(literal).is_loopback)
    if parts.scheme == "http":
        if reading == "loopback-host" and not loopback:
            raise bad("http is only allowed for loopback hosts; use https", "https_required")
        if mode is Mode.PRODUCTION:
            raise bad("production mode requires an https url", "https_required")
    if mode is Mode.PRODUCTION:
        if is_local_name or host in _METADATA_HOSTS:
            raise bad(f"production mode refuses host {host!r}", "forbidden_address")
        if literal is not None:
            reason = address_refusal(literal)
            if reason:
                raise bad(f"production mode refuses this url: {reason}", "forbidden_address")
    return url


def _literal_ip(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _events(value: object, *, reading: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise RegistrationError(
            f"events must be a list of event types, got {_kind(value)}",
            field="events",
            clause="REG-6",
        )
    if not value:
        raise RegistrationError(
            "events must name at least one event type", field="events", clause="REG-6"
        )
    out: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise RegistrationError(
                f"events[{i}] must be a string, got {_kind(item)}",
                field=f"events[{i}]",
                clause="REG-6",
            )
        if item not in EVENT_TYPES and reading == "reject-unknown":
            raise RegistrationError(
                f"events[{i}]: unknown event type {item!r}; known: {', '.join(EVENT_TYPES)}",
                field=f"events[{i}]",
                code="unknown_event_type",
                clause="REG-6",
            )
        if item not in out:
            out.append(item)
    return tuple(out)


def _secret(value: object) -> str:
    if not isinstance(value, str):
        raise RegistrationError(
            f"secret must be a string, got {_kind(value)}", field="secret", clause="REG-7"
        )
    if not SECRET_MIN <= len(value) <= SECRET_MAX:
        raise RegistrationError(
            f"secret must be {SECRET_MIN} to {SECRET_MAX} characters, got {len(value)}",
            field="secret",
            clause="REG-7",
        )
    if not value.isprintable():
        raise RegistrationError(
            "secret must contain only printable characters", field="secret", clause="REG-7"
        )
    return value


def _object(body: object) -> Mapping[str, object]:
    if not isinstance(body, Mapping):
        raise RegistrationError(
            f"the request body must be a JSON object, got {_kind(body)}", field="body"
        )
    for key in body:
        if not isinstance(key, str):
            raise RegistrationError("object keys must be strings", field="body")
    return body


_FIELDS: Final = ("url", "events", "secret")


def validate_registration(
    body: object,
    mode: Mode | str = Mode.DEVELOPMENT,
    *,
    events_reading: str | None = None,
    https_reading: str | None = None,
) -> Registration:
    """Validate a ``POST /api/webhooks`` body; raises :class:`RegistrationError` only."""
    doc = _object(body)
    unknown = sorted(k for k in doc if k not in _FIELDS)
    if unknown:
        raise RegistrationError(
            f"unknown field {unknown[0]!r}; allowed: url, events, secret", field=unknown[0]
        )
    for name in _FIELDS:
        if name not in doc:
            raise RegistrationError(f"{name} is required", field=name, code="missing_field")
    reading = resolve_reading("REG-6", events_reading)
    return Registration(
        url=validate_url(doc["url"], mode, https_reading=https_reading),
        events=_events(doc["events"], reading=reading),
        secret=_secret(doc["secret"]),
    )


def validate_update(
    body: object,
    mode: Mode | str = Mode.DEVELOPMENT,
    *,
    put_reading: str | None = None,
    events_reading: str | None = None,
    https_reading: str | None = None,
) -> dict[str, object]:
    """Validate a ``PUT /api/webhooks/{id}`` body; returns only the fields to change.

    Under reading ``partial`` (default) any non-empty subset of url, events, secret is accepted;
    under ``full-replace`` url and events are required.
    """
    doc = _object(body)
    put = resolve_reading("REG-4", put_reading)
    unknown = sorted(k for k in doc if k not in _FIELDS)
    if unknown:
        raise RegistrationError(
            f"unknown field {unknown[0]!r}; allowed: url, events, secret", field=unknown[0]
        )
    required = ("url", "events") if put == "full-replace" else ()
    for name in required:
        if name not in doc:
            raise RegistrationError(f"{name} is required", field=name, code="missing_field")
    if not doc:
        raise RegistrationError(
            "the update must change at least one of url, events, secret",
            field="body",
            code="missing_field",
        )
    changes: dict[str, object] = {}
    if "url" in doc:
        changes["url"] = validate_url(doc["url"], mode, https_reading=https_reading)
    if "events" in doc:
        changes["events"] = _events(doc["events"], reading=resolve_reading("REG-6", events_reading))
    if "secret" in doc:
        changes["secret"] = _secret(doc["secret"])
    return changes


def challenge_accepted(
    challenge: str, status: int | None, body: bytes, reading: str | None = None
) -> tuple[bool, str]:
    """Whether a verification answer echoes ``challenge`` (clause VERIFY-2), and why not."""
    name = resolve_reading("VERIFY-2", reading)
    if status is None:
        return False, "no answer"
    ok_status = status == 200 if name == "json-echo" else 200 <= status < 300
    if not ok_status:
        return False, f"status {status}, expected 200"
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False, "the answer is not JSON"
    if not isinstance(doc, dict) or "challenge" not in doc:
        return False, "the answer has no 'challenge' field"
    if doc["challenge"] != challenge:
        return False, "the echoed challenge differs from the one sent"
    return True, "challenge echoed"


def status_after_verification(ok: bool, reading: str | None = None) -> WebhookStatus | None:
    """The status after a handshake (clause VERIFY-3); None means: refuse the registration."""
    name = resolve_reading("VERIFY-3", reading)
    if ok or name == "ignore":
        return WebhookStatus.ACTIVE
    if name == "reject-registration":
        return None
    return WebhookStatus.VERIFICATION_FAILED


def status_after_url_change(status: WebhookStatus, reading: str | None = None) -> WebhookStatus:
    """The status while a changed URL awaits verification (clause VERIFY-4)."""
    if resolve_reading("VERIFY-4", reading) == "keep" or status is WebhookStatus.DISABLED:
        return status
    return WebhookStatus.PENDING_VERIFICATION
