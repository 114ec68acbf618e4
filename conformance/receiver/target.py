"""The receiver under test as the suite sees it: signed POSTs and the grading rules shared by cases."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import httpx

from whsim.conformance.case import Case
from whsim.conformance.exchange import Exchange
from whsim.conformance.http import UNREACHABLE, post
from whsim.core.policy import TIMEOUT_MS
from whsim.core.readings import Readings
from whsim.core.signing import SIGNATURE_HEADER, sign
from whsim.core.spec.events import Event, make_event

__all__ = ["CONCURRENCY", "REQUEST_TIMEOUT_S", "SIGN", "ReceiverTarget", "sample_data"]

REQUEST_TIMEOUT_S: Final = TIMEOUT_MS / 1000
"""The guide's attempt timeout (clause TIMEOUT-2): the kit waits for an answer as long as the
guide's sender would, and an answer later than that is recorded as timed out."""
CONCURRENCY: Final = 16
KEEPALIVE_EXPIRY_S: Final = 1.0
"""How long the kit keeps an idle connection for reuse. Servers close idle keep-alive
connections after their own timeout (gunicorn 2 s, uvicorn and whsim's servers 5 s); reusing a
connection the server is closing at that instant loses the request, so the kit lets go of
idle connections well before any common server does."""
"""Requests of the suite in flight at once (the timeout case's burst has its own)."""


class _Sign:
    def __repr__(self) -> str:
        return "SIGN"


SIGN: Final = _Sign()
"""Sign the body correctly (the default ``signature`` of :meth:`ReceiverTarget.send`)."""


def sample_data(event_type: str, n: int) -> dict[str, Any]:
    """Data for one event of ``event_type``, shaped like the guide's example, unique by ``n``."""
    job, prop, doc = f"job_{n}", f"prop_{n}", f"doc_{n}"
    table: dict[str, dict[str, Any]] = {
        "job.created": {"job_id": job, "proposal_id": prop, "status": "pending"},
        "job.started": {"job_id": job, "status": "processing"},
        "job.progress": {
            "job_id": job,
            "progress": {"completed": 5, "total": 10, "percentage": 50},
        },
        "job.completed": {
            "job_id": job,
            "proposal_id": prop,
            "document_id": doc,
            "status": "completed",
        },
        "job.failed": {"job_id": job, "error": "Error message", "error_details": {"step": 3}},
        "document.created": {"document_id": doc, "proposal_id": prop, "version": 1},
        "proposal.created": {"proposal_id": prop, "title": "AI Research Proposal"},
    }
    return table[event_type]


