"""On a two-worker Dask cluster: the same hash and the same sweep frame as in one process."""

from __future__ import annotations

import pytest

import whsim
from whsim.sim import sweep
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
