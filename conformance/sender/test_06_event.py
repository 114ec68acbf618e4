"""EVENT: envelopes and schemas (EVENT-1..8), stable ids (EVENT-9), subscriptions (REG-6), /test."""

from __future__ import annotations

import json

from whsim.conformance.case import Case
from whsim.core.errors import EventDataError
from whsim.core.spec.events import EVENT_TYPES, TEST_EVENT_TYPE, parse_event

from .catalog import case
from .grading import attempt_rows, record_arrivals, require
from .scenarios import Scenarios


def _envelope_problem(body: bytes) -> str | None:
    try:
        doc = json.loads(body)
    except ValueError:
        return "the body is not JSON"
    if not isinstance(doc, dict):
        return "the body is not a JSON object"
    if "id" not in doc:
        doc = {**doc, "id": "none"}  # an id is EVENT-9's business, not the envelope's
    try:
        parse_event(json.dumps(doc).encode(), allow_unknown_type=True)
    except EventDataError as exc:
        return exc.message
    return None


@case("SND-EVENT-001")
def test_envelope(scenarios: Scenarios, whsim_case: Case) -> None:
    run = require(whsim_case, scenarios, "ok")
    got = run.deliveries()
    if not got:
        whsim_case.fail("no event arrived", expected="events", actual="nothing")
    for a in got:
        why = _envelope_problem(a.body)
        if why:
            record_arrivals(whsim_case, run, [a], "bad envelope")
            whsim_case.fail(
                f"a delivery is not an event envelope: {why}",
                expected="{type, timestamp (ISO-8601 UTC, Z), data: {...}}",
                actual=a.body[:300].decode("utf-8", "replace"),
            )
    whsim_case.passed(f"{len(got)} deliveries, each a {{type, timestamp, data}} envelope")


@case("SND-EVENT-002")
def test_schemas(scenarios: Scenarios, whsim_case: Case) -> None:
    run = require(whsim_case, scenarios, "ok")
    if not run.target.trigger.available:
        whsim_case.untestable(
            "needs a trigger to make job, document and proposal events (--trigger)"
        )
    got = [a for a in run.deliveries() if a.event_type in EVENT_TYPES]
    for a in got:
        doc = json.loads(a.body)
        if "id" not in doc:
            doc["id"] = "none"
        try:
            parse_event(json.dumps(doc).encode())
        except EventDataError as exc:
            record_arrivals(whsim_case, run, [a], "breaks its schema")
            whsim_case.fail(
                f"{a.event_type} breaks the guide's schema: {exc.message}",
                expected=f"data as in the guide's {a.event_type} example",
                actual=a.body[:400].decode("utf-8", "replace"),
            )
    seen = sorted({str(a.event_type) for a in got})
    whsim_case.details["types_seen"] = seen
    missing = [t for t in EVENT_TYPES if t not in seen]
    if missing:
        whsim_case.fail(
            f"the trigger ran but {', '.join(missing)} never arrived",
            expected=", ".join(EVENT_TYPES),
            actual=", ".join(seen) or "none",
        )
    whsim_case.passed(f"all seven types arrived and match their schemas ({len(got)} events)")


@case("SND-EVENT-003")
def test_id_stable_across_retries(scenarios: Scenarios, whsim_case: Case) -> None:
    run = require(whsim_case, scenarios, "retry-500")
    attempts = run.attempts()
    record_arrivals(whsim_case, run, attempts)
    whsim_case.details["attempts"] = attempt_rows(attempts)
    if len(attempts) < 2:
        whsim_case.untestable(
            "fewer than two attempts arrived, so no retry to compare (SND-RETRY-002)"
        )
    ids = [a.event_id for a in attempts]
    if all(i is None for i in ids):
        whsim_case.non_strict(
            "events carry no id (reading no-id of EVENT-9): receivers cannot deduplicate retries "
            "as the guide's idempotency example does",
            expected="a top-level id, the same on every attempt",
            actual="no id",
        )
    if len(set(ids)) > 1:
        whsim_case.fail(
            f"the id changes between retries of one event: {', '.join(str(i) for i in ids)}",
            expected="the same id on every attempt",
            actual=", ".join(str(i) for i in ids),
        )
    bodies = {a.body for a in attempts}
    note = (
        ""
        if len(bodies) == 1
        else f"; the body bytes differ across attempts ({len(bodies)} versions)"
    )
    whsim_case.passed(f"{len(attempts)} attempts, one id {ids[0]!r}{note}")


@case("SND-EVENT-004")
def test_only_subscribed(scenarios: Scenarios, whsim_case: Case) -> None:
    run = require(whsim_case, scenarios, "filter")
    got = run.deliveries()
    record_arrivals(whsim_case, run, got)
    types = sorted({str(a.event_type) for a in got})
    whsim_case.details["types_seen"] = types
    stray = [t for t in types if t != "proposal.created"]
    if stray:
        whsim_case.fail(
            f"a webhook subscribed to proposal.created got {', '.join(stray)}",
            expected="proposal.created only",
            actual=", ".join(types),
        )
    if not got:
        whsim_case.fail(
            "the subscribed proposal.created never arrived",
            expected="proposal.created",
            actual="nothing",
        )
    whsim_case.passed(f"{len(got)} delivery(ies), all proposal.created; job events were held back")


@case("SND-EVENT-005")
def test_test_endpoint(scenarios: Scenarios, whsim_case: Case) -> None:
    run = require(whsim_case, scenarios, "ok")
    tests = [a for a in run.deliveries() if a.event_type == TEST_EVENT_TYPE]
    if tests:
        record_arrivals(whsim_case, run, tests[:1], "the test event")
        whsim_case.passed(
            f"POST .../test delivered a {TEST_EVENT_TYPE} event (reading webhook.test)"
        )
        return
    first = next((a for a in run.deliveries() if a.t_headers_ns >= run.t_trigger_ns), None)
    if first is not None and first.event_type in EVENT_TYPES and not run.target.trigger.available:
        record_arrivals(whsim_case, run, [first], "the test event")
        whsim_case.non_strict(
            f"the test event is a sample {first.event_type} (reading subscribed-sample): "
            "receivers will process it as real",
            expected=f"a {TEST_EVENT_TYPE} event",
            actual=str(first.event_type),
        )
    whsim_case.fail(
        "POST /api/webhooks/{id}/test delivered nothing",
        expected="a test event at the webhook URL",
        actual="nothing of type " + TEST_EVENT_TYPE,
        primary=run.exchanges[-1] if run.exchanges else None,
    )
