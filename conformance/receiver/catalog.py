"""The receiver case catalog: stable ids, what each case checks, the clauses it cites.

Ids never change meaning; a retired id is never reused. ``case("RCV-SIG-002")`` is the marker a
test carries. Clauses of the receiver that cannot be observed from outside still get a case, graded
untestable with the reason, so the report lists them.
"""

from __future__ import annotations

from typing import Any, Final

import pytest

from whsim.conformance.case import CaseSpec

__all__ = ["CATALOG", "case"]

_EVENTS = ("EVENT-1", "EVENT-2", "EVENT-3", "EVENT-4", "EVENT-5", "EVENT-6", "EVENT-7", "EVENT-8")
_NEG = ("SIG-2", "CODES-3")
_RAW = ("SIG-3", "CODES-1", "CODES-4")
_SIGNED: Final[dict[str, Any]] = {
    "needs": ("RCV-SIG-001",),
    "precondition": "a correctly signed valid event gets 2xx",
}
_ECHO: Final[dict[str, Any]] = {
    "needs": ("RCV-VERIFY-001",),
    "precondition": "a plain challenge is echoed",
}
_BAD_DATA = (
    "CODES-2 '400 Bad Request: Invalid event data' is one line of a list the guide opens with "
    "'Return appropriate HTTP status codes' under Best Practices; nothing forbids a 5xx for bad "
    "data (CODES-4 only says a 500 will be retried), so missing the 400 is a SHOULD"
)
_TOLERANT = (
    "SIG-2=exact-hex (default): non-strict, a receiver that also accepts it is more lenient "
    "than the guide's; SIG-2=tolerant: pass"
)

