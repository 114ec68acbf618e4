"""The sender's OpenAPI 3.1 document, assembled from the core's schemas and limits.

The document is data, not prose: component schemas come from the modules that enforce them
(:mod:`whsim.core.registry` for webhooks, :mod:`whsim.core.spec.events` for events,
:mod:`whsim.sender.source` for proposals and jobs, :mod:`whsim.core.delivery` and
:mod:`whsim.sender.service` for delivery states), and each route is one :class:`Operation` row
of :data:`OPERATIONS`. Where the guide is silent, descriptions say what this sender decided and
name the clause. The test suite checks that every route is described and that answers match.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from whsim import __version__
from whsim.core.policy import NETWORK_ERRORS
from whsim.core.registry import MAX_URL_LENGTH, SECRET_MAX, SECRET_MIN, WebhookStatus
from whsim.core.spec.clauses import reading_names
from whsim.core.spec.events import ENVELOPE_SCHEMA, EVENT_TYPES, TEST_EVENT_TYPE, data_schema
from whsim.sender.config import SenderConfig
from whsim.sender.export import MEDIA_TYPE as EXPORT_MEDIA_TYPE
from whsim.sender.service import DELIVERY_STATUSES
from whsim.sender.source import JOB_STATUSES, MAX_STEP_SECONDS, MAX_STEPS, MAX_TITLE

_UNSAFE = "\\u0000-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069"
TITLE_PATTERN: Final = f"^[^{_UNSAFE}]*[^\\s{_UNSAFE}][^{_UNSAFE}]*$"
"""A title: :mod:`whsim.sender.text`'s rule plus one character that is not white space."""
URL_PATTERN: Final = (
    '^[hH][tT][tT][pP][sS]?://[A-Za-z0-9-]*[A-Za-z][A-Za-z0-9.-]*(:[1-9][0-9]{0,3})?(/[!-"$-~]*)?$'
)
"""An http(s) URL with a host name, an optional port and path, no fragment, credentials, spaces
or control characters. The API takes more (IP literals, other ports); the document describes
what it guarantees to take."""

SECRET_PATTERN: Final = "^[ -~\\u00a1-\\u00ac\\u00ae-\\u024f]*$"
"""Printable ASCII and Latin letters: a subset of what the API takes (``str.isprintable``)."""

__all__ = ["OPERATIONS", "Operation", "component_schemas", "openapi_document"]

Schema = dict[str, Any]

_STR: Final[Schema] = {"type": "string"}
_NSTR: Final[Schema] = {"type": ["string", "null"]}
_TIME: Final[Schema] = {"type": "string", "description": "wall-clock time, ISO-8601 UTC with Z"}
_NTIME: Final[Schema] = {
    "type": ["string", "null"],
    "description": "wall-clock time, ISO-8601 UTC with Z",
}

ERROR_CODES: Final = (
    "invalid_json",
    "body_too_large",
    "missing_field",
    "invalid_request",
    "invalid_url",
    "https_required",
    "forbidden_address",
    "unknown_event_type",
    "invalid_field",
    "invalid_query",
    "unknown_proposal",
    "not_found",
    "method_not_allowed",
    "webhook_not_active",
    "delivery_pending",
    "event_expired",
    "verification_failed",
    "internal_error",
)
"""Every ``error.code`` the API answers with."""

_ERROR_TEXT: Final[Mapping[int, str]] = {
    400: "the body is not JSON (syntax, encoding, empty)",
    404: "unknown id",
    409: "the resource is in a state that forbids this",
    413: "the body is larger than the limit (see GET /api/meta)",
    422: "valid JSON that breaks the rules; details.field names the field",
}


def ref(name: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: Schema) -> Schema:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _path_param(name: str, description: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": _STR,
        "description": description,
    }


# --- component schemas, each from the module that enforces it ---------------------------------


def _error_schema() -> Schema:
    return {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "description": ", ".join(ERROR_CODES)},
                    "message": _STR,
                    "details": {"type": "object"},
                },
            }
        },
    }


