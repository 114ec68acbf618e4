"""SIG: every delivery carries X-Webhook-Signature, the hex HMAC-SHA256 of its exact bytes (SIG-1).

As strict as the guide's own receiver, which compares ``hexdigest()`` with the header exactly:
uppercase hex or a ``sha256=`` prefix fail (whsim.core.signing.verify).
"""

from __future__ import annotations

import json

from whsim.conformance.case import Case
from whsim.conformance.listener import Arrival
from whsim.core.signing import SIGNATURE_HEADER, sign, verify

from .catalog import case
from .grading import record_arrivals, require
from .scenarios import Scenarios


def _why(a: Arrival, secret: str) -> str:
    header = a.header(SIGNATURE_HEADER)
    if header is None:
        return f"no {SIGNATURE_HEADER} header"
    right = sign(a.body, secret)
    bare = header.strip().removeprefix("sha256=").strip()
    if bare == right and header != right:
        return (
            f"the right digest written differently ({header[:12]!r}...): the guide's receiver "
            "compares hexdigest() with the header exactly and rejects any prefix or space"
        )
    if bare.lower() == right and bare != right:
        return (
            "the right digest in uppercase hex: the guide's receiver compares hexdigest() "
            "(lowercase) exactly and rejects every such delivery"
        )
    try:
        doc = json.loads(a.body)
    except ValueError:
        doc = None
    if doc is not None:
        for label, other in (
            ("json.dumps default", json.dumps(doc)),
            ("compact", json.dumps(doc, separators=(",", ":"))),
            ("sorted keys", json.dumps(doc, sort_keys=True)),
        ):
            if header == sign(other.encode(), secret) and other.encode() != a.body:
                return f"the signature is over a re-serialization of the body ({label}), not the bytes sent"
    return "the signature does not match the body under the registered secret"


@case("SND-SIG-001")
def test_every_delivery_signed(scenarios: Scenarios, whsim_case: Case) -> None:
    checked = 0
    for name in ("ok", "retry-500"):
        run = require(whsim_case, scenarios, name)
        assert run.registered is not None
        for a in run.deliveries():
            checked += 1
            if verify(a.body, a.header(SIGNATURE_HEADER), run.registered.secret):
                continue
            record_arrivals(whsim_case, run, [a], "badly signed delivery")
            whsim_case.fail(
                f"a delivery ({a.event_type}) is not signed right: {_why(a, run.registered.secret)}",
                expected=f"{SIGNATURE_HEADER}: {sign(a.body, run.registered.secret)}",
                actual=f"{SIGNATURE_HEADER}: {a.header(SIGNATURE_HEADER)}",
            )
    if not checked:
        whsim_case.untestable("no delivery arrived to check (SND-EVENT-005)")
    whsim_case.passed(
        f"{checked} deliveries, each signed over its exact bytes with the registered secret"
    )
