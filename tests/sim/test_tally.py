"""The mergeable reductions: exact percentiles, an order-free hash that sees every attempt."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import whsim
from whsim.sim.tally import percentile_from_counts, tally


@pytest.mark.parametrize("size", [1, 2, 3, 10, 101, 1000])
@pytest.mark.parametrize("q", [0, 1, 50, 99, 99.9, 100])
def test_percentile_from_counts_is_numpys(size, q):
    rng = np.random.default_rng(size)
    data = rng.integers(0, 50, size=size) ** 3  # many repeats, large gaps
    values, counts = np.unique(data, return_counts=True)
    assert percentile_from_counts(values, counts, q) == np.percentile(data, q)


@pytest.fixture(scope="module")
def result():
    return whsim.simulate("outage-10min", seed=3)


def test_hash_does_not_depend_on_the_engines_logging_order(result):
    log = result.log
    shuffle = np.random.default_rng(0).permutation(len(log.j))
    shuffled = dataclasses.replace(
        log,
        j=log.j[shuffle],
        sent_ms=log.sent_ms[shuffle],
        finished_ms=log.finished_ms[shuffle],
        code=log.code[shuffle],
    )
    assert tally(result.plan, shuffled).digest() == result.attempts_hash()


@pytest.mark.parametrize("column", ["sent_ms", "finished_ms", "code", "ended_ms", "state"])
def test_hash_sees_one_changed_value(result, column):
    log = result.log
    changed = getattr(log, column).copy()
    changed[len(changed) // 2] += 1
    other = dataclasses.replace(log, **{column: changed})
    assert tally(result.plan, other).digest() != result.attempts_hash()


def test_merge_refuses_overlapping_shards(result):
    t = tally(result.plan, result.log)
    with pytest.raises(ValueError, match="webhook order"):
        t.merge(t)


@pytest.mark.parametrize("chunk", [1, 3, 7, 64])
def test_chunked_passes_give_the_whole_pass_answer(monkeypatch, result, chunk):
    # hook-major placement, the groups of webhooks and the busiest webhook-second work in chunks
    # to bound memory, on threads; the answer must not depend on where the chunks cut (runs of
    # equal keys span chunk edges) nor on which thread took a chunk
    from whsim.sim import chunked

    whole = tally(result.plan, result.log)
    monkeypatch.setattr(chunked, "CHUNK", chunk)
    cut = tally(result.plan, result.log)
    assert (cut.peak, cut.peak_hook, cut.leaves) == (whole.peak, whole.peak_hook, whole.leaves)
    assert np.array_equal(cut.per_second, whole.per_second)
    assert np.array_equal(cut.ttd_values, whole.ttd_values)
    assert np.array_equal(cut.ttd_counts, whole.ttd_counts)
    assert cut.digest() == whole.digest() and np.array_equal(cut.states, whole.states)


@pytest.mark.parametrize("seed", range(40))
def test_longest_run_in_chunks_is_the_first_longest_run(monkeypatch, seed):
    from whsim.sim import chunked
    from whsim.sim import tally as tally_module

    monkeypatch.setattr(chunked, "CHUNK", 5)
    rng = np.random.default_rng(seed)
    key = np.sort(rng.integers(0, int(rng.integers(1, 12)), size=int(rng.integers(1, 60))))
    edges = np.flatnonzero(np.diff(key)) + 1
    runs = np.diff(np.concatenate([[0], edges, [len(key)]]))
    top = int(np.argmax(runs))
    assert tally_module._longest_run(key) == (
        int(runs[top]),
        0 if top == 0 else int(edges[top - 1]),
    )


@pytest.mark.parametrize("name", ["retry-storm", "flaky", "healthy", "progress-heavy"])
@pytest.mark.parametrize("path", ["count", "sort"])
@pytest.mark.parametrize("chunk", [64, 1 << 14, 1 << 18])
def test_busiest_webhook_second_is_the_first_maximum_either_way(monkeypatch, name, path, chunk):
    # counting every (webhook, second) cell and sorting the attempts' cells must agree, with the
    # first maximum in (registration order, second) order when several cells tie (flaky, healthy
    # and progress-heavy have ties); small chunks take the maximum across groups of webhooks,
    # large ones within a group of several
    from whsim.sim import chunked
    from whsim.sim import tally as tally_module

    monkeypatch.setattr(chunked, "CHUNK", chunk)
    if path == "sort":
        monkeypatch.setattr(tally_module, "CELLS_PER_ATTEMPT", 0)
        monkeypatch.setattr(tally_module, "FEW_CELLS", 0)
    else:
        monkeypatch.setattr(tally_module, "FEW_CELLS", 2**40)
    result = whsim.simulate(name, seed=2)
    t = tally(result.plan, result.log)
    att = result.attempts
    order = {h: i for i, h in enumerate(result.plan.hook_ids)}
    cells = (
        att.assign(hook=att["webhook_id"].astype(str).map(order), sec=att["sent_ms"] // 1000)
        .groupby(["hook", "sec"])
        .size()
    )
    hook, _ = cells.idxmax()  # the index is sorted: the first of the maxima
    assert (t.peak, t.peak_hook) == (int(cells.max()), hook)