def _registration_fields() -> dict[str, Schema]:
    """url, events and secret as :func:`whsim.core.registry.validate_registration` takes them."""
    return {
        "url": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_URL_LENGTH,
            "pattern": URL_PATTERN,
        },
        "events": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "enum": list(EVENT_TYPES)},
        },
        "secret": {
            "type": "string",
            "minLength": SECRET_MIN,
            "maxLength": SECRET_MAX,
            "pattern": SECRET_PATTERN,
            "writeOnly": True,
        },
    }


def _webhook_schemas() -> dict[str, Schema]:
    create = _registration_fields()
    create["url"]["description"] = (
        "http or https; production mode: https only, and the host must not resolve to a "
        "loopback, private, link-local, CGNAT or metadata address (HTTPS-1, HTTPS-2)"
    )
    create["events"]["description"] = (
        "known event types only (REG-6 reject-unknown); duplicates are dropped"
    )
    create["secret"]["description"] = "printable characters; never returned by any call (REG-7)"
    verification: Schema = {
        "type": ["object", "null"],
        "description": "The last challenge handshake: when, whether it passed, and why not.",
        "properties": {
            "checked_at": _TIME,
            "result": {"enum": ["passed", "failed", "skipped"]},
            "detail": _STR,
            "status_code": {"type": ["integer", "null"]},
            "error": _NSTR,
            "latency_ms": {"type": "number"},
        },
        "required": ["checked_at", "result"],
    }
    return {
        "WebhookCreate": {
            "type": "object",
            "required": ["url", "events", "secret"],
            "additionalProperties": False,
            "properties": create,
        },
        "WebhookUpdate": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": False,
            "description": "Partial update (REG-4 'partial'): fields present replace the stored "
            "ones. A url runs the handshake again when it differs from the stored one or the "
            "webhook is not active (VERIFY-4 'reverify'); the answer comes after it.",
            "properties": _registration_fields(),
        },
        "Webhook": {
            "type": "object",
            "required": ["id", "url", "events", "status", "created_at"],
            "additionalProperties": False,
            "properties": {
                "id": _STR,
                "url": _STR,
                "events": {"type": "array", "items": _STR},
                "status": {
                    "enum": [str(s) for s in WebhookStatus],
                    "description": "pending_verification while the handshake runs; active once "
                    "the challenge was echoed; verification_failed when it was not (VERIFY-3 "
                    "'mark-failed': kept, gets no events, fix it with PUT); disabled is reserved "
                    "and never set by this sender. Only active webhooks receive events.",
                },
                "created_at": _TIME,
                "updated_at": _TIME,
                "verification": verification,
            },
        },
        "WebhookList": _list_of("webhooks", "Webhook"),
    }


def _list_of(key: str, item: str) -> Schema:
    return {
        "type": "object",
        "required": [key],
        "properties": {key: {"type": "array", "items": ref(item)}},
    }


def _delivery_schemas() -> dict[str, Schema]:
    return {
        "Delivery": {
            "type": "object",
            "required": ["id", "webhook_id", "event_id", "event_type", "status", "attempt_count"],
            "properties": {
                "id": _STR,
                "webhook_id": _STR,
                "event_id": {"type": "string", "description": "the same on every attempt"},
                "event_type": _STR,
                "status": {
                    "enum": list(DELIVERY_STATUSES),
                    "description": "pending (an attempt is due at next_attempt_at); delivered "
                    "(2xx); exhausted (every attempt of the policy failed); expired (the event "
                    "was older than 24 h of policy time when due, EXPIRY-1); rejected (an "
                    "answer that is not retried, RETRY-2 '5xx-and-network': 3xx and 4xx other "
                    "than 408/429); cancelled (the webhook was no longer active when due)",
                },
                "attempt_count": {"type": "integer", "minimum": 0},
                "created_at": _TIME,
                "next_attempt_at": _NTIME,
                "ended_at": _NTIME,
                "reason": _NSTR,
                "redelivery_of": _NSTR,
            },
        },
        "Attempt": {
            "type": "object",
            "required": ["number", "started_at", "latency_ms", "status_code", "error"],
            "properties": {
                "number": {"type": "integer", "minimum": 1},
                "started_at": _TIME,
                "latency_ms": {"type": "number", "description": "wall milliseconds"},
                "status_code": {"type": ["integer", "null"]},
                "error": {
                    "enum": [*NETWORK_ERRORS, None],
                    "description": "set when no HTTP answer came; timeout is 5 s wall time",
                },
                "error_detail": _NSTR,
                "response_excerpt": {
                    "type": ["string", "null"],
                    "description": "the first bytes of the answer (see GET /api/meta)",
                },
                "response_truncated": {"type": "boolean"},
            },
        },
        "DeliveryList": _list_of("deliveries", "Delivery"),
        "DeliveryDetail": {
            "allOf": [ref("Delivery")],
            "type": "object",
            "required": ["event", "attempts"],
            "properties": {
                "event": {
                    "type": "object",
                    "required": ["id", "type", "timestamp", "body"],
                    "properties": {
                        "id": _STR,
                        "type": _STR,
                        "timestamp": _TIME,
                        "body": {
                            "type": "string",
                            "description": "the exact bytes sent and signed",
                        },
                    },
                },
                "attempts": {"type": "array", "items": ref("Attempt")},
            },
        },
    }


