"""The event source's own tables: proposals and jobs, apart from the delivery outbox.

:class:`JobStore` opens its own connection to the sender's database file and owns the
``proposals`` and ``jobs`` tables; :class:`whsim.sender.store.Store` never touches them, and
this module never touches webhooks, events or deliveries. An event the source emits goes through
the sender (:meth:`whsim.sender.service.Sender.emit`) into the outbox. Proposals and new jobs are
durable commits, step updates are not (see :mod:`whsim.sender.store`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from whsim.sender.store import Durable, connect

__all__ = ["JobRow", "JobStore"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS proposals (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    proposal_id TEXT NOT NULL REFERENCES proposals(id),
    steps INTEGER NOT NULL,
    step_seconds REAL NOT NULL,
    fail_at_step INTEGER,
    status TEXT NOT NULL,
    completed_steps INTEGER NOT NULL DEFAULT 0,
    document_id TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class JobRow:
    id: str
    proposal_id: str
    steps: int
    step_seconds: float
    fail_at_step: int | None
    status: str
    completed_steps: int
    document_id: str | None
    error: str | None
    created_at: str
    updated_at: str


_JOB_COLUMNS: Final = (
    "id, proposal_id, steps, step_seconds, fail_at_step, status, completed_steps, document_id, "
    "error, created_at, updated_at"
)


class JobStore:
    """Proposals and jobs in the sender's database file (its own connection)."""

    def __init__(
        self,
        path: Path | str,
        *,
        synchronous: str = "FULL",
        durable: Durable | None = None,
        autocheckpoint: bool = True,
    ) -> None:
        """``durable``: the outbox's, when both live in one file (one fsync covers both);
        ``autocheckpoint=False`` when the outbox checkpoints in the background
        (``Store.background_checkpoints``)."""
        self.path = Path(path)
        self._db = connect(self.path, autocheckpoint=autocheckpoint)
        self._db.executescript(_SCHEMA)
        self._owns_durable = durable is None
        self.durable = Durable(self.path, synchronous) if durable is None else durable

    def close(self) -> None:
        if self._owns_durable:
            self.durable.close()
        self._db.close()

    def insert_proposal(self, proposal_id: str, title: str, created_at: str) -> None:
        """Store a proposal (a durable commit: the API acknowledges it)."""
        with self.durable:
            self._db.execute(
                "INSERT INTO proposals (id, title, created_at) VALUES (?, ?, ?)",
                (proposal_id, title, created_at),
            )

    def get_proposal(self, proposal_id: str) -> dict[str, str] | None:
        row = self._db.execute(
            "SELECT id, title, created_at FROM proposals WHERE id = ?", (proposal_id,)
        ).fetchone()
        return {"id": row[0], "title": row[1], "created_at": row[2]} if row else None

    def insert_job(self, job: JobRow) -> None:
        """Store a new job (a durable commit: the API acknowledges it)."""
        with self.durable:
            self._insert_job(job)

    def _insert_job(self, job: JobRow) -> None:
        self._db.execute(
            f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job.id,
                job.proposal_id,
                job.steps,
                job.step_seconds,
                job.fail_at_step,
                job.status,
                job.completed_steps,
                job.document_id,
                job.error,
                job.created_at,
                job.updated_at,
            ),
        )

    def update_job(self, job_id: str, updated_at: str, **fields: object) -> None:
        """Set some of status, completed_steps, document_id, error."""
        allowed = {"status", "completed_steps", "document_id", "error"}
        names = sorted(fields)
        if not set(names) <= allowed:
            raise ValueError(f"cannot update job fields {sorted(set(names) - allowed)}")
        sets = ", ".join(f"{n} = ?" for n in names)
        self._db.execute(
            f"UPDATE jobs SET {sets}, updated_at = ? WHERE id = ?",
            (*(fields[n] for n in names), updated_at, job_id),
        )

    def get_job(self, job_id: str) -> JobRow | None:
        row = self._db.execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()
        return JobRow(*row) if row else None

    def unfinished_jobs(self) -> list[JobRow]:
        rows = self._db.execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status IN ('pending', 'processing')"
        )
        return [JobRow(*r) for r in rows]
