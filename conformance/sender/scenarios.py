"""Scenarios: one webhook on its own kit path each, run in threads from the start of the session.

Every scenario a selected case needs starts at once (register, trigger, watch), so the timing
scenarios overlap and the suite takes little more than its longest one. A case then waits for
its scenario's :class:`Run` and grades what was observed. Attempts are attributed without doubt:
a path belongs to one webhook, and the attempts of a scenario are its deliveries of the event
type the scenario triggered.

How long a scenario watches: after each attempt it waits the upper band of the next gap under
the reading that makes that gap longest; when no reading has a next gap, the quiet window is the
upper band of the last gap (16 s, scaled). An attempt later than that counts as missing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from whsim.conformance.exchange import Exchange
from whsim.conformance.listener import (
    Arrival,
    Listener,
    Responder,
    always,
    drop_first,
    fail,
    hang,
    ok,
    redirect,
    wrong_challenge,
)
from whsim.core.spec.events import EVENT_TYPES, TEST_EVENT_TYPE

from .target import Registered, SenderTarget, TriggerError

if TYPE_CHECKING:
    from whsim.conformance.progress import Progress

__all__ = ["CASE_SCENARIOS", "HANG_S", "Run", "Scenarios", "expected_s", "job_of"]

HANG_S: Final = 10.0
"""How long the timeout scenario holds its first attempt (the guide's limit is 5 s)."""
FIRST_WAIT_S: Final = 8.0
MAX_ATTEMPTS: Final = 14

CASE_SCENARIOS: Final[dict[str, tuple[str, ...]]] = {
    "SND-VERIFY-001": ("ok",),
    "SND-VERIFY-002": ("wrong-challenge",),
    "SND-VERIFY-003": ("ok",),
    "SND-SIG-001": ("ok", "retry-500"),
    "SND-EVENT-001": ("ok",),
    "SND-EVENT-002": ("ok",),
    "SND-EVENT-003": ("retry-500",),
    "SND-EVENT-004": ("filter",),
    "SND-EVENT-005": ("ok",),
    "SND-RETRY-001": ("retry-500",),
    "SND-RETRY-002": ("retry-500",),
    "SND-RETRY-003": ("retry-500",),
    "SND-RETRY-004": ("ok",),
    "SND-RETRY-005": ("fail-2",),
    "SND-RETRY-006": ("timeout",),
    "SND-RETRY-007": ("refused",),
    "SND-RETRY-008": ("redirect",),
    "SND-RETRY-009": ("codes-400", "codes-401", "codes-404", "codes-410"),
    "SND-TIMEOUT-001": ("timeout",),
    "SND-THROTTLE-001": ("throttle",),
}
"""The scenarios each case grades."""


@dataclass
class Run:
    """One scenario while and after it runs. ``untestable``/``error`` say why it observed nothing."""

    name: str
    target: SenderTarget
    listener: Listener
    registered: Registered | None = None
    exchanges: list[Exchange] = field(default_factory=list)
    t_trigger_ns: int = 0
    t_done_ns: int = 0
    untestable: str | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def path(self) -> str:
        return self.registered.path if self.registered else ""

    def arrivals(self) -> list[Arrival]:
        return self.listener.arrivals(self.path) if self.registered else []

    def deliveries(self) -> list[Arrival]:
        return [a for a in self.arrivals() if not a.is_verification]

    def verifications(self) -> list[Arrival]:
        return [a for a in self.arrivals() if a.is_verification]

    def attempts(self) -> list[Arrival]:
        """Deliveries of the scenario's own event: the type of its first delivery.

        A scenario triggers one test event; other scenarios' triggers may deliver other types
        here (a sender that ignores subscriptions does), and they are not attempts of it.
        """
        got = self.deliveries()
        if not got:
            return []
        kind = next(
            (a.event_type for a in got if a.event_type == TEST_EVENT_TYPE), got[0].event_type
        )
        return [a for a in got if a.event_type == kind]


def _setup(run: Run, responder: Responder, events: list[str], *, send_test: bool = True) -> bool:
    target = run.target
    if target.can_deliver is not None:
        run.untestable = target.can_deliver
        return False
    reg = target.register(None, run.name, responder, events)
    run.registered = reg
    run.exchanges.append(reg.exchange)
    if reg.exchange.response.status is None:
        run.error = f"the registration got no answer: {reg.exchange.response.error}"
        return False
    if reg.webhook_id is None:
        run.untestable = (
            f"the sender refused the registration ({reg.exchange.response.status}); see SND-REG-001"
        )
        return False
    if not send_test:
        return True
    # A sender that verifies after answering may refuse a test event for a moment.
    deadline = time.monotonic() + 5
    while True:
        run.t_trigger_ns = time.monotonic_ns()
        ex = target.test_event(None, reg.webhook_id)
        run.exchanges.append(ex)
        status = ex.response.status
        if status is not None and 200 <= status < 300:
            return True
        if status != 409 or time.monotonic() > deadline:
            run.untestable = f"POST .../test answered {status}; see SND-EVENT-005"
            return False
        time.sleep(0.2)


def _follow(run: Run, *, first_wait: float = FIRST_WAIT_S) -> None:
    """Watch the scenario's attempts until none arrives within the next expected window."""
    target, listener = run.target, run.listener
    listener.wait(lambda got: bool(_attempts_of(run, got)), run.path, first_wait)
    while True:
        attempts = run.attempts()
        if not attempts or len(attempts) >= MAX_ATTEMPTS:
            return
        window = _window(target, len(attempts) - 1)
        left = attempts[-1].t_end_ns / 1e9 + window - time.monotonic()
        n = len(attempts)

        def more(got: list[Arrival], n: int = n) -> bool:
            return len(_attempts_of(run, got)) > n

        if left <= 0 or not listener.wait(more, run.path, left):
            return


def _window(target: SenderTarget, k: int) -> float:
    """How long :func:`_follow` waits after attempt ``k`` (0-based) for the next one."""
    gap = target.longest_gap(k) or target.longest_gap(len(target.gaps("immediate-plus-five")) - 1)
    return target.timing.band(gap).high


ATTEMPT_TIMEOUT_S: Final = 5.0
"""The guide's attempt timeout (wall time at any time scale)."""


def expected_s(name: str, target: SenderTarget) -> float:
    """How long scenario ``name`` should take against a sender that follows the kit's reading.

    The schedule the scenario watches plus the quiet window it waits after the last attempt
    (wall seconds, scaled as the sender advertises); shown live next to the elapsed time.
    """
    gaps = target.gaps()

    def window(k: int) -> float:
        return _window(target, k)

    first_two = sum(gaps[:2])
    table = {
        "ok": window(0) + 0.5,
        "retry-500": sum(gaps) + window(len(gaps)),
        "fail-2": first_two + window(2),
        "timeout": ATTEMPT_TIMEOUT_S + sum(gaps[:1]) + window(1),
        "refused": first_two,
        "wrong-challenge": 0.5 + target.timing.band(target.longest_gap(0)).high + 1,
        "filter": 2 + target.timing.band(target.longest_gap(0)).high,
        "throttle": 30 / target.time_scale + min(2.0, 10 / target.time_scale),
    }
    return table.get(name, window(0))  # redirect, codes-*: one attempt, then the quiet window


def _attempts_of(run: Run, arrivals: list[Arrival]) -> list[Arrival]:
    got = [a for a in arrivals if not a.is_verification]
    if not got:
        return []
    kind = next((a.event_type for a in got if a.event_type == TEST_EVENT_TYPE), got[0].event_type)
    return [a for a in got if a.event_type == kind]


def _trigger(run: Run, event_type: str, webhook_id: str, *, long: bool = False) -> str | None:
    try:
        return run.target.trigger.emit(event_type, webhook_id, long=long)
    except TriggerError as exc:
        run.error = str(exc)
        return None


# --- the scenarios --------------------------------------------------------------------------


def _ok(run: Run) -> None:
    if not _setup(run, ok(), list(EVENT_TYPES)):
        return
    trigger = run.target.trigger
    assert run.registered is not None and run.registered.webhook_id is not None
    if trigger.available:
        wanted = (
            ("proposal.created", "job.completed", "job.failed")
            if trigger.spec == "http"
            else EVENT_TYPES
        )
        for event_type in wanted:
            if _trigger(run, event_type, run.registered.webhook_id) is None and run.error:
                break
    _follow(run)
    if trigger.available and not run.error:
        need = {*EVENT_TYPES, TEST_EVENT_TYPE}
        run.listener.wait(
            lambda got: need <= {a.event_type for a in got},
            run.path,
            20 + 10 / run.target.time_scale,
        )
        time.sleep(0.5)


def _retry(responder: Responder) -> Callable[[Run], None]:
    def scenario(run: Run) -> None:
        if _setup(run, responder, ["job.failed"]):
            _follow(run)

    return scenario


def _timeout(run: Run) -> None:
    if _setup(run, hang(HANG_S), ["job.failed"]):
        _follow(run, first_wait=HANG_S + 5)


def _refused(run: Run) -> None:
    target = run.target
    if target.listener.public_url:
        run.untestable = (
            "with --public-url the kit cannot make the sender's connections fail on purpose"
        )
        return
    side = Listener(target.listener.host, 0).start()
    run.listener = side
    try:
        # After the refused window the first request is read and reset unanswered, so the
        # retry that counts is a later arrival of the same event id (a late first attempt
        # cannot pass for one).
        reg = target.register_on(side, run.name, drop_first(), ["job.failed"])
        run.registered = reg
        run.exchanges.append(reg.exchange)
        if reg.webhook_id is None:
            run.untestable = f"the sender refused the registration ({reg.exchange.response.status})"
            return
        side.stop()  # from now on, connections to the webhook's port are refused
        run.t_trigger_ns = time.monotonic_ns()
        ex = target.test_event(None, reg.webhook_id)
        run.exchanges.append(ex)
        if ex.response.status is None or not 200 <= ex.response.status < 300:
            run.untestable = f"POST .../test answered {ex.response.status}; see SND-EVENT-005"
            return
        reopen = max(0.3, 1.5 * target.gaps()[0]) if target.gaps() else 0.3
        run.details["closed_for_s"] = round(reopen, 3)
        time.sleep(reopen)
        side.start()
        total = max(sum(target.gaps(r)) for r in ("backoff-only", "immediate-plus-five"))
        side.wait(lambda got: _retried(got), reg.path, 2 * total + 5)
    finally:
        side.stop()


def _retried(got: list[Arrival]) -> bool:
    """A dropped delivery and a later arrival of the same event (:func:`same_event`)."""
    return any(
        same_event(d, r) and r.t_headers_ns > d.t_headers_ns
        for d in got
        if d.dropped
        for r in got
        if not r.dropped
    )


def _sans_id(a: Arrival) -> object:
    doc = a.json()
    return {k: v for k, v in doc.items() if k != "id"} if isinstance(doc, dict) else a.body


def same_event(a: Arrival, b: Arrival) -> bool:
    """Whether ``b`` is another attempt of ``a``'s event: the same event id, or, when the ids
    differ or are missing (a sender that re-ids retries, EVENT-9's business, or reading no-id),
    the same envelope but for the id (type, timestamp and data: a different event that happens
    to arrive later differs in those)."""
    if a.event_id is not None and a.event_id == b.event_id:
        return True
    return _sans_id(a) == _sans_id(b)


def _redirect(run: Run) -> None:
    listener = run.listener
    landing = listener.path("redirect-landing", ok())
    run.details["landing_path"] = landing
    if _setup(run, redirect(listener.url(landing)), ["job.failed"]):
        _follow(run)


def _wrong_challenge(run: Run) -> None:
    target = run.target
    if target.can_deliver is not None:
        run.untestable = target.can_deliver
        return
    reg = target.register(None, run.name, wrong_challenge(), ["job.failed"])
    run.registered = reg
    run.exchanges.append(reg.exchange)
    if reg.webhook_id is None:
        return
    time.sleep(0.5)
    run.exchanges.append(
        target.call(None, "GET", f"/api/webhooks/{reg.webhook_id}", note="status after")
    )
    run.t_trigger_ns = time.monotonic_ns()
    run.exchanges.append(target.test_event(None, reg.webhook_id))
    run.listener.wait(
        lambda got: any(not a.is_verification for a in got),
        reg.path,
        target.timing.band(target.longest_gap(0)).high + 1,
    )


def _filter(run: Run) -> None:
    if not run.target.trigger.available:
        run.untestable = "needs a trigger to make job and proposal events (--trigger)"
        return
    if not _setup(run, ok(), ["proposal.created"], send_test=False):
        return
    assert run.registered is not None and run.registered.webhook_id is not None
    run.t_trigger_ns = time.monotonic_ns()
    for event_type in ("proposal.created", "job.completed", "job.failed"):
        if _trigger(run, event_type, run.registered.webhook_id) is None and run.error:
            return
    run.listener.wait(
        lambda got: any(a.event_type == "proposal.created" for a in got), run.path, 15
    )
    time.sleep(2 + run.target.timing.band(run.target.longest_gap(0)).high)


def _throttle(run: Run) -> None:
    if not run.target.trigger.available:
        run.untestable = "needs a trigger to run a job that reports progress (--trigger)"
        return
    if not _setup(run, ok(), ["job.progress", "job.completed", "job.failed"], send_test=False):
        return
    assert run.registered is not None and run.registered.webhook_id is not None
    run.t_trigger_ns = time.monotonic_ns()
    job = _trigger(run, "job.progress", run.registered.webhook_id, long=True)
    if run.error:
        return
    run.details["job_id"] = job
    scale = run.target.time_scale
    window = 10 / scale

    def finished(got: list[Arrival]) -> bool:
        progress = {job_of(a) for a in got if a.event_type == "job.progress"}
        ended = {job_of(a) for a in got if a.event_type in ("job.completed", "job.failed")}
        if job is not None:
            return job in ended
        quiet = bool(got) and (time.monotonic_ns() - got[-1].t_end_ns) / 1e9 > 1.5 * window + 1
        return bool(progress) and progress <= ended and quiet

    run.listener.wait(finished, run.path, 60 / scale + 30)
    time.sleep(min(2.0, window))


def job_of(a: Arrival) -> str | None:
    """The job_id in an event's data, or None."""
    doc = a.json()
    data = doc.get("data") if isinstance(doc, dict) else None
    job = data.get("job_id") if isinstance(data, dict) else None
    return job if isinstance(job, str) else None


SCENARIOS: Final[dict[str, Callable[[Run], None]]] = {
    "ok": _ok,
    "retry-500": _retry(always(500)),
    "fail-2": _retry(fail(2, 500)),
    "timeout": _timeout,
    "refused": _refused,
    "redirect": _redirect,
    "codes-400": _retry(always(400)),
    "codes-401": _retry(always(401)),
    "codes-404": _retry(always(404)),
    "codes-410": _retry(always(410)),
    "wrong-challenge": _wrong_challenge,
    "filter": _filter,
    "throttle": _throttle,
}


class Scenarios:
    """The session's scenarios: :meth:`start` them all at once, :meth:`get` one when grading."""

    def __init__(self, target: SenderTarget, progress: Progress | None = None) -> None:
        self.target = target
        self.progress = progress
        self.runs: dict[str, Run] = {}
        self.threads: list[threading.Thread] = []

    def start(self, names: set[str]) -> None:
        for name in sorted(names):
            run = Run(name, self.target, self.target.listener)
            self.runs[name] = run
            thread = threading.Thread(
                target=self._run, args=(run,), name=f"scenario {name}", daemon=True
            )
            self.threads.append(thread)
            thread.start()

    def _run(self, run: Run) -> None:
        progress = self.progress
        if progress is not None:
            cases = sorted(c for c, names in CASE_SCENARIOS.items() if run.name in names)
            progress.scenario_started(run.name, expected_s(run.name, run.target), cases)
        try:
            SCENARIOS[run.name](run)
        except Exception as exc:  # a kit bug or the network: the case reports it as an error
            run.error = f"scenario {run.name} crashed: {type(exc).__name__}: {exc}"
        finally:
            run.t_done_ns = time.monotonic_ns()
            run.done.set()
            if progress is not None:
                progress.scenario_finished(run.name)

    def get(self, name: str, timeout: float = 300.0) -> Run:
        if name not in self.runs:
            self.start({name})
        run = self.runs[name]
        run.done.wait(timeout)
        if not run.done.is_set():
            run.error = f"scenario {name} did not finish within {timeout:g} s"
        return run

    def join(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
