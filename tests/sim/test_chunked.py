"""Chunked passes on threads: every row once, errors raised, and tables that do not depend on
where chunks cut or how many threads ran them."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import whsim
from whsim.sim import chunked
from whsim.sim.results import SimResult


@pytest.mark.parametrize("size", [0, 1, 6, 7, 8, 50])
@pytest.mark.parametrize("parallel", [True, False])
def test_each_chunk_covers_every_row_once(monkeypatch, size, parallel):
    monkeypatch.setattr(chunked, "CHUNK", 7)
    monkeypatch.setattr(chunked, "threads", lambda: 3)
    seen = np.zeros(size, dtype=np.int64)
    names: set[str] = set()

    def body(rows: slice) -> None:
        assert 0 <= rows.start < rows.stop <= size and rows.stop - rows.start <= 7
        seen[rows] += 1
        names.add(threading.current_thread().name)

    chunked.each_chunk(size, body, parallel=parallel)
    assert (seen == 1).all()
    on_threads = {n.startswith("whsim-chunk") for n in names}
    # several chunks run on the pool's threads when parallel, else here; no chunk, no call
    assert on_threads == (set() if size == 0 else {parallel and size > 7})


def test_each_chunk_raises_a_chunks_error_after_every_chunk_ended(monkeypatch):
    monkeypatch.setattr(chunked, "CHUNK", 2)
    monkeypatch.setattr(chunked, "threads", lambda: 2)
    done: list[int] = []

    def body(rows: slice) -> None:
        if rows.start == 4:
            raise ValueError("chunk 4")
        done.append(rows.start)

    with pytest.raises(ValueError, match="chunk 4"):
        chunked.each_chunk(20, body)
    assert sorted(done) == [0, 2, *range(6, 20, 2)]


def test_each_chunk_steps_by_the_rows_asked_for(monkeypatch):
    monkeypatch.setattr(chunked, "threads", lambda: 2)
    parts: list[tuple[int, int]] = []
    chunked.each_chunk(10, lambda rows: parts.append((rows.start, rows.stop)), step=4)
    assert sorted(parts) == [(0, 4), (4, 8), (8, 10)]


@pytest.mark.parametrize("threads", [1, 2])
def test_alongside_returns_both_results_and_runs_work_beside_main(monkeypatch, threads):
    monkeypatch.setattr(chunked, "threads", lambda: threads)
    where: dict[str, str] = {}
    started = threading.Event()

    def work() -> str:
        where["work"] = threading.current_thread().name
        started.set()
        return "work"

    def main() -> str:
        where["main"] = threading.current_thread().name
        if threads > 1:  # on a thread of its own, ``work`` runs while ``main`` waits for it
            assert started.wait(10)
        return "main"

    assert chunked.alongside(work, main) == ("work", "main")
    assert where["main"] == threading.current_thread().name
    assert where["work"].startswith("whsim-beside") == (threads > 1)
    where.clear()
    assert chunked.alongside(work, main, parallel=False) == ("work", "main")
    assert where["work"] == where["main"] == threading.current_thread().name


@pytest.mark.parametrize("failing", ["work", "main"])
def test_alongside_raises_either_error_once_work_has_ended(monkeypatch, failing):
    monkeypatch.setattr(chunked, "threads", lambda: 2)
    ended = threading.Event()

    def work() -> None:
        time.sleep(0.05)
        ended.set()
        if failing == "work":
            raise ValueError("work failed")

    def main() -> None:
        if failing == "main":
            raise KeyError("main failed")

    with pytest.raises(ValueError if failing == "work" else KeyError, match="failed"):
        chunked.alongside(work, main)
    assert ended.is_set()


@pytest.mark.parametrize("threads", [1, 3])
def test_in_order_yields_in_item_order_with_few_calls_in_flight(monkeypatch, threads):
    monkeypatch.setattr(chunked, "threads", lambda: threads)
    lock = threading.Lock()
    running, most, names = 0, 0, set()

    def call(i: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        names.add(threading.current_thread().name)
        time.sleep(0.02 * (i % 3 == 0))  # every third call finishes after the ones behind it
        with lock:
            running -= 1
        return i * i

    assert list(chunked.in_order(call, range(12))) == [i * i for i in range(12)]
    assert 1 <= most <= threads
    assert {n.startswith("whsim-ordered") for n in names} == {threads > 1}


def test_in_order_raises_a_calls_error_when_its_result_is_due(monkeypatch):
    monkeypatch.setattr(chunked, "threads", lambda: 2)

    def call(i: int) -> int:
        if i == 4:
            raise ValueError("call 4")
        return i

    got: list[int] = []
    with pytest.raises(ValueError, match="call 4"):
        for value in chunked.in_order(call, range(10)):
            got.append(value)
    assert got == [0, 1, 2, 3]


def test_threads_is_bounded_by_the_usable_cores(monkeypatch):
    monkeypatch.setattr(chunked, "usable_cores", lambda: 64)
    assert chunked.threads() == chunked.MAX_THREADS
    monkeypatch.setattr(chunked, "usable_cores", lambda: 1)
    assert chunked.threads() == 1


@pytest.mark.parametrize(
    ("name", "seed"), [("outage-2h", 1), ("outage-10min", 3), ("slow-receiver", 3), ("flaky", 3)]
)
def test_tables_and_summary_do_not_depend_on_chunks_or_threads(monkeypatch, name, seed):
    # the plan, the attempts table (canonical order, outcomes, gathers), the deliveries and the
    # summary are all built in chunks on threads; tiny chunks on several threads, and one thread,
    # must give the whole-pass answer, column for column
    whole = whsim.simulate(name, seed)
    expected = (whole.attempts, whole.deliveries, whole.summary)
    assert set(expected[1]["state"]) - {"delivered"}  # some deliveries end otherwise
    for threads in (3, 1):
        monkeypatch.setattr(chunked, "CHUNK", 97)
        monkeypatch.setattr(chunked, "threads", lambda t=threads: t)
        cut = whsim.simulate(name, seed)
        fresh = SimResult(plan=cut.plan, log=whole.log, engine=whole.engine)  # tables only
        for got in (cut, fresh):
            assert got.attempts.equals(expected[0])
            assert (got.attempts.dtypes == expected[0].dtypes).all()
            assert got.deliveries.equals(expected[1])
            assert got.summary == expected[2]


def test_attempts_table_in_chunks_is_the_log_sorted(monkeypatch):
    # an oracle beside the chunked gathers: the raw log put in (sent, event, webhook, attempt)
    # order by one lexsort, column by column
    monkeypatch.setattr(chunked, "CHUNK", 97)
    monkeypatch.setattr(chunked, "threads", lambda: 3)
    result = whsim.simulate("outage-2h", 1)
    plan, log, table = result.plan, result.log, result.attempts
    d, k = log.j % plan.n, log.j // plan.n + 1
    order = np.lexsort((k, plan.hook[d], plan.event[d], log.sent_ms))
    assert np.array_equal(table["sent_ms"].to_numpy(), log.sent_ms[order])
    assert np.array_equal(table["attempt"].to_numpy(), k[order])
    assert np.array_equal(table["latency_ms"].to_numpy(), (log.finished_ms - log.sent_ms)[order])
    assert np.array_equal(table["event_id"].cat.codes.to_numpy(), plan.event[d][order])
    assert np.array_equal(table["webhook_id"].cat.codes.to_numpy(), plan.hook[d][order])
    code = log.code[order].astype(np.int64)
    status = table["status"]
    assert np.array_equal(status.isna().to_numpy(), code <= 0)
    assert np.array_equal(status.dropna().to_numpy(dtype=np.int64), code[code > 0])


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", " "])
def test_a_bad_whsim_threads_is_refused_by_name(monkeypatch, value):
    from whsim.core.errors import ScenarioError

    monkeypatch.setenv("WHSIM_THREADS", value)
    if not value.strip():  # blank: as if unset
        assert chunked.threads() == min(chunked.MAX_THREADS, chunked.usable_cores())
        return
    with pytest.raises(ScenarioError, match=r"WHSIM_THREADS: must be a whole number"):
        whsim.simulate("healthy", 0)


def test_whsim_threads_caps_the_threads(monkeypatch):
    monkeypatch.setattr(chunked, "usable_cores", lambda: 8)
    monkeypatch.setenv("WHSIM_THREADS", "1")
    assert chunked.threads() == 1
    monkeypatch.setenv("WHSIM_THREADS", "3")
    assert chunked.threads() == 3
    monkeypatch.setenv("WHSIM_THREADS", "64")
    assert chunked.threads() == chunked.MAX_THREADS
