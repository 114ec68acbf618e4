"""IDEM: duplicates get 2xx again (IDEM-1); events without an id (EVENT-9 readings)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from whsim.conformance.case import Case
from whsim.conformance.exchange import Exchange

from .catalog import case
from .target import ReceiverTarget, status_text


def _grade(whsim_case: Case, exchanges: list[Exchange]) -> None:
    if not any(
        ex.response.status is not None and 200 <= ex.response.status < 300 for ex in exchanges
    ):
        first = exchanges[0]
        whsim_case.fail(
            "not one copy was accepted, so idempotency cannot even be looked at: a correctly "
            "signed, valid event must get 2xx",
            expected="2xx every time",
            actual=status_text(first),
            primary=first,
        )
    for ex in exchanges:
        status = ex.response.status
        if status is not None and 200 <= status < 300:
            continue
        if status is None or status >= 500:
            whsim_case.fail(
                "a duplicate got a 5xx (or no answer): the sender retries it, and a permanent "
                "answer to a delivered event must not look temporary",
                expected="2xx every time",
                actual=status_text(ex),
                primary=ex,
            )
        whsim_case.non_strict(
            f"a duplicate got {status}: the guide asks for idempotent handling (2xx again)",
            expected="2xx every time",
            actual=status_text(ex),
            primary=ex,
        )
    whsim_case.passed(f"{len(exchanges)} copies, all 2xx")


@case("RCV-IDEM-001")
def test_duplicate_in_sequence(receiver: ReceiverTarget, whsim_case: Case) -> None:
    body = receiver.event("job.completed").body
    exchanges = [receiver.send(whsim_case, body, note=f"copy {n}") for n in (1, 2)]
    _grade(whsim_case, exchanges)


@case("RCV-IDEM-002")
def test_duplicate_concurrently(receiver: ReceiverTarget, whsim_case: Case) -> None:
    body = receiver.event("job.created").body
    with ThreadPoolExecutor(4) as pool:
        exchanges = list(
            pool.map(
                lambda n: receiver.send(whsim_case, body, note=f"concurrent copy {n}"), range(1, 5)
            )
        )
    _grade(whsim_case, exchanges)


@case("RCV-IDEM-003")
def test_event_without_id(receiver: ReceiverTarget, whsim_case: Case) -> None:
    doc = {
        "type": "job.started",
        "timestamp": "2024-01-15T10:31:00Z",
        "data": {"job_id": "job_123", "status": "processing"},
    }
    ex = receiver.send(
        whsim_case, json.dumps(doc).encode(), note="the guide's job.started example, no id"
    )
    status = ex.response.status
    if status is not None and 200 <= status < 300:
        whsim_case.passed(
            f"accepted ({status}): takes events as the guide prints them, without an id",
            primary=ex,
        )
        return
    if status is not None and 400 <= status < 500:
        whsim_case.non_strict(
            f"refused ({status}): the receiver requires an id that none of the guide's event "
            "examples carries; a sender that follows the examples is refused",
            expected="2xx",
            actual=status_text(ex),
            primary=ex,
        )
    whsim_case.fail(
        "an event without an id got a 5xx (or no answer): the sender would retry it for nothing",
        expected="2xx",
        actual=status_text(ex),
        primary=ex,
    )


@case("RCV-EVENT-001")
def test_order_independence(whsim_case: Case) -> None:
    whsim_case.untestable(whsim_case.spec.untestable)