def _event_schemas() -> dict[str, Schema]:
    envelope = copy.deepcopy(ENVELOPE_SCHEMA)
    envelope.pop("$schema", None)
    envelope["description"] = (
        "What a receiver gets: compact UTF-8 JSON {id, type, timestamp, data}, serialized once and "
        "signed as sent. The id is the kit's addition (EVENT-9 'envelope-id'). data follows the "
        "schema of its type (GET /api/event-types)."
    )
    schemas: dict[str, Schema] = {
        "Event": envelope,
        "EventTypes": {
            "type": "object",
            "required": ["event_types"],
            "properties": {
                "event_types": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["type", "data_schema", "subscribable"],
                        "properties": {
                            "type": _STR,
                            "data_schema": {"type": "object"},
                            "subscribable": {"type": "boolean"},
                        },
                    },
                }
            },
        },
    }
    for event_type in (*EVENT_TYPES, TEST_EVENT_TYPE):
        schemas["Data_" + event_type.replace(".", "_")] = data_schema(event_type)
    return schemas


def _source_schemas() -> dict[str, Schema]:
    """Proposals and jobs, with the limits :mod:`whsim.sender.source` enforces."""
    return {
        "ProposalCreate": {
            "type": "object",
            "required": ["title"],
            "additionalProperties": False,
            "properties": {
                "title": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_TITLE,
                    "pattern": TITLE_PATTERN,
                    "description": "at least one character that is not white space; no control, "
                    "bidirectional-control or surrogate characters (whsim.sender.text)",
                }
            },
        },
        "Proposal": {
            "type": "object",
            "required": ["id", "title", "created_at"],
            "properties": {"id": _STR, "title": _STR, "created_at": _TIME, "event_id": _STR},
        },
        "JobCreate": {
            "type": "object",
            "required": ["proposal_id", "steps", "step_seconds"],
            "additionalProperties": False,
            "properties": {
                "proposal_id": {
                    "type": "string",
                    "description": "the id of a proposal made before (POST /api/proposals); "
                    "an unknown id is 422 unknown_proposal",
                },
                "steps": {"type": "integer", "minimum": 1, "maximum": MAX_STEPS},
                "step_seconds": {"type": "number", "minimum": 0, "maximum": MAX_STEP_SECONDS},
                "fail_at_step": {
                    "type": ["integer", "null"],
                    "minimum": 1,
                    "maximum": MAX_STEPS,
                    "description": "the step that fails, at most steps (x-whsim-constraints); "
                    "null or absent: none. Greater than steps is 422 invalid_field",
                },
            },
            # JSON Schema cannot compare two fields; an exact form needs one anyOf branch per
            # value (1,000 here), which stalls schema-driven generators (hypothesis-jsonschema
            # took over 10 minutes on it), so the rule is stated here and checked by the API.
            "x-whsim-constraints": ["fail_at_step <= steps"],
        },
        "Job": {
            "type": "object",
            "required": ["id", "proposal_id", "steps", "step_seconds", "status"],
            "properties": {
                "id": _STR,
                "proposal_id": _STR,
                "steps": {"type": "integer"},
                "step_seconds": {"type": "number"},
                "fail_at_step": {"type": ["integer", "null"]},
                "status": {"enum": list(JOB_STATUSES)},
                "completed_steps": {"type": "integer"},
                "document_id": _NSTR,
                "error": _NSTR,
                "created_at": _TIME,
                "updated_at": _TIME,
            },
        },
    }