CATALOG: Final[dict[str, CaseSpec]] = {
    s.id: s
    for s in (
        CaseSpec("RCV-VERIFY-001", "a plain challenge is echoed with 200", ("VERIFY-2",)),
        CaseSpec("RCV-VERIFY-002", "a unicode challenge is echoed exactly", ("VERIFY-2",), **_ECHO),
        CaseSpec(
            "RCV-VERIFY-003", "a long (8 KiB) challenge is echoed exactly", ("VERIFY-2",), **_ECHO
        ),
        CaseSpec(
            "RCV-VERIFY-004",
            "a challenge full of JSON-special characters is echoed",
            ("VERIFY-2",),
            **_ECHO,
        ),
        CaseSpec(
            "RCV-VERIFY-005", "generated challenges are echoed exactly", ("VERIFY-2",), **_ECHO
        ),
        CaseSpec(
            "RCV-VERIFY-006", "an unsigned verification request (which reading)", ("VERIFY-5",)
        ),
        CaseSpec(
            "RCV-SIG-001",
            "a correctly signed delivery of every event type gets 2xx",
            ("CODES-1", "CODES-4", "SIG-3", "SIG-5", *_EVENTS),
            level="MUST",
        ),
        CaseSpec("RCV-SIG-002", "a missing signature header gets 401", (*_NEG, "SIG-5")),
        CaseSpec("RCV-SIG-003", "an empty signature header gets 401", _NEG),
        CaseSpec("RCV-SIG-004", "a signature made with another secret gets 401", _NEG),
        CaseSpec("RCV-SIG-005", "a truncated signature gets 401", _NEG),
        CaseSpec(
            "RCV-SIG-006",
            "a 'sha256=' prefixed signature gets 401 (reading exact-hex of SIG-2)",
            (*_NEG, "SIG-1"),
            readings=(("SIG-2=exact-hex", _TOLERANT), ("SIG-2=tolerant", "accepting it passes")),
        ),
        CaseSpec(
            "RCV-SIG-011",
            "an uppercase-hex signature gets 401 (reading exact-hex of SIG-2)",
            (*_NEG, "SIG-1"),
            readings=(("SIG-2=exact-hex", _TOLERANT), ("SIG-2=tolerant", "accepting it passes")),
        ),
        CaseSpec("RCV-SIG-007", "the signature of another body gets 401", _NEG),
        CaseSpec("RCV-SIG-008", "a one-byte change of the signed body gets 401", (*_NEG, "SIG-3")),
        CaseSpec(
            "RCV-SIG-009",
            "constant-time comparison of signatures",
            ("SIG-4",),
            untestable="a constant-time comparison cannot be told from a fast one over a network: "
            "the difference is nanoseconds against milliseconds of jitter",
        ),
        CaseSpec(
            "RCV-SIG-010",
            "protection against replayed requests",
            ("SIG-6",),
            untestable="the guide's scheme signs only the body (finding SIG-6): a replayed request "
            "is indistinguishable from a retry, so no receiver can refuse it; the Standard Webhooks "
            "profile signs a timestamp",
        ),
        CaseSpec("RCV-RAW-001", "raw body: keys in an unusual order", _RAW, **_SIGNED),
        CaseSpec("RCV-RAW-002", "raw body: extra whitespace and CRLF line ends", _RAW, **_SIGNED),
        CaseSpec("RCV-RAW-003", "raw body: escaped and literal unicode mixed", _RAW, **_SIGNED),
        CaseSpec("RCV-RAW-004", "raw body: number forms (1.0, 2.50, 1E1)", _RAW, **_SIGNED),
        CaseSpec("RCV-RAW-005", "raw body: integers beyond 2**53", _RAW, **_SIGNED),
        CaseSpec("RCV-RAW-006", "raw body: a trailing newline", _RAW, **_SIGNED),
        CaseSpec(
            "RCV-CODES-001",
            "a signed body that is not JSON gets 400",
            ("CODES-2", "CODES-4"),
            level="SHOULD",
            justification=_BAD_DATA,
            **_SIGNED,
        ),
        CaseSpec(
            "RCV-CODES-002",
            "a signed event with a broken envelope gets 400",
            ("CODES-2", "CODES-4", "EVENT-1"),
            level="SHOULD",
            justification=_BAD_DATA,
            **_SIGNED,
        ),
        CaseSpec(
            "RCV-CODES-003",
            "a signed event whose data breaks its schema gets 400",
            ("CODES-2", "CODES-4", "EVENT-5"),
            level="SHOULD",
            justification=_BAD_DATA,
            **_SIGNED,
        ),
        CaseSpec(
            "RCV-CODES-004",
            "an event of an unknown type (reading accept)",
            ("CODES-5", "CODES-4"),
            level="MUST",
            justification="which of 2xx and 4xx is CODES-5's reading; a 5xx for a well-formed, "
            "signed event fails CODES-4 (the sender retries it for nothing)",
            readings=(
                ("CODES-5=accept", "2xx passes; 4xx non-strict; 5xx fails"),
                ("CODES-5=reject-400", "4xx passes; 2xx passes; 5xx fails"),
            ),
            **_SIGNED,
        ),
        CaseSpec(
            "RCV-GEN-001",
            "generated valid events, serialized in several styles, get 2xx",
            ("CODES-1", "CODES-4", "SIG-3", "EVENT-1"),
            **_SIGNED,
        ),
        CaseSpec(
            "RCV-GEN-002",
            "generated invalid events get 400",
            ("CODES-2", "CODES-4"),
            level="SHOULD",
            justification=_BAD_DATA,
            readings=(
                (
                    "EVENT-9=envelope-id",
                    "an event without an id is valid for a receiver (the guide prints them so) "
                    "and is never generated as invalid",
                ),
            ),
            **_SIGNED,
        ),
        CaseSpec(
            "RCV-IDEM-001",
            "the same event twice in sequence gets 2xx both times",
            ("IDEM-1", "EVENT-9", "CODES-1", "CODES-4"),
            level="MUST",
            justification="IDEM-1 is a Best Practice ('Make your webhook handler idempotent'): "
            "a 4xx for a duplicate is non-strict; a 5xx fails, because a duplicate is a valid "
            "signed event (CODES-1) and the sender retries a 5xx",
            **_SIGNED,
        ),
        CaseSpec(
            "RCV-IDEM-002",
            "the same event four times concurrently gets 2xx every time",
            ("IDEM-1", "EVENT-9", "CODES-1", "CODES-4"),
            level="MUST",
            justification="IDEM-1 is a Best Practice ('Make your webhook handler idempotent'): "
            "a 4xx for a duplicate is non-strict; a 5xx fails, because a duplicate is a valid "
            "signed event (CODES-1) and the sender retries a 5xx",
            **_SIGNED,
        ),
        CaseSpec(
            "RCV-IDEM-003",
            "an event without an id, as the guide prints them, gets 2xx",
            ("EVENT-9", "CODES-1", "CODES-4"),
            level="MUST",
            justification="EVENT-9 is a SHOULD: the guide's idempotency example reads an id, yet "
            "none of its event examples carries one; a receiver should take events as printed "
            "(a 4xx is non-strict), and a 5xx for a valid, signed event fails CODES-1/CODES-4",
            readings=(
                ("EVENT-9=envelope-id", "2xx passes; 4xx non-strict; 5xx fails"),
                ("EVENT-9=no-id", "2xx passes; 4xx non-strict; 5xx fails"),
            ),
            **_SIGNED,
        ),
        CaseSpec(
            "RCV-EVENT-001",
            "the receiver does not depend on delivery order",
            ("EVENT-12",),
            untestable="ordering (EVENT-12, reading unordered) is the sender's property; whether a "
            "receiver depends on it shows only in side effects a black-box suite cannot see",
        ),
        CaseSpec(
            "RCV-TIMEOUT-001",
            "every answer of the run, and a burst of deliveries, within 5 s",
            ("TIMEOUT-1",),
            justification="TIMEOUT-1: 'Webhook endpoints should respond within 5 seconds'",
        ),
    )
}


def case(case_id: str) -> pytest.MarkDecorator:
    """The ``whsim_case`` marker for a catalog id."""
    return pytest.mark.whsim_case(CATALOG[case_id])
