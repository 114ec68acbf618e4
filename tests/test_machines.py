"""The delivery state machine holds its invariants, and fails when the core is broken."""

import dataclasses
import traceback

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from whsim.analysis.machines import DeliveryMachine
from whsim.core import delivery as core

BOUNDED = settings(
    max_examples=60,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

TestDeliveryMachine = DeliveryMachine.TestCase
TestDeliveryMachine.settings = BOUNDED


class _NoExpiryCheck(DeliveryMachine):
    """A sender that forgets the 24 h rule when an attempt is due late (after a pause)."""

    def _attempt(self, index, start_ms):
        original = core.before_attempt
        try:
            import whsim.analysis.machines as machines

            machines.before_attempt = lambda state, policy, now: state
            super()._attempt(index, start_ms)
        finally:
            machines.before_attempt = original


class _DeliversEverything(DeliveryMachine):
    """A sender that ignores subscriptions."""

    def _fan_out(self, event_type, job, at_ms):
        saved = [dataclasses.replace(h) for h in self.webhooks]
        for hook in self.webhooks:
            hook.events = hook.events | {event_type}
        super()._fan_out(event_type, job, at_ms)
        for hook, old in zip(self.webhooks, saved, strict=True):
            hook.events = old.events


class _RetriesForever(DeliveryMachine):
    """A sender that keeps retrying after the reading's last attempt."""

    def _attempt(self, index, start_ms):
        super()._attempt(index, start_ms)
        d = self.deliveries[index]
        if d.state.status == "exhausted":
            d.state = dataclasses.replace(
                d.state, status=core.DeliveryStatus.PENDING, next_attempt_ms=start_ms + 1000
            )
            self.queue.append((start_ms + 1000, index))


@pytest.mark.parametrize(
    ("broken", "invariant"),
    [
        (_NoExpiryCheck, "no_attempt_after_expiry"),
        (_DeliversEverything, "only_subscribed_types"),
        (_RetriesForever, "attempt_count_within_reading"),
    ],
)
def test_broken_senders_are_caught(broken, invariant):
    with pytest.raises(AssertionError) as info:
        # detection only: no shrinking, so a broken sender is caught in seconds
        run_state_machine_as_test(
            broken,
            settings=settings(
                BOUNDED, max_examples=300, stateful_step_count=40, phases=[Phase.generate]
            ),
        )
    failed_in = {frame.name for frame in traceback.extract_tb(info.value.__traceback__)}
    assert invariant in failed_in