class ReceiverTarget:
    """Sends requests to the receiver URL and records each exchange on the running case.

    Event ids carry a per-run nonce, so runs against a receiver that remembers ids (as it should)
    never collide with earlier runs.
    """

    def __init__(self, url: str, secret: str, seed: int, readings: Readings | None = None) -> None:
        self.url = url
        self.secret = secret
        self.seed = seed
        self.readings = readings if readings is not None else Readings()
        """The readings the cases grade by (``--reading``; SIG-2 and CODES-5 change verdicts)."""
        self.nonce = f"{random.SystemRandom().getrandbits(32):08x}"
        self._ids = itertools.count(1)
        self.client = httpx.Client(
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(
                max_connections=64,
                max_keepalive_connections=64,
                keepalive_expiry=KEEPALIVE_EXPIRY_S,
            ),
        )
        self._slots = threading.BoundedSemaphore(CONCURRENCY)
        self._lock = threading.Lock()
        self.log: list[tuple[str, Exchange]] = []
        """Every exchange of the session with the id of the case that made it."""

    def close(self) -> None:
        self.client.close()

    def new_id(self) -> str:
        return f"evt_whsim_{self.nonce}_{next(self._ids)}"

    def event(self, event_type: str, data: Mapping[str, Any] | None = None) -> Event:
        """A fresh valid event (the guide's example data when ``data`` is None)."""
        n = next(self._ids)
        return make_event(
            event_type,
            data if data is not None else sample_data(event_type, n),
            id=f"evt_whsim_{self.nonce}_{n}",
            timestamp_ms=int(time.time() * 1000),
        )

    def headers(self, body: bytes, signature: object = SIGN) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if signature is SIGN:
            headers[SIGNATURE_HEADER] = sign(body, self.secret)
        elif isinstance(signature, str):
            headers[SIGNATURE_HEADER] = signature
        return headers

    def send(
        self,
        case: Case,
        body: bytes,
        *,
        signature: object = SIGN,
        note: str = "",
        timeout: float = REQUEST_TIMEOUT_S,
        bounded: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> Exchange:
        """POST ``body`` (signed unless ``signature`` is a string or None) and record it.

        At most :data:`CONCURRENCY` bounded requests are in flight (the answer time starts when
        the request is sent, not while it waits for a slot). ``headers`` replaces the kit's.
        A target that cannot be reached at all ends the case as an error, not a failure.
        """
        chosen = dict(headers) if headers is not None else self.headers(body, signature)
        if bounded:
            with self._slots:
                ex = post(self.client, self.url, body, chosen, timeout=timeout, note=note)
        else:
            ex = post(self.client, self.url, body, chosen, timeout=timeout, note=note)
        with self._lock:
            case.record(ex)
            self.log.append((case.spec.id, ex))
        if ex.response.error.startswith(UNREACHABLE):
            case.error(f"cannot reach {self.url}: {ex.response.error}")
        return ex

    def send_all(
        self, case: Case, items: Sequence[tuple[bytes, str]], *, signature: object = SIGN
    ) -> list[Exchange]:
        """POST each ``(body, note)`` at once (bounded); the exchanges in the order given.

        For requests whose order does not matter: a slow receiver then costs one attempt
        timeout, not one per request.
        """
        if not items:
            return []
        with ThreadPoolExecutor(min(len(items), CONCURRENCY)) as pool:
            futures = [
                pool.submit(self.send, case, body, signature=signature, note=note)
                for body, note in items
            ]
            return [f.result() for f in futures]


def timed_out(ex: Exchange) -> bool:
    """No answer within the attempt timeout (a sender records a timeout and retries)."""
    return ex.response.status is None and ex.response.error.startswith("timeout")


def status_text(ex: Exchange) -> str:
    r = ex.response
    if timed_out(ex):
        return f"no answer within the guide's {REQUEST_TIMEOUT_S:g} s attempt timeout (timed out)"
    if r.status is None:
        return f"no answer ({r.error})"
    body = r.body[:200].decode("utf-8", "replace")
    return f"HTTP {r.status}: {body}"


def expect_accepted(case: Case, exchanges: Iterable[Exchange], what: str) -> None:
    """Every exchange got 2xx (pass); else fail on the first that did not, saying why."""
    items = list(exchanges)
    for ex in items:
        status = ex.response.status
        if status is not None and 200 <= status < 300:
            continue
        if timed_out(ex):
            why = (
                f"{what}: no answer within {REQUEST_TIMEOUT_S:g} s: the guide's sender records a "
                "timeout and retries, so the event is never delivered"
            )
        elif status is None:
            why = f"{what}: no answer (a sender records a failure and retries)"
        elif status >= 500:
            why = f"{what}: {status}, a temporary failure to the sender, which will retry"
        elif status == 401:
            why = f"{what}: 401 for a correct signature over the raw bytes (is the body re-serialized, or the header read differently?)"
        elif status == 400:
            why = f"{what}: 400 for a valid event"
        else:
            why = f"{what}: {status}, expected 2xx"
        case.fail(why, expected="2xx", actual=status_text(ex), primary=ex)
    case.passed(f"{len(items)} request(s), all 2xx")


def expect_401(case: Case, ex: Exchange, what: str, *, tolerated_2xx: str = "") -> None:
    """401 passes; a 2xx fails (or is non-strict with ``tolerated_2xx`` naming the reading)."""
    status = ex.response.status
    if status == 401:
        case.passed(f"{what}: 401")
        return
    actual = status_text(ex)
    if status is not None and 200 <= status < 300:
        if tolerated_2xx:
            case.non_strict(tolerated_2xx, expected="401", actual=actual, primary=ex)
        case.fail(
            f"{what}: accepted ({status}) although the signature is wrong",
            expected="401",
            actual=actual,
            primary=ex,
        )
    if status is None:
        case.fail(f"{what}: no answer", expected="401", actual=actual, primary=ex)
    if status >= 500:
        case.fail(
            f"{what}: {status} instead of 401; a sender reads 5xx as temporary and retries a forgery",
            expected="401",
            actual=actual,
            primary=ex,
        )
    case.fail(f"{what}: {status} instead of 401", expected="401", actual=actual, primary=ex)


def expect_400(case: Case, exchanges: Sequence[Exchange], what: str) -> None:
    """All 400 passes; anything else is non-strict (CODES-2 is a SHOULD), a 5xx named as the
    worst of them: the sender retries a problem that a retry cannot fix."""
    worst: Exchange | None = None
    for ex in exchanges:
        status = ex.response.status
        if status is None or status >= 500:
            worst = ex
            break
        if status != 400 and worst is None:
            worst = ex
    if worst is not None:
        status = worst.response.status
        if status is None or status >= 500:
            why = (
                f"{what}: {status_text(worst)}; a 5xx (or no answer) tells the sender to retry a "
                "permanent problem"
            )
        else:
            verdict = "accepted" if status < 300 else "answered"
            why = f"{what}: {verdict} with {status}; the guide says 400 for invalid event data"
        case.non_strict(why, expected="400", actual=status_text(worst), primary=worst)
    case.passed(f"{len(exchanges)} request(s), all 400")
