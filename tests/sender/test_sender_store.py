"""The SQLite store on its own: the outbox transaction, attempts, and the policy clock's anchor."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from whsim.core.delivery import after_attempt, new_delivery
from whsim.core.policy import RetryPolicy
from whsim.core.spec.events import make_event
from whsim.sender import store as store_module
from whsim.sender.jobstore import JobStore
from whsim.sender.store import AttemptRecord, Store, WebhookRow


def hook(webhook_id: str = "wh_1") -> WebhookRow:
    return WebhookRow(
        webhook_id,
        "http://127.0.0.1:9/",
        ("proposal.created",),
        "secret-123",
        "active",
        "t",
        "t",
        None,
        None,
    )


def event(n: int = 1):  # type: ignore[no-untyped-def]
    return make_event(
        "proposal.created", {"proposal_id": "p", "title": "t"}, id=f"evt_{n}", timestamp_ms=0
    )


def test_policy_time_continues_across_restarts(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    assert store.policy_start_ms(wall_ms=1_000_000, scale=10.0) == 0
    store.close()
    again = Store(tmp_path / "s.db")
    # 2 s of downtime at the previous run's scale 10 is 20 s of policy time.
    assert again.policy_start_ms(wall_ms=1_002_000, scale=1.0) == 20_000
    assert again.policy_start_ms(wall_ms=1_003_000, scale=1.0) == 21_000


def test_an_event_and_its_deliveries_are_one_transaction(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.insert_webhook(hook())
    with pytest.raises(sqlite3.IntegrityError):
        store.insert_event(event(1), 5, ["wh_1", "wh_missing"], "t")
    assert store.pending_deliveries() == []
    assert store._db.execute("SELECT COUNT(*) FROM events").fetchone() == (0,)
    (pending,) = store.insert_event(event(2), 5, ["wh_1"], "t")
    assert pending.next_attempt_ms == 5
    assert store.pending_deliveries() == [pending]


def test_an_attempt_and_the_next_state_are_written_together(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.insert_webhook(hook())
    (pending,) = store.insert_event(event(), 0, ["wh_1"], "t")
    policy = RetryPolicy.seed()
    state = after_attempt(new_delivery(0), policy, sent_ms=0, finished_ms=3, status=500)
    attempt = AttemptRecord(1, "t", 0, 3, 3.0, 500, None, None, "oops", False)
    assert store.record_attempt(pending.id, attempt, state, None)
    row = store.get_delivery(pending.id)
    assert row is not None and row.state == state and row.status == "pending"
    assert store.attempts(pending.id) == [attempt]
    assert store.pending_deliveries()[0].next_attempt_ms == 1003
    assert store.delete_webhook("wh_1")
    assert not store.record_attempt(pending.id, attempt, state, None)
    assert store.get_delivery(pending.id) is None


def _counting_fsync(monkeypatch: pytest.MonkeyPatch, delay_s: float) -> list[int]:
    calls: list[int] = []

    def slow_fsync(fd: int) -> None:
        calls.append(fd)
        time.sleep(delay_s)  # a slow disk: callers pile up behind one fsync

    monkeypatch.setattr(store_module.os, "fsync", slow_fsync)
    return calls


def test_concurrent_acknowledgements_share_one_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "s.db")
    calls = _counting_fsync(monkeypatch, 0.05)

    async def scenario() -> list[int]:
        synced: list[int] = []

        async def acknowledge(i: int) -> None:
            store.insert_webhook(hook(f"wh_{i}"))
            await store.durable.sync()
            synced.append(i)

        # The first starts an fsync; the seven that arrive while it runs share the next one.
        first = asyncio.create_task(acknowledge(0))
        await asyncio.sleep(0.01)
        await asyncio.gather(first, *(acknowledge(i) for i in range(1, 8)))
        return synced

    try:
        assert sorted(asyncio.run(scenario())) == list(range(8))
    finally:
        store.close()
    assert len(calls) == 2, calls


def test_a_write_marked_during_an_fsync_waits_for_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "s.db")
    calls = _counting_fsync(monkeypatch, 0.05)

    async def scenario() -> None:
        store.insert_webhook(hook("wh_a"))
        first = asyncio.create_task(store.durable.sync())
        await asyncio.sleep(0.01)  # the fsync for wh_a is running
        store.insert_webhook(hook("wh_b"))
        await store.durable.sync()  # must not return on the fsync that started before wh_b
        assert len(calls) == 2
        await first

    try:
        asyncio.run(scenario())
    finally:
        store.close()


def test_the_next_fsync_starts_without_waiting_for_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A write marked while an fsync runs is covered by the next one, which the fsync thread
    # starts as soon as the first ends, even while the loop is busy (here: blocked).
    store = Store(tmp_path / "s.db")
    calls = _counting_fsync(monkeypatch, 0.05)

    async def scenario() -> int:
        store.insert_webhook(hook("wh_a"))
        first = asyncio.create_task(store.durable.sync())
        await asyncio.sleep(0.01)  # the fsync for wh_a is running
        store.insert_webhook(hook("wh_b"))
        second = asyncio.create_task(store.durable.sync())
        time.sleep(1.0)  # a busy loop: it sees neither fsync end meanwhile
        started = len(calls)
        await asyncio.gather(first, second)
        return started

    try:
        assert asyncio.run(scenario()) == 2
    finally:
        store.close()
    assert len(calls) == 2


def test_the_job_store_shares_the_outbox_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One request that writes a proposal (job store) and its event (outbox) waits for one fsync.
    store = Store(tmp_path / "s.db")
    jobs = JobStore(tmp_path / "s.db", durable=store.durable)
    calls = _counting_fsync(monkeypatch, 0.0)

    async def request() -> None:
        jobs.insert_proposal("prop_1", "t", "2026-01-01T00:00:00.000Z")
        store.insert_webhook(hook("wh_1"))
        await store.durable.sync()
        await jobs.durable.sync()

    try:
        asyncio.run(request())
    finally:
        jobs.close()
        store.close()
    assert len(calls) == 1


def test_attempts_that_end_together_share_one_commit(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.insert_webhook(hook("wh_1"))
    store.insert_webhook(hook("wh_2"))
    (a,) = store.insert_event(event(1), 0, ["wh_1"], "t")
    (b,) = store.insert_event(event(2), 0, ["wh_2"], "t")
    (c,) = store.insert_event(event(3), 0, ["wh_1"], "t")
    assert store.delete_webhook("wh_2")  # b's webhook went away while its attempt was out
    policy = RetryPolicy.seed()
    state = after_attempt(new_delivery(0), policy, sent_ms=0, finished_ms=3, status=500)
    attempt = AttemptRecord(1, "t", 0, 3, 3.0, 500, None, None, None, False)
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    kept = store.record_attempts([(d.id, attempt, state, None) for d in (a, b, c)])
    store._db.set_trace_callback(None)
    assert kept == [True, False, True]
    assert statements.count("COMMIT") == 1
    assert store.attempts(a.id) == [attempt] and store.attempts(c.id) == [attempt]
    assert store.attempts(b.id) == [] and store.get_delivery(b.id) is None
    row = store.get_delivery(c.id)
    assert row is not None and row.state == state


def test_the_dispatcher_commits_attempts_of_one_loop_turn_together(tmp_path: Path) -> None:
    from whsim.core.clock import ScaledClock
    from whsim.sender.config import SenderConfig
    from whsim.sender.dispatcher import Dispatcher

    store = Store(tmp_path / "s.db")
    store.insert_webhook(hook())
    pending = [store.insert_event(event(n), 0, ["wh_1"], "t")[0] for n in range(3)]
    policy = RetryPolicy.seed()
    state = after_attempt(new_delivery(0), policy, sent_ms=0, finished_ms=3, status=500)
    attempt = AttemptRecord(1, "t", 0, 3, 3.0, 500, None, None, None, False)
    batches: list[int] = []
    record_attempts = store.record_attempts

    def counting(batch):  # type: ignore[no-untyped-def]
        batches.append(len(batch))
        return record_attempts(batch)

    store.record_attempts = counting  # type: ignore[method-assign]

    async def scenario() -> list[bool]:
        config = SenderConfig(db_path=tmp_path / "s.db")
        dispatcher = Dispatcher(store, ScaledClock(1.0), policy, config)
        first = await asyncio.gather(
            *(dispatcher._store_attempt(p.id, attempt, state, None) for p in pending)
        )
        second = await dispatcher._store_attempt(pending[0].id, attempt, state, None)
        return [*first, second]

    try:
        assert asyncio.run(scenario()) == [True, True, True, True]
    finally:
        store.close()
    assert batches == [3, 1]


def _wal_frames(path: Path) -> int:
    """Frames in the WAL since its last reset, as a checkpoint from another connection sees them
    (that checkpoint copies them too, so call it once, at the end)."""
    other = sqlite3.connect(path)
    try:
        _, frames, _ = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        other.close()
    return int(frames)


def _fan_out(store: Store, events: int, webhooks: int = 60) -> None:
    for i in range(webhooks):
        store.insert_webhook(hook(f"wh_{i}"))
    ids = [f"wh_{i}" for i in range(webhooks)]
    for n in range(events):
        store.insert_event(event(n), n, ids, "t")


def test_commits_do_not_checkpoint_when_a_thread_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite's default checkpoints inside the commit that takes the WAL past 1,000 pages, on
    # the caller's thread (the event loop's). With background checkpoints, no commit does: with
    # the thread held off, the WAL keeps every frame the commits wrote.
    monkeypatch.setattr(store_module.Checkpointer, "_run", lambda self: None)
    inline = Store(tmp_path / "inline.db", synchronous="NORMAL")
    background = Store(tmp_path / "bg.db", synchronous="NORMAL", background_checkpoints=True)
    jobs = JobStore(
        tmp_path / "bg.db", synchronous="NORMAL", durable=background.durable, autocheckpoint=False
    )
    for store in (inline, background):
        _fan_out(store, 120)
    for n in range(300):
        jobs.insert_proposal(f"prop_{n}", "t" * 200, "t")
    assert _wal_frames(tmp_path / "inline.db") < 1_200  # checkpointed inline, then restarted
    assert _wal_frames(tmp_path / "bg.db") > 2_000
    jobs.close()
    for store in (inline, background):
        store.close()


def test_the_checkpointer_thread_copies_the_wal_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", synchronous="NORMAL", background_checkpoints=True)
    checkpointer = store.checkpointer
    assert checkpointer is not None
    checkpointer.interval_s = 0.05
    _fan_out(store, 120)
    deadline = time.monotonic() + 30
    seen = 0
    while True:  # until one ran and none followed for 0.3 s
        time.sleep(0.3)
        if checkpointer.checkpoints >= 1 and checkpointer.checkpoints == seen:
            break
        seen = checkpointer.checkpoints
        assert time.monotonic() < deadline, "the checkpointer never settled"
    # The rows are in the database file itself now, not only in the WAL.
    assert (tmp_path / "s.db").stat().st_size > 1_000_000
    time.sleep(0.3)  # nothing written since: no checkpoint
    assert checkpointer.checkpoints == seen
    store.close()
    assert not checkpointer._thread.is_alive()


def test_the_running_sender_checkpoints_off_the_event_loop(tmp_path: Path) -> None:
    from whsim.sender.config import SenderConfig
    from whsim.sender.service import Sender
    from whsim.sender.source import EventSource

    async def scenario() -> tuple[int, int, bool]:
        sender = Sender(SenderConfig(db_path=tmp_path / "s.db"))
        await sender.start()
        source = EventSource(sender)
        await source.start()
        try:
            outbox = sender.store._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
            jobs = source.jobs._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
            checkpointer = sender.store.checkpointer
            running = checkpointer is not None and checkpointer._thread.is_alive()
        finally:
            await source.stop()
            await sender.stop()
        return outbox, jobs, running

    assert asyncio.run(scenario()) == (0, 0, True)


def test_ids_sort_by_creation_time(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_764_000_000_000_000_000]  # ns
    monkeypatch.setattr(store_module.time, "time_ns", lambda: now[0])
    made = []
    for step_ms in (0, 1, 0, 2, 900, 86_400_000):
        now[0] += step_ms * 1_000_000
        made.append(store_module.new_id("dlv"))
    assert made[1:] != made[:-1] and len(set(made)) == len(made)  # random part differs
    same_ms = made[1:3]
    assert [m[:14] for m in same_ms] == [same_ms[0][:14]] * 2  # "dlv_" + 10 time characters
    moments = [m for i, m in enumerate(made) if i != 2]
    assert moments == sorted(moments)
    assert all(len(m) == 28 and m.startswith("dlv_") for m in made)
    assert set("".join(m[4:] for m in made)) <= set("0123456789abcdefghjkmnpqrstvwxyz")


def test_a_fan_out_event_writes_few_wal_pages(tmp_path: Path) -> None:
    # Random ids put each of an event's 60 deliveries on its own page of the id index;
    # time-ordered ids put them side by side (about 70 pages per event against 120).
    store = Store(tmp_path / "s.db", synchronous="NORMAL", background_checkpoints=True)
    assert store.checkpointer is not None
    store.checkpointer.close()  # the WAL only grows: its size counts the pages written
    webhooks = [f"wh_{i}" for i in range(60)]
    _fan_out(store, 200)
    wal = tmp_path / "s.db-wal"
    before = wal.stat().st_size
    for n in range(200, 220):
        store.insert_event(event(n), n, webhooks, "t")
    pages_per_event = (wal.stat().st_size - before) / (4096 + 24) / 20
    store.close()
    assert pages_per_event < 95
