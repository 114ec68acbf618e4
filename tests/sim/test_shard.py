"""Endpoint shards: the same summary, hash and timeline as the run in one piece."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import whsim
from whsim.core.behaviours import Behaviour, Outage
from whsim.core.errors import ScenarioError
from whsim.sim import SCENARIOS, Scenario, Sender, Webhook, Workload
from whsim.sim.plan import compile_plan, hook_count
from whsim.sim.shard import shards, simulate_sharded


def _many_hooks() -> Scenario:
    return Scenario(
        name="many-hooks",
        webhooks=(
            Webhook("a", "flaky", count=7),
            Webhook("b", "out", count=3),
            Webhook("c", "slow", count=4, events=("job.completed",)),
            Webhook("d", "fragile", count=2),  # load-dependent: the reference loop runs it
        ),
        receivers=(Behaviour("out", outages=(Outage(60_000, 300_000, "down"),)),),
        sender=Sender(retry="backoff-only"),
        workload=Workload(duration_ms=600_000),
    )


@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize("shard_deliveries", [1, 500])
def test_sharded_summary_is_the_whole_runs(name, shard_deliveries):
    whole = whsim.simulate(name, seed=4).summary
    sharded = simulate_sharded(name, seed=4, shard_deliveries=shard_deliveries).summary
    assert sharded == whole


def test_shards_cover_every_webhook_once_and_match_the_whole_plan():
    scenario = _many_hooks()
    whole = compile_plan(scenario, 3)
    ranges = shards(scenario, len(whole.events), 3 * len(whole.events))
    assert ranges[0][0] == 0 and ranges[-1][1] == hook_count(scenario) == 16
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    lo, hi = ranges[1]
    part = compile_plan(scenario, 3, hooks=(lo, hi), events=whole.events)
    mine = (whole.hook >= lo) & (whole.hook < hi)
    # the shard's deliveries get exactly the answers they get in the whole plan
    first = whole.code[: whole.n][mine]
    assert np.array_equal(part.code[: part.n], first)
    assert part.hook_ids == whole.hook_ids[lo:hi]


def test_sharded_run_of_many_webhooks_has_the_whole_hash_and_timeline(tmp_path):
    scenario = _many_hooks()
    whole = whsim.simulate(scenario, seed=5)
    sharded = simulate_sharded(scenario, seed=5, shard_deliveries=50, parquet=tmp_path)
    assert len(sharded.shards) > 3
    assert sharded.attempts_hash() == whole.attempts_hash()
    assert sharded.summary == whole.summary
    att = whole.attempts
    expected = att.groupby(att["sent_ms"] // 60_000).size()
    timeline = sharded.timeline(60).set_index("start_s")["attempts"]
    assert timeline.sum() == len(att)
    assert (timeline[expected.index * 60] == expected.to_numpy()).all()
    parts = sorted(tmp_path.glob("attempts-*.parquet"))
    assert len(parts) == len(sharded.shards)
    table = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    assert len(table) == len(att)
    key = ["webhook_id", "event_id", "attempt"]
    left = table.astype({"webhook_id": str, "event_id": str, "outcome": str}).sort_values(key)
    right = att.astype({"webhook_id": str, "event_id": str, "outcome": str}).sort_values(key)
    for column in ("sent_ms", "latency_ms", "outcome"):
        assert left[column].tolist() == right[column].tolist()


def test_bad_arguments_are_named():
    with pytest.raises(ScenarioError, match="shard_deliveries"):
        simulate_sharded("healthy", shard_deliveries=0)
    with pytest.raises(ScenarioError, match="engine"):
        simulate_sharded("healthy", engine="fast")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="client"):
        simulate_sharded("healthy", client=object())
    with pytest.raises(ScenarioError, match="hooks"):
        compile_plan(_many_hooks(), 0, hooks=(3, 99))
