"""EXPIRY: the 24 h rule cannot be observed from outside (EXPIRY-1); the report says so and why."""

from __future__ import annotations

from whsim.conformance.case import Case

from .catalog import case
from .target import SenderTarget


@case("SND-EXPIRY-001")
def test_expiry(sender: SenderTarget, whsim_case: Case) -> None:
    reason = whsim_case.spec.untestable
    if sender.scaled:
        hours = 24 * 3600 / sender.time_scale
        reason += (
            f" (the sender advertises time scale {sender.time_scale:g}: 24 h is still "
            f"{hours:,.0f} s of wall time, and its retries end long before)"
        )
    whsim_case.untestable(reason)
