"""CODES: 400 for bad data (a SHOULD), never a 5xx for a permanent problem (a MUST), and how an
unknown event type is answered (reading ``accept`` of CODES-5)."""

from __future__ import annotations

import json

from whsim.conformance.case import Case

from .catalog import case
from .target import ReceiverTarget, expect_400, status_text


@case("RCV-CODES-001")
def test_not_json(receiver: ReceiverTarget, whsim_case: Case) -> None:
    exchanges = receiver.send_all(
        whsim_case,
        [
            (b'{"type": "job.created", "data": ', "truncated JSON"),
            (b"\xff\xfe not utf-8", "not UTF-8"),
        ],
    )
    expect_400(whsim_case, exchanges, "a signed body that is not JSON")


@case("RCV-CODES-002")
def test_broken_envelope(receiver: ReceiverTarget, whsim_case: Case) -> None:
    no_type = {
        "id": receiver.new_id(),
        "timestamp": "2024-01-15T10:30:00Z",
        "data": {"job_id": "j"},
    }
    exchanges = receiver.send_all(
        whsim_case,
        [(json.dumps(no_type).encode(), "no type"), (b"[1, 2, 3]", "an array, not an object")],
    )
    expect_400(whsim_case, exchanges, "a signed event with a broken envelope")


@case("RCV-CODES-003")
def test_data_breaks_schema(receiver: ReceiverTarget, whsim_case: Case) -> None:
    doc = {
        "id": receiver.new_id(),
        "type": "job.completed",
        "timestamp": "2024-01-15T10:40:00Z",
        "data": {"job_id": "job_123", "proposal_id": "prop_123", "status": "completed"},
    }
    ex = receiver.send(
        whsim_case, json.dumps(doc).encode(), note="job.completed without document_id"
    )
    expect_400(whsim_case, [ex], "job.completed without data.document_id")


@case("RCV-CODES-004")
def test_unknown_type(receiver: ReceiverTarget, whsim_case: Case) -> None:
    doc = {
        "id": receiver.new_id(),
        "type": "job.archived",
        "timestamp": "2024-01-15T10:40:00Z",
        "data": {"job_id": "job_123"},
    }
    ex = receiver.send(whsim_case, json.dumps(doc).encode(), note="unknown type job.archived")
    status = ex.response.status
    if status is not None and 200 <= status < 300:
        whsim_case.passed(
            "unknown type accepted with 2xx (reading accept, the kit's default)", primary=ex
        )
    elif status is not None and 400 <= status < 500 and receiver.readings["CODES-5"] != "accept":
        whsim_case.passed(
            f"unknown type refused with {status} (reading reject-400 of CODES-5)", primary=ex
        )
    elif status is not None and 400 <= status < 500:
        whsim_case.non_strict(
            f"unknown type refused with {status}: reading reject-400 of CODES-5, tolerated; new "
            "event types would then be refused until the receiver is updated",
            expected="2xx (reading accept)",
            actual=status_text(ex),
            primary=ex,
        )
    else:
        whsim_case.fail(
            "an unknown type must not get a 5xx (or no answer): the sender retries it for nothing",
            expected="2xx (reading accept) or 4xx (reading reject-400)",
            actual=status_text(ex),
            primary=ex,
        )
