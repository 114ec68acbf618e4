"""HTTPS: in production mode, http URLs (HTTPS-1) and internal addresses (HTTPS-2) are refused."""

from __future__ import annotations

import json

from whsim.conformance.case import Case
from whsim.conformance.exchange import Exchange

from .catalog import case
from .target import SenderTarget

EVENTS = ["job.completed"]


def _production(sender: SenderTarget, whsim_case: Case) -> None:
    if sender.mode != "production":
        whsim_case.untestable(
            "the sender runs in development mode, where http is allowed (--mode production, or "
            "a sender whose GET /api/meta says production)"
        )


def _try(sender: SenderTarget, whsim_case: Case, url: str) -> Exchange:
    body = {"url": url, "events": EVENTS, "secret": sender.secret()}
    ex = sender.call(whsim_case, "POST", "/api/webhooks", body, note=url)
    try:
        doc = json.loads(ex.response.body)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("id"), str):
        sender.call(whsim_case, "DELETE", f"/api/webhooks/{doc['id']}", note="clean up")
    return ex


def _grade(whsim_case: Case, results: list[tuple[str, Exchange]], what: str) -> None:
    accepted = [
        (u, ex)
        for u, ex in results
        if ex.response.status is None or not 400 <= ex.response.status < 500
    ]
    whsim_case.details["answers"] = {u: ex.response.status for u, ex in results}
    if accepted:
        url, ex = accepted[0]
        whsim_case.fail(
            f"production mode accepted {what}: {', '.join(u for u, _ in accepted)}",
            expected="4xx",
            actual=f"{url}: HTTP {ex.response.status}",
            primary=ex,
        )
    whsim_case.passed(f"{len(results)} registration(s) of {what} refused with 4xx")


@case("SND-HTTPS-001")
def test_http_refused(sender: SenderTarget, whsim_case: Case) -> None:
    _production(sender, whsim_case)
    urls = ["http://example.com/webhook", "http://whsim-conformance.invalid/webhook"]
    _grade(whsim_case, [(u, _try(sender, whsim_case, u)) for u in urls], "http URLs")


@case("SND-HTTPS-002")
def test_internal_addresses_refused(sender: SenderTarget, whsim_case: Case) -> None:
    _production(sender, whsim_case)
    urls = [
        "https://127.0.0.1/webhook",
        "https://localhost/webhook",
        "https://10.0.0.1/webhook",
        "https://192.168.1.1/webhook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/webhook",
    ]
    _grade(
        whsim_case,
        [(u, _try(sender, whsim_case, u)) for u in urls],
        "loopback, private and metadata addresses",
    )
