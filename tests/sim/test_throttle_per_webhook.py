"""THROTTLE-2 in the simulator: one window per job, or one per job and webhook."""

import pytest

import whsim
from whsim import Readings
from whsim.core.behaviours import Behaviour, Latency
from whsim.sim import Scenario, Webhook, Workload
from whsim.sim.scenario import Arrival
from whsim.sim.workload import TYPE_CODE


def _scenario(verify_latency_ms=2_500, late_events=None):
    late = {"events": late_events} if late_events is not None else {}
    return Scenario(
        webhooks=(
            Webhook("early", "healthy"),
            Webhook("late", "slow-verify", status="pending_verification", **late),
        ),
        receivers=(Behaviour("slow-verify", latency=Latency("fixed", verify_latency_ms)),),
        workload=Workload(
            arrival=Arrival("constant", rate_per_s=1.0),
            duration_ms=1_000,
            start_delay_ms=0,
            job_duration_ms=60_000,
            progress_every_ms=1_000,
            job_failure_probability=0.0,
        ),
    )


def _progress(result, hook_id):
    plan = result.plan
    sel = plan.hook == plan.hook_ids.index(hook_id)
    kinds = plan.events.type[plan.event[sel]]
    return plan.event_ms[sel][kinds == TYPE_CODE["job.progress"]].tolist()


@pytest.mark.parametrize("engine", ["reference", "numpy"])
def test_a_webhook_activated_mid_job_gets_its_own_window_per_webhook(engine):
    sc = _scenario()
    per_job = whsim.simulate(
        sc, seed=1, engine=engine, readings=Readings({"THROTTLE-2": "per-job"})
    )
    per_hook = whsim.simulate(
        sc, seed=1, engine=engine, readings=Readings({"THROTTLE-2": "per-webhook"})
    )
    assert per_hook.plan.hook_active_ms.tolist() == [0, 2_500]
    # the webhook active from 0 sees the same stream under both readings
    assert _progress(per_job, "early") == _progress(per_hook, "early") == [
        1_001, 11_001, 21_001, 31_001, 41_001, 51_001,
    ]  # fmt: skip
    # the late one waits for the shared window under per-job, opens its own under per-webhook
    assert _progress(per_job, "late") == [11_001, 21_001, 31_001, 41_001, 51_001]
    assert _progress(per_hook, "late") == [3_001, 13_001, 23_001, 33_001, 43_001, 53_001]
    assert per_job.summary["attempts_sha256"] != per_hook.summary["attempts_sha256"]


def test_the_readings_agree_when_every_webhook_sees_the_whole_stream():
    # activation before the first update, or no progress subscription: nothing to tell apart
    for sc in (_scenario(verify_latency_ms=500), _scenario(late_events=("job.completed",))):
        a = whsim.simulate(sc, seed=3, readings=Readings({"THROTTLE-2": "per-job"}))
        b = whsim.simulate(sc, seed=3, readings=Readings({"THROTTLE-2": "per-webhook"}))
        assert a.summary["attempts_sha256"] == b.summary["attempts_sha256"]


def test_per_webhook_shards_see_the_whole_runs_streams():
    from whsim.sim.shard import simulate_sharded

    sc = _scenario()
    sc = sc.__class__(
        webhooks=sc.webhooks, receivers=sc.receivers, workload=sc.workload,
        sender=sc.sender.with_readings(Readings({"THROTTLE-2": "per-webhook"})),
    )  # fmt: skip
    whole = whsim.simulate(sc, seed=1)
    sharded = simulate_sharded(sc, seed=1, shard_deliveries=1)
    assert sharded.attempts_hash() == whole.summary["attempts_sha256"]
    assert sharded.summary["deliveries"] == whole.summary["deliveries"]
