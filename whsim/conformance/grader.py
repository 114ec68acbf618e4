"""Grade recorded delivery attempts against the guide: ``whsim check`` and :func:`whsim.check`.

The input is a stream of :class:`~whsim.conformance.trace.Attempt` (from HAR, JSONL or a
DataFrame). Each attempt is checked as it streams by (signature over its exact bytes, envelope
and data schemas, content type, attempt timeout, expiry); attempts are grouped by endpoint (the
URL) and event id, and an event's schedule is graded once no later attempt of it can come (the
longest retry window has passed in the trace) or at the end, then forgotten: memory holds the
events of one retry window, not the trace.

A retry is only a later attempt of the same event id (as the live suite counts it). Schedules
are graded with :mod:`whsim.conformance.timing` bands against the chosen readings
(:class:`whsim.core.readings.Readings`, or a vendor policy), classified with the core's
:func:`whsim.core.policy.classify`, signed with :func:`whsim.core.signing.sign`, checked with
:func:`whsim.core.spec.events.check_document`; no rule of the guide is written again here.

Outcomes, reports and exit codes are the suites' (:mod:`whsim.conformance.outcomes`,
:mod:`whsim.conformance.report`); the likely root cause comes first (``diagnosis``).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from whsim.conformance.case import CaseResult, CaseSpec
from whsim.conformance.exchange import Exchange, Request, Response
from whsim.conformance.figures import Mark, Window, retry_timeline
from whsim.conformance.model import ModelCheck
from whsim.conformance.outcomes import Outcome
from whsim.conformance.timing import Band, GapGrade, Profile, grade_gaps, profile
from whsim.conformance.trace import (
    UNPARSED,
    Attempt,
    TraceMeta,
    from_frame,
    parse_body,
    read_trace,
    sniff_kind,
)
from whsim.core.errors import EventDataError, TraceError
from whsim.core.policy import VENDOR_POLICIES, RetryPolicy, Verdict
from whsim.core.readings import Readings
from whsim.core.signing import SIGNATURE_HEADER, sign
from whsim.core.spec.clauses import reading_names
from whsim.core.spec.events import VERIFY_TYPE, check_document, parse_timestamp
from whsim.core.throttle import WINDOW_MS

if TYPE_CHECKING:
    import pandas as pd

    from whsim.conformance.report import Report

__all__ = ["CASES", "CheckResult", "check", "grade", "load_secrets"]

_C = CaseSpec
CASES: Final[dict[str, CaseSpec]] = {
    c.id: c
    for c in (
        _C("CHK-SIG-001", "Every delivery is signed over its exact bytes", ("SIG-1",)),
        _C(
            "CHK-EVENT-001",
            "Every delivery is an event envelope {type, timestamp, data}",
            ("EVENT-1",),
        ),
        _C(
            "CHK-EVENT-002",
            "Each event's data matches its type's schema",
            ("EVENT-2", "EVENT-3", "EVENT-4", "EVENT-5", "EVENT-6", "EVENT-7", "EVENT-8"),
        ),
        _C("CHK-EVENT-003", "Each event has an id, kept on every retry", ("EVENT-9",)),
        _C("CHK-EVENT-004", "Requests are sent as application/json", ("EVENT-1",), level="SHOULD"),
        _C(
            "CHK-RETRY-001",
            "Attempts and gaps within the bands of the reading",
            ("RETRY-1", "RETRY-3"),
        ),
        _C(
            "CHK-RETRY-002",
            "The reading or policy the schedule follows",
            ("RETRY-1",),
            level="INFO",
        ),
        _C("CHK-RETRY-003", "Retried after 5xx, timeouts and connection errors", ("RETRY-2",)),
        _C("CHK-RETRY-004", "No attempt after a 2xx", ("CODES-1",)),
        _C("CHK-RETRY-005", "No retry after an answer the reading does not retry", ("RETRY-2",)),
        _C("CHK-TIMEOUT-001", "No attempt waits longer than the 5 s timeout", ("TIMEOUT-2",)),
        _C("CHK-EXPIRY-001", "No attempt after the event expired", ("EXPIRY-1",)),
        _C("CHK-THROTTLE-001", "job.progress at most once per 10 s per job", ("THROTTLE-1",)),
        _C("CHK-THROTTLE-002", "No job.progress after the job's terminal event", ("THROTTLE-3",)),
        _C("CHK-ORDER-001", "Events of a job arrive in lifecycle order", ("EVENT-12",)),
    )
}
"""The offline cases; ``CHK-*`` ids, citing the guide's clauses as the suites do."""

MODEL_CASE: Final = CaseSpec(
    "CHK-MODEL-001",
    "Attempt times against the model under the same reading (--simulate)",
    ("RETRY-1", "RETRY-3"),
    level="INFO",
)
"""The case ``--simulate`` adds: see :mod:`whsim.conformance.model`."""

LIVE_EQUIVALENT: Final[dict[str, str]] = {
    "CHK-SIG-001": "SND-SIG-001",
    "CHK-RETRY-004": "SND-RETRY-004",
    "CHK-EVENT-003": "SND-EVENT-003",
    "CHK-THROTTLE-001": "SND-THROTTLE-001",
}
"""Offline case -> the live sender-suite case that judges the same behaviour."""

TIMEOUT_SLACK_S: Final = 1.0
"""An answered attempt longer than the timeout plus this shows the sender did not time out."""
EXPIRY_SLACK_MS: Final = 60_000
_EXAMPLES: Final = 8
_KEEP_EXCHANGES: Final = 3
_SWEEP_EVERY: Final = 20_000
MAX_WORKERS: Final = 64
"""Most processes ``check(workers=...)`` and ``whsim check --workers`` start."""
_LIFECYCLE: Final = {
    "job.created": 0,
    "job.started": 1,
    "job.progress": 2,
    "job.completed": 3,
    "job.failed": 3,
}


_TERMINAL: Final = ("job.completed", "job.failed")
_Tomb = tuple[int, str, int, int]
"""A graded job: its terminal event's first start, that event's type, the job's highest
lifecycle rank, the terminal event's own timestamp (ms)."""


Key = tuple[int, int, int, int]
"""Where in a one-process grade something happened: (attempt count, phase, a, b). Phase 0 is
the attempt itself; phase 1 closing the event whose first attempt was ``a`` in the sweep after
attempt ``count``; phase 2 grading the job that closing event (sweep ``a``, event ``b``) opened.
Endpoint shards graded apart merge their examples in this order (:mod:`whsim.conformance.shards`)."""


