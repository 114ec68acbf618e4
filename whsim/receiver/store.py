"""The reference receiver's SQLite store: events processed once, and a log of every request."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

__all__ = ["ReceiverStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS processed (
    event_id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    processed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS received (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    event_id TEXT,
    event_type TEXT,
    signature TEXT,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS received_event ON received (event_id);
"""


class ReceiverStore:
    """Processed event ids and the request log, in one SQLite file (``:memory:`` for tests).

    Safe to share between threads: one connection behind a lock. Marking an event processed is
    one ``INSERT OR IGNORE``, so concurrent duplicates cannot both count as first.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def mark_processed(self, event_id: str, event_type: str, at: str) -> bool:
        """True the first time an event id is marked; False for a duplicate."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO processed (event_id, event_type, processed_at) VALUES (?, ?, ?)",
                (event_id, event_type, at),
            )
            return cur.rowcount == 1

    def is_processed(self, event_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM processed WHERE event_id = ?", (event_id,)
            ).fetchone()
            return row is not None

    def attempts(self, event_id: str) -> int:
        """How many requests for this event id were logged so far."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM received WHERE event_id = ?", (event_id,)
            ).fetchone()
            return int(row[0])

    def log(
        self,
        *,
        at: str,
        path: str,
        status: int,
        outcome: str,
        event_id: str | None,
        event_type: str | None,
        signature: str | None,
        body: bytes,
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO received (received_at, path, status, outcome, event_id, event_type,"
                " signature, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (at, path, status, outcome, event_id, event_type, signature, body),
            )

    def received(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` logged requests, newest first, bodies as text."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, received_at, path, status, outcome, event_id, event_type, signature,"
                " body FROM received ORDER BY seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        keys = (
            "seq",
            "received_at",
            "path",
            "status",
            "outcome",
            "event_id",
            "event_type",
            "signature",
        )
        return [
            {
                **dict(zip(keys, row[:8], strict=True)),
                "body": bytes(row[8]).decode("utf-8", "replace"),
            }
            for row in rows
        ]

    def processed_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM processed").fetchone()[0])
