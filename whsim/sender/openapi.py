"""The sender's OpenAPI 3.1 document, written by hand around the core's JSON Schemas.

Where the guide is silent, the descriptions say what this sender decided and name the clause.
The test suite checks that every route is described and that answers match their schemas.
"""

from __future__ import annotations

import copy
from typing import Any

from whsim import __version__
from whsim.core.policy import RetryPolicy
from whsim.core.registry import MAX_URL_LENGTH, SECRET_MAX, SECRET_MIN, WebhookStatus
from whsim.core.spec.clauses import reading_names
from whsim.core.spec.events import ENVELOPE_SCHEMA, EVENT_TYPES, TEST_EVENT_TYPE, data_schema
from whsim.sender.config import FAULTS, FAULTS_ENV, SenderConfig
from whsim.sender.service import DELIVERY_STATUSES

__all__ = ["openapi_document"]

_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_TIME = {"type": "string", "description": "wall-clock time, ISO-8601 UTC with Z"}
_NTIME = {"type": ["string", "null"], "description": "wall-clock time, ISO-8601 UTC with Z"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "the body is not JSON (syntax, encoding, empty)",
        404: "unknown id",
        409: "the resource is in a state that forbids this",
        413: "the body is larger than the limit (see GET /api/meta)",
        422: "valid JSON that breaks the rules; details.field names the field",
    }
    return {str(c): _json(_ref("Error"), text[c]) for c in codes}


def _body(schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    doc: dict[str, Any] = {"required": True, "content": {"application/json": {"schema": schema}}}
    if description:
        doc["description"] = description
    return doc


def _param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": _STR,
        "description": description,
    }


def _schemas() -> dict[str, Any]:
    subscribable = {"type": "string", "enum": list(EVENT_TYPES)}
    verification = {
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
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "additionalProperties": False,
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "details"],
                    "additionalProperties": False,
                    "properties": {
                        "code": {
                            "type": "string",
                            "description": "invalid_json, body_too_large, missing_field, "
                            "invalid_request, invalid_url, https_required, forbidden_address, "
                            "unknown_event_type, invalid_field, invalid_query, unknown_proposal, "
                            "not_found, method_not_allowed, webhook_not_active, "
                            "delivery_pending, event_expired, internal_error",
                        },
                        "message": _STR,
                        "details": {"type": "object"},
                    },
                }
            },
        },
        "WebhookCreate": {
            "type": "object",
            "required": ["url", "events", "secret"],
            "additionalProperties": False,
            "properties": {
                "url": {
                    "type": "string",
                    "maxLength": MAX_URL_LENGTH,
                    "description": "http or https; production mode: https only, and the host "
                    "must not resolve to a loopback, private, link-local, CGNAT or metadata "
                    "address (HTTPS-1, HTTPS-2)",
                },
                "events": {
                    "type": "array",
                    "minItems": 1,
                    "items": subscribable,
                    "description": "known event types only (REG-6 reject-unknown); duplicates "
                    "are dropped",
                },
                "secret": {
                    "type": "string",
                    "minLength": SECRET_MIN,
                    "maxLength": SECRET_MAX,
                    "description": "printable characters; never returned by any call (REG-7)",
                    "writeOnly": True,
                },
            },
        },
        "WebhookUpdate": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": False,
            "description": "Partial update (REG-4 'partial'): fields present replace the stored "
            "ones. A url runs the handshake again when it differs from the stored one or the "
            "webhook is not active (VERIFY-4 'reverify'); the answer comes after it.",
            "properties": {
                "url": {"type": "string", "maxLength": MAX_URL_LENGTH},
                "events": {"type": "array", "minItems": 1, "items": subscribable},
                "secret": {
                    "type": "string",
                    "minLength": SECRET_MIN,
                    "maxLength": SECRET_MAX,
                    "writeOnly": True,
                },
            },
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
        "WebhookList": {
            "type": "object",
            "required": ["webhooks"],
            "properties": {"webhooks": {"type": "array", "items": _ref("Webhook")}},
        },
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
                    "enum": ["timeout", "connect", "dns", "tls", "reset", "blocked", None],
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
        "DeliveryList": {
            "type": "object",
            "required": ["deliveries"],
            "properties": {"deliveries": {"type": "array", "items": _ref("Delivery")}},
        },
        "Event": copy.deepcopy(ENVELOPE_SCHEMA),
        "Proposal": {
            "type": "object",
            "required": ["id", "title", "created_at"],
            "properties": {"id": _STR, "title": _STR, "created_at": _TIME, "event_id": _STR},
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
                "status": {"enum": ["pending", "processing", "completed", "failed"]},
                "completed_steps": {"type": "integer"},
                "document_id": _NSTR,
                "error": _NSTR,
                "created_at": _TIME,
                "updated_at": _TIME,
            },
        },
        "Meta": {
            "type": "object",
            "required": ["mode", "reading", "time_scale", "version"],
            "properties": {
                "mode": {"enum": ["development", "production"]},
                "reading": {"enum": list(reading_names("RETRY-1"))},
                "time_scale": {"type": "number"},
                "version": _STR,
                "retry": {"type": "object"},
                "limits": {"type": "object"},
                "faults": {"type": "array", "items": _STR},
            },
        },
    }
    schemas["Event"].pop("$schema", None)
    schemas["Event"]["description"] = (
        "What a receiver gets: compact UTF-8 JSON {id, type, timestamp, data}, serialized once and "
        "signed as sent. The id is the kit's addition (EVENT-9 'envelope-id'). data follows the "
        "schema of its type (GET /api/event-types)."
    )
    schemas["DeliveryDetail"] = {
        "allOf": [_ref("Delivery")],
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
                    "body": {"type": "string", "description": "the exact bytes sent and signed"},
                },
            },
            "attempts": {"type": "array", "items": _ref("Attempt")},
        },
    }
    schemas["EventTypes"] = {
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
    }
    for event_type in (*EVENT_TYPES, TEST_EVENT_TYPE):
        schemas["Data_" + event_type.replace(".", "_")] = data_schema(event_type)
    return schemas


