"""The guide's seven event types, their JSON Schemas, and the envelope serialized once to bytes.

An :class:`Event` holds the exact ``body`` bytes that are signed and sent; the bytes are produced
once, at construction, and never re-serialized. The envelope is ``{id, type, timestamp, data}``:
the guide's examples carry no ``id`` although its idempotency section reads one, so the kit adds a
unique ``id`` that stays the same across retries (reading ``envelope-id`` of clause EVENT-9).
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from whsim.core.errors import EventDataError

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

__all__ = [
    "ENVELOPE_SCHEMA",
    "EVENT_TYPES",
    "TEST_EVENT_TYPE",
    "VERIFY_TYPE",
    "Event",
    "check_document",
    "data_schema",
    "format_timestamp",
    "make_event",
    "new_event_id",
    "parse_event",
    "parse_timestamp",
    "verification_body",
]

EVENT_TYPES: Final[tuple[str, ...]] = (
    "job.created",
    "job.started",
    "job.progress",
    "job.completed",
    "job.failed",
    "document.created",
    "proposal.created",
)
"""The seven event types of the guide, in the order it lists them."""

VERIFY_TYPE: Final = "webhook.verify"
TEST_EVENT_TYPE: Final = "webhook.test"
"""Type of the event ``POST /api/webhooks/{id}/test`` sends (reading ``webhook.test`` of EVENT-11)."""

_ID = {"type": "string", "minLength": 1, "maxLength": 128}

_DATA_SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    "job.created": {
        "type": "object",
        "required": ["job_id", "proposal_id", "status"],
        "properties": {"job_id": _ID, "proposal_id": _ID, "status": {"const": "pending"}},
    },
    "job.started": {
        "type": "object",
        "required": ["job_id", "status"],
        "properties": {"job_id": _ID, "status": {"const": "processing"}},
    },
    "job.progress": {
        "type": "object",
        "required": ["job_id", "progress"],
        "properties": {
            "job_id": _ID,
            "progress": {
                "type": "object",
                "required": ["completed", "total", "percentage"],
                "properties": {
                    "completed": {"type": "integer", "minimum": 0},
                    "total": {"type": "integer", "minimum": 1},
                    "percentage": {"type": "number", "minimum": 0, "maximum": 100},
                },
            },
        },
    },
    "job.completed": {
        "type": "object",
        "required": ["job_id", "proposal_id", "document_id", "status"],
        "properties": {
            "job_id": _ID,
            "proposal_id": _ID,
            "document_id": _ID,
            "status": {"const": "completed"},
        },
    },
    "job.failed": {
        "type": "object",
        "required": ["job_id", "error", "error_details"],
        "properties": {
            "job_id": _ID,
            "error": {"type": "string"},
            # The guide shows `// Error details`, which is not JSON: read as "an object".
            "error_details": {"type": "object"},
        },
    },
    "document.created": {
        "type": "object",
        "required": ["document_id", "proposal_id", "version"],
        "properties": {
            "document_id": _ID,
            "proposal_id": _ID,
            "version": {"type": "integer", "minimum": 1},
        },
    },
    "proposal.created": {
        "type": "object",
        "required": ["proposal_id", "title"],
        "properties": {"proposal_id": _ID, "title": {"type": "string", "maxLength": 1000}},
    },
    TEST_EVENT_TYPE: {
        "type": "object",
        "required": ["webhook_id", "message"],
        "properties": {"webhook_id": _ID, "message": {"type": "string"}},
    },
}

# ASCII digits and nothing after the Z: Python's ``\d`` also matches other scripts' digits and
# its ``$`` matches before a final newline, so jsonschema (Python ``re``) accepted
# "...Z\n" and "２０２５-..." which fastjsonschema and ECMA-262 refuse, and which
# ``datetime.fromisoformat`` then failed on. ``(?!\n)`` is ECMA-262 too: the schema stays portable.
_TIMESTAMP_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z(?!\n)$"

ENVELOPE_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["id", "type", "timestamp", "data"],
    "properties": {
        "id": _ID,
        "type": {"type": "string"},
        "timestamp": {"type": "string", "pattern": _TIMESTAMP_RE},
        "data": {"type": "object"},
    },
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _import_jsonschema_without_iri_grammar() -> None:
    """Import jsonschema without letting it load ``rfc3987_syntax``.

    jsonschema registers an "iri" format checker when ``rfc3987_syntax`` imports, and that
    import builds a grammar: about 1 s on a quiet machine, 4-5 s on a loaded one. Paid on the
    first event a server validates, it made the reference receiver's first answer exceed the
    guide's 5 s timeout. whsim's schemas check no formats, so jsonschema is imported with that
    module masked, and the mask is removed at once: code that imports ``rfc3987_syntax``
    itself still gets it; only jsonschema's optional "iri" checker stays unregistered.
    """
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        return
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]
    try:
        import jsonschema  # noqa: F401
    finally:
        del sys.modules["rfc3987_syntax"]


@cache
def _validator(event_type: str | None) -> Draft202012Validator:
    """The compiled validator of one type's ``data`` (``None``: the envelope), built on first use.

    jsonschema is imported here, not at module import: importing it loads its format checkers,
    and with ``rfc3987_syntax`` installed (jupyter's dependencies bring it) that builds a grammar
    for about a second, which ``import whsim`` and every ``whsim`` command would otherwise pay.
    """
    _import_jsonschema_without_iri_grammar()
    from jsonschema import Draft202012Validator

    schema = ENVELOPE_SCHEMA if event_type is None else _DATA_SCHEMAS[event_type]
    return Draft202012Validator(schema)


def data_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of ``data`` for one event type (a deep copy, safe to modify)."""
    try:
        schema = _DATA_SCHEMAS[event_type]
    except KeyError:
        raise EventDataError(
            f"unknown event type {event_type!r}; known: {', '.join(EVENT_TYPES)}", field="type"
        ) from None
    copy: dict[str, Any] = json.loads(json.dumps(schema))
    return copy


def format_timestamp(ms: int) -> str:
    """ISO-8601 UTC with ``Z`` for a time in epoch milliseconds; whole seconds print without fraction."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if ms % 1000:
        text += f".{ms % 1000:03d}"
    return text + "Z"


def parse_timestamp(text: str) -> int:
    """Epoch milliseconds of an ISO-8601 UTC ``...Z`` timestamp; raises :class:`EventDataError`."""
    if not isinstance(text, str) or not re.match(_TIMESTAMP_RE, text):
        raise EventDataError(
            f"timestamp must be ISO-8601 UTC ending in 'Z', got {text!r}", field="timestamp"
        )
    moment = datetime.fromisoformat(text[:-1] + "+00:00")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def new_event_id(rng: random.Random) -> str:
    """A fresh event id (``evt_`` and 24 base-32 characters) drawn from the caller's generator."""
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    bits = rng.getrandbits(120)
    return "evt_" + "".join(alphabet[(bits >> (5 * i)) & 31] for i in range(24))


def _field_path(error: Any) -> str:
    parts = ["data", *(str(p) for p in error.absolute_path)]
    if error.validator == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        if missing:
            parts.append(missing.group(1))
    return ".".join(parts)


def _check_data(event_type: str, data: object) -> None:
    if event_type not in _DATA_SCHEMAS:
        raise EventDataError(
            f"unknown event type {event_type!r}; known: {', '.join(EVENT_TYPES)}", field="type"
        )
    if not _fast_data_ok(event_type, data):
        errors = sorted(
            _validator(event_type).iter_errors(data), key=lambda e: list(e.absolute_path)
        )
        if errors:
            first = errors[0]
            raise EventDataError(
                f"{event_type}: {_field_path(first)}: {first.message}", field=_field_path(first)
            )
    if event_type == "job.progress":
        progress = data["progress"]  # type: ignore[index]
        if progress["completed"] > progress["total"]:
            raise EventDataError(
                "job.progress: data.progress.completed must not exceed data.progress.total",
                field="data.progress.completed",
            )


@dataclass(frozen=True, slots=True)
class Event:
    """One event as delivered: its envelope fields and the exact ``body`` bytes that are signed."""

    id: str
    type: str
    timestamp: str
    data: Mapping[str, Any]
    body: bytes

    @property
    def timestamp_ms(self) -> int:
        """The event time in epoch milliseconds (the base of the 24 h expiry)."""
        return parse_timestamp(self.timestamp)


def make_event(event_type: str, data: Mapping[str, Any], *, id: str, timestamp_ms: int) -> Event:
    """Validate and serialize an event once; raises :class:`EventDataError` naming the field.

    The body is compact UTF-8 JSON with keys in envelope order (id, type, timestamp, data).
    """
    if not isinstance(id, str) or not 0 < len(id) <= 128:
        raise EventDataError(
            f"id must be a non-empty string of at most 128 characters, got {id!r}", field="id"
        )
    if not isinstance(timestamp_ms, int) or isinstance(timestamp_ms, bool) or timestamp_ms < 0:
        raise EventDataError(
            f"timestamp_ms must be a non-negative int, got {timestamp_ms!r}", field="timestamp"
        )
    if not isinstance(data, Mapping):
        raise EventDataError(f"data must be an object, got {type(data).__name__}", field="data")
    plain = dict(data)
    _check_data(event_type, plain)
    stamp = format_timestamp(timestamp_ms)
    envelope = {"id": id, "type": event_type, "timestamp": stamp, "data": plain}
    body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Event(id=id, type=event_type, timestamp=stamp, data=plain, body=body)


@cache
def _fast(event_type: str | None) -> Any:
    """A compiled fastjsonschema check of the same schema, or None when it is not installed.

    Only a fast path: whatever it refuses is checked again by jsonschema, whose message names
    the field, so both give the same verdict and the same words.
    """
    try:
        import fastjsonschema
    except ImportError:
        return None
    return fastjsonschema.compile(
        ENVELOPE_SCHEMA if event_type is None else _DATA_SCHEMAS[event_type]
    )


def _fast_data_ok(event_type: str, data: object) -> bool:
    # The compiled check first (a sender validates every event it emits: jsonschema was a third
    # of the cost of an event in benchmarks/bench_sender.py); what it refuses, jsonschema names.
    check = _fast(event_type)
    if check is None:
        return False
    try:
        check(data)
    except Exception:  # fastjsonschema's JsonSchemaException, or anything odd: take the slow path
        return False
    return True


def _fast_ok(doc: object) -> bool:
    envelope = _fast(None)
    if envelope is None or not isinstance(doc, dict):
        return False
    try:
        envelope(doc)
        kind = doc["type"]
        if kind in _DATA_SCHEMAS:
            _fast(kind)(doc["data"])
    except Exception:  # fastjsonschema's JsonSchemaException, or anything odd: take the slow path
        return False
    if doc["type"] == "job.progress":
        progress = doc["data"]["progress"]
        return bool(progress["completed"] <= progress["total"])
    return True


def check_document(doc: object, *, allow_unknown_type: bool = False) -> None:
    """Check an already parsed JSON document as :func:`parse_event` checks its bytes.

    Raises :class:`EventDataError` naming the field; a fast compiled validator is used first
    when ``fastjsonschema`` is installed (a grader of a million recorded attempts needs it).
    """
    if _fast_ok(doc) and (allow_unknown_type or doc["type"] in _DATA_SCHEMAS):  # type: ignore[index]
        return
    envelope_errors = list(_validator(None).iter_errors(doc))
    if envelope_errors:
        first = envelope_errors[0]
        path = ".".join(str(p) for p in first.absolute_path) or "body"
        if first.validator == "required":
            missing = re.search(r"'([^']+)' is a required property", first.message)
            path = missing.group(1) if missing else path
        raise EventDataError(f"envelope: {path}: {first.message}", field=path)
    assert isinstance(doc, dict)
    if doc["type"] in _DATA_SCHEMAS:
        _check_data(doc["type"], doc["data"])
    elif not allow_unknown_type:
        raise EventDataError(f"unknown event type {doc['type']!r}", field="type")


def parse_event(body: bytes, *, allow_unknown_type: bool = False) -> Event:
    """Parse received bytes into an :class:`Event`, keeping ``body`` exactly as received.

    Raises :class:`EventDataError` for bytes that are not a JSON object, an envelope that breaks
    its schema, or data that breaks the type's schema. An unknown ``type`` is an error unless
    ``allow_unknown_type`` (then ``data`` is only checked to be an object).
    """
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventDataError(f"body is not valid JSON: {exc}", field="body") from None
    check_document(doc, allow_unknown_type=allow_unknown_type)
    return Event(
        id=doc["id"],
        type=doc["type"],
        timestamp=doc["timestamp"],
        data=doc["data"],
        body=bytes(body),
    )


def verification_body(challenge: str) -> bytes:
    """The bytes of the guide's verification request: ``{"type":"webhook.verify","challenge":...}``."""
    doc = {"type": VERIFY_TYPE, "challenge": challenge}
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
