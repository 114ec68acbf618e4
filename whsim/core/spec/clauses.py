"""The guide's normative statements as data: one :class:`Clause` each, with its named readings.

Clause ids are stable (``AREA-N``); tools and reports cite them. Where the guide is ambiguous the
clause lists its readings, marks the kit's default and says why; every tool lets the user pick
another by name. Findings (places where the guide is wrong, not just vague) are clauses of level
INFO whose ``finding`` says what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Final

from whsim.core.errors import UnknownReadingError
from whsim.core.spec.events import EVENT_TYPES

__all__ = [
    "CHECKERS",
    "Clause",
    "Level",
    "Party",
    "Reading",
    "clause",
    "clauses",
    "default_reading",
    "findings",
    "reading_names",
    "resolve_reading",
]


class Level(StrEnum):
    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"
    INFO = "INFO"


class Party(StrEnum):
    SENDER = "sender"
    RECEIVER = "receiver"
    BOTH = "both"


CHECKERS: Final = ("simulation", "receiver-suite", "sender-suite", "property", "untestable")
"""How a clause can be checked: the values of :attr:`Clause.checked_by`."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One way to read an ambiguous clause; ``default`` marks the kit's choice."""

    name: str
    summary: str
    default: bool = False


@dataclass(frozen=True, slots=True)
class Clause:
    """One normative statement of the guide.

    ``text`` is the guide's own words; ``note`` says what the kit adds or why it chose its default;
    ``finding`` is set when the guide is wrong, not only vague.
    """

    id: str
    text: str
    level: Level
    party: Party
    checked_by: tuple[str, ...]
    readings: tuple[Reading, ...] = ()
    note: str = ""
    finding: str = ""
    section: str = ""

    @property
    def area(self) -> str:
        return self.id.rsplit("-", 1)[0]

    @property
    def default(self) -> str | None:
        """Name of the default reading, or None for an unambiguous clause."""
        return next((r.name for r in self.readings if r.default), None)

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "area": self.area,
            "section": self.section,
            "text": self.text,
            "level": str(self.level),
            "party": str(self.party),
            "checked_by": list(self.checked_by),
            "readings": [
                {"name": r.name, "summary": r.summary, "default": r.default} for r in self.readings
            ],
            "note": self.note,
            "finding": self.finding,
        }


def _c(
    id: str,
    section: str,
    text: str,
    level: Level,
    party: Party,
    checked_by: tuple[str, ...],
    *readings: Reading,
    note: str = "",
    finding: str = "",
) -> Clause:
    return Clause(id, text, level, party, checked_by, tuple(readings), note, finding, section)


M, S, INF = Level.MUST, Level.SHOULD, Level.INFO
SND, RCV, BOTH = Party.SENDER, Party.RECEIVER, Party.BOTH
R = Reading

