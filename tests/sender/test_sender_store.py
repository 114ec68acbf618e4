"""The SQLite store on its own: the outbox transaction, attempts, and the policy clock's anchor."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from whsim.core.delivery import after_attempt, new_delivery
from whsim.core.policy import RetryPolicy
from whsim.core.spec.events import make_event
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