def _meta_schema() -> Schema:
    return {
        "type": "object",
        "required": ["mode", "reading", "time_scale", "version"],
        "properties": {
            "mode": {"enum": ["development", "production"]},
            "reading": {
                "enum": [*reading_names("RETRY-1"), None],
                "description": "the RETRY-1 reading (null under a vendor policy)",
            },
            "readings": {
                "type": "object",
                "additionalProperties": _STR,
                "description": "the reading in force of every ambiguous clause",
            },
            "policy": {"type": ["string", "null"], "description": "a vendor's retry policy"},
            "time_scale": {"type": "number"},
            "version": _STR,
            "retry": {"type": "object"},
            "limits": {"type": "object"},
            "durability": {"type": "object"},
            "faults": {
                "type": "array",
                "items": _STR,
                "description": "only in a test-only broken sender (whsim.sender.faults): the "
                "rules it breaks on purpose",
            },
        },
    }


def component_schemas() -> dict[str, Schema]:
    """Every schema under ``components.schemas``, by name."""
    return {
        "Error": _error_schema(),
        **_webhook_schemas(),
        **_delivery_schemas(),
        **_source_schemas(),
        "Meta": _meta_schema(),
        **_event_schemas(),
    }


# --- routes ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Operation:
    """One route and method: what it takes and every answer it can give.

    ``answer`` is ``(status, schema name or None, description)``; ``errors`` are the error
    statuses, each answered with the common ``Error`` shape.
    """

    method: str
    path: str
    operation_id: str
    summary: str
    answer: tuple[int, str | None, str]
    errors: tuple[int, ...] = ()
    request: str | None = None
    description: str = ""
    answer_schema: Schema | None = field(default=None)
    also: Mapping[str, Schema] = field(default_factory=dict)
    """More media types of the success answer, as ``{media type: media type object}``."""

    def document(self) -> Schema:
        status, schema_name, text = self.answer
        if schema_name is not None:
            answer = _json(ref(schema_name), text)
        elif self.answer_schema is not None:
            answer = _json(self.answer_schema, text)
        else:
            answer = {"description": text}
        if self.also:
            answer = {**answer, "content": {**answer.get("content", {}), **self.also}}
        doc: Schema = {"summary": self.summary}
        if self.description:
            doc["description"] = self.description
        doc["operationId"] = self.operation_id
        if self.request is not None:
            doc["requestBody"] = _body(ref(self.request))
        doc["responses"] = {
            str(status): answer,
            **{str(c): _json(ref("Error"), _ERROR_TEXT[c]) for c in self.errors},
        }
        return doc


_WID: Final = _path_param("webhook_id", "a webhook id")
_DID: Final = _path_param("delivery_id", "a delivery id of that webhook")

PATH_PARAMETERS: Final[Mapping[str, Sequence[Schema]]] = {
    "/api/webhooks/{webhook_id}": (_WID,),
    "/api/webhooks/{webhook_id}/test": (_WID,),
    "/api/webhooks/{webhook_id}/deliveries": (
        _WID,
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
        },
        {"name": "status", "in": "query", "schema": {"enum": list(DELIVERY_STATUSES)}},
        {
            "name": "format",
            "in": "query",
            "schema": {"enum": ["json", "jsonl"], "default": "json"},
            "description": "jsonl: the log as a trace `whsim check` grades (docs/trace-format.md)",
        },
    ),
    "/api/webhooks/{webhook_id}/deliveries/{delivery_id}": (_WID, _DID),
    "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver": (_WID, _DID),
    "/api/proposals/{proposal_id}": (_path_param("proposal_id", "a proposal id"),),
    "/api/jobs/{job_id}": (_path_param("job_id", "a job id"),),
}
"""Parameters shared by every method of a path."""

OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation(
        "get",
        "/openapi.json",
        "openapi",
        "This document",
        (200, None, "the OpenAPI document"),
        answer_schema={"type": "object"},
    ),
    Operation(
        "get",
        "/api/meta",
        "getMeta",
        "How this sender runs: mode, RETRY-1 reading, time scale, version",
        (200, "Meta", "settings"),
    ),
    Operation(
        "get",
        "/api/event-types",
        "listEventTypes",
        "The event catalog with each type's data schema",
        (200, "EventTypes", "the catalog"),
    ),
    Operation(
        "post",
        "/api/webhooks",
        "createWebhook",
        "Register a webhook; the challenge handshake runs before the answer",
        (
            201,
            "Webhook",
            "stored; status active or verification_failed (the secret is never returned). "
            "Duplicate URLs are allowed.",
        ),
        (400, 413, 422),
        request="WebhookCreate",
    ),
    Operation(
        "get",
        "/api/webhooks",
        "listWebhooks",
        "List webhooks, oldest first",
        (200, "WebhookList", "every webhook"),
    ),
    Operation(
        "get",
        "/api/webhooks/{webhook_id}",
        "getWebhook",
        "One webhook",
        (200, "Webhook", "the webhook"),
        (404,),
    ),
    Operation(
        "put",
        "/api/webhooks/{webhook_id}",
        "updateWebhook",
        "Change url, events or secret (partial); a new url is verified again",
        (200, "Webhook", "the updated webhook"),
        (400, 404, 413, 422),
        request="WebhookUpdate",
    ),
    Operation(
        "delete",
        "/api/webhooks/{webhook_id}",
        "deleteWebhook",
        "Delete a webhook with its pending deliveries and its delivery log",
        (204, None, "deleted; a second DELETE is 404"),
        (404,),
    ),
    Operation(
        "post",
        "/api/webhooks/{webhook_id}/test",
        "testWebhook",
        "Queue a signed webhook.test event (EVENT-11), retried like any other",
        (202, "Delivery", "queued"),
        (404, 409),
        description="Sent whatever the subscription; any request body is ignored. The answer "
        "is the new delivery; follow it in the delivery log.",
    ),
    Operation(
        "get",
        "/api/webhooks/{webhook_id}/deliveries",
        "listDeliveries",
        "The delivery log (REG-10): newest first",
        (200, "DeliveryList", "deliveries"),
        (404, 422),
        description="format=jsonl answers application/x-ndjson instead: a header line "
        '{"whsim_trace": 1, "time_scale", "end_ns"}, then one line per attempt, oldest delivery '
        "first, with the URL, the headers the sender set, the exact body, start_ns and end_ns "
        "on one monotonic clock, the wall start and the status or error kind "
        "(docs/trace-format.md); every delivery unless limit is given. `whsim check` grades it.",
        also={
            EXPORT_MEDIA_TYPE: {
                "schema": {"type": "string", "description": "JSON lines (format=jsonl)"}
            }
        },
    ),
    Operation(
        "get",
        "/api/webhooks/{webhook_id}/deliveries/{delivery_id}",
        "getDelivery",
        "One delivery with the event bytes and every attempt",
        (200, "DeliveryDetail", "the delivery"),
        (404,),
    ),
    Operation(
        "post",
        "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        "redeliver",
        "Send an ended delivery's event again, as a new delivery",
        (202, "Delivery", "the new delivery"),
        (404, 409),
        description="Same event id and bytes; a fresh retry schedule. 409 while the delivery "
        "is pending, when the webhook is not active, or when the event is older than the 24 h "
        "expiry.",
    ),
    Operation(
        "post",
        "/api/proposals",
        "createProposal",
        "Create a proposal; emits proposal.created",
        (201, "Proposal", "created"),
        (400, 413, 422),
        request="ProposalCreate",
    ),
    Operation(
        "get",
        "/api/proposals/{proposal_id}",
        "getProposal",
        "One proposal",
        (200, "Proposal", "the proposal"),
        (404,),
    ),
    Operation(
        "post",
        "/api/jobs",
        "createJob",
        "Run a job: job.created, job.started, job.progress (throttled), then job.completed and "
        "document.created, or job.failed",
        (201, "Job", "started"),
        (400, 413, 422),
        request="JobCreate",
        description="step_seconds are policy seconds. job.progress goes through the 10 s "
        "throttle per job, newest held update sent when the window ends (THROTTLE-1 "
        "'coalesce', THROTTLE-2 'per-job'); none after the terminal event (THROTTLE-3). A job "
        "interrupted by a restart ends with job.failed.",
    ),
    Operation("get", "/api/jobs/{job_id}", "getJob", "One job", (200, "Job", "the job"), (404,)),
)
"""Every route of the API, in the order the document lists them."""


