"""VERIFY: the handshake on registration (VERIFY-1), a wrong answer (VERIFY-3), signing (VERIFY-5)."""

from __future__ import annotations

import json

from whsim.conformance.case import Case
from whsim.conformance.listener import ok
from whsim.core.signing import SIGNATURE_HEADER, verify

from .catalog import case
from .grading import record_arrivals, require
from .scenarios import Scenarios
from .target import SenderTarget


@case("SND-VERIFY-001")
def test_verification_request(scenarios: Scenarios, whsim_case: Case) -> None:
    run = require(whsim_case, scenarios, "ok")
    found = run.verifications()
    record_arrivals(whsim_case, run, found, "verification request")
    if not found:
        whsim_case.fail(
            "no webhook.verify request reached the registered URL",
            expected='a POST {"type": "webhook.verify", "challenge": ...} on registration',
            actual="nothing but events arrived" if run.deliveries() else "nothing arrived",
            primary=run.registered.exchange if run.registered else None,
        )
    doc = found[0].json()
    challenge = doc.get("challenge") if isinstance(doc, dict) else None
    if not isinstance(challenge, str) or not challenge:
        whsim_case.fail(
            "the verification request carries no challenge string",
            expected='{"type": "webhook.verify", "challenge": "<string>"}',
            actual=found[0].body[:300].decode("utf-8", "replace"),
        )
    whsim_case.details["challenge_length"] = len(challenge)
    whsim_case.passed(f"one webhook.verify request with a {len(challenge)}-character challenge")


@case("SND-VERIFY-002")
def test_wrong_challenge(scenarios: Scenarios, whsim_case: Case) -> None:
    run = require(whsim_case, scenarios, "wrong-challenge")
    reg = run.registered
    assert reg is not None
    record_arrivals(whsim_case, run, run.arrivals())
    if not run.verifications():
        whsim_case.untestable(
            "no verification request arrived, so no wrong answer could be given (SND-VERIFY-001)"
        )
    status = reg.exchange.response.status
    if reg.webhook_id is None:
        if status is not None and 400 <= status < 500:
            whsim_case.non_strict(
                f"the registration was refused ({status}): reading reject-registration, "
                "tolerated; the kit's reading is mark-failed",
                expected="the webhook is kept as verification_failed and gets no events",
                actual=f"HTTP {status}",
                primary=reg.exchange,
            )
        whsim_case.fail(
            f"the registration answered {status}",
            expected="2xx (webhook marked failed) or 4xx",
            actual=str(status),
            primary=reg.exchange,
        )
    after = run.exchanges[-2] if len(run.exchanges) >= 2 else reg.exchange
    try:
        shown = json.loads(after.response.body).get("status")
    except (ValueError, AttributeError):
        shown = None
    delivered = run.deliveries()
    whsim_case.details.update(status_after=shown, events_delivered=len(delivered))
    if delivered or shown == "active":
        whsim_case.non_strict(
            f"the webhook is {shown!r} and got {len(delivered)} event(s) although the challenge "
            "was answered wrong: reading ignore",
            expected="status verification_failed (or like it) and no events (reading mark-failed)",
            actual=f"status {shown!r}, {len(delivered)} event(s)",
            primary=after,
        )
    whsim_case.passed(
        f"kept with status {shown!r}, no event delivered: reading mark-failed", primary=after
    )


@case("SND-VERIFY-003")
def test_verification_signed(scenarios: Scenarios, whsim_case: Case) -> None:
    run = require(whsim_case, scenarios, "ok")
    found = run.verifications()
    if not found or run.registered is None:
        whsim_case.untestable("no verification request arrived (SND-VERIFY-001)")
    record_arrivals(whsim_case, run, found[:1], "verification request")
    header = found[0].header(SIGNATURE_HEADER)
    if header is None:
        whsim_case.info("the verification request is not signed: reading unsigned")
    elif verify(found[0].body, header, run.registered.secret):
        whsim_case.info("the verification request is signed with the secret: reading signed")
    else:
        whsim_case.info(
            f"the verification request carries a signature that does not verify ({header[:20]}...)"
        )


@case("SND-VERIFY-004")
def test_new_url_verified_again(sender: SenderTarget, whsim_case: Case) -> None:
    if sender.can_deliver is not None:
        whsim_case.untestable(sender.can_deliver)
    reg = sender.register(whsim_case, "verify-old-url", ok(), ["job.failed"])
    if reg.webhook_id is None:
        whsim_case.untestable(
            f"the registration was refused ({reg.exchange.response.status}); see SND-REG-001"
        )
    path = sender.listener.path("verify-new-url", ok())
    ex = sender.call(
        whsim_case, "PUT", f"/api/webhooks/{reg.webhook_id}", {"url": sender.listener.url(path)}
    )
    arrived = sender.listener.wait(lambda got: any(a.is_verification for a in got), path, 5.0)
    if arrived:
        whsim_case.passed("the new URL got its own webhook.verify request", primary=ex)
        return
    whsim_case.non_strict(
        "no verification request reached the new URL: reading keep (the new URL inherits the "
        "old status unverified)",
        expected="a webhook.verify request at the new URL (reading reverify)",
        actual=f"PUT answered {ex.response.status}; nothing at the new URL within 5 s",
        primary=ex,
    )
