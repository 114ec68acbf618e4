"""Hypothesis state machines: deliveries over the core, registrations against a live sender.

:class:`DeliveryMachine` drives the pure core (:mod:`whsim.core.delivery`, :mod:`whsim.core.throttle`,
:mod:`whsim.core.policy`) the way a sender does: webhooks are registered, Proposal Generator events
arrive, receivers go down and come back, the sender pauses, the clock advances. After every step
it checks the invariants a sender must keep. Run it in your own tests::

    from whsim.analysis.machines import DeliveryMachine
    TestDeliveries = DeliveryMachine.TestCase

Subclass and override :meth:`DeliveryMachine.answer` to model a different receiver.

:class:`RegistrationMachine` drives a real sender's ``/api/webhooks`` API with create, update,
delete, get and list, against a model of what should exist::

    from whsim.analysis.machines import RegistrationMachine
    TestRegistrations = RegistrationMachine.configure(
        "http://127.0.0.1:8000", "http://127.0.0.1:9000/webhook"
    ).TestCase
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)

from whsim.core.delivery import (
    DeliveryState,
    after_attempt,
    before_attempt,
    expiry_deadline,
    new_delivery,
)
from whsim.core.policy import RetryPolicy
from whsim.core.spec.events import EVENT_TYPES
from whsim.core.throttle import WINDOW_MS, ThrottleState, due_ms, flush, offer, terminate

__all__ = ["AttemptRecord", "DeliveryMachine", "RegistrationMachine"]

_READINGS = ("backoff-only", "immediate-plus-five", "immediate-counts")
_TERMINAL_TYPES = ("job.completed", "job.failed")


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt the machine made: which delivery, when, and what came back."""

    delivery: int
    webhook: int
    event_type: str
    job: int | None
    sent_ms: int
    finished_ms: int
    status: int | None
    error: str | None


@dataclass
class _Webhook:
    events: frozenset[str]
    up: bool = True
    status_when_up: int = 200


@dataclass
class _Delivery:
    webhook: int
    event_type: str
    job: int | None
    state: DeliveryState
    attempts: list[AttemptRecord] = field(default_factory=list)


