"""GEN: Hypothesis-generated valid and invalid events, seeded from --whsim-seed."""

from __future__ import annotations

from whsim.conformance.case import Case
from whsim.pytest_plugin import WhsimSettings

from .catalog import case
from .generated import invalid_bodies, run_examples, valid_bodies
from .target import ReceiverTarget, expect_400, expect_accepted

EXAMPLES = 25


@case("RCV-GEN-001")
def test_generated_valid(
    receiver: ReceiverTarget, whsim_case: Case, whsim_settings: WhsimSettings
) -> None:
    bodies: list[bytes] = []
    run_examples(valid_bodies(receiver.new_id), bodies.append, seed=whsim_settings.seed, n=EXAMPLES)
    sent = receiver.send_all(whsim_case, [(b, "generated valid event") for b in bodies])
    whsim_case.details.update(examples=len(sent), seed=whsim_settings.seed)
    expect_accepted(whsim_case, sent, "a generated valid event")


@case("RCV-GEN-002")
def test_generated_invalid(
    receiver: ReceiverTarget, whsim_case: Case, whsim_settings: WhsimSettings
) -> None:
    items: list[tuple[str, bytes]] = []
    run_examples(
        invalid_bodies(receiver.new_id), items.append, seed=whsim_settings.seed, n=EXAMPLES
    )
    sent = receiver.send_all(
        whsim_case, [(body, f"generated invalid event: {why}") for why, body in items]
    )
    whsim_case.details.update(examples=len(sent), seed=whsim_settings.seed)
    expect_400(whsim_case, sent, "a generated invalid event")
