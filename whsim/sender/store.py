"""The delivery outbox in SQLite: webhooks, events, deliveries and attempts.

The event source's proposals and jobs are not here: :mod:`whsim.sender.jobstore` owns them.

Durability. WAL journal. Every commit survives the process being killed (kill -9). The commits
that acknowledge a request (a registration, its change or deletion, an event with its
deliveries, a redelivery) are *durable* (:class:`Durable`): with ``synchronous="FULL"``
(the default, ``SenderConfig.synchronous``) the WAL is fsynced before the API answers, so an
acknowledged registration or event also survives a power cut. Attempt records are committed at
``synchronous=NORMAL``: a power cut can lose the last few, and those attempts are made again
(at least once, IDEM-2); the next durable commit makes them durable too, since the WAL is
written in order. With ``synchronous="NORMAL"`` nothing is fsynced: a power cut can lose the
last acknowledged events. ``benchmarks/bench_sender.py`` measures what FULL costs. An event and
its deliveries are inserted in one transaction (the outbox), so a delivery exists before any
attempt and none is lost if the process dies.
An attempt is written with the delivery's next state in one transaction after it ends (attempts
that end in the same turn of the event loop share one), before anything that depends on it
(the next attempt is scheduled only once it is committed); if the process dies while an attempt
is in flight or before that commit, that attempt is made again after restart.

Checkpoints. SQLite copies the WAL back into the database file (a checkpoint) by default inside
the commit that takes the WAL past 1,000 pages, in the committing thread: copying 4 MB and two
fsyncs, milliseconds to tens of milliseconds on the event loop. A sender's fan-out writes a
page per index entry it touches, so an event for 60 webhooks triggered one every eight events
(``benchmarks/bench_isolation.py``). With ``background_checkpoints=True`` (the running sender)
no connection checkpoints inside a commit; a :class:`Checkpointer` thread with its own
connection does, as SQLite's documentation suggests for applications that cannot afford the
pause (https://sqlite.org/wal.html#application_initiated_checkpoints). Its PASSIVE checkpoints
take no lock a writer waits for and keep SQLite's own guarantees (the WAL is synced before the
copy, the database file after).

Calls are synchronous and meant for one thread (the event loop's): each is a few indexed
statements, well under a millisecond. Times named ``*_ms`` are policy time (see
:meth:`Store.policy_start_ms`); ``*_at`` are wall-clock ISO strings for people.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from whsim.core.delivery import DeliveryState, DeliveryStatus
from whsim.core.spec.events import Event

__all__ = [
    "AttemptRecord",
    "Checkpointer",
    "DeliveryRow",
    "Durable",
    "PendingDelivery",
    "Store",
    "WebhookRow",
    "connect",
    "new_id",
]

CANCELLED: Final = "cancelled"
"""A sender-side end state beyond the core's: the webhook stopped being active before an attempt."""

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS webhooks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    verified_at TEXT,
    verification TEXT
);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    body BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL REFERENCES events(id),
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    event_ms INTEGER NOT NULL,
    next_attempt_ms INTEGER,
    first_attempt_ms INTEGER,
    last_sent_ms INTEGER,
    ended_ms INTEGER,
    reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    ended_at TEXT,
    redelivery_of TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries(status) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_by_webhook ON deliveries(webhook_id, seq);
