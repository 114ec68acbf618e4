"""A delivery rule lives in one place: change it in the core and both clocks follow.

The simulator's loops and the reference sender's state machine (:func:`whsim.after_attempt`,
which ``whsim.sender`` drives) both call :mod:`whsim.core.delivery`; these tests change a rule
there, once, and watch both pick it up.
"""

import pytest

import whsim
from whsim.core import delivery
from whsim.sim import Scenario, Sender, Webhook, Workload

SCENARIO = Scenario(
    webhooks=(Webhook("wh", "fail-twice"),),
    sender=Sender(concurrency=0),
    workload=Workload(duration_ms=60_000, max_events=20),
)
COUPLED = SCENARIO.replace(sender=Sender(concurrency=1))


def _sender_side(policy: whsim.RetryPolicy) -> whsim.DeliveryState:
    state = delivery.new_delivery(0)
    state = whsim.before_attempt(state, policy, 0)
    return whsim.after_attempt(state, policy, sent_ms=0, finished_ms=50, status=500)


@pytest.mark.parametrize("scenario", [SCENARIO, COUPLED], ids=["independent", "coupled"])
@pytest.mark.parametrize("engine", ["reference", "numpy"])
def test_unchanged_rule_retries_on_both_clocks(scenario, engine):
    if engine == "numpy" and scenario.coupled:
        pytest.skip("the numpy engine runs only independent deliveries")
    result = whsim.simulate(scenario, seed=1, engine=engine)
    assert set(result.deliveries["state"]) == {"delivered"}
    assert (result.deliveries["attempts"] == 3).all()
    assert _sender_side(whsim.RetryPolicy.seed()).status is whsim.DeliveryStatus.PENDING


@pytest.mark.parametrize("scenario", [SCENARIO, COUPLED], ids=["independent", "coupled"])
def test_a_new_expiry_basis_in_the_core_reaches_both_clocks(monkeypatch, scenario):
    # the rule, changed once: an event may be attempted for 10 ms only
    original = delivery.expiry_deadline

    def ten_ms(policy, event_ms, first_attempt_ms):
        deadline = original(policy, event_ms, first_attempt_ms)
        return None if deadline is None else deadline - policy.expiry_ms + 10

    monkeypatch.setattr(delivery, "expiry_deadline", ten_ms)
    result = whsim.simulate(scenario, seed=1, engine="reference")
    assert set(result.deliveries["state"]) == {"expired"}
    assert (result.deliveries["attempts"] <= 1).all()  # queued ones expire unsent
    assert _sender_side(whsim.RetryPolicy.seed()).status is whsim.DeliveryStatus.EXPIRED


@pytest.mark.parametrize("scenario", [SCENARIO, COUPLED], ids=["independent", "coupled"])
def test_a_new_retry_rule_in_the_core_reaches_both_clocks(monkeypatch, scenario):
    # the rule, changed once: a failed attempt is never retried
    original = delivery.outcome

    def never_retry(verdict):
        return original(delivery.REJECT_V if verdict == delivery.RETRY_V else verdict)

    monkeypatch.setattr(delivery, "outcome", never_retry)
    result = whsim.simulate(scenario, seed=1, engine="reference")
    assert set(result.deliveries["state"]) == {"rejected"}
    assert _sender_side(whsim.RetryPolicy.seed()).status is whsim.DeliveryStatus.REJECTED


@pytest.mark.parametrize("scenario", [SCENARIO, COUPLED], ids=["independent", "coupled"])
def test_a_new_retry_limit_in_the_core_reaches_both_clocks(monkeypatch, scenario):
    # the rule, changed once: two attempts at most, whatever the policy says
    original = delivery.retry_rule
    monkeypatch.setattr(delivery, "retry_rule", lambda _max, from_send: original(2, from_send))
    result = whsim.simulate(scenario, seed=1, engine="reference")
    assert set(result.deliveries["state"]) == {"exhausted"}  # fail-twice needed a third
    assert (result.deliveries["attempts"] == 2).all()
    policy = whsim.RetryPolicy.seed()
    state = _sender_side(policy)
    assert state.status is whsim.DeliveryStatus.PENDING
    assert state.next_attempt_ms is not None
    state = whsim.after_attempt(
        state,
        policy,
        sent_ms=state.next_attempt_ms,
        finished_ms=state.next_attempt_ms + 50,
        status=500,
    )
    assert state.status is whsim.DeliveryStatus.EXHAUSTED