def paths() -> dict[str, Schema]:
    """The ``paths`` object: :data:`OPERATIONS` grouped by path, with shared parameters."""
    out: dict[str, Schema] = {}
    for op in OPERATIONS:
        item = out.setdefault(op.path, {})
        if op.path in PATH_PARAMETERS and "parameters" not in item:
            item["parameters"] = list(PATH_PARAMETERS[op.path])
        item[op.method] = op.document()
    return out


def _outgoing_webhook() -> Schema:
    """What this sender POSTs to a registered URL (the document's ``webhooks`` section)."""

    def header(name: str, description: str, schema: Schema) -> Schema:
        return {
            "name": name,
            "in": "header",
            "required": True,
            "description": description,
            "schema": schema,
        }

    return {
        "post": {
            "summary": "What this sender POSTs to a registered URL",
            "parameters": [
                header(
                    "X-Webhook-Signature",
                    "hex HMAC-SHA256 of the raw body, keyed with the secret",
                    {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                ),
                header(
                    "X-Webhook-Id", "the event id (also in the body), the same on retries", _STR
                ),
                header(
                    "X-Webhook-Attempt",
                    "1 for the first attempt of a delivery, 2 for the first retry, ...",
                    {"type": "string", "pattern": "^[1-9][0-9]*$"},
                ),
            ],
            "requestBody": _body(ref("Event")),
            "responses": {"200": {"description": "any 2xx is success"}},
        }
    }


def description(config: SenderConfig) -> str:
    """The document's ``info.description``: how delivery and verification behave under ``config``."""
    policy = config.readings.retry_policy()
    offsets = ", ".join(f"{o:g}" for o in policy.attempt_offsets())
    return f"""The Proposal Generator webhook service of the guide, over real HTTP.

Delivery: every event is stored with one delivery per subscribed active webhook in one
transaction, then POSTed as its exact serialized bytes with `Content-Type: application/json`
and `X-Webhook-Signature` (hex HMAC-SHA256 of the raw body with the webhook's secret, SIG-1),
plus `X-Webhook-Id` (the event id) and `X-Webhook-Attempt`. Attempts time out after 5 s of wall
time (TIMEOUT-2), never follow redirects (RETRY-5), and are retried per the readings
`{config.readings}` (GET /api/meta lists them all): attempts at {offsets} s of policy time when every attempt fails at once,
backoff counted from the end of the failed attempt (RETRY-3), no jitter (RETRY-4). Retried:
5xx, 408, 429 and network errors; other answers end the delivery (RETRY-2 '5xx-and-network').
Any 2xx is success (CODES-1). Events older than 24 h of policy time when due are dropped and
logged as expired (EXPIRY-1). Delivery is at least once and unordered (IDEM-2, EVENT-12).

Policy time runs `time_scale` times faster than the wall clock (see GET /api/meta): backoff,
job steps, throttling and expiry; payload timestamps are wall time.

Verification (VERIFY-1 'sync-on-create'): POST /api/webhooks sends
`{{"type":"webhook.verify","challenge":...}}` (signed, VERIFY-5) to the URL before it answers;
the webhook is active if the answer is 200 with JSON `{{"challenge": <the same>}}`, else
verification_failed (VERIFY-3 'mark-failed').
"""


def openapi_document(config: SenderConfig) -> dict[str, Any]:
    """The OpenAPI 3.1 document of a sender running with ``config``."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "whsim reference sender",
            "version": __version__,
            "description": description(config),
        },
        "paths": paths(),
        "webhooks": {"event": _outgoing_webhook()},
        "components": {"schemas": component_schemas()},
    }