_CLAUSES: Final[tuple[Clause, ...]] = (
    # --- Registration API -------------------------------------------------------------------
    _c(
        "REG-1",
        "Register Webhook",
        "POST /api/webhooks with {url, events, secret}; the response is {id, url, events, status, "
        "created_at}.",
        M,
        SND,
        ("sender-suite", "property"),
        note="The kit answers 201 Created; bad bodies get 4xx with {error: {code, message, details}}.",
    ),
    _c(
        "REG-2",
        "List Webhooks",
        'GET /api/webhooks returns {"webhooks": [...]}.',
        M,
        SND,
        ("sender-suite", "property"),
    ),
    _c(
        "REG-3",
        "Get Webhook",
        "GET /api/webhooks/{id}.",
        M,
        SND,
        ("sender-suite", "property"),
        note="An unknown id is 404 with an error body (the guide is silent).",
    ),
    _c(
        "REG-4",
        "Update Webhook",
        "PUT /api/webhooks/{id} with {url, events}.",
        M,
        SND,
        ("sender-suite", "property"),
        R(
            "partial",
            "fields present in the body replace the stored ones; absent fields are kept",
            default=True,
        ),
        R("full-replace", "the body must carry url and events; both are replaced"),
        note="Default 'partial': the guide's example sends url and events but no secret, so a "
        "full replace would have to drop or keep the secret anyway.",
    ),
    _c(
        "REG-5",
        "Delete Webhook",
        "DELETE /api/webhooks/{id}.",
        M,
        SND,
        ("sender-suite", "property"),
        note="The kit answers 204; pending deliveries of a deleted webhook are cancelled.",
    ),
    _c(
        "REG-6",
        "Register Webhook",
        '"events": ["job.completed", "job.failed"] (Check Events: verify subscribed events).',
        M,
        SND,
        ("sender-suite", "simulation", "property"),
        R(
            "reject-unknown",
            "events must be a non-empty list of known types; anything else is 422",
            default=True,
        ),
        R("ignore-unknown", "unknown types are stored but never match"),
        note="Only subscribed event types are delivered.",
    ),
    _c(
        "REG-7",
        "Register Webhook",
        '"secret": "your_webhook_secret" (the response and list examples carry no secret).',
        S,
        SND,
        ("sender-suite", "property"),
        note="The kit reads the examples as: the secret is never returned by any call. Secrets are "
        "8 to 256 printable characters (the guide sets no rule; its example has 19).",
    ),
    _c(
        "REG-8",
        "Register Webhook / Check Status",
        '"status": "active" ... Ensure webhook is active.',
        M,
        SND,
        ("sender-suite", "simulation"),
        R(
            "active-after-verify",
            "pending_verification until the challenge is echoed, then active; "
            "verification_failed or disabled otherwise",
            default=True,
        ),
        R(
            "active-immediately",
            "active from creation, as the example response shows before any "
            "verification could have happened",
        ),
        note="Statuses: pending_verification, active, verification_failed, disabled. Only active "
        "webhooks receive events. The reference sender verifies before answering the POST, so "
        "its 201 already says active or verification_failed.",
    ),
    _c(
        "REG-9",
        "Test Webhook",
        "POST /api/webhooks/{id}/test sends a test event to the webhook URL.",
        M,
        SND,
        ("sender-suite",),
    ),
    _c(
        "REG-10",
        "Troubleshooting",
        "Check Logs: Review webhook delivery logs.",
        S,
        SND,
        ("sender-suite",),
        note="The guide points to delivery logs but defines no API; the reference sender serves "
        "GET /api/webhooks/{id}/deliveries.",
    ),
    # --- Verification handshake ---------------------------------------------------------------
    _c(
        "VERIFY-1",
        "Verify Webhook",
        "The system will send a verification request to your endpoint.",
        M,
        SND,
        ("sender-suite",),
        R(
            "sync-on-create",
            "the request is sent while POST /api/webhooks is handled",
            default=True,
        ),
        R("async", "the request is sent after the POST returns"),
    ),
    _c(
        "VERIFY-2",
        "Verify Webhook",
        "Respond with the challenge: if type == 'webhook.verify' return {'challenge': ...}, 200.",
        M,
        RCV,
        ("receiver-suite",),
        R(
            "json-echo",
            "200 with a JSON object whose 'challenge' equals the one sent",
            default=True,
        ),
        R("any-2xx-echo", "any 2xx with the JSON echo"),
    ),
    _c(
        "VERIFY-3",
        "Verify Webhook",
        "(silent) what happens when the challenge is not echoed.",
        S,
        SND,
        ("sender-suite", "simulation"),
        R(
            "mark-failed",
            "the webhook is kept with status verification_failed and gets no events",
            default=True,
        ),
        R("reject-registration", "the POST fails with 4xx and nothing is stored"),
        R("ignore", "the webhook becomes active anyway"),
        note="Default 'mark-failed': the user can see why and fix it with a PUT.",
    ),
    _c(
        "VERIFY-4",
        "Update Webhook",
        "(silent) whether a new URL is verified again.",
        S,
        SND,
        ("sender-suite",),
        R("reverify", "a PUT that changes the URL runs the handshake again", default=True),
        R("keep", "the new URL inherits the old status"),
    ),
    _c(
        "VERIFY-5",
        "Verify Webhook",
        "(silent) whether the verification request is signed.",
        INF,
        BOTH,
        ("receiver-suite",),
        R("signed", "the request carries X-Webhook-Signature like any delivery", default=True),
        R("unsigned", "no signature header on the verification request"),
        note="The guide's example answers before checking a signature, so receivers must not "
        "depend on it; the kit signs it anyway.",
    ),
    # --- Events -----------------------------------------------------------------------------
    _c(
        "EVENT-1",
        "Event Types",
        "Each event is {type, timestamp, data}.",
        M,
        SND,
        ("sender-suite", "receiver-suite", "property"),
        note="Timestamps are ISO-8601 UTC with Z; the body is sent as application/json via POST.",
    ),
    *(
        _c(
            f"EVENT-{n}",
            f"Event Types / {t}",
            f"{t}: data as in the guide's example.",
            M,
            SND,
            ("sender-suite", "receiver-suite", "property"),
        )
        for n, t in enumerate(EVENT_TYPES, start=2)
    ),
    _c(
        "EVENT-9",
        "Idempotency",
        "event_id = request.json.get('id')",
        S,
        BOTH,
        ("sender-suite", "receiver-suite"),
        R(
            "envelope-id",
            "every event carries a unique top-level 'id', the same on every retry",
            default=True,
        ),
        R("no-id", "events carry no id, as in every example of the guide"),
        finding="The idempotency example reads an event 'id' that none of the guide's event "
        "examples carries.",
    ),
    _c(
        "EVENT-10",
        "Event Types / job.failed",
        '"error_details": { // Error details }',
        INF,
        SND,
        ("property",),
        finding="The job.failed example is not valid JSON (a // comment); the kit "
        "reads error_details as any JSON object.",
    ),
    _c(
        "EVENT-11",
        "Test Events",
        "Sends a test event to the webhook URL.",
        S,
        SND,
        ("sender-suite",),
        R(
            "webhook.test",
            "a distinct type 'webhook.test' with {webhook_id, message}",
            default=True,
        ),
        R("subscribed-sample", "a sample event of one of the subscribed types"),
        note="Default 'webhook.test': a fake job.completed would be processed as real by receivers.",
    ),
    _c(
        "EVENT-12",
        "Event Types",
        "(silent) ordering of deliveries.",
        INF,
        BOTH,
        ("simulation", "property"),
        R(
            "unordered",
            "no ordering guarantee; retries and throttling can reorder events of one job",
            default=True,
        ),
    ),
    # --- Signatures ---------------------------------------------------------------------------
    _c(
        "SIG-1",
        "Signature Verification",
        "Webhooks include a signature in the X-Webhook-Signature header (SHA256 HMAC).",
        M,
        SND,
        ("sender-suite", "property"),
        R("bare-hex", "lowercase hex HMAC-SHA256 of the raw body, no prefix", default=True),
        R("sha256-prefix", "'sha256=' and the hex digest, as GitHub sends it"),
    ),
    _c(
        "SIG-2",
        "Signature Verification",
        "if not verify_webhook_signature(...): return {'error': 'Invalid signature'}, 401",
        M,
        RCV,
        ("receiver-suite",),
        R(
            "exact-hex",
            "only the bare lowercase hex digest is valid, as the guide's receiver compares "
            "hexdigest() with the header exactly",
            default=True,
        ),
        R(
            "tolerant",
            "the right digest is also accepted with a 'sha256=' prefix or in uppercase hex",
        ),
        note="Missing, empty, malformed or wrong signatures get 401, never 5xx. Accepting the "
        "right digest in another spelling is graded by the reading: non-strict under "
        "exact-hex, a pass under tolerant; a wrong digest is refused under both.",
    ),
    _c(
        "SIG-3",
        "Signature Verification Failing",
        "Check Payload: Use raw request body.",
        M,
        RCV,
        ("receiver-suite",),
    ),
    _c(
        "SIG-4",
        "Signature Verification",
        "hmac.compare_digest(expected_signature, signature)",
        S,
        RCV,
        ("untestable",),
        note="Constant-time comparison cannot be observed reliably over a network.",
    ),
    _c(
        "SIG-5",
        "Signature Verification",
        "verify_webhook_signature(request.data, signature, WEBHOOK_SECRET) ... payload.encode()",
        INF,
        RCV,
        ("receiver-suite",),
        finding="The guide's receiver example is broken: request.data is bytes, so payload.encode() "
        "raises AttributeError on every request, and a missing header makes "
        "hmac.compare_digest(str, None) raise TypeError: the handler answers 500 instead "
        "of 401. whsim ships a correct receiver (whsim receiver).",
    ),
    _c(
        "SIG-6",
        "Signature Verification",
        "(silent) replay protection.",
        INF,
        BOTH,
        ("untestable",),
        finding="The signature covers only the body: no timestamp is signed, so a captured request "
        "can be replayed forever. The Standard Webhooks profile (whsim.core.signing) fixes this.",
    ),
    # --- Retries ------------------------------------------------------------------------------
    _c(
        "RETRY-1",
        "Retry Logic",
        "Immediate retry on failure; Exponential backoff (1s, 2s, 4s, 8s, 16s); Maximum 5 retries.",
        M,
        SND,
        ("sender-suite", "simulation", "property"),
        R(
            "backoff-only",
            "attempts at 0, 1, 3, 7, 15, 31 s: the five listed delays are the five "
            "retries; 'immediate' means retrying starts without queueing",
            default=True,
        ),
        R("immediate-plus-five", "attempts at 0, 0, 1, 3, 7, 15, 31 s (6 retries; breaks 'max 5')"),
        R("immediate-counts", "attempts at 0, 0, 1, 3, 7, 15 s (the 16 s step is never reached)"),
        note="The three statements cannot all hold; each reading breaks one. Default "
        "'backoff-only' keeps both numbers the guide states (five delays, five retries), "
        "gives a struggling receiver no zero-gap retry, and has the longest window of the "
        "readings that keep 'max 5'.",
    ),
    _c(
        "RETRY-2",
        "Response Codes",
        "500 Internal Server Error: Temporary failure (will retry)",
        M,
        SND,
        ("sender-suite", "simulation"),
        R(
            "5xx-and-network",
            "retry 5xx, 408, 429, timeouts and connection errors; other 4xx and "
            "3xx end the delivery as rejected",
            default=True,
        ),
        R("all-non-2xx", "retry every non-2xx answer and every network error"),
        R("only-500", "retry only 500 and network errors"),
        note="Only 500 is said to retry; the guide lists 400 and 401 as the receiver's way to say "
        "the event is bad, which retrying cannot fix.",
    ),
    _c(
        "RETRY-3",
        "Retry Logic",
        "(silent) whether backoff counts from the failure or the send.",
        INF,
        SND,
        ("simulation", "sender-suite"),
        R(
            "from-failure",
            "the delay starts when the failed attempt ended (answer or timeout)",
            default=True,
        ),
        R("from-send", "the delay starts when the failed attempt was sent"),
    ),
    _c(
        "RETRY-4",
        "Retry Logic",
        "(silent) jitter.",
        INF,
        SND,
        ("simulation",),
        R("none", "no jitter, as the guide's fixed list reads", default=True),
        R("full", "each delay drawn uniformly in [0, delay]"),
        R("equal", "each delay drawn uniformly in [delay/2, delay]"),
        R(
            "proportional",
            "each delay drawn uniformly in delay x (1 +- ratio), as Svix does (+-20 %)",
        ),
        R(
            "decorrelated",
            "each delay drawn uniformly in [first delay, 3 x the previous one], capped at the "
            "longest (Brooker 2015)",
        ),
        note="Without jitter, endpoints that fail together retry together (see the retry-storm "
        "scenario).",
    ),
    _c(
        "RETRY-5",
        "Delivery Failures",
        "Check Response: Return 200 OK.",
        S,
        SND,
        ("sender-suite",),
        R("no-follow", "a 3xx is an answer, never followed", default=True),
        note="Following redirects would let a receiver bounce signed bodies anywhere. A SHOULD: "
        "the guide's only words are a troubleshooting line.",
    ),
    # --- Throttling -----------------------------------------------------------------------------
    _c(
        "THROTTLE-1",
        "job.progress",
        "Triggered when job progress updates (throttled to once per 10 seconds).",
        M,
        SND,
        ("sender-suite", "simulation", "property"),
        R(
            "coalesce",
            "the first update is sent; later ones within 10 s are held and the newest is "
            "sent when the window ends",
            default=True,
        ),
        R("drop", "updates within 10 s of the last sent one are dropped"),
        note="Default 'coalesce': the rule limits the rate, and a receiver wants the latest value.",
    ),
    _c(
        "THROTTLE-2",
        "job.progress",
        "(silent) what the 10 s window is counted per.",
        INF,
        SND,
        ("simulation",),
        R("per-job", "one window per job, shared by all webhooks", default=True),
        R("per-webhook", "one window per job and webhook"),
    ),
    _c(
        "THROTTLE-3",
        "job.progress",
        "(silent) progress after the job's terminal event.",
        S,
        SND,
        ("sender-suite", "property"),
        R(
            "never-after-terminal",
            "no job.progress is emitted after job.completed/job.failed; a held update is discarded",
            default=True,
        ),
        note="So the last progress before completion can be lost under both readings of "
        "THROTTLE-1.",
    ),
    # --- Expiry ---------------------------------------------------------------------------------
    _c(
        "EXPIRY-1",
        "Retry Logic",
        "Events older than 24 hours are dropped.",
        M,
        SND,
        ("simulation", "untestable"),
        R("from-event-timestamp", "age counts from the event's timestamp", default=True),
        R("from-first-attempt", "age counts from the first delivery attempt"),
        finding="With retries over after about 31 s, the 24 h rule only matters when events queue "
        "(sender downtime, concurrency limits); the guide does not say they can.",
    ),
    # --- HTTPS -----------------------------------------------------------------------------------
    _c(
        "HTTPS-1",
        "HTTPS Required",
        "Webhook URLs must use HTTPS in production. HTTP is only allowed for local development.",
        M,
        SND,
        ("sender-suite",),
        R(
            "mode-flag",
            "the sender runs in a declared mode; development allows http and loopback",
            default=True,
        ),
        R("loopback-host", "http is allowed only for loopback hosts, in any mode"),
    ),
    _c(
        "HTTPS-2",
        "HTTPS Required",
        "(silent) which hosts production may reach.",
        S,
        SND,
        ("sender-suite",),
        note="The kit refuses loopback, private, link-local, CGNAT and cloud-metadata addresses in "
        "production, at registration and again at connection time (SSRF).",
    ),
    # --- Response codes ---------------------------------------------------------------------------
    _c(
        "CODES-1",
        "Response Codes",
        "200 OK: Event processed successfully",
        M,
        BOTH,
        ("receiver-suite", "sender-suite"),
        R("any-2xx", "any 2xx answer is a success", default=True),
        R("200-only", "only 200 is a success"),
    ),
    _c(
        "CODES-2",
        "Response Codes",
        "400 Bad Request: Invalid event data",
        S,
        RCV,
        ("receiver-suite",),
    ),
    _c(
        "CODES-3",
        "Response Codes",
        "401 Unauthorized: Invalid signature",
        M,
        RCV,
        ("receiver-suite",),
    ),
    _c(
        "CODES-4",
        "Response Codes",
        "500 Internal Server Error: Temporary failure (will retry)",
        M,
        RCV,
        ("receiver-suite",),
        note="So a well-formed, signed event must never get a 5xx for a permanent reason.",
    ),
    _c(
        "CODES-5",
        "Response Codes",
        "(silent) an event of a type the receiver does not know.",
        INF,
        RCV,
        ("receiver-suite",),
        R("accept", "2xx: new event types must not break receivers", default=True),
        R("reject-400", "400 like invalid data"),
    ),
    # --- Timeout -------------------------------------------------------------------------------
    _c(
        "TIMEOUT-1",
        "Timeout",
        "Webhook endpoints should respond within 5 seconds. Longer responses may timeout.",
        S,
        RCV,
        ("receiver-suite",),
    ),
    _c(
        "TIMEOUT-2",
        "Timeout",
        "Longer responses may timeout.",
        S,
        SND,
        ("sender-suite", "simulation"),
        R(
            "total-5s",
            "an attempt not answered 5 s after it was sent is a timeout, retried",
            default=True,
        ),
        note="A SHOULD: the guide says longer responses 'may' time out.",
    ),
    # --- Idempotency -----------------------------------------------------------------------------
    _c(
        "IDEM-1",
        "Idempotency",
        "Make your webhook handler idempotent to handle duplicate events.",
        S,
        RCV,
        ("receiver-suite",),
        note="A duplicate gets 2xx again, not an error.",
    ),
    _c(
        "IDEM-2",
        "Idempotency",
        "(implied) duplicates happen: delivery is at least once.",
        INF,
        SND,
        ("simulation",),
    ),
)

