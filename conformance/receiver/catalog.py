"""The receiver case catalog: stable ids, what each case checks, the clauses it cites.

Ids never change meaning; a retired id is never reused. ``case("RCV-SIG-002")`` is the marker a
test carries. Clauses of the receiver that cannot be observed from outside still get a case, graded
untestable with the reason, so the report lists them.
"""

from __future__ import annotations

from typing import Final

import pytest

from whsim.conformance.case import CaseSpec

__all__ = ["CATALOG", "case"]

_EVENTS = ("EVENT-1", "EVENT-2", "EVENT-3", "EVENT-4", "EVENT-5", "EVENT-6", "EVENT-7", "EVENT-8")
_NEG = ("SIG-2", "CODES-3")
_RAW = ("SIG-3", "CODES-1", "CODES-4")

CATALOG: Final[dict[str, CaseSpec]] = {
    s.id: s
    for s in (
        CaseSpec("RCV-VERIFY-001", "a plain challenge is echoed with 200", ("VERIFY-2",)),
        CaseSpec("RCV-VERIFY-002", "a unicode challenge is echoed exactly", ("VERIFY-2",)),
        CaseSpec("RCV-VERIFY-003", "a long (8 KiB) challenge is echoed exactly", ("VERIFY-2",)),
        CaseSpec(
            "RCV-VERIFY-004", "a challenge full of JSON-special characters is echoed", ("VERIFY-2",)
        ),
        CaseSpec("RCV-VERIFY-005", "generated challenges are echoed exactly", ("VERIFY-2",)),
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
            "a 'sha256=' prefixed signature gets 401 (reading bare-hex)",
            (*_NEG, "SIG-1"),
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
        CaseSpec("RCV-RAW-001", "raw body: keys in an unusual order", _RAW),
        CaseSpec("RCV-RAW-002", "raw body: extra whitespace and CRLF line ends", _RAW),
        CaseSpec("RCV-RAW-003", "raw body: escaped and literal unicode mixed", _RAW),
        CaseSpec("RCV-RAW-004", "raw body: number forms (1.0, 2.50, 1E1)", _RAW),
        CaseSpec("RCV-RAW-005", "raw body: integers beyond 2**53", _RAW),
        CaseSpec("RCV-RAW-006", "raw body: a trailing newline", _RAW),
        CaseSpec(
            "RCV-CODES-001",
            "a signed body that is not JSON gets 400",
            ("CODES-2", "CODES-4"),
            level="SHOULD",
        ),
        CaseSpec(
            "RCV-CODES-002",
            "a signed event with a broken envelope gets 400",
            ("CODES-2", "CODES-4", "EVENT-1"),
            level="SHOULD",
        ),
        CaseSpec(
            "RCV-CODES-003",
            "a signed event whose data breaks its schema gets 400",
            ("CODES-2", "CODES-4", "EVENT-5"),
            level="SHOULD",
        ),
        CaseSpec(
            "RCV-CODES-004",
            "an event of an unknown type (reading accept)",
            ("CODES-5", "CODES-4"),
            level="INFO",
        ),
        CaseSpec(
            "RCV-GEN-001",
            "generated valid events, serialized in several styles, get 2xx",
            ("CODES-1", "CODES-4", "SIG-3", "EVENT-1"),
        ),
        CaseSpec(
            "RCV-GEN-002",
            "generated invalid events get 400, never 5xx",
            ("CODES-2", "CODES-4"),
            level="SHOULD",
        ),
        CaseSpec(
            "RCV-IDEM-001",
            "the same event twice in sequence gets 2xx both times",
            ("IDEM-1", "EVENT-9", "CODES-1", "CODES-4"),
            level="SHOULD",
        ),
        CaseSpec(
            "RCV-IDEM-002",
            "the same event four times concurrently gets 2xx every time",
            ("IDEM-1", "EVENT-9", "CODES-1", "CODES-4"),
            level="SHOULD",
        ),
        CaseSpec(
            "RCV-IDEM-003",
            "an event without an id, as in the guide's examples",
            ("EVENT-9", "CODES-4"),
            level="INFO",
        ),
        CaseSpec(
            "RCV-EVENT-001",
            "the receiver does not depend on delivery order",
            ("EVENT-12",),
            untestable="ordering (EVENT-12, reading unordered) is the sender's property; whether a "
            "receiver depends on it shows only in side effects a black-box suite cannot see",
        ),
        CaseSpec("RCV-TIMEOUT-001", "a burst of deliveries is answered within 5 s", ("TIMEOUT-1",)),
    )
}


def case(case_id: str) -> pytest.MarkDecorator:
    """The ``whsim_case`` marker for a catalog id."""
    return pytest.mark.whsim_case(CATALOG[case_id])
