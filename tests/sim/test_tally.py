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