_BY_ID: Final = {c.id: c for c in _CLAUSES}


def clauses() -> tuple[Clause, ...]:
    """Every clause of the guide, in the guide's order."""
    return _CLAUSES


def clause(clause_id: str) -> Clause:
    """One clause by id; raises :class:`UnknownReadingError` for an unknown id."""
    try:
        return _BY_ID[clause_id]
    except KeyError:
        raise UnknownReadingError("clause", clause_id, tuple(_BY_ID)) from None


def findings() -> tuple[Clause, ...]:
    """The clauses where the guide is wrong, not only vague."""
    return tuple(c for c in _CLAUSES if c.finding)


@cache  # the registry is constant; senders resolve a reading per signed attempt
def reading_names(clause_id: str) -> tuple[str, ...]:
    return tuple(r.name for r in clause(clause_id).readings)


def default_reading(clause_id: str) -> str:
    """The kit's default reading of an ambiguous clause."""
    name = clause(clause_id).default
    if name is None:
        raise UnknownReadingError(
            "ambiguous clause", clause_id, tuple(c.id for c in _CLAUSES if c.readings)
        )
    return name


def resolve_reading(clause_id: str, name: str | None) -> str:
    """``name`` if it is a reading of the clause, the default if None; else a clear error."""
    if name is None:
        return default_reading(clause_id)
    names = reading_names(clause_id)
    if name not in names:
        raise UnknownReadingError(f"reading of {clause_id}", name, names)
    return name
