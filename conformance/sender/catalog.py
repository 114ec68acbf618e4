"""The sender case catalog: stable ids, what each case checks, the clauses it cites.

Ids never change meaning; a retired id is never reused. ``case("SND-RETRY-001")`` is the marker a
test carries. Clauses that cannot be observed from outside still get a case, graded untestable
with the reason, so the report lists them.
"""

from __future__ import annotations

from typing import Final

import pytest

from whsim.conformance.case import CaseSpec

__all__ = ["CATALOG", "case"]

_TYPES = tuple(f"EVENT-{n}" for n in range(2, 9))

CATALOG: Final[dict[str, CaseSpec]] = {
    s.id: s
    for s in (
        # --- registration API -----------------------------------------------------------------
        CaseSpec("SND-REG-001", "create a webhook: 2xx with the guide's shape", ("REG-1", "REG-8")),
        CaseSpec("SND-REG-002", "list webhooks: {webhooks: [...]} holds it", ("REG-2",)),
        CaseSpec("SND-REG-003", "get a webhook; 404 for an unknown id", ("REG-3",)),
        CaseSpec("SND-REG-004", "update url and events (reading partial)", ("REG-4",)),
        CaseSpec("SND-REG-005", "delete a webhook; then 404 for it", ("REG-5",)),
        CaseSpec(
            "SND-REG-006",
            "bad bodies get a clear 4xx (missing url, unknown or empty events, wrong types)",
            ("REG-1", "REG-6"),
            level="SHOULD",
            justification="the guide prints the request body but not the answer to a bad one, so "
            "accepting one is a SHOULD missed, not a MUST broken",
            readings=(
                ("REG-6=reject-unknown", "an unknown event type is a bad body"),
                ("REG-6=ignore-unknown", "an unknown event type may be accepted"),
            ),
        ),
        CaseSpec("SND-REG-007", "the secret is never echoed", ("REG-7",)),
        CaseSpec(
            "SND-REG-008",
            "a state machine of create/update/delete/list agrees with a model",
            ("REG-1", "REG-2", "REG-3", "REG-4", "REG-5", "REG-7"),
        ),
        CaseSpec("SND-REG-009", "a delivery log is served (info)", ("REG-10",), level="INFO"),
        # --- verification ---------------------------------------------------------------------
        CaseSpec(
            "SND-VERIFY-001",
            "registration sends a webhook.verify request with a challenge",
            ("VERIFY-1",),
        ),
        CaseSpec(
            "SND-VERIFY-002",
            "a wrong challenge answer (reading mark-failed)",
            ("VERIFY-3", "REG-8"),
            level="SHOULD",
        ),
        CaseSpec("SND-VERIFY-003", "whether the verification request is signed", ("VERIFY-5",)),
        CaseSpec(
            "SND-VERIFY-004", "a changed URL is verified again (reading reverify)", ("VERIFY-4",)
        ),
        # --- signatures -----------------------------------------------------------------------
        CaseSpec(
            "SND-SIG-001",
            "every delivery carries the hex HMAC-SHA256 of its exact bytes",
            ("SIG-1",),
        ),
        # --- events ---------------------------------------------------------------------------
        CaseSpec(
            "SND-EVENT-001",
            "every delivery is an event envelope {type, timestamp, data}",
            ("EVENT-1",),
        ),
        CaseSpec("SND-EVENT-002", "each of the seven event types matches its schema", _TYPES),
        CaseSpec(
            "SND-EVENT-003",
            "the event id is present and identical on every retry",
            ("EVENT-9",),
            justification="EVENT-9 is a SHOULD: the guide's idempotency example reads an id, "
            "but none of its events carries one",
        ),
        CaseSpec("SND-EVENT-004", "only subscribed event types arrive", ("REG-6",)),
        CaseSpec("SND-EVENT-005", "POST /api/webhooks/{id}/test delivers", ("REG-9", "EVENT-11")),
        # --- retries --------------------------------------------------------------------------
        CaseSpec(
            "SND-RETRY-001",
            "500 every time: gaps between attempts within the bands of the kit's reading",
            ("RETRY-1", "RETRY-3"),
        ),
        CaseSpec("SND-RETRY-002", "500 every time: the number of attempts", ("RETRY-1",)),
        CaseSpec(
            "SND-RETRY-003",
            "which reading of the retry clause the schedule matches (info)",
            ("RETRY-1",),
        ),
        CaseSpec("SND-RETRY-004", "a 2xx on the first attempt is not retried", ("CODES-1",)),
        CaseSpec(
            "SND-RETRY-005",
            "500 twice, then 200: retried until the 2xx, nothing after it",
            ("RETRY-2", "CODES-1"),
        ),
        CaseSpec("SND-RETRY-006", "an attempt that times out is retried", ("RETRY-2", "TIMEOUT-2")),
        CaseSpec("SND-RETRY-007", "a refused connection is retried", ("RETRY-2",)),
        CaseSpec("SND-RETRY-008", "redirects are not followed (reading no-follow)", ("RETRY-5",)),
        CaseSpec(
            "SND-RETRY-009",
            "what 400/401/404/410 answers lead to (recorded), never more attempts than RETRY-1 allows",
            ("RETRY-2", "RETRY-1"),
            level="MUST",
            justification="which 4xx are retried is recorded (RETRY-2 reads only '500: will "
            "retry'); more attempts of one event than 'Maximum 5 retries' allows under any "
            "reading fails RETRY-1",
        ),
        # --- timeout --------------------------------------------------------------------------
        CaseSpec("SND-TIMEOUT-001", "an attempt that hangs is given up near 5 s", ("TIMEOUT-2",)),
        # --- throttling -----------------------------------------------------------------------
        CaseSpec(
            "SND-THROTTLE-001",
            "job.progress of one job never twice within 10 s; the terminal event arrives",
            ("THROTTLE-1", "THROTTLE-3"),
        ),
        # --- https ----------------------------------------------------------------------------
        CaseSpec("SND-HTTPS-001", "production mode refuses http URLs", ("HTTPS-1",)),
        CaseSpec(
            "SND-HTTPS-002",
            "production mode refuses loopback, private and metadata addresses",
            ("HTTPS-2",),
        ),
        # --- expiry ---------------------------------------------------------------------------
        CaseSpec(
            "SND-EXPIRY-001",
            "events older than 24 hours are dropped",
            ("EXPIRY-1",),
            untestable="a black-box kit cannot make a sender hold an event for 24 h: the retry "
            "schedule ends after about 31 s, so the rule only bites when a sender queues events "
            "(downtime, limits), which cannot be caused from outside; see `whsim simulate "
            "--scenario outage-2h` for the rule under a virtual clock",
        ),
    )
}


def case(case_id: str) -> pytest.MarkDecorator:
    """The ``whsim_case`` marker for a catalog id."""
    return pytest.mark.whsim_case(CATALOG[case_id])