class DeliveryMachine(RuleBasedStateMachine):
    """Webhooks, receivers and the sender's clock, checked against the guide's rules."""

    policy: RetryPolicy
    throttle_reading: str

    def __init__(self) -> None:
        super().__init__()
        self.now = 0
        self.paused_until = 0
        self.webhooks: list[_Webhook] = []
        self.deliveries: list[_Delivery] = []
        self.queue: list[tuple[int, int]] = []  # (due ms, delivery index)
        self.jobs: dict[int, ThrottleState[int]] = {}
        self.job_ended: dict[int, int] = {}
        self.progress_sent: dict[int, list[int]] = {}
        self.log: list[AttemptRecord] = []
        self.frozen: dict[int, list[AttemptRecord]] = {}

    # --- set-up ---------------------------------------------------------------------------
    @initialize(
        reading=st.sampled_from(_READINGS),
        throttle=st.sampled_from(["drop", "coalesce"]),
        backoff=st.sampled_from(["from-failure", "from-send"]),
    )
    def choose_policy(self, reading: str, throttle: str, backoff: str) -> None:
        self.policy = RetryPolicy.seed(reading, backoff_from=backoff)
        self.throttle_reading = throttle

    @rule(events=st.sets(st.sampled_from(EVENT_TYPES), min_size=1))
    def register(self, events: set[str]) -> None:
        self.webhooks.append(_Webhook(frozenset(events)))

    # --- the world --------------------------------------------------------------------------
    @precondition(lambda self: bool(self.webhooks))
    @rule(data=st.data(), up=st.booleans(), status=st.sampled_from([200, 204, 400, 500, 503]))
    def receiver_changes(self, data: st.DataObject, up: bool, status: int) -> None:
        hook = self.webhooks[data.draw(st.integers(0, len(self.webhooks) - 1))]
        hook.up, hook.status_when_up = up, status

    @rule(
        ms=st.sampled_from([60_000, 3_600_000, 86_400_001, 2 * 86_400_000])
        | st.integers(1, 3 * 86_400_000)
    )
    def sender_pauses(self, ms: int) -> None:
        self.paused_until = max(self.paused_until, self.now + ms)

    @rule(event_type=st.sampled_from([t for t in EVENT_TYPES if t != "job.progress"]))
    def event_arrives(self, event_type: str) -> None:
        """A Proposal Generator event; job events belong to the newest job (job.created opens one)."""
        job = None
        if event_type.startswith("job."):
            if event_type == "job.created" or not self.jobs:
                self.jobs[len(self.jobs)] = ThrottleState(reading=self.throttle_reading)
            job = len(self.jobs) - 1
            if event_type in _TERMINAL_TYPES and job not in self.job_ended:
                self._flush_throttles(self.now)
                self.jobs[job] = terminate(self.jobs[job])
                self.job_ended[job] = self.now
        self._fan_out(event_type, job, self.now)

    @precondition(lambda self: bool(self.jobs))
    @rule(data=st.data())
    def progress_update(self, data: st.DataObject) -> None:
        job = data.draw(st.integers(0, len(self.jobs) - 1))
        self._flush_throttles(self.now)
        self.jobs[job], sent = offer(self.jobs[job], self.now, job)
        if sent is not None:
            self._emit_progress(job, self.now)

    @rule(
        ms=st.integers(0, 20_000)
        | st.sampled_from([60_000, 3_600_000, 86_400_000, 90_000_000, 2 * 86_400_000])
    )
    def clock_advances(self, ms: int) -> None:
        target = self.now + ms
        while True:
            next_due = self.queue[0][0] if self.queue else None
            throttle_due = min(
                (d for d in (due_ms(s) for s in self.jobs.values()) if d is not None),
                default=None,
            )
            candidates = [t for t in (next_due, throttle_due) if t is not None and t <= target]
            if not candidates:
                break
            at = max(min(candidates), self.now)
            if throttle_due is not None and throttle_due <= at:
                self.now = at
                self._flush_throttles(at)
                continue
            self.now = at
            due, index = heapq.heappop(self.queue)
            self._attempt(index, max(due, self.paused_until))
        self.now = target

    # --- the sender ---------------------------------------------------------------------------
    def answer(self, hook: _Webhook, sent_ms: int) -> tuple[int | None, str | None, int]:
        """What the receiver answers: (status, error, latency ms). Override to model others."""
        if not hook.up:
            return None, "connect", 0
        return hook.status_when_up, None, 30

    def _fan_out(self, event_type: str, job: int | None, at_ms: int) -> None:
        """One delivery per subscribed webhook of an event created at ``at_ms``, due at once."""
        for w, hook in enumerate(self.webhooks):
            if event_type in hook.events:
                index = len(self.deliveries)
                self.deliveries.append(_Delivery(w, event_type, job, new_delivery(at_ms)))
                heapq.heappush(self.queue, (at_ms, index))

    def _emit_progress(self, job: int, at_ms: int) -> None:
        self.progress_sent.setdefault(job, []).append(at_ms)
        self._fan_out("job.progress", job, at_ms)

    def _flush_throttles(self, now_ms: int) -> None:
        for job, state in self.jobs.items():
            self.jobs[job], held, at = flush(state, now_ms)
            if held is not None and at is not None:
                self._emit_progress(job, at)

    def _attempt(self, index: int, start_ms: int) -> None:
        delivery = self.deliveries[index]
        if start_ms > self.now:  # the sender is paused: the attempt waits in the queue
            heapq.heappush(self.queue, (start_ms, index))
            return
        state = before_attempt(delivery.state, self.policy, start_ms)
        if state.terminal:
            delivery.state = state
            return
        hook = self.webhooks[delivery.webhook]
        status, error, latency = self.answer(hook, start_ms)
        took = (
            self.policy.timeout_ms if error == "timeout" else min(latency, self.policy.timeout_ms)
        )
        record = AttemptRecord(
            index,
            delivery.webhook,
            delivery.event_type,
            delivery.job,
            start_ms,
            start_ms + took,
            status,
            error,
        )
        delivery.attempts.append(record)
        self.log.append(record)
        delivery.state = after_attempt(
            state,
            self.policy,
            sent_ms=start_ms,
            finished_ms=start_ms + took,
            status=status,
            error=error,
        )
        if not delivery.state.terminal and delivery.state.next_attempt_ms is not None:
            heapq.heappush(self.queue, (delivery.state.next_attempt_ms, index))

    # --- invariants ---------------------------------------------------------------------------
    @invariant()
    def attempt_count_within_reading(self) -> None:
        for d in self.deliveries:
            assert len(d.attempts) <= self.policy.max_attempts, d

    @invariant()
    def spacing_per_policy(self) -> None:
        for d in self.deliveries:
            for k, (a, b) in enumerate(zip(d.attempts, d.attempts[1:], strict=False), start=1):
                base = a.finished_ms if self.policy.backoff_from == "from-failure" else a.sent_ms
                assert b.sent_ms >= max(base + self.policy.delays_ms[k - 1], a.finished_ms), (a, b)

    @invariant()
    def no_attempt_after_expiry(self) -> None:
        for d in self.deliveries:
            first = d.attempts[0].sent_ms if d.attempts else None
            deadline = expiry_deadline(self.policy, d.state.event_ms, first)  # the core's rule
            for a in d.attempts:
                assert deadline is None or a.sent_ms <= deadline, (a, deadline)

    @invariant()
    def only_subscribed_types(self) -> None:
        for a in self.log:
            assert a.event_type in self.webhooks[a.webhook].events

    @invariant()
    def throttle_spacing(self) -> None:
        for job, times in self.progress_sent.items():
            assert all(b - a >= WINDOW_MS for a, b in itertools.pairwise(times))
            if job in self.job_ended:
                assert all(t <= self.job_ended[job] for t in times)

    @invariant()
    def terminal_states_are_final(self) -> None:
        for i, d in enumerate(self.deliveries):
            if d.state.terminal:
                if i in self.frozen:
                    assert d.attempts == self.frozen[i], "attempt after a terminal state"
                self.frozen[i] = list(d.attempts)