CREATE TABLE IF NOT EXISTS attempts (
    delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    sent_ms INTEGER NOT NULL,
    finished_ms INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    status_code INTEGER,
    error TEXT,
    error_detail TEXT,
    response_excerpt TEXT,
    response_truncated INTEGER NOT NULL DEFAULT 0,
    sent_url TEXT,
    sent_headers TEXT,
    sent_body BLOB,
    start_ns INTEGER,
    end_ns INTEGER,
    PRIMARY KEY (delivery_id, number)
);
"""

_ADDED_COLUMNS: Final = (
    ("attempts", "sent_url", "TEXT"),
    ("attempts", "sent_headers", "TEXT"),
    ("attempts", "sent_body", "BLOB"),
    ("attempts", "start_ns", "INTEGER"),
    ("attempts", "end_ns", "INTEGER"),
)
"""Columns added after a table's first release: :meth:`Store.__init__` adds any a database
made by an older version lacks (``ALTER TABLE ... ADD COLUMN``; old rows read NULL)."""

_BASE32: Final = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789abcdefghjkmnpqrstvwxyz"
)


def new_id(prefix: str) -> str:
    """A fresh id with a type prefix (``wh``, ``dlv``, ``prop``, ``job``, ``doc``).

    24 characters of the event ids' base-32 alphabet: the wall-clock millisecond (50 bits),
    most significant first, then 70 random bits, so ids sort by creation time (as ULIDs and
    Svix's KSUIDs do). That is for the database: an event's deliveries then sit side by side
    at the end of the ``deliveries.id`` index (and their attempts in the attempts' key), so a
    fan-out to 60 webhooks writes about 70 pages to the WAL instead of 120.
    """
    bits = (time.time_ns() // 1_000_000) << 70 | int.from_bytes(os.urandom(9), "big") >> 2
    return f"{prefix}_{base64.b32encode(bits.to_bytes(15, 'big')).decode().translate(_BASE32)}"


@dataclass(frozen=True, slots=True)
class WebhookRow:
    id: str
    url: str
    events: tuple[str, ...]
    secret: str
    status: str
    created_at: str
    updated_at: str
    verified_at: str | None
    verification: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    """What the dispatcher needs to queue a delivery."""

    id: str
    webhook_id: str
    next_attempt_ms: int


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """A delivery with its event and webhook, as an attempt or the delivery log needs it."""

    id: str
    webhook_id: str
    event_id: str
    event_type: str
    event_timestamp: str
    body: bytes
    state: DeliveryState
    status: str
    created_at: str
    ended_at: str | None
    redelivery_of: str | None
    url: str
    secret: str
    webhook_status: str


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt as the delivery log shows it. ``error`` is a kind from ``NETWORK_ERRORS``."""

    number: int
    started_at: str
    sent_ms: int
    finished_ms: int
    latency_ms: float
    status_code: int | None
    error: str | None
    error_detail: str | None
    response_excerpt: str | None
    response_truncated: bool
    url: str | None = None
    """The URL the request went to (the webhook's URL then); None in rows older than it."""
    headers: tuple[tuple[str, str], ...] | None = None
    """The headers the sender set on the request, as sent (the HTTP client adds Host,
    Content-Length, Accept and Connection itself); None in rows older than the column."""
    body: bytes | None = None
    """The exact bytes sent when they differ from the event's stored bytes, else None."""
    start_ns: int | None = None
    end_ns: int | None = None
    """When the request started and ended, ``time.monotonic_ns()`` (one clock for every
    attempt of one boot; only differences mean anything); None in older rows."""


_DELIVERY_SELECT: Final = """
SELECT d.id, d.webhook_id, d.event_id, e.type, e.timestamp, e.body, d.status, d.attempts,
       d.event_ms, d.next_attempt_ms, d.first_attempt_ms, d.last_sent_ms, d.ended_ms, d.reason,
       d.created_at, d.ended_at, d.redelivery_of, w.url, w.secret, w.status
FROM deliveries d JOIN events e ON e.id = d.event_id JOIN webhooks w ON w.id = d.webhook_id
"""


def _delivery(row: Sequence[Any]) -> DeliveryRow:
    status = row[6]
    core_status = DeliveryStatus(status) if status != CANCELLED else DeliveryStatus.REJECTED
    state = DeliveryState(
        event_ms=row[8],
        status=core_status,
        attempts=row[7],
        next_attempt_ms=row[9],
        first_attempt_ms=row[10],
        last_sent_ms=row[11],
        ended_ms=row[12],
        reason=row[13],
    )
    return DeliveryRow(
        id=row[0],
        webhook_id=row[1],
        event_id=row[2],
        event_type=row[3],
        event_timestamp=row[4],
        body=bytes(row[5]),
        state=state,
        status=status,
        created_at=row[14],
        ended_at=row[15],
        redelivery_of=row[16],
        url=row[17],
        secret=row[18],
        webhook_status=row[19],
    )


def _attempt(r: Sequence[Any]) -> AttemptRecord:
    return AttemptRecord(
        number=r[0],
        started_at=r[1],
        sent_ms=r[2],
        finished_ms=r[3],
        latency_ms=r[4],
        status_code=r[5],
        error=r[6],
        error_detail=r[7],
        response_excerpt=r[8],
        response_truncated=bool(r[9]),
        url=r[10],
        headers=None if r[11] is None else tuple((k, v) for k, v in json.loads(r[11])),
        body=None if r[12] is None else bytes(r[12]),
        start_ns=r[13],
        end_ns=r[14],
    )


def _webhook(row: Sequence[Any]) -> WebhookRow:
    return WebhookRow(
        id=row[0],
        url=row[1],
        events=tuple(json.loads(row[2])),
        secret=row[3],
        status=row[4],
        created_at=row[5],
        updated_at=row[6],
        verified_at=row[7],
        verification=json.loads(row[8]) if row[8] else None,
    )


_WEBHOOK_COLUMNS: Final = (
    "id, url, events, secret, status, created_at, updated_at, verified_at, verification"
)


def connect(path: Path, *, autocheckpoint: bool = True) -> sqlite3.Connection:
    """A connection in autocommit mode, WAL journal, ``synchronous=NORMAL`` between durable commits.

    ``autocheckpoint=False``: its commits never checkpoint (a :class:`Checkpointer` does).
    """
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=5000")
    if not autocheckpoint:
        db.execute("PRAGMA wal_autocheckpoint=0")
    return db


class Checkpointer:
    """Checkpoints a database file's WAL from a thread of its own (see the module docstring).

    Every ``interval_s`` it looks at the WAL file and, if anything was written to it since its
    last look, runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection. So the WAL holds
    at most about ``interval_s`` worth of writes beyond what a checkpoint could not copy yet,
    and an idle database costs nothing. ``checkpoints`` counts the checkpoints it ran.
    :meth:`close` stops the thread (waiting for a checkpoint in progress) and closes its
    connection.
    """

    def __init__(self, path: Path, interval_s: float = 0.5) -> None:
        self.path = path
        self.interval_s = interval_s
        self.checkpoints = 0
        self._wal = Path(f"{path}-wal")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="whsim-checkpointer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        db = connect(self.path, autocheckpoint=False)
        seen: tuple[int, int] | None = None
        try:
            while not self._stop.wait(self.interval_s):
                try:
                    info = self._wal.stat()
                except FileNotFoundError:
                    continue
                now = (info.st_mtime_ns, info.st_size)
                if now == seen:
                    continue
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    continue  # e.g. the file is being closed; the next look tries again
                self.checkpoints += 1
                seen = now
        finally:
            db.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class Durable:
    """Power safety for the commits that acknowledge a request, without blocking the loop.

    ``with store.durable:`` around a write marks it as one to make durable; ``await
    store.durable.sync()`` (the API layer calls it before it answers) fsyncs the WAL file in a
    worker thread, which makes that commit and every commit before it power-safe (the WAL is
    written in order). This is ``synchronous=FULL`` for those commits, with the fsync off the
    event loop: a slow disk delays the acknowledgement, never another delivery. With
    ``synchronous="NORMAL"`` it does nothing.

    One object per database file, shared by every connection to it (the outbox and the job
    store write the same WAL), and group commit: callers that arrive while an fsync runs wait
    for it and then share one more, which covers every write marked before it started. So one
    fsync answers many acknowledgements, and a request that wrote through both connections
    waits for one fsync, not two (two in a row halved the API's rate on a slow disk).
    """

    def __init__(self, path: Path, synchronous: str) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, got {synchronous!r}")
        self._wal = Path(f"{path}-wal")
        self._full = synchronous == "FULL"
        self._written = 0
        self._synced = 0
        self._fd: int | None = None
        self._running = False
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, *rest: object) -> None:
        if kind is None and self._full:
            self._written += 1

    # The fsync runs on a thread of its own and reports back with one call_soon_threadsafe
    # that wakes every waiter it covers: under load each turn of the event loop is long, and
    # the earlier chain (a task, asyncio.to_thread, a shield) cost a caller four extra turns
    # between its commit and its answer, which bounded the API's rate and so the sender's.
    # When writes were marked while an fsync ran, the thread starts the next one at once (as
    # a kernel's journal does), instead of waiting for the loop to see the first one end.

    def _start_fsync(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._fd is None:
            self._fd = os.open(self._wal, os.O_RDONLY)
        if self._thread is None:
            self._thread = concurrent.futures.ThreadPoolExecutor(1, "whsim-fsync")
        self._running = True
        self._thread.submit(self._fsyncs, loop, self._fd)

    def _fsyncs(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        # In the fsync thread. ``covers``: every write marked when an fsync starts has been
        # committed to the WAL already (the mark follows the commit), so a success makes all
        # of them durable.
        more = True
        while more:
            covers = self._written
            error: OSError | None = None
            try:
                os.fsync(fd)
            except OSError as exc:
                error = exc
            more = error is None and self._written > covers
            try:
                loop.call_soon_threadsafe(self._synced_to, loop, covers, error, more)
            except RuntimeError:  # the loop is closed: nobody waits any more
                return

    def _synced_to(
        self, loop: asyncio.AbstractEventLoop, covers: int, error: OSError | None, more: bool
    ) -> None:
        if not more:
            self._running = False
        if error is None:
            self._synced = max(self._synced, covers)
        waiting, self._waiters = self._waiters, []
        for target, future in waiting:
            if future.done():
                continue  # its caller was cancelled; the fsync went on for the others
            if target <= covers:
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)
            else:
                self._waiters.append((target, future))  # marked after this fsync started
        if self._waiters and not self._running:
            self._start_fsync(loop)

    async def sync(self) -> None:
        """Return once every write marked durable so far is on the disk.

        Raises the OSError of a failed fsync (the writes it covered are not acknowledged).
        """
        target = self._written
        if self._synced >= target:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._waiters.append((target, future))
        if not self._running:
            self._start_fsync(loop)
        await future

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Store:
    """One SQLite database file; see the module docstring for the durability contract."""

    def __init__(
        self,
        path: Path | str,
        *,
        synchronous: str = "FULL",
        background_checkpoints: bool = False,
    ) -> None:
        self.path = Path(path)
        self.background_checkpoints = background_checkpoints
        """No commit checkpoints; a :class:`Checkpointer` thread does. Other connections to the
        file must then open with ``connect(path, autocheckpoint=False)``."""
        self._db = connect(self.path, autocheckpoint=not background_checkpoints)
        self._db.executescript(_SCHEMA)
        self._migrate()
        self.durable = Durable(self.path, synchronous)
        """The file's durability; other connections to the same file share it."""
        self.checkpointer = Checkpointer(self.path) if background_checkpoints else None
        self.webhooks_version = 0
        """Changes whenever a webhook is stored, changed or deleted (for caches of the list)."""

    def _migrate(self) -> None:
        for table, column, kind in _ADDED_COLUMNS:
            have = {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.durable.close()
        self._db.close()

    def _tx(self, statements: Iterable[tuple[str, Sequence[Any]]]) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                db.execute(sql, params)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # --- policy time ------------------------------------------------------------------------

    def policy_start_ms(self, wall_ms: int, scale: float) -> int:
        """Policy time now, continuing the previous run's policy clock; records a new anchor.

        Downtime counts at the previous run's scale, so an event that waited out a crash ages
        as it would have had the sender kept running (the 24 h expiry sees the gap).
        """
        got = self._db.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()
        start = 0
        if got:
            old = json.loads(got[0])
            start = old["policy_ms"] + max(0, int((wall_ms - old["wall_ms"]) * old["scale"]))
        self.save_clock(wall_ms, start, scale)
        return start

    def saved_scale(self) -> float | None:
        """The time scale the last run recorded with its clock anchor (None: never started)."""
        got = self._db.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()
        return float(json.loads(got[0])["scale"]) if got else None

    def save_clock(self, wall_ms: int, policy_ms: int, scale: float) -> None:
        """Record that policy time ``policy_ms`` was wall time ``wall_ms`` at ``scale``."""
        value = json.dumps({"wall_ms": wall_ms, "policy_ms": policy_ms, "scale": scale})
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('clock', ?)", (value,))

    # --- webhooks -----------------------------------------------------------------------------

    def insert_webhook(self, hook: WebhookRow) -> None:
        """Store a new webhook (a durable commit)."""
        with self.durable:
            self._insert_webhook(hook)

    def _insert_webhook(self, hook: WebhookRow) -> None:
        self.webhooks_version += 1
        self._db.execute(
            f"INSERT INTO webhooks ({_WEBHOOK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                hook.id,
                hook.url,
                json.dumps(list(hook.events)),
                hook.secret,
                hook.status,
                hook.created_at,
                hook.updated_at,
                hook.verified_at,
                json.dumps(hook.verification) if hook.verification else None,
            ),
        )

    def save_webhook(self, hook: WebhookRow) -> None:
        """Overwrite every field of an existing webhook (a durable commit)."""
        with self.durable:
            self._save_webhook(hook)

    def _save_webhook(self, hook: WebhookRow) -> None:
        self.webhooks_version += 1
        self._db.execute(
            "UPDATE webhooks SET url = ?, events = ?, secret = ?, status = ?, updated_at = ?, "
            "verified_at = ?, verification = ? WHERE id = ?",
            (
                hook.url,
                json.dumps(list(hook.events)),
                hook.secret,
                hook.status,
                hook.updated_at,
                hook.verified_at,
                json.dumps(hook.verification) if hook.verification else None,
                hook.id,
            ),
        )

    def get_webhook(self, webhook_id: str) -> WebhookRow | None:
        row = self._db.execute(
            f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?", (webhook_id,)
        ).fetchone()
        return _webhook(row) if row else None

    def list_webhooks(self, status: str | None = None) -> list[WebhookRow]:
        sql = f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks"
        params: tuple[str, ...] = ()
        if status is not None:
            sql += " WHERE status = ?"
            params = (status,)
        return [_webhook(r) for r in self._db.execute(sql + " ORDER BY seq", params)]

    def delete_webhook(self, webhook_id: str) -> bool:
        """Delete a webhook with its deliveries and attempts; False if there was none."""
        self.webhooks_version += 1
        with self.durable:
            cur = self._db.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))
        return cur.rowcount > 0

    # --- events and deliveries ------------------------------------------------------------------

    def insert_event(
        self,
        event: Event,
        created_ms: int,
        webhook_ids: Sequence[str],
        created_at: str,
        *,
        ready_ms: int | None = None,
    ) -> list[PendingDelivery]:
        """Store an event and one pending delivery per webhook, in one transaction."""
        ready = created_ms if ready_ms is None else ready_ms
        pending = [PendingDelivery(new_id("dlv"), wid, ready) for wid in webhook_ids]
        db = self._db
        with self.durable:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "INSERT INTO events (id, type, timestamp, body, created_ms) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (event.id, event.type, event.timestamp, event.body, created_ms),
                )
                db.executemany(  # one call for the fan-out, not one per webhook
                    "INSERT INTO deliveries (id, webhook_id, event_id, status, event_ms, "
                    "next_attempt_ms, created_at) VALUES (?, ?, ?, 'pending', ?, ?, ?)",
                    [
                        (p.id, p.webhook_id, event.id, created_ms, ready, created_at)
                        for p in pending
                    ],
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return pending

    def add_delivery(
        self,
        event_id: str,
        webhook_id: str,
        event_ms: int,
        ready_ms: int,
        created_at: str,
        *,
        redelivery_of: str | None = None,
    ) -> PendingDelivery:
        """A new pending delivery of a stored event (a redelivery)."""
        pending = PendingDelivery(new_id("dlv"), webhook_id, ready_ms)
        with self.durable:
            self._add_delivery(pending, event_id, event_ms, created_at, redelivery_of)
        return pending

    def _add_delivery(
        self,
        pending: PendingDelivery,
        event_id: str,
        event_ms: int,
        created_at: str,
        redelivery_of: str | None,
    ) -> None:
        webhook_id, ready_ms = pending.webhook_id, pending.next_attempt_ms
        self._db.execute(
            "INSERT INTO deliveries (id, webhook_id, event_id, status, event_ms, next_attempt_ms, "
            "created_at, redelivery_of) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?)",
            (pending.id, webhook_id, event_id, event_ms, ready_ms, created_at, redelivery_of),
        )

    def pending_deliveries(self) -> list[PendingDelivery]:
        """Every pending delivery, oldest first (what a restart must resume)."""
        rows = self._db.execute(
            "SELECT id, webhook_id, next_attempt_ms FROM deliveries WHERE status = 'pending' "
            "ORDER BY seq"
        )
        return [PendingDelivery(r[0], r[1], r[2]) for r in rows]

    def get_delivery(self, delivery_id: str) -> DeliveryRow | None:
        row = self._db.execute(_DELIVERY_SELECT + " WHERE d.id = ?", (delivery_id,)).fetchone()
        return _delivery(row) if row else None

    def list_deliveries(
        self, webhook_id: str, *, limit: int = 50, status: str | None = None
    ) -> list[DeliveryRow]:
        """A webhook's deliveries, newest first."""
        sql = _DELIVERY_SELECT + " WHERE d.webhook_id = ?"
        params: list[Any] = [webhook_id]
        if status is not None:
            sql += " AND d.status = ?"
            params.append(status)
        sql += " ORDER BY d.seq DESC LIMIT ?"
        params.append(limit)
        return [_delivery(r) for r in self._db.execute(sql, params)]

    def attempts(self, delivery_id: str) -> list[AttemptRecord]:
        rows = self._db.execute(
            "SELECT number, started_at, sent_ms, finished_ms, latency_ms, status_code, error, "
            "error_detail, response_excerpt, response_truncated, sent_url, sent_headers, "
            "sent_body, start_ns, end_ns FROM attempts WHERE delivery_id = ? ORDER BY number",
            (delivery_id,),
        )
        return [_attempt(r) for r in rows]

    def attempt_log(
        self, webhook_id: str, *, after_seq: int = 0, page: int = 200, status: str | None = None
    ) -> list[tuple[int, DeliveryRow, list[AttemptRecord]]]:
        """A page of a webhook's deliveries with their attempts, oldest first, by ``seq``.

        Keyset paging (``after_seq``: the last ``seq`` of the previous page) so an export of a
        long log holds one page, and the loop may run between pages.
        """
        sql = _DELIVERY_SELECT.replace("SELECT ", "SELECT d.seq, ", 1)
        sql += " WHERE d.webhook_id = ? AND d.seq > ?"
        params: list[Any] = [webhook_id, after_seq]
        if status is not None:
            sql += " AND d.status = ?"
            params.append(status)
        sql += " ORDER BY d.seq LIMIT ?"
        params.append(page)
        out = []
        for r in self._db.execute(sql, params).fetchall():
            row = _delivery(r[1:])
            out.append((int(r[0]), row, self.attempts(row.id)))
        return out

    def record_attempt(
        self, delivery_id: str, attempt: AttemptRecord, state: DeliveryState, ended_at: str | None
    ) -> bool:
        """Write one attempt and the delivery's next state in one transaction.

        False (and nothing written) when the delivery is gone: its webhook was deleted while
        the attempt was in flight.
        """
        return self.record_attempts([(delivery_id, attempt, state, ended_at)])[0]

    def record_attempts(
        self, batch: Sequence[tuple[str, AttemptRecord, DeliveryState, str | None]]
    ) -> list[bool]:
        """Write attempts that ended together, each with its delivery's next state, in one commit.

        Each entry is written as :meth:`record_attempt` writes it (False: the delivery is gone,
        nothing written for it); one transaction for all of them, so the commit and the WAL
        pages they share are paid once (the dispatcher hands over the attempts that ended in
        one turn of the event loop). All or none survive a crash.
        """
        db = self._db
        kept: list[bool] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for delivery_id, attempt, state, ended_at in batch:
                sql, params = self._state_update(delivery_id, state, str(state.status), ended_at)
                if db.execute(sql, params).rowcount == 0:
                    kept.append(False)
                    continue
                db.execute(
                    "INSERT OR REPLACE INTO attempts (delivery_id, number, started_at, sent_ms, "
                    "finished_ms, latency_ms, status_code, error, error_detail, "
                    "response_excerpt, response_truncated, sent_url, sent_headers, sent_body, "
                    "start_ns, end_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        delivery_id,
                        attempt.number,
                        attempt.started_at,
                        attempt.sent_ms,
                        attempt.finished_ms,
                        attempt.latency_ms,
                        attempt.status_code,
                        attempt.error,
                        attempt.error_detail,
                        attempt.response_excerpt,
                        int(attempt.response_truncated),
                        attempt.url,
                        None if attempt.headers is None else json.dumps(attempt.headers),
                        attempt.body,
                        attempt.start_ns,
                        attempt.end_ns,
                    ),
                )
                kept.append(True)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return kept

    def end_delivery(
        self, delivery_id: str, state: DeliveryState, status: str, ended_at: str
    ) -> None:
        """End a delivery without an attempt (expired when due, or cancelled)."""
        sql, params = self._state_update(delivery_id, state, status, ended_at)
        self._db.execute(sql, params)

    @staticmethod
    def _state_update(
        delivery_id: str, state: DeliveryState, status: str, ended_at: str | None
    ) -> tuple[str, Sequence[Any]]:
        return (
            "UPDATE deliveries SET status = ?, attempts = ?, next_attempt_ms = ?, "
            "first_attempt_ms = ?, last_sent_ms = ?, ended_ms = ?, reason = ?, ended_at = ? "
            "WHERE id = ?",
            (
                status,
                state.attempts,
                state.next_attempt_ms,
                state.first_attempt_ms,
                state.last_sent_ms,
                state.ended_ms,
                state.reason,
                ended_at,
                delivery_id,
            ),
        )
