"""RAW: bodies whose re-serialized JSON differs from the bytes sent, signed on the exact bytes.

A receiver that verifies ``json.dumps(json.loads(body))`` (or ``JSON.stringify(req.body)``)
instead of the raw bytes fails here (clause SIG-3: "Use raw request body").
"""

from __future__ import annotations

import json

from whsim.conformance.case import Case
from whsim.core.spec.events import format_timestamp

from .catalog import case
from .target import ReceiverTarget, expect_accepted

_TS = format_timestamp(1_705_314_600_000)


def _send(receiver: ReceiverTarget, whsim_case: Case, body: bytes, what: str) -> None:
    ex = receiver.send(whsim_case, body, note=what)
    expect_accepted(whsim_case, [ex], what)


@case("RCV-RAW-001")
def test_key_order(receiver: ReceiverTarget, whsim_case: Case) -> None:
    # Envelope keys reversed; integer-like keys, which JavaScript moves to the front.
    body = (
        '{"data":{"error_details":{"zeta":1,"10":"ten","2":"two"},"error":"Error message",'
        f'"job_id":"job_k1"}},"timestamp":"{_TS}","type":"job.failed","id":"{receiver.new_id()}"}}'
    ).encode()
    _send(receiver, whsim_case, body, "keys out of the usual order")


@case("RCV-RAW-002")
def test_whitespace(receiver: ReceiverTarget, whsim_case: Case) -> None:
    doc = {
        "id": receiver.new_id(),
        "type": "job.started",
        "timestamp": _TS,
        "data": {"job_id": "job_w1", "status": "processing"},
    }
    body = (
        " " + json.dumps(doc, indent=3, separators=(" ,", " : ")).replace("\n", "\r\n") + "\t"
    ).encode()
    _send(receiver, whsim_case, body, "indented, CRLF, spaces around separators")


@case("RCV-RAW-003")
def test_unicode_escapes(receiver: ReceiverTarget, whsim_case: Case) -> None:
    title = (
        r"Caf\u00e9 caf\u00c9 caf\u00e9 \u2013 caf" + "é 漢字 " + r"\/ \"q\" \ud83d\ude00 " + "🙂"
    )
    body = (
        f'{{"id":"{receiver.new_id()}","type":"proposal.created","timestamp":"{_TS}",'
        f'"data":{{"proposal_id":"prop_u1","title":"{title}"}}}}'
    ).encode()
    _send(receiver, whsim_case, body, "escaped (\\u00e9, \\/) and literal unicode mixed")


@case("RCV-RAW-004")
def test_number_forms(receiver: ReceiverTarget, whsim_case: Case) -> None:
    body = (
        f'{{"id":"{receiver.new_id()}","type":"job.progress","timestamp":"{_TS}","data":'
        '{"job_id":"job_n1","progress":{"completed":1,"total":100,"percentage":1.0,'
        '"rate":2.50,"eta_s":1E1}}}'
    ).encode()
    _send(receiver, whsim_case, body, "numbers written as 1.0, 2.50 and 1E1")


@case("RCV-RAW-005")
def test_big_integers(receiver: ReceiverTarget, whsim_case: Case) -> None:
    body = (
        f'{{"id":"{receiver.new_id()}","type":"job.failed","timestamp":"{_TS}","data":'
        '{"job_id":"job_b1","error":"overflow","error_details":'
        '{"trace":123456789012345678901234567890,"code":9007199254740993}}}'
    ).encode()
    _send(receiver, whsim_case, body, "integers beyond 2**53")


@case("RCV-RAW-006")
def test_trailing_newline(receiver: ReceiverTarget, whsim_case: Case) -> None:
    body = receiver.event("document.created").body + b"\n"
    _send(receiver, whsim_case, body, "a trailing newline after the JSON")