_EVENT_SETS = st.lists(
    st.sampled_from(EVENT_TYPES), min_size=1, max_size=len(EVENT_TYPES), unique=True
)


class RegistrationMachine(RuleBasedStateMachine):
    """The registration API of a live sender against a model of what should exist.

    Build a configured subclass with :meth:`configure` (the sender's API base URL and a
    ``callback_url`` that answers the verification challenge). Rules create, update (events,
    and the URL with a new query string), delete, get and list webhooks, and look up an id
    that never existed; every answer is compared with the model: the guide's shapes, 404 for
    what does not exist (any more), the secret never in an answer. Only webhooks this machine
    created are judged, so other webhooks on the sender do not matter; teardown deletes what
    is left. Every request and status is appended to :attr:`log`.
    """

    base_url: ClassVar[str] = ""
    callback_url: ClassVar[str] = ""
    timeout_s: ClassVar[float] = 20.0
    log: ClassVar[list[str]] = []

    webhooks = Bundle("webhooks")

    @classmethod
    def configure(
        cls, base_url: str, callback_url: str, *, timeout_s: float = 20.0
    ) -> type[RegistrationMachine]:
        """A subclass bound to one sender and callback URL (with its own :attr:`log`)."""
        attrs = {
            "base_url": base_url.rstrip("/"),
            "callback_url": callback_url,
            "timeout_s": timeout_s,
            "log": [],
        }
        return type("ConfiguredRegistrationMachine", (cls,), attrs)

    def __init__(self) -> None:
        super().__init__()
        if not self.base_url:
            raise TypeError("use RegistrationMachine.configure(base_url, callback_url)")
        self.client = httpx.Client(timeout=self.timeout_s, follow_redirects=False, trust_env=False)
        self.model: dict[str, dict[str, Any]] = {}
        self.gone: set[str] = set()
        self.secrets: set[str] = set()
        self.counter = 0

    def _call(self, method: str, path: str, body: object = None) -> httpx.Response:
        answer = self.client.request(
            method, self.base_url + path, json=body if body is not None else None
        )
        self.log.append(f"{method} {path} -> {answer.status_code}")
        for secret in self.secrets:
            assert secret not in answer.text, f"{method} {path}: the answer contains a secret"
        return answer

    def _doc(self, answer: httpx.Response) -> Any:
        try:
            return answer.json()
        except ValueError:
            raise AssertionError(f"the answer is not JSON: {answer.text[:200]!r}") from None

    def _same(self, doc: Any, webhook_id: str) -> None:
        want = self.model[webhook_id]
        assert isinstance(doc, dict), doc
        assert doc.get("id") == webhook_id, (doc, webhook_id)
        assert doc.get("url") == want["url"], (doc.get("url"), want["url"])
        assert sorted(doc.get("events") or []) == sorted(want["events"]), (doc, want)
        assert isinstance(doc.get("status"), str), doc

    @rule(target=webhooks, events=_EVENT_SETS)
    def create(self, events: list[str]) -> str:
        self.counter += 1
        secret = f"whsim-machine-{secrets.token_hex(8)}"
        self.secrets.add(secret)
        url = f"{self.callback_url}?create={self.counter}"
        answer = self._call(
            "POST", "/api/webhooks", {"url": url, "events": events, "secret": secret}
        )
        assert 200 <= answer.status_code < 300, (
            f"create answered {answer.status_code}: {answer.text[:300]}"
        )
        doc = self._doc(answer)
        webhook_id = doc.get("id") if isinstance(doc, dict) else None
        assert isinstance(webhook_id, str) and webhook_id, doc
        assert webhook_id not in self.model and webhook_id not in self.gone, "an id was reused"
        assert isinstance(doc.get("created_at"), str), "created_at is missing"
        self.model[webhook_id] = {"url": url, "events": events}
        self._same(doc, webhook_id)
        return webhook_id

    @rule(webhook_id=webhooks, events=_EVENT_SETS, new_url=st.booleans())
    def update(self, webhook_id: str, events: list[str], new_url: bool) -> None:
        body: dict[str, Any] = {"events": events}
        if new_url:
            self.counter += 1
            body["url"] = f"{self.callback_url}?update={self.counter}"
        answer = self._call("PUT", f"/api/webhooks/{webhook_id}", body)
        if webhook_id not in self.model:
            assert answer.status_code == 404, f"PUT of a deleted webhook: {answer.status_code}"
            return
        assert 200 <= answer.status_code < 300, (
            f"update answered {answer.status_code}: {answer.text[:300]}"
        )
        self.model[webhook_id].update(body)
        self._same(self._doc(answer), webhook_id)

    @rule(webhook_id=consumes(webhooks))
    def delete(self, webhook_id: str) -> None:
        answer = self._call("DELETE", f"/api/webhooks/{webhook_id}")
        if webhook_id not in self.model:
            assert answer.status_code == 404, f"second DELETE: {answer.status_code}"
            return
        assert 200 <= answer.status_code < 300, f"delete answered {answer.status_code}"
        del self.model[webhook_id]
        self.gone.add(webhook_id)

    @rule(webhook_id=webhooks)
    def get(self, webhook_id: str) -> None:
        answer = self._call("GET", f"/api/webhooks/{webhook_id}")
        if webhook_id not in self.model:
            assert answer.status_code == 404, f"GET after DELETE: {answer.status_code}"
            return
        assert answer.status_code == 200, f"GET answered {answer.status_code}"
        self._same(self._doc(answer), webhook_id)

    @rule()
    def get_unknown(self) -> None:
        answer = self._call("GET", f"/api/webhooks/whsim-never-{secrets.token_hex(6)}")
        assert answer.status_code == 404, f"an unknown id answered {answer.status_code}"

    @rule()
    def list_all(self) -> None:
        answer = self._call("GET", "/api/webhooks")
        assert answer.status_code == 200, f"list answered {answer.status_code}"
        doc = self._doc(answer)
        assert isinstance(doc, dict) and isinstance(doc.get("webhooks"), list), json.dumps(doc)[
            :300
        ]
        listed = {w.get("id"): w for w in doc["webhooks"] if isinstance(w, dict)}
        for webhook_id in self.model:
            assert webhook_id in listed, f"{webhook_id} is missing from the list"
            self._same(listed[webhook_id], webhook_id)
        for webhook_id in self.gone:
            assert webhook_id not in listed, f"deleted {webhook_id} is still listed"

    def teardown(self) -> None:
        for webhook_id in list(self.model):
            with contextlib.suppress(httpx.HTTPError, AssertionError):
                self._call("DELETE", f"/api/webhooks/{webhook_id}")
        self.client.close()