def _no_clock() -> Key:
    return (0, 0, 0, 0)


@dataclass
class _Tally:
    """What one case saw: how many things it checked, how many broke it, a few examples.

    ``attempts`` is the first attempt that held while nothing broke the case, then the first
    :data:`_KEEP_EXCHANGES` that broke it; a case's failures either all come with an attempt or
    none do. Each example and attempt keeps its :data:`Key`, so shards merge in one order.
    """

    checked: int = 0
    bad: int = 0
    unobserved: int = 0
    examples: list[str] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    example_at: list[Key] = field(default_factory=list)
    attempt_at: list[Key] = field(default_factory=list)
    clock: Callable[[], Key] = field(default=_no_clock, repr=False, compare=False)

    def ok(self, attempt: Attempt | None = None) -> None:
        self.checked += 1
        if attempt is not None and not self.attempts:
            self.attempts.append(attempt)
            self.attempt_at.append(self.clock())

    def fail(self, why: str, attempt: Attempt | None = None) -> None:
        self.checked += 1
        self.bad += 1
        self.note(why)
        if attempt is not None:
            if self.bad == 1:
                self.attempts = []
                self.attempt_at = []
            if len(self.attempts) < _KEEP_EXCHANGES:
                self.attempts.append(attempt)
                self.attempt_at.append(self.clock())

    def note(self, why: str) -> None:
        """An example that is not a violation (CHK-RETRY-001's non-strict gaps), or one that is."""
        if len(self.examples) < _EXAMPLES:
            self.examples.append(why)
            self.example_at.append(self.clock())

    def __getstate__(self) -> dict[str, Any]:  # the clock is the grader's, not sent along
        state = dict(self.__dict__)
        state.pop("clock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.clock = _no_clock


@dataclass(slots=True)
class _Event:
    endpoint: str
    key: str
    event_id: str | None
    type: str | None
    job: str | None
    ts_ms: int | None
    body_hash: int
    seq: int
    """The count of its first attempt: events close in this order (``open`` keeps it)."""
    tries: list[Attempt] = field(default_factory=list)
    signed: tuple[bytes, str | None, str] | None = None
    """(body, signature header, verdict) of the last attempt checked: a retry of the same bytes
    under the same header has the same verdict, so the HMAC is computed once per body."""


@dataclass
class _Endpoint:
    url: str
    attempts: int = 0
    verifications: int = 0
    events: int = 0
    sig: Counter[str] = field(default_factory=Counter)
    example: list[Attempt] = field(default_factory=list)  # the retried event with most attempts
    fingerprints: dict[int, tuple[str, int]] = field(default_factory=dict)
    first: int = 0
    """The count of its first attempt: the report lists endpoints in this order."""


@contextlib.contextmanager
def without_cycle_collector() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a trace streams through the grader.

    Grading allocates millions of small acyclic objects (parsed lines, attempts) while tens of
    thousands stay alive (the open retry window); each automatic collection walks all of them,
    which was a third of the time on a large trace. Nothing here makes reference cycles, so
    reference counting frees everything as before; the collector is on again afterwards.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def load_secrets(path: str | Path) -> dict[str, list[str]] | list[str]:
    """``--secrets FILE``: a JSON object ``{url or url prefix: secret}``, a JSON list, or lines."""
    file = Path(path)
    if not file.is_file():
        raise TraceError(f"no such file: {file}", where="--secrets")
    text = file.read_text(encoding="utf-8")
    try:
        doc = json.loads(text)
    except ValueError:
        doc = [line.strip() for line in text.splitlines() if line.strip()]
    if isinstance(doc, dict) and all(isinstance(v, str) for v in doc.values()):
        return {str(k): [v] for k, v in doc.items()}
    if isinstance(doc, list) and all(isinstance(v, str) for v in doc):
        return list(doc)
    raise TraceError(
        "expected {url: secret}, a list of secrets, or one secret per line", where="--secrets"
    )


def _secrets_for(url: str, secrets: Mapping[str, list[str]] | Sequence[str]) -> list[str]:
    if isinstance(secrets, Mapping):
        hits = [k for k in secrets if url == k or url.startswith(k)]
        return secrets[max(hits, key=len)] if hits else []
    return list(secrets)


def _reserialized(doc: object) -> dict[str, bytes]:
    return {
        "Python json.dumps defaults": json.dumps(doc).encode(),
        "compact": json.dumps(doc, separators=(",", ":")).encode(),
        "sorted keys": json.dumps(doc, sort_keys=True).encode(),
        "compact, sorted keys": json.dumps(doc, separators=(",", ":"), sort_keys=True).encode(),
    }


def _signature(
    a: Attempt, doc: object, secrets: Sequence[str], prefixed: bool, header: str | None
) -> str:
    """``ok`` or why the signature ``header`` is not the guide's (missing, case, prefix...)."""
    if header is None:
        return "missing"
    rights = [sign(a.body, s) for s in secrets]
    for right in rights:
        if header == right or (prefixed and header == "sha256=" + right):
            return "ok"
    bare = header.strip().removeprefix("sha256=").strip()
    for right in rights:
        if bare == right:
            return "prefix"
        if bare.lower() == right:
            return "uppercase"
    if doc is not None:
        for form, data in _reserialized(doc).items():
            if data != a.body and any(bare.lower() == sign(data, s) for s in secrets):
                return f"reserialized: {form}"
    return "mismatch"


_SIG_WHY: Final = {
    "missing": f"no {SIGNATURE_HEADER} header",
    "prefix": "the right digest written differently (a prefix or spaces); the guide's "
    "receiver compares hexdigest() with the header exactly",
    "uppercase": "the right digest in uppercase hex; the guide's receiver compares "
    "hexdigest() (lowercase) exactly",
    "mismatch": "not the HMAC-SHA256 of the body under the given secret",
}
_SIG_LOWER: Final = SIGNATURE_HEADER.lower()


class Grader:
    """Streams attempts in and grades them; :meth:`finish` returns the case results."""

    def __init__(
        self,
        *,
        readings: Readings,
        secrets: Mapping[str, list[str]] | Sequence[str] | None,
        time_scale: float = 1.0,
        timing: str = "default",
        simulate: bool = False,
    ) -> None:
        self.readings = readings
        self.policy: RetryPolicy = readings.retry_policy()
        self.secrets = secrets
        self.scale = time_scale
        self.prof: Profile = profile(timing)
        self.prefixed = readings["SIG-1"] == "sha256-prefix"
        self.tally = {cid: _Tally(clock=self._key) for cid in CASES}
        self._at: Key | None = None  # while closing events or grading jobs: see Key
        self.job_at: dict[tuple[str, str], tuple[int, int]] = {}
        self.auto_sweep = True
        """Sweep every :data:`_SWEEP_EVERY` attempts; off in a shard, whose parent says when."""
        self._t_ctype = self.tally["CHK-EVENT-004"]
        self._t_sig = self.tally["CHK-SIG-001"]
        self._secrets: dict[str, list[str]] = {}
        self._t_jobs = tuple(
            self.tally[c] for c in ("CHK-THROTTLE-001", "CHK-THROTTLE-002", "CHK-ORDER-001")
        )
        self.done_jobs: dict[int, _Tomb] = {}
        self._quick_ns = int((self.policy.timeout_ms / 1000 - TIMEOUT_SLACK_S) * 1e9) - 1
        self._t_success = self.tally["CHK-RETRY-004"]
        self._t_rejected = self.tally["CHK-RETRY-005"]
        self.endpoints: dict[str, _Endpoint] = {}
        self.open: dict[tuple[str, str], _Event] = {}
        self.jobs: dict[tuple[str, str], list[tuple[int, str, int]]] = {}
        self.fits: dict[str, list[int]] = {}
        """Per candidate: retried events within its bands, summed deviation in picoseconds
        (integers: shards add up to the same sum in any order)."""
        self.fit_events = 0
        self.count = 0
        self.end_ns = 0
        self.max_start = 0
        # Built once: a million-attempt trace closes as many events, and each retried one is
        # fitted against every candidate (building policies and bands per event was the hot spot).
        self.candidates: tuple[RetryPolicy, ...] = tuple(
            RetryPolicy.named(c, codes=self.policy.codes)
            for c in (*reading_names("RETRY-1"), *VENDOR_POLICIES)
        )
        self._band_cache: dict[tuple[int, int], tuple[Band, ...]] = {}
        self._fit_plan: tuple[
            tuple[RetryPolicy, bool, int, bool, dict[int, tuple[tuple[float, float, float], ...]]],
            ...,
        ] = tuple(
            (pol, pol.backoff_from == "from-send", len(pol.delays_ms), pol.jitter == "none", {})
            for pol in self.candidates
        )
        window = self.policy.window_ms() + self.policy.max_attempts * self.policy.timeout_ms
        self.horizon_ns = int(2 * window / time_scale * 1e6) + 60_000_000_000
        self.expiry_ms = self.policy.expiry_ms / time_scale
        self.model: ModelCheck | None = (
            ModelCheck(self.policy, time_scale, self.prof) if simulate else None
        )

    def _key(self) -> Key:
        return self._at or (self.count, 0, 0, 0)

    # -- per attempt -------------------------------------------------------------------------

    def add(self, a: Attempt) -> None:
        self.count += 1
        if a.end_ns > self.end_ns:
            self.end_ns = a.end_ns
        if a.start_ns > self.max_start:
            self.max_start = a.start_ns
        ep = self.endpoints.get(a.url)
        if ep is None:
            ep = self.endpoints[a.url] = _Endpoint(a.url, first=self.count)
        ep.attempts += 1
        doc = a.doc if a.doc is not UNPARSED else parse_body(a.body)
        if isinstance(doc, dict) and doc.get("type") == VERIFY_TYPE:
            ep.verifications += 1
            if self.count % _SWEEP_EVERY == 0 and self.auto_sweep:
                self._sweep()
            return
        ctype = signature = None
        for k, v in a.headers:  # one pass; the first of a repeated header counts, as header()
            lowered = k.lower()
            if lowered == "content-type":
                if ctype is None:
                    ctype = v
            elif lowered == _SIG_LOWER and signature is None:
                signature = v
        if ctype == "application/json":  # the common case of _content_type, inline
            self._t_ctype.ok(a)
        else:
            self._content_type(a, ctype)
        if a.error is not None or a.end_ns - a.start_ns > self._quick_ns:
            self._timeout(a)  # an answer well inside the timeout shows nothing about it
        key = doc.get("id") if isinstance(doc, dict) else None
        key = key if isinstance(key, str) else a.event_id
        key = key or "body:" + hashlib.sha256(a.body).hexdigest()[:16]
        ev = self.open.get((a.url, key))
        body_hash = hash(a.body)
        if ev is None:
            ev = self._new_event(a, ep, key, doc, body_hash)
        elif body_hash != ev.body_hash:
            self._schema(a, doc, ep)
        self._sign(a, ep, doc, signature, ev)
        ev.tries.append(a)
        self._expiry(a, ev)
        if self.count % _SWEEP_EVERY == 0 and self.auto_sweep:
            self._sweep()

    def _new_event(
        self, a: Attempt, ep: _Endpoint, key: str, doc: object, body_hash: int
    ) -> _Event:
        ep.events += 1
        self._schema(a, doc, ep)
        kind = job = None
        ts = None
        if isinstance(doc, dict):
            kind = doc.get("type") if isinstance(doc.get("type"), str) else None
            data = doc.get("data")
            if isinstance(data, dict) and isinstance(data.get("job_id"), str):
                job = data["job_id"]
            try:
                ts = parse_timestamp(doc.get("timestamp"))  # type: ignore[arg-type]
            except EventDataError:
                ts = None
        event_id = doc.get("id") if isinstance(doc, dict) else None
        event_id = event_id if isinstance(event_id, str) else None
        ev = _Event(a.url, key, event_id, kind, job, ts, body_hash, self.count)
        self.open[(a.url, key)] = ev
        self._identity(a, ep, ev, doc)
        return ev

    def _content_type(self, a: Attempt, header: str | None) -> None:
        ctype = (header or "").split(";")[0].strip().lower()
        t = self._t_ctype
        if ctype == "application/json":
            t.ok(a)
        else:
            t.fail(f"{a.url} attempt at {a.index}: Content-Type {ctype or '(none)'!r}", a)

    def _sign(self, a: Attempt, ep: _Endpoint, doc: object, header: str | None, ev: _Event) -> None:
        if self.secrets is None:
            return
        secrets = self._secrets.get(a.url)
        if secrets is None:
            secrets = self._secrets[a.url] = _secrets_for(a.url, self.secrets)
        t = self._t_sig
        if not secrets:
            t.unobserved += 1
            return
        memo = ev.signed
        if memo is not None and memo[1] == header and memo[0] == a.body:
            why = memo[2]
        else:
            why = _signature(a, doc, secrets, self.prefixed, header)
            ev.signed = (a.body, header, why)
        ep.sig[why.split(":")[0]] += 1
        if why == "ok":
            t.ok(a)
        else:
            text = _SIG_WHY.get(why, f"signed over a re-serialized body ({why.split(': ')[-1]})")
            t.fail(f"{a.url} ({a.index}): {text}", a)

    def _schema(self, a: Attempt, doc: object, ep: _Endpoint) -> None:
        env, data, ident = (
            self.tally[c] for c in ("CHK-EVENT-001", "CHK-EVENT-002", "CHK-EVENT-003")
        )
        if not isinstance(doc, dict):
            env.fail(f"{a.url} ({a.index}): the body is not a JSON object", a)
            return
        probe = doc if "id" in doc else {**doc, "id": "absent"}
        try:
            check_document(probe, allow_unknown_type=doc.get("type") == "webhook.test")
        except EventDataError as exc:
            where = exc.field or ""
            target = data if where.startswith("data.") else env
            target.fail(f"{a.url} ({a.index}): {exc}", a)
            return
        env.ok(a)
        data.ok(a)
        if "id" not in doc and self.readings["EVENT-9"] == "envelope-id":
            ident.fail(f"{a.url} ({a.index}): the event has no id (reading envelope-id)", a)

    def _identity(self, a: Attempt, ep: _Endpoint, ev: _Event, doc: object) -> None:
        """Same content under a new id is a retry that changed its id (EVENT-9)."""
        if not isinstance(doc, dict) or ev.event_id is None:
            return
        # The content without the id (top-level keys in any order; a sender serializes its
        # nested data the same way each time). A process-local hash: compared in this run only.
        fp = hash(repr(sorted((k, v) for k, v in doc.items() if k != "id")))
        seen = ep.fingerprints.get(fp)
        if seen is not None and seen[0] != ev.event_id:
            self.tally["CHK-EVENT-003"].fail(
                f"{a.url}: event {ev.event_id} repeats the content of {seen[0]} under a new id "
                "(a retry must keep the event id)",
                a,
            )
        else:
            ep.fingerprints[fp] = (ev.event_id, a.start_ns)
            if "id" in doc:
                self.tally["CHK-EVENT-003"].ok(a)

    def _timeout(self, a: Attempt) -> None:
        t = self.tally["CHK-TIMEOUT-001"]
        took = (a.end_ns - a.start_ns) / 1e9
        limit = self.policy.timeout_ms / 1000
        if a.status is not None and took > limit + TIMEOUT_SLACK_S:
            t.fail(f"{a.url} ({a.index}): waited {took:.1f} s for an answer ({a.status})", a)
        elif (a.status is not None and took > limit - TIMEOUT_SLACK_S) or a.error == "timeout":
            t.ok(a)  # only a slow answer shows whether the sender times out

    def _expiry(self, a: Attempt, ev: _Event) -> None:
        t = self.tally["CHK-EXPIRY-001"]
        if self.policy.expiry_from == "from-first-attempt":
            age_ms = (a.start_ns - ev.tries[0].start_ns) / 1e6
        elif a.wall_ms is not None and ev.ts_ms is not None:
            age_ms = a.wall_ms - ev.ts_ms
        else:
            return
        if age_ms > self.expiry_ms + EXPIRY_SLACK_MS / self.scale:
            t.fail(f"{a.url} ({a.index}): attempt when the event was {age_ms / 3.6e6:.2f} h old", a)
        else:
            t.ok()

    # -- per event ---------------------------------------------------------------------------

    def _sweep(self) -> None:
        cut = self.max_start - self.horizon_ns
        done = [k for k, ev in self.open.items() if ev.tries[-1].end_ns < cut]
        tick = self.count
        for k in done:
            ev = self.open.pop(k)
            self._at = (tick, 1, ev.seq, 0)
            self._close(ev)
        self._retire_jobs(cut)
        self._at = None
        for ep in self.endpoints.values():
            if len(ep.fingerprints) > 1000:
                ep.fingerprints = {f: v for f, v in ep.fingerprints.items() if v[1] >= cut}

    def _bands(self, policy: RetryPolicy, n: int) -> tuple[Band, ...]:
        key = (id(policy), n)
        cached = self._band_cache.get(key)
        if cached is None:
            cached = self._band_cache[key] = self._make_bands(policy, n)
        return cached

    def _make_bands(self, policy: RetryPolicy, n: int) -> tuple[Band, ...]:
        out = []
        for d in policy.delays_ms[:n]:
            kind, r = policy.jitter, policy.jitter_ratio
            lo, hi = {
                "none": (d, d),
                "full": (0, d),
                "equal": (d / 2, d),
                "proportional": (d * (1 - r), d * (1 + r)),
                "decorrelated": (policy.delays_ms[0], max(policy.delays_ms)),
            }[kind]
            low = self.prof.band(lo / 1000 / self.scale).low
            high = self.prof.band(hi / 1000 / self.scale).high
            out.append(Band(d / 1000 / self.scale, low, high))
        return tuple(out)

    def _schedule(self, gaps: Sequence[float], policy: RetryPolicy, complete: bool) -> GapGrade:
        """The gaps of one event against ``policy``: all of them if the trace saw its end."""
        n = len(policy.delays_ms) if complete else min(len(gaps), len(policy.delays_ms))
        if complete and len(gaps) > n:
            n = len(policy.delays_ms)
        bands = self._bands(policy, n)
        if policy.jitter == "none":
            return grade_gaps(gaps, [b.expected for b in bands], self.prof)
        # jittered: each gap against its own widened band, then the count
        grades = tuple(b.grade(g) for b, g in zip(bands, gaps, strict=False))
        if Outcome.FAIL in grades or (len(gaps) != len(bands) and complete):
            return GapGrade(Outcome.FAIL, bands, grades, "a gap or the count is off")
        return GapGrade(Outcome.PASS, bands, grades, "within the jittered bands")

    def _gaps(self, tries: Sequence[Attempt], policy: RetryPolicy) -> list[float]:
        if policy.backoff_from == "from-send":
            return [(b.start_ns - a.start_ns) / 1e9 for a, b in itertools.pairwise(tries)]
        return [
            (b.start_ns - min(a.end_ns, b.start_ns)) / 1e9 for a, b in itertools.pairwise(tries)
        ]

    def _close(self, ev: _Event) -> None:
        if ev.job is not None and (ev.type == "job.progress" or ev.type in _LIFECYCLE):
            job_key = (ev.endpoint, ev.job)
            rows = self.jobs.get(job_key)
            if rows is None:
                rows = self.jobs[job_key] = []
                at = self._at or (0, 0, 0, 0)
                self.job_at[job_key] = (at[0], at[2])
            rows.append((min(a.start_ns for a in ev.tries), ev.type, ev.ts_ms or 0))
        if len(ev.tries) == 1:  # most events: one attempt, and nothing to schedule
            only = ev.tries[0]
            verdict = self.policy.classify(only.status, only.error)
            if verdict is Verdict.SUCCESS:
                self._t_success.ok(only)
                return
            if verdict is Verdict.REJECTED:
                self._t_rejected.ok(only)
                return
        tries = sorted(ev.tries, key=lambda a: a.start_ns)
        if self.model is not None:
            self.model.add(ev.endpoint, ev.event_id or ev.key, tries, self.end_ns)
        verdicts = [self.policy.classify(a.status, a.error) for a in tries]
        name = ev.event_id or ev.key
        where = f"{ev.endpoint} event {name}"
        end = next((i for i, v in enumerate(verdicts) if v is not Verdict.RETRY), len(tries) - 1)
        chain = tries[: end + 1]
        after = tries[end + 1 :]
        final = verdicts[end]
        if final is Verdict.SUCCESS:
            t = self.tally["CHK-RETRY-004"]
            if after:
                t.fail(f"{where}: {len(after)} attempt(s) after a {chain[-1].status}", after[0])
            else:
                t.ok(chain[-1])
        if final is Verdict.REJECTED:
            t = self.tally["CHK-RETRY-005"]
            if after:
                t.fail(
                    f"{where}: retried after {chain[-1].answer} (RETRY-2 reading "
                    f"{self.policy.codes} does not retry it)",
                    after[0],
                )
            else:
                t.ok(chain[-1])
        if Verdict.RETRY not in verdicts[: end + 1]:
            return
        # The event failed at least once: it must be retried on the reading's schedule.
        ep = self.endpoints[ev.endpoint]
        if len(chain) > len(ep.example):
            ep.example = list(chain)
        gaps = self._gaps(chain, self.policy)
        last_failed = final is Verdict.RETRY
        max_attempts = self.policy.max_attempts
        retry = self.tally["CHK-RETRY-003"]
        complete = False
        if last_failed and len(chain) < max_attempts:
            nxt = self._bands(self.policy, len(chain))[-1]
            due = chain[-1].end_ns + int(2 * nxt.high * 1e9)
            if self.end_ns >= due:
                complete = True
                retry.fail(
                    f"{where}: {len(chain)} attempt(s), the last answered {chain[-1].answer}, "
                    f"and no retry of this event id within {2 * nxt.high:.1f} s",
                    chain[-1],
                )
            else:
                retry.unobserved += 1
        else:
            complete = last_failed
            retry.ok(chain[-1])
        grade = self._schedule(gaps, self.policy, complete)
        t = self.tally["CHK-RETRY-001"]
        if grade.outcome is Outcome.FAIL:
            t.fail(f"{where}: {grade.why}", chain[min(len(chain) - 1, 1)])
        elif grade.outcome is Outcome.NON_STRICT:
            t.ok(chain[-1])
            t.note(f"{where}: {grade.why}")
        else:
            t.ok(chain[-1])
        if len(chain) >= 2:
            self.fit_events += 1
            self._fit(chain, complete)

    def _fit(self, chain: Sequence[Attempt], complete: bool) -> None:
        """Add one retried event's fit to every candidate reading and policy.

        The verdict of :meth:`_schedule` without its words: a million-attempt trace fits tens
        of thousands of events against every candidate, and only "failed or not" and the
        distance to the expected gaps are kept.
        """
        pairs = list(itertools.pairwise(chain))
        send = [(b.start_ns - a.start_ns) / 1e9 for a, b in pairs]
        failure = [(b.start_ns - min(a.end_ns, b.start_ns)) / 1e9 for a, b in pairs]
        k = len(pairs)
        fits = self.fits
        for pol, from_send, size, plain, limits_of in self._fit_plan:
            gaps = send if from_send else failure
            n = size if complete else min(k, size)
            limits = limits_of.get(n)
            if limits is None:  # (low, twice high, expected) of each of its first n bands
                limits = limits_of[n] = tuple(
                    (b.low, 2 * b.high, b.expected) for b in self._bands(pol, n)
                )
            # a count off fails a plain schedule, and a jittered one when the trace saw its end
            failed = k != n and (plain or complete)
            err = 0.0
            for o, (low, high2, expected) in zip(gaps, limits, strict=False):
                if o < low or o > high2:
                    failed = True
                err += abs(o - expected)
            row = fits.get(pol.name)
            if row is None:
                row = fits[pol.name] = [0, 0]
            row[0] += not failed
            row[1] += round(err * 1e12)

    # -- the end -----------------------------------------------------------------------------

    def _jobs(self) -> None:
        tick = self.count
        for (url, job), rows in self.jobs.items():
            self._at = (tick, 2, *self.job_at[url, job])
            self._grade_job(url, job, rows, self.done_jobs.pop(hash((url, job)), None))
        self.jobs.clear()
        self.job_at.clear()
        self._at = None

    def _retire_jobs(self, cut: int) -> None:
        """Grade and forget finished jobs whose newest event is well behind the stream.

        A job is finished once its terminal event is in; it is graded when its newest event
        started more than a horizon before ``cut`` (events still open started after that), and
        leaves a tombstone (terminal start, its type, highest lifecycle rank) so a later event
        of the same job is still graded against it (THROTTLE-3, EVENT-12). Tombstones go once
        the expiry has passed for their job: a delivery after that fails CHK-EXPIRY-001.
        """
        old = cut - self.horizon_ns
        cut_tick = self.count
        for key in [
            k
            for k, rows in self.jobs.items()
            if max(r[0] for r in rows) < old and any(r[1] in _TERMINAL for r in rows)
        ]:
            rows = self.jobs.pop(key)
            self._at = (cut_tick, 2, *self.job_at.pop(key))
            h = hash(key)
            tomb = self._grade_job(key[0], key[1], rows, self.done_jobs.pop(h, None))
            if tomb is not None:
                self.done_jobs[h] = tomb
        stale_before = old - int(self.expiry_ms * 1e6)
        stale = []
        for h, tomb in self.done_jobs.items():  # insertion order is roughly time order
            if tomb[0] >= stale_before:
                break
            stale.append(h)
        for h in stale:
            del self.done_jobs[h]

    def _grade_job(
        self, url: str, job: str, rows: list[tuple[int, str, int]], tomb: _Tomb | None
    ) -> _Tomb | None:
        window = self._bands_window()
        thr, after, order = self._t_jobs
        rows.sort()
        progress = [r for r in rows if r[1] == "job.progress"]
        for a, b in itertools.pairwise(progress):
            gap = (b[0] - a[0]) / 1e9
            if gap < window.low:
                thr.fail(
                    f"{url} job {job}: two job.progress {gap:.3f} s apart (band low {window.low:.2f} s)"
                )
            else:
                thr.ok()
        terminal = [r for r in rows if r[1] in _TERMINAL]
        term = tomb[:2] + tomb[3:] if tomb is not None else (terminal[0] if terminal else None)
        if term is not None and progress:
            # Emitted after, by the events' own timestamps, as the live SND-THROTTLE case
            # judges it: deliveries may overtake each other (EVENT-12 unordered), so a
            # progress emitted first can arrive after the terminal event (CHK-ORDER-001).
            end = term[2]
            late = [r for r in progress if end and r[2] > end]
            if late:
                after.fail(
                    f"{url} job {job}: {len(late)} job.progress emitted after "
                    f"{term[1]} (their timestamps)"
                )
            else:
                after.ok()
        ranks = [_LIFECYCLE[r[1]] for r in rows]
        if tomb is not None:
            ranks.insert(0, tomb[2])
        if ranks == sorted(ranks):
            order.ok()
        else:
            names = ", ".join(r[1] for r in rows)
            order.fail(
                f"{url} job {job}: arrived as {names}" + (" (after its end)" if tomb else "")
            )
        if term is None:
            return None
        return (term[0], term[1], max(ranks), term[2])

    def _bands_window(self) -> Band:
        return self.prof.band(WINDOW_MS / 1000 / self.scale)

    def drain(self) -> None:
        """Grade every event still open, then every job: the end of the trace. The examples
        this adds are ordered after every attempt (their count is one past the last)."""
        self.count += 1
        for ev in list(self.open.values()):
            self._at = (self.count, 1, ev.seq, 0)
            self._close(ev)
        self.open.clear()
        self._at = None
        self._jobs()
        self.count -= 1

    def finish(self) -> list[CaseResult]:
        self.drain()
        results = [self._result(cid) for cid in CASES]
        if self.model is not None:
            results.append(self._model_result(self.model))
        return results

    def _model_result(self, model: ModelCheck) -> CaseResult:
        details: dict[str, Any] = {"model": model.summary()}
        if model.largest is None:
            return CaseResult(MODEL_CASE, Outcome.UNTESTABLE, model.headline(), details=details)
        return CaseResult(MODEL_CASE, Outcome.INFO, model.headline(), details=details)

    def best_fit(self) -> tuple[str | None, list[dict[str, Any]]]:
        rows: list[dict[str, Any]] = [
            {"name": k, "events_within_bands": v[0], "deviation_s": round(v[1] / 1e12, 3)}
            for k, v in self.fits.items()
        ]
        rows.sort(key=lambda r: (-r["events_within_bands"], r["deviation_s"]))
        best = rows[0]["name"] if rows and rows[0]["events_within_bands"] else None
        return best, rows

    def _result(self, cid: str) -> CaseResult:
        spec = CASES[cid]
        t = self.tally[cid]
        details: dict[str, Any] = {"checked": t.checked, "violations": t.bad}
        if t.unobserved:
            details["unobserved"] = t.unobserved
        if t.examples:
            details["examples"] = t.examples
        exchanges = [_exchange(a) for a in t.attempts]
        if cid == "CHK-RETRY-002":
            best, rows = self.best_fit()
            details["fits"] = rows[:12]
            chosen = self.readings.policy or self.readings["RETRY-1"]
            if best is None:
                return CaseResult(
                    spec,
                    Outcome.INFO if self.fit_events else Outcome.UNTESTABLE,
                    "no retried event in the trace"
                    if not self.fit_events
                    else "no named reading or policy fits every retried event",
                    details=details,
                )
            n = rows[0]["events_within_bands"]
            msg = f"best fit: {best} ({n} of {self.fit_events} retried event(s) within its bands)"
            if best != chosen:
                msg += f"; graded under {chosen}"
            return CaseResult(spec, Outcome.INFO, msg, details=details)
        if cid == "CHK-RETRY-001":
            details["figures"] = self._figures()
        if cid == "CHK-SIG-001" and self.secrets is None:
            return CaseResult(
                spec, Outcome.UNTESTABLE, "no secret given (--secret or --secrets)", details=details
            )
        if t.bad:
            outcome = Outcome.FAIL if spec.level == "MUST" else Outcome.NON_STRICT
            if spec.level == "INFO":
                outcome = Outcome.INFO
            msg = f"{t.bad} of {t.checked} broke it; first: {t.examples[0] if t.examples else ''}"
            return CaseResult(spec, outcome, msg, exchanges=exchanges, details=details, primary=0)
        if not t.checked:
            return CaseResult(
                spec,
                Outcome.UNTESTABLE,
                _NOTHING.get(cid, "nothing in the trace shows it"),
                details=details,
            )
        msg = f"all {t.checked} checked hold"
        if t.unobserved:
            msg += f" ({t.unobserved} more could not be judged: the trace ends too early)"
        if cid == "CHK-RETRY-001" and t.examples:
            return CaseResult(
                spec, Outcome.NON_STRICT, t.examples[0], exchanges=exchanges, details=details
            )
        return CaseResult(
            spec,
            Outcome.INFO if spec.level == "INFO" else Outcome.PASS,
            msg,
            exchanges=exchanges,
            details=details,
        )

    def _figures(self) -> list[str]:
        out = []
        for ep in list(self.endpoints.values())[:8]:
            tries = ep.example
            if not tries:
                continue
            t0 = tries[0].start_ns
            marks = [
                Mark((a.start_ns - t0) / 1e9, a.answer, end=(a.end_ns - t0) / 1e9) for a in tries
            ]
            windows = []
            bands = self._bands(self.policy, len(self.policy.delays_ms))
            anchor = marks[0].end or 0.0
            for k, band in enumerate(bands):
                windows.append(
                    Window(
                        anchor + band.low,
                        anchor + band.high,
                        anchor + 2 * band.high,
                        f"attempt {k + 2}",
                    )
                )
                anchor = (
                    (marks[k + 1].end or marks[k + 1].t)
                    if k + 1 < len(marks)
                    else anchor + band.expected
                )
            out.append(
                retry_timeline(f"{ep.url}: the event with the most attempts", marks, windows)
            )
        return out


_NOTHING: Final = {
    "CHK-RETRY-001": "no event failed, so no retry schedule is in the trace",
    "CHK-RETRY-003": "no attempt failed in a way that is retried",
    "CHK-RETRY-004": "no attempt got a 2xx",
    "CHK-RETRY-005": "no attempt got an answer that is not retried",
    "CHK-TIMEOUT-001": "no answer took near the 5 s timeout, so the timeout is not shown",
    "CHK-EXPIRY-001": "no wall-clock start times (JSONL without 'started') to age events by",
    "CHK-THROTTLE-001": "no job had two job.progress events",
    "CHK-THROTTLE-002": "no job's terminal event is in the trace",
    "CHK-ORDER-001": "no job event in the trace",
}


def _exchange(a: Attempt) -> Exchange:
    headers = tuple(
        (k, v) for k, v in a.headers if k.lower() not in ("host", "content-length", "connection")
    )
    return Exchange(
        Request(a.method, a.url, headers, a.body),
        Response(a.status, error=a.error or "", elapsed_s=(a.end_ns - a.start_ns) / 1e9),
        f"recorded attempt {a.index}",
    )


def grade(
    attempts: Iterable[Attempt],
    *,
    readings: Readings | None = None,
    secrets: Mapping[str, list[str]] | Sequence[str] | None = None,
    time_scale: float = 1.0,
    timing: str = "default",
) -> tuple[list[CaseResult], Grader]:
    """Grade a stream of attempts; the case results and the grader (for its tallies)."""
    g = Grader(
        readings=readings or Readings(), secrets=secrets, time_scale=time_scale, timing=timing
    )
    with without_cycle_collector():
        for a in attempts:
            g.add(a)
    return g.finish(), g


def diagnose(g: Grader, results: Sequence[CaseResult]) -> list[dict[str, Any]]:
    """The likely root causes, most telling first (same shape as the suites' ``diagnosis``)."""
    out: list[dict[str, Any]] = []
    by = {r.spec.id: r for r in results}
    sig = Counter[str]()
    for ep in g.endpoints.values():
        sig.update(ep.sig)
    total = sum(sig.values())
    if total and not sig["ok"]:
        kind, n = max(((k, v) for k, v in sig.items()), key=lambda kv: kv[1])
        codes = {
            "mismatch": ("wrong-secret", "every signature is wrong: most likely another secret"),
            "reserialized": (
                "body-reserialized",
                "the sender signs a re-serialized body, not the bytes it sends",
            ),
            "uppercase": ("header-format", "the signature is uppercase hex"),
            "prefix": ("header-format", "the signature carries a prefix or spaces"),
            "missing": ("no-signature", f"no delivery carries {SIGNATURE_HEADER}"),
        }
        code, summary = codes.get(kind, ("wrong-secret", kind))
        out.append(
            {
                "code": code,
                "summary": summary,
                "evidence": [f"{n} of {total} attempt(s): {kind}"],
                "hint": "check the secret you passed and that the sender signs the exact bytes it sends",
                "cases": ["CHK-SIG-001"],
            }
        )
    ident = by["CHK-EVENT-003"]
    if ident.outcome in (Outcome.FAIL, Outcome.NON_STRICT) and "new id" in ident.message:
        out.append(
            {
                "code": "new-id-per-retry",
                "summary": "retries carry a new event id, so receivers cannot deduplicate them",
                "evidence": ident.details.get("examples", [])[:2],
                "hint": "keep the event id on every attempt",
                "cases": ["CHK-EVENT-003", "CHK-RETRY-003"],
            }
        )
    retry = by["CHK-RETRY-003"]
    if retry.outcome is Outcome.FAIL and not any(o["code"] == "new-id-per-retry" for o in out):
        out.append(
            {
                "code": "no-retry",
                "summary": "failed attempts are not retried",
                "evidence": retry.details.get("examples", [])[:2],
                "hint": "retry after 5xx, timeouts and connection errors",
                "cases": ["CHK-RETRY-003"],
            }
        )
    best, _ = g.best_fit()
    chosen = g.readings.policy or g.readings["RETRY-1"]
    if best is not None and best != chosen and by["CHK-RETRY-001"].outcome is not Outcome.PASS:
        out.append(
            {
                "code": "other-reading",
                "summary": f"the schedule follows {best}, not {chosen}",
                "evidence": [by["CHK-RETRY-002"].message],
                "hint": f"grade with --reading RETRY-1={best} or --policy {best}"
                if best in VENDOR_POLICIES or best in reading_names("RETRY-1")
                else "",
                "cases": ["CHK-RETRY-001", "CHK-RETRY-002"],
            }
        )
    for cid, code, summary in (
        (
            "CHK-RETRY-004",
            "retry-after-success",
            "the sender retries events that were answered 2xx",
        ),
        ("CHK-TIMEOUT-001", "no-timeout", "the sender waits for answers past the 5 s timeout"),
    ):
        if by[cid].outcome is Outcome.FAIL:
            out.append(
                {
                    "code": code,
                    "summary": summary,
                    "evidence": by[cid].details.get("examples", [])[:2],
                    "hint": "",
                    "cases": [cid],
                }
            )
    if g.count == 0 or all(ep.attempts == ep.verifications for ep in g.endpoints.values()):
        out.insert(
            0,
            {
                "code": "empty-trace",
                "summary": "the trace holds no event delivery",
                "evidence": [f"{g.count} request(s)"],
                "hint": "record POSTs to the webhook endpoint",
                "cases": [],
            },
        )
    return out


@dataclass
class CheckResult:
    """What :func:`check` returns: the report (outcomes, diagnosis), its exit code, its files."""

    report: Report
    paths: dict[str, Path]
    model_check: ModelCheck | None = None
    """The comparison with the model itself (``simulate=True``), for :meth:`model_figure`."""

    def model_figure(self, endpoints: Sequence[str] | None = None, *, fig: Any = None) -> Any:
        """Predicted against observed attempt times per endpoint, a matplotlib ``Figure``
        (:meth:`whsim.conformance.model.ModelCheck.figure`, into ``fig`` when given); None
        without ``simulate=True``."""
        if self.model_check is None:
            return None
        return self.model_check.figure(endpoints, fig=fig)

    @property
    def exit_code(self) -> int:
        return self.report.exit_code

    @property
    def outcomes(self) -> dict[str, str]:
        return {r.spec.id: str(r.outcome) for r in self.report.cases}

    @property
    def diagnosis(self) -> list[dict[str, Any]]:
        return list(self.report.diagnosis)

    @property
    def model(self) -> dict[str, Any] | None:
        """The comparison with the model (``simulate=True``), as in ``report.json``; else None."""
        for r in self.report.cases:
            if r.spec.id == MODEL_CASE.id:
                found: dict[str, Any] = r.details["model"]
                return found
        return None

    def summary_line(self) -> str:
        """The diagnosis line that comes first in the terminal."""
        if self.report.diagnosis:
            d = self.report.diagnosis[0]
            return f"LIKELY CAUSE ({d['code']}): {d['summary']}"
        return "no root cause stands out" if self.exit_code else "no fault found in the trace"


def _readings(
    readings: Readings | Sequence[str] | Mapping[str, str] | None, policy: str | None
) -> Readings:
    if isinstance(readings, Readings):
        return readings if policy is None else Readings(readings.chosen, policy=policy)
    if isinstance(readings, Mapping):
        return Readings.of(readings, policy=policy)
    return Readings.parse(readings or (), policy=policy)


def _processes(path: Path, kind: str | None, workers: int | None) -> int:
    """How many processes grade the trace file at ``path`` (see :func:`check`)."""
    from whsim.conformance.shards import MIN_PARALLEL_BYTES
    from whsim.cores import usable_cores

    if workers == 1 or not path.is_file():
        return 1  # a missing file: read_trace names it
    if (kind or ("har" if path.suffix.lower() == ".har" else sniff_kind(path))) != "jsonl":
        return 1
    if workers is not None:
        return workers
    return usable_cores() if path.stat().st_size >= MIN_PARALLEL_BYTES else 1


def check(
    trace: str | Path | pd.DataFrame | Iterable[Attempt],
    *,
    secret: str | None = None,
    secrets: str | Path | Mapping[str, str] | Sequence[str] | None = None,
    readings: Readings | Sequence[str] | Mapping[str, str] | None = None,
    policy: str | None = None,
    time_scale: float | None = None,
    timing: str = "default",
    strict: bool = False,
    report_dir: str | Path | None = None,
    kind: str | None = None,
    simulate: bool = False,
    workers: int | None = None,
) -> CheckResult:
    """Grade a recorded trace (a HAR or JSONL file, a DataFrame, or attempts) against the guide.

    ``secret`` signs every endpoint; ``secrets`` is a file (see :func:`load_secrets`), a
    ``{url prefix: secret}`` mapping or a list tried on every endpoint. Without either the
    signature case is untestable. ``time_scale`` defaults to the trace's header line (1 when
    none). Reports go to ``report_dir`` when given. ``simulate`` replays every delivery's
    first attempt and recorded answers on the virtual clock under the same readings and adds
    case ``CHK-MODEL-001``: predicted against observed attempt times, the largest deviation
    named (:mod:`whsim.conformance.model`; :attr:`CheckResult.model`), and, in the HTML report,
    a figure per endpoint.

    ``workers`` grades a JSONL file in that many processes, one shard of endpoints each, with
    the verdicts of one process (:mod:`whsim.conformance.shards`); 1 grades here. By default a
    JSONL file of :data:`~whsim.conformance.shards.MIN_PARALLEL_BYTES` or more uses every usable
    core. HAR files, DataFrames, attempts and ``simulate`` are always graded in one process.
    """
    from whsim.conformance.report import build_report, write_reports
    from whsim.core.honoured import CHECK

    started = time.monotonic()
    chosen = CHECK.check(_readings(readings, policy))
    keys: Mapping[str, list[str]] | Sequence[str] | None = None
    if secret is not None and secrets is not None:
        raise TraceError("give --secret or --secrets, not both", where="options")
    if secret is not None:
        keys = [secret]
    elif isinstance(secrets, str | Path):
        keys = load_secrets(secrets)
    elif isinstance(secrets, Mapping):
        keys = {k: [v] for k, v in secrets.items()}
    elif secrets is not None:
        keys = list(secrets)
    meta: list[TraceMeta] = []
    label = "attempts"
    stream: Iterable[Attempt] = ()
    processes = 1
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS
    ):
        raise TraceError(
            f"must be a whole number from 1 to {MAX_WORKERS}, got {workers!r}", where="workers"
        )
    if isinstance(trace, str | Path):
        label = str(trace)
        processes = 1 if simulate else _processes(Path(trace), kind, workers)
        if processes == 1:
            stream = read_trace(trace, kind=kind, meta=meta)
    elif hasattr(trace, "to_dict") and hasattr(trace, "columns"):
        label = "DataFrame"
        stream = from_frame(trace)  # type: ignore[arg-type]
    else:
        stream = trace
    if processes > 1:
        from whsim.conformance.shards import grade_file

        g, scale = grade_file(
            trace,  # type: ignore[arg-type]
            workers=processes,
            readings=chosen,
            secrets=keys,
            time_scale=time_scale,
            timing=timing,
            meta=meta,
        )
    else:
        iterator = iter(stream)
        first = next(iterator, None)  # reads the header line, if any, before the scale is fixed
        scale = time_scale or (meta[0].time_scale if meta else 1.0)
        if not scale > 0:
            raise TraceError("the time scale must be positive", where="--time-scale")
        g = Grader(
            readings=chosen, secrets=keys, time_scale=scale, timing=timing, simulate=simulate
        )
        if first is not None:
            with without_cycle_collector():
                g.add(first)
                for a in iterator:
                    g.add(a)
    if meta and meta[0].end_ns is not None:
        g.end_ns = max(g.end_ns, meta[0].end_ns)
    results = g.finish()
    if g.model is not None and report_dir is not None:  # drawn only for a report
        svg = g.model.figure_svg()
        if svg:
            results[-1].details["figures"] = [svg]
    secret_list = [
        s for v in (keys.values() if isinstance(keys, Mapping) else [keys or []]) for s in v
    ]
    report = build_report(
        "sender",
        label,
        results,
        seed=0,
        strict=strict,
        duration_s=time.monotonic() - started,
        settings={
            "trace": label,
            "source": meta[0].source if meta else "",
            "attempts": g.count,
            "endpoints": len(g.endpoints),
            "events": sum(ep.events for ep in g.endpoints.values()),
            "readings": str(chosen),
            "time scale": f"{scale:g}",
            "timing profile": g.prof.describe(),
        },
        secrets=secret_list,
    )
    report.diagnosis = diagnose(g, results)
    paths = write_reports(report, Path(report_dir)) if report_dir is not None else {}
    return CheckResult(report, paths, g.model)
