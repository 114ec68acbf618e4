"""On a two-worker Dask cluster: the same hash and the same sweep frame as in one process."""

from __future__ import annotations

import dataclasses
import threading

import pytest

import whsim
from whsim.core.behaviours import Behaviour, Latency, Outage
from whsim.sim import Arrival, Scenario, Sender, Webhook, Workload, sweep
from whsim.sim.shard import simulate_sharded

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.slow  # a two-process cluster: about 12 s with its start and stop


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
            memory_limit="1GiB",
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def test_sharded_run_on_two_workers_has_the_single_process_hash(client):
    single = whsim.simulate("outage-2h", seed=9)
    on_cluster = simulate_sharded("outage-2h", seed=9, shard_deliveries=40, client=client)
    assert len(on_cluster.shards) > 2
    assert on_cluster.summary == single.summary
    assert on_cluster.attempts_hash() == single.attempts_hash()


def test_sweep_on_two_workers_is_the_same_frame(client):
    kwargs = {"events": 20, "seeds": [0, 1]}
    here = sweep.outage_loss(["backoff-only"], [60, 3_600], **kwargs)
    there = sweep.outage_loss(["backoff-only"], [60, 3_600], client=client, **kwargs)
    assert there.equals(here)


def _many_endpoints() -> Scenario:
    """20 endpoints, two with an outage: the shape of the benchmark's scenario, 16,000
    deliveries."""
    flaky = Behaviour("flaky-500", latency=Latency("fixed", 50), failure_probability=0.2)
    receivers = [flaky]
    hooks = [Webhook("ep", "flaky-500", count=18)]
    for i, start in enumerate((600_000, 2_400_000)):
        outage = (Outage(start, start + 600_000, "hang"),)
        receivers.append(dataclasses.replace(flaky, name=f"outage-{i}", outages=outage))
        hooks.append(Webhook(f"outage-{i}", f"outage-{i}"))
    return Scenario(
        name="many-endpoints",
        webhooks=tuple(hooks),
        receivers=tuple(receivers),
        sender=Sender(retry="backoff-only"),
        workload=Workload(duration_ms=3_600_000, arrival=Arrival("poisson", 0.025), max_events=800),
    )


@pytest.mark.alone  # both cores busy for 5-15 s: a load the timing tests beside it would feel
def test_the_same_sharded_run_many_times_in_a_row_on_one_client(client):
    # each run scatters the scenario to the workers and releases it when done. Under a key
    # derived from the content, both runs used one key: the first run's release (the client
    # batches it, up to 10 ms) could reach the scheduler after the next run's scatter, and the
    # next run's shards lost their scenario ("lost dependencies", or a run that never ended:
    # one run in about twelve, back to back, on this machine)
    scenario = _many_endpoints()
    expected = whsim.simulate(scenario, seed=3).attempts_hash()

    def one_run(done: list[str]) -> None:
        run = simulate_sharded(scenario, 3, shard_deliveries=2_000, client=client)
        done.append(run.attempts_hash())

    for i in range(40):
        done: list[str] = []
        run = threading.Thread(target=one_run, args=(done,), daemon=True)
        run.start()
        run.join(60)
        assert done == [expected], f"run {i} of 40 {'failed' if not run.is_alive() else 'hung'}"