def openapi_document(config: SenderConfig) -> dict[str, Any]:
    """The OpenAPI 3.1 document of a sender running with ``config``."""
    policy = RetryPolicy.seed(config.reading)
    offsets = ", ".join(f"{o:g}" for o in policy.attempt_offsets())
    wid = _param("webhook_id", "a webhook id")
    did = _param("delivery_id", "a delivery id of that webhook")
    description = f"""The Proposal Generator webhook service of the guide, over real HTTP.

Delivery: every event is stored with one delivery per subscribed active webhook in one
transaction, then POSTed as its exact serialized bytes with `Content-Type: application/json`
and `X-Webhook-Signature` (hex HMAC-SHA256 of the raw body with the webhook's secret, SIG-1),
plus `X-Webhook-Id` (the event id) and `X-Webhook-Attempt`. Attempts time out after 5 s of wall
time (TIMEOUT-2), never follow redirects (RETRY-5), and are retried per RETRY-1 reading
`{config.reading}`: attempts at {offsets} s of policy time when every attempt fails at once,
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

Test-only faults: the environment variable `{FAULTS_ENV}` can switch on deliberate
violations ({", ".join(FAULTS)}) for testing conformance suites; GET /api/meta lists those on.
"""
    paths: dict[str, Any] = {
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "openapi",
                "responses": {"200": _json({"type": "object"}, "the OpenAPI document")},
            }
        },
        "/api/meta": {
            "get": {
                "summary": "How this sender runs: mode, RETRY-1 reading, time scale, version",
                "operationId": "getMeta",
                "responses": {"200": _json(_ref("Meta"), "settings")},
            }
        },
        "/api/event-types": {
            "get": {
                "summary": "The event catalog with each type's data schema",
                "operationId": "listEventTypes",
                "responses": {"200": _json(_ref("EventTypes"), "the catalog")},
            }
        },
        "/api/webhooks": {
            "post": {
                "summary": "Register a webhook; the challenge handshake runs before the answer",
                "operationId": "createWebhook",
                "requestBody": _body(_ref("WebhookCreate")),
                "responses": {
                    "201": _json(
                        _ref("Webhook"),
                        "stored; status active or verification_failed (the secret is never "
                        "returned). Duplicate URLs are allowed.",
                    ),
                    **_errors(400, 413, 422),
                },
            },
            "get": {
                "summary": "List webhooks, oldest first",
                "operationId": "listWebhooks",
                "responses": {"200": _json(_ref("WebhookList"), "every webhook")},
            },
        },
        "/api/webhooks/{webhook_id}": {
            "parameters": [wid],
            "get": {
                "summary": "One webhook",
                "operationId": "getWebhook",
                "responses": {"200": _json(_ref("Webhook"), "the webhook"), **_errors(404)},
            },
            "put": {
                "summary": "Change url, events or secret (partial); a new url is verified again",
                "operationId": "updateWebhook",
                "requestBody": _body(_ref("WebhookUpdate")),
                "responses": {
                    "200": _json(_ref("Webhook"), "the updated webhook"),
                    **_errors(400, 404, 413, 422),
                },
            },
            "delete": {
                "summary": "Delete a webhook with its pending deliveries and its delivery log",
                "operationId": "deleteWebhook",
                "responses": {
                    "204": {"description": "deleted; a second DELETE is 404"},
                    **_errors(404),
                },
            },
        },
        "/api/webhooks/{webhook_id}/test": {
            "parameters": [wid],
            "post": {
                "summary": "Queue a signed webhook.test event (EVENT-11), retried like any other",
                "description": "Sent whatever the subscription; any request body is ignored. "
                "The answer is the new delivery; follow it in the delivery log.",
                "operationId": "testWebhook",
                "responses": {
                    "202": _json(_ref("Delivery"), "queued"),
                    **_errors(404, 409),
                },
            },
        },
        "/api/webhooks/{webhook_id}/deliveries": {
            "parameters": [
                wid,
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                },
                {"name": "status", "in": "query", "schema": {"enum": list(DELIVERY_STATUSES)}},
            ],
            "get": {
                "summary": "The delivery log (REG-10): newest first",
                "operationId": "listDeliveries",
                "responses": {
                    "200": _json(_ref("DeliveryList"), "deliveries"),
                    **_errors(404, 422),
                },
            },
        },
        "/api/webhooks/{webhook_id}/deliveries/{delivery_id}": {
            "parameters": [wid, did],
            "get": {
                "summary": "One delivery with the event bytes and every attempt",
                "operationId": "getDelivery",
                "responses": {
                    "200": _json(_ref("DeliveryDetail"), "the delivery"),
                    **_errors(404),
                },
            },
        },
        "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver": {
            "parameters": [wid, did],
            "post": {
                "summary": "Send an ended delivery's event again, as a new delivery",
                "description": "Same event id and bytes; a fresh retry schedule. 409 while the "
                "delivery is pending, when the webhook is not active, or when the event is "
                "older than the 24 h expiry.",
                "operationId": "redeliver",
                "responses": {
                    "202": _json(_ref("Delivery"), "the new delivery"),
                    **_errors(404, 409),
                },
            },
        },
        "/api/proposals": {
            "post": {
                "summary": "Create a proposal; emits proposal.created",
                "operationId": "createProposal",
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["title"],
                        "additionalProperties": False,
                        "properties": {
                            "title": {"type": "string", "minLength": 1, "maxLength": 1000}
                        },
                    }
                ),
                "responses": {
                    "201": _json(_ref("Proposal"), "created"),
                    **_errors(400, 413, 422),
                },
            }
        },
        "/api/proposals/{proposal_id}": {
            "parameters": [_param("proposal_id", "a proposal id")],
            "get": {
                "summary": "One proposal",
                "operationId": "getProposal",
                "responses": {"200": _json(_ref("Proposal"), "the proposal"), **_errors(404)},
            },
        },
        "/api/jobs": {
            "post": {
                "summary": "Run a job: job.created, job.started, job.progress (throttled), then "
                "job.completed and document.created, or job.failed",
                "description": "step_seconds are policy seconds. job.progress goes through the "
                "10 s throttle per job, newest held update sent when the window ends "
                "(THROTTLE-1 'coalesce', THROTTLE-2 'per-job'); none after the terminal event "
                "(THROTTLE-3). A job interrupted by a restart ends with job.failed.",
                "operationId": "createJob",
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["proposal_id", "steps", "step_seconds"],
                        "additionalProperties": False,
                        "properties": {
                            "proposal_id": _STR,
                            "steps": {"type": "integer", "minimum": 1, "maximum": 1000},
                            "step_seconds": {"type": "number", "minimum": 0, "maximum": 3600},
                            "fail_at_step": {"type": ["integer", "null"], "minimum": 1},
                        },
                    }
                ),
                "responses": {
                    "201": _json(_ref("Job"), "started"),
                    **_errors(400, 413, 422),
                },
            }
        },
        "/api/jobs/{job_id}": {
            "parameters": [_param("job_id", "a job id")],
            "get": {
                "summary": "One job",
                "operationId": "getJob",
                "responses": {"200": _json(_ref("Job"), "the job"), **_errors(404)},
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "whsim reference sender",
            "version": __version__,
            "description": description,
        },
        "paths": paths,
        "webhooks": {
            "event": {
                "post": {
                    "summary": "What this sender POSTs to a registered URL",
                    "parameters": [
                        {
                            "name": "X-Webhook-Signature",
                            "in": "header",
                            "required": True,
                            "description": "hex HMAC-SHA256 of the raw body, keyed with the secret",
                            "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                        },
                        {
                            "name": "X-Webhook-Id",
                            "in": "header",
                            "required": True,
                            "description": "the event id (also in the body), the same on retries",
                            "schema": _STR,
                        },
                        {
                            "name": "X-Webhook-Attempt",
                            "in": "header",
                            "required": True,
                            "description": "1 for the first attempt of a delivery, 2 for the "
                            "first retry, ...",
                            "schema": {"type": "string", "pattern": "^[1-9][0-9]*$"},
                        },
                    ],
                    "requestBody": _body(_ref("Event")),
                    "responses": {"200": {"description": "any 2xx is success"}},
                }
            }
        },
        "components": {"schemas": _schemas()},
    }
