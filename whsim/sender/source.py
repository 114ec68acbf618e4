"""A small Proposal Generator: proposals and jobs that emit the guide's events.

A job runs on the policy clock (``step_seconds`` are policy seconds, so ``--time-scale`` speeds
jobs up too): job.created, job.started, one job.progress per step through the core's throttle
(one window per job, THROTTLE-1/2 defaults), then job.completed and document.created, or
job.failed at ``fail_at_step``. Jobs live in memory; a job that a restart interrupted is ended
with job.failed when the sender starts again, so receivers never wait forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Final

from whsim.core.errors import SenderError
from whsim.core.throttle import ThrottleState, due_ms, flush, offer, terminate
from whsim.sender.dispatcher import wall_iso
from whsim.sender.jobstore import JobRow, JobStore
from whsim.sender.service import Sender, not_found
from whsim.sender.store import new_id

__all__ = ["JOB_STATUSES", "MAX_STEPS", "MAX_STEP_SECONDS", "MAX_TITLE", "EventSource"]

log = logging.getLogger("whsim.sender")

MAX_STEPS: Final = 1000
MAX_STEP_SECONDS: Final = 3600.0
MAX_TITLE: Final = 1000
JOB_STATUSES: Final = ("pending", "processing", "completed", "failed")
"""Where a job stands; pending until its first step starts."""


def _invalid(message: str, field: str) -> SenderError:
    return SenderError(message, status=422, code="invalid_field", details={"field": field})


def _object(body: object, allowed: tuple[str, ...]) -> Mapping[str, object]:
    if not isinstance(body, dict):
        raise _invalid("the request body must be a JSON object", "body")
    for key in body:
        if key not in allowed:
            raise _invalid(f"unknown field {key!r}; allowed: {', '.join(allowed)}", key)
    return body


def _int(doc: Mapping[str, object], name: str, low: int, high: int) -> int:
    """An integer field; ``3.0`` counts (JSON has one number type, JSON Schema calls it integer)."""
    value = doc.get(name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(f"{name} must be an integer", name)
    if not low <= value <= high:
        raise _invalid(f"{name} must be within {low}..{high}, got {value}", name)
    return value


class EventSource:
    """Proposals and jobs on top of a started :class:`Sender`."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self.jobs: JobStore
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Open the job store; end jobs a previous run left unfinished with job.failed."""
        config = self.sender.config
        outbox = self.sender.store
        self.jobs = store = JobStore(
            config.db_path,
            synchronous=config.synchronous,
            durable=outbox.durable,
            autocheckpoint=not outbox.background_checkpoints,
        )
        for job in store.unfinished_jobs():
            error = "the sender restarted while the job was running"
            self.sender.emit(
                "job.failed",
                {
                    "job_id": job.id,
                    "error": error,
                    "error_details": {"reason": "interrupted", "step": job.completed_steps},
                },
            )
            store.update_job(job.id, wall_iso(), status="failed", error=error)

    async def sync(self) -> None:
        """Make acknowledged proposals and jobs power-safe (see :mod:`whsim.sender.store`)."""
        await self.jobs.durable.sync()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.jobs.close()

    # --- proposals -------------------------------------------------------------------------------

    def create_proposal(self, body: object) -> dict[str, Any]:
        doc = _object(body, ("title",))
        title = doc.get("title")
        if not isinstance(title, str) or not title.strip():
            raise _invalid("title must be a non-empty string", "title")
        if len(title) > MAX_TITLE:
            raise _invalid(f"title must be at most {MAX_TITLE} characters", "title")
        proposal_id = new_id("prop")
        created_at = wall_iso()
        self.jobs.insert_proposal(proposal_id, title, created_at)
        event = self.sender.emit("proposal.created", {"proposal_id": proposal_id, "title": title})
        return {"id": proposal_id, "title": title, "created_at": created_at, "event_id": event.id}

    def get_proposal(self, proposal_id: str) -> dict[str, Any]:
        found = self.jobs.get_proposal(proposal_id)
        if found is None:
            raise not_found("proposal", proposal_id)
        return dict(found)

    # --- jobs ------------------------------------------------------------------------------------

    def create_job(self, body: object) -> dict[str, Any]:
        doc = _object(body, ("proposal_id", "steps", "step_seconds", "fail_at_step"))
        proposal_id = doc.get("proposal_id")
        if not isinstance(proposal_id, str):
            raise _invalid("proposal_id must be a string", "proposal_id")
        if self.jobs.get_proposal(proposal_id) is None:
            raise SenderError(
                f"no proposal with id {proposal_id!r}; create one with POST /api/proposals",
                status=422,
                code="unknown_proposal",
                details={"field": "proposal_id"},
            )
        steps = _int(doc, "steps", 1, MAX_STEPS)
        step_seconds = doc.get("step_seconds")
        if not isinstance(step_seconds, int | float) or isinstance(step_seconds, bool):
            raise _invalid("step_seconds must be a number", "step_seconds")
        if not 0 <= step_seconds <= MAX_STEP_SECONDS:
            raise _invalid(f"step_seconds must be within 0..{MAX_STEP_SECONDS:g}", "step_seconds")
        fail_at: int | None = None
        if doc.get("fail_at_step") is not None:
            fail_at = _int(doc, "fail_at_step", 1, steps)
        now = wall_iso()
        job = JobRow(
            id=new_id("job"),
            proposal_id=proposal_id,
            steps=steps,
            step_seconds=float(step_seconds),
            fail_at_step=fail_at,
            status="pending",
            completed_steps=0,
            document_id=None,
            error=None,
            created_at=now,
            updated_at=now,
        )
        self.jobs.insert_job(job)
        self.sender.emit(
            "job.created", {"job_id": job.id, "proposal_id": proposal_id, "status": "pending"}
        )
        task = asyncio.get_running_loop().create_task(self._run(job), name=f"job {job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return self.job_json(job)

    def get_job(self, job_id: str) -> dict[str, Any]:
        job = self.jobs.get_job(job_id)
        if job is None:
            raise not_found("job", job_id)
        return self.job_json(job)

    @staticmethod
    def job_json(job: JobRow) -> dict[str, Any]:
        return {
            "id": job.id,
            "proposal_id": job.proposal_id,
            "steps": job.steps,
            "step_seconds": job.step_seconds,
            "fail_at_step": job.fail_at_step,
            "status": job.status,
            "completed_steps": job.completed_steps,
            "document_id": job.document_id,
            "error": job.error,
            "created_at": job.created_at,
            "updated_at": job.updated_at,
        }

    async def _run(self, job: JobRow) -> None:
        try:
            await self._steps(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %s crashed inside the sender", job.id)

    async def _steps(self, job: JobRow) -> None:
        sender, store, clock = self.sender, self.jobs, self.sender.clock
        store.update_job(job.id, wall_iso(), status="processing")
        sender.emit("job.started", {"job_id": job.id, "status": "processing"})
        throttle = self.new_throttle()
        step_ms = int(job.step_seconds * 1000)
        target = clock.now_ms()
        for step in range(1, job.steps + 1):
            target += step_ms
            throttle = await self._wait(job, throttle, target)
            if job.fail_at_step == step:
                throttle = terminate(throttle)
                error = f"step {step} of {job.steps} failed"
                store.update_job(job.id, wall_iso(), status="failed", error=error)
                sender.emit(
                    "job.failed",
                    {
                        "job_id": job.id,
                        "error": error,
                        "error_details": {"step": step, "steps": job.steps},
                    },
                )
                return
            store.update_job(job.id, wall_iso(), completed_steps=step)
            progress = {
                "completed": step,
                "total": job.steps,
                "percentage": step * 100 // job.steps,
            }
            throttle, sent = offer(throttle, clock.now_ms(), progress)
            if sent is not None:
                self._progress(job, sent)
        throttle, held, _ = flush(throttle, clock.now_ms())
        if held is not None:
            self._progress(job, held)
        terminate(throttle)
        document_id = new_id("doc")
        store.update_job(job.id, wall_iso(), status="completed", document_id=document_id)
        sender.emit(
            "job.completed",
            {
                "job_id": job.id,
                "proposal_id": job.proposal_id,
                "document_id": document_id,
                "status": "completed",
            },
        )
        sender.emit(
            "document.created",
            {"document_id": document_id, "proposal_id": job.proposal_id, "version": 1},
        )

    def new_throttle(self) -> ThrottleState[dict[str, int]]:
        """The throttle state a new job starts with (the core's 10 s window, THROTTLE-1)."""
        return ThrottleState()

    def _progress(self, job: JobRow, progress: dict[str, int]) -> None:
        self.sender.emit("job.progress", {"job_id": job.id, "progress": progress})

    async def _wait(
        self, job: JobRow, throttle: ThrottleState[dict[str, int]], target_ms: int
    ) -> ThrottleState[dict[str, int]]:
        """Sleep until policy time ``target_ms``, emitting a held progress update when due."""
        clock, scale = self.sender.clock, self.sender.config.time_scale
        while True:
            now = clock.now_ms()
            due = due_ms(throttle)
            if due is not None and due <= now:
                throttle, held, _ = flush(throttle, now)
                if held is not None:
                    self._progress(job, held)
                continue
            if now >= target_ms:
                return throttle
            wake = target_ms if due is None else min(target_ms, due)
            await asyncio.sleep((wake - now) / scale / 1000 + 0.0005)
