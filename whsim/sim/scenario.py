"""Scenarios as frozen dataclasses: who is registered, how receivers behave, what the sender does,
and what the Proposal Generator produces.

Times are integer milliseconds in the dataclasses and seconds in TOML (see
:mod:`whsim.sim.scenarios`). Every dataclass validates itself and raises
:class:`~whsim.core.errors.ScenarioError` naming the field.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from typing import Final, Literal

from whsim.core.behaviours import BEHAVIOURS, Behaviour
from whsim.core.errors import ScenarioError, SpecInputError
from whsim.core.honoured import SIMULATE
from whsim.core.policy import EXPIRY_MS, TIMEOUT_MS, RetryPolicy
from whsim.core.readings import Readings
from whsim.core.spec.clauses import resolve_reading
from whsim.core.spec.events import EVENT_TYPES

__all__ = [
    "Arrival",
    "Downtime",
    "Scenario",
    "Sender",
    "Webhook",
    "Workload",
]

_READING_FIELDS: Final = {
    "codes": "RETRY-2",
    "backoff_from": "RETRY-3",
    "jitter": "RETRY-4",
    "expiry_from": "EXPIRY-1",
    "throttle": "THROTTLE-1",
}
"""Sender fields that hold a reading, and their clause."""

ArrivalKind = Literal["constant", "poisson", "bursts"]
WebhookState = Literal["active", "pending_verification", "disabled"]


@dataclass(frozen=True, slots=True)
class Downtime:
    """A window ``[start_ms, end_ms)`` when the sender starts no attempt; due attempts queue."""

    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_ms < self.end_ms:
            raise ScenarioError("a downtime needs 0 <= start < end", field="sender.downtime")


@dataclass(frozen=True, slots=True)
class Sender:
    """The sender's policy.

    ``retry`` is a reading of RETRY-1 or any :meth:`RetryPolicy.named` policy; ``jitter``,
    ``codes``, ``backoff_from`` and ``expiry_from`` override its readings when set.
    ``concurrency`` caps attempts in flight per webhook (0: no cap); queued attempts wait FIFO,
    and the expiry is checked when an attempt actually starts.
    """

    retry: str = "backoff-only"
    jitter: str | None = None
    jitter_ratio: float | None = None
    codes: str | None = None
    backoff_from: str | None = None
    expiry_from: str | None = None
    throttle: str = "coalesce"
    timeout_ms: int = TIMEOUT_MS
    expiry_ms: int = EXPIRY_MS
    concurrency: int = 0
    downtime: tuple[Downtime, ...] = ()
    readings: Readings = field(default_factory=Readings)

    def __post_init__(self) -> None:
        checks = (
            ("retry", lambda: RetryPolicy.named(self.retry)),
            ("codes", lambda: self.codes is None or resolve_reading("RETRY-2", self.codes)),
            (
                "backoff_from",
                lambda: self.backoff_from is None or resolve_reading("RETRY-3", self.backoff_from),
            ),
            (
                "expiry_from",
                lambda: self.expiry_from is None or resolve_reading("EXPIRY-1", self.expiry_from),
            ),
            ("throttle", lambda: resolve_reading("THROTTLE-1", self.throttle)),
            ("policy", self.policy),
        )
        for name, check in checks:
            try:
                check()
            except SpecInputError as exc:
                if name == "policy":  # a value RetryPolicy refuses: name it as in TOML
                    name = (exc.field or "retry").replace("_ms", "_s")
                raise ScenarioError(exc.message, field=f"sender.{name}") from None
        if not isinstance(self.concurrency, int) or self.concurrency < 0:
            raise ScenarioError("must be an integer >= 0 (0: no cap)", field="sender.concurrency")
        ordered = tuple(sorted(self.downtime, key=lambda d: d.start_ms))
        for a, b in itertools.pairwise(ordered):
            if b.start_ms < a.end_ms:
                raise ScenarioError("downtime windows must not overlap", field="sender.downtime")
        object.__setattr__(self, "downtime", ordered)

    def with_readings(self, readings: Readings) -> Sender:
        """This sender under ``readings`` (checked against what the simulator honours).

        The delivery-rule readings become the sender's fields (a vendor ``policy`` replaces
        ``retry``); every reading is kept in :attr:`readings` for the rules that read it there
        (VERIFY-2, VERIFY-3, CODES-1).
        """
        SIMULATE.check(readings)
        changes: dict[str, object] = {"readings": readings}
        if readings.policy is not None:
            changes["retry"] = readings.policy
        elif readings.is_chosen("RETRY-1"):
            changes["retry"] = readings["RETRY-1"]
        for name, clause_id in _READING_FIELDS.items():
            if readings.is_chosen(clause_id):
                changes[name] = readings[clause_id]
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def policy(self) -> RetryPolicy:
        """The :class:`RetryPolicy` this sender follows."""
        overrides: dict[str, object] = {"timeout_ms": self.timeout_ms, "expiry_ms": self.expiry_ms}
        if self.readings.is_chosen("CODES-1"):
            overrides["success"] = self.readings["CODES-1"]
        for name in ("jitter", "jitter_ratio", "codes", "backoff_from", "expiry_from"):
            value = getattr(self, name)
            if value is not None:
                overrides[name] = value
        if self.jitter not in (None, "none") and self.jitter_ratio is None:
            overrides.setdefault("jitter_ratio", 0.2)
        return RetryPolicy.named(self.retry, **overrides)

    @property
    def coupled(self) -> bool:
        """Whether deliveries interact (a concurrency cap or downtime), so only the loop applies."""
        return self.concurrency > 0 or bool(self.downtime)


@dataclass(frozen=True, slots=True)
class Webhook:
    """One registration, or ``count`` identical ones (ids ``{id}-0001`` ...).

    ``receiver`` names a behaviour of the scenario or of :data:`whsim.core.behaviours.BEHAVIOURS`.
    A ``pending_verification`` webhook is verified at time 0 and receives events only if its
    receiver echoes the challenge; a ``disabled`` one receives nothing.
    """

    id: str
    receiver: str = "healthy"
    events: tuple[str, ...] = EVENT_TYPES
    status: WebhookState = "active"
    url: str = ""
    count: int = 1

    def __post_init__(self) -> None:
        if not self.id:
            raise ScenarioError("a webhook needs an id", field="webhooks.id")
        for name in self.events:
            if name not in EVENT_TYPES:
                raise ScenarioError(
                    f"unknown event type {name!r}; known: {', '.join(EVENT_TYPES)}",
                    field="webhooks.events",
                )
        if self.status not in ("active", "pending_verification", "disabled"):
            raise ScenarioError(
                f"unknown status {self.status!r}; use active, pending_verification or disabled",
                field="webhooks.status",
            )
        if not isinstance(self.count, int) or self.count < 1:
            raise ScenarioError("must be an integer >= 1", field="webhooks.count")

    def ids(self) -> tuple[str, ...]:
        if self.count == 1:
            return (self.id,)
        width = len(str(self.count))
        return tuple(f"{self.id}-{i:0{width}d}" for i in range(1, self.count + 1))


@dataclass(frozen=True, slots=True)
class Arrival:
    """When proposals arrive: ``constant`` every ``every_ms`` (default: 1/rate s rounded to the
    ms), ``poisson`` at rate, or ``bursts`` of ``burst_size`` proposals every ``burst_every_ms``
    (within ``burst_spread_ms``).

    A constant schedule is whole milliseconds ``0, step, 2 * step, ...``: its length is decided in
    integers, so ``n`` events spread over ``n * step`` ms are exactly ``n`` events (a step computed
    in floating point can round just below and add one more at the end).
    """

    kind: ArrivalKind = "poisson"
    rate_per_s: float = 0.05
    burst_size: int = 20
    burst_every_ms: int = 600_000
    burst_spread_ms: int = 1_000
    every_ms: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("constant", "poisson", "bursts"):
            raise ScenarioError(
                f"unknown arrival kind {self.kind!r}; use constant, poisson or bursts",
                field="workload.arrival",
            )
        if not self.rate_per_s > 0:
            raise ScenarioError("must be > 0", field="workload.rate_per_s")
        if self.burst_size < 1 or self.burst_every_ms < 1 or self.burst_spread_ms < 0:
            raise ScenarioError("bursts need size >= 1 and every > 0", field="workload.burst_size")
        if self.every_ms is not None and (
            isinstance(self.every_ms, bool)
            or not isinstance(self.every_ms, int)
            or self.every_ms < 1
        ):
            raise ScenarioError(
                f"must be whole ms >= 1, got {self.every_ms!r}", field="workload.every_s"
            )

    @property
    def step_ms(self) -> int:
        """The whole-ms step of a ``constant`` schedule: ``every_ms``, else 1/rate s rounded."""
        if self.every_ms is not None:
            return self.every_ms
        return max(1, round(1000 / self.rate_per_s))


@dataclass(frozen=True, slots=True)
class Workload:
    """What the Proposal Generator does for ``duration_ms`` of virtual time.

    Each proposal emits ``proposal.created`` and starts ``jobs_per_proposal`` jobs; a job emits
    ``job.created``, ``job.started`` after ``start_delay_ms``, raw progress every
    ``progress_every_ms`` for ``job_duration_ms`` (throttled per the sender's reading), then
    ``job.failed`` (probability ``job_failure_probability``) or ``job.completed`` followed by
    ``document.created``. ``max_events`` stops the generator after that many events.
    """

    duration_ms: int = 3_600_000
    arrival: Arrival = field(default_factory=Arrival)
    jobs_per_proposal: int = 1
    start_delay_ms: int = 2_000
    job_duration_ms: int = 60_000
    progress_every_ms: int = 5_000
    job_failure_probability: float = 0.1
    max_events: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.duration_ms <= 30 * 86_400_000:
            raise ScenarioError("must be within (0, 30 days]", field="workload.duration_s")
        for name in ("jobs_per_proposal",):
            if getattr(self, name) < 0:
                raise ScenarioError("must be >= 0", field=f"workload.{name}")
        for name in ("start_delay_ms", "job_duration_ms"):
            if getattr(self, name) < 0:
                raise ScenarioError("must be >= 0", field=f"workload.{name[:-3]}_s")
        if self.progress_every_ms <= 0:
            raise ScenarioError("must be > 0", field="workload.progress_every_s")
        if not 0.0 <= self.job_failure_probability <= 1.0:
            raise ScenarioError("must be a probability", field="workload.job_failure_probability")
        if self.max_events is not None and self.max_events < 0:
            raise ScenarioError("must be >= 0", field="workload.max_events")


@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything one simulation run needs except the seed.

    ``receivers`` are behaviours the webhooks name (a webhook may also name a built-in one);
    ``horizon_ms`` is how long the sender keeps working after the workload ends (default: until
    no attempt is left).
    """

    name: str = "custom"
    description: str = ""
    webhooks: tuple[Webhook, ...] = (Webhook("wh"),)
    receivers: tuple[Behaviour, ...] = ()
    sender: Sender = field(default_factory=Sender)
    workload: Workload = field(default_factory=Workload)

    def __post_init__(self) -> None:
        if not self.webhooks:
            raise ScenarioError("a scenario needs at least one webhook", field="webhooks")
        names = [r.name for r in self.receivers]
        if len(set(names)) != len(names):
            raise ScenarioError("receiver names must be unique", field="receivers.name")
        ids: set[str] = set()
        for i, hook in enumerate(self.webhooks):
            if hook.receiver not in names and hook.receiver not in BEHAVIOURS:
                raise ScenarioError(
                    f"unknown receiver {hook.receiver!r}; define it under [[receivers]] or use "
                    f"one of: {', '.join(BEHAVIOURS)}",
                    field=f"webhooks[{i}].receiver",
                )
            for one in hook.ids():
                if one in ids:
                    raise ScenarioError(f"duplicate webhook id {one!r}", field=f"webhooks[{i}].id")
                ids.add(one)

    def behaviour(self, name: str) -> Behaviour:
        """The receiver behaviour a webhook names: the scenario's own first, then the built-ins."""
        for b in self.receivers:
            if b.name == name:
                return b
        return BEHAVIOURS[name]

    def receiver_table(self) -> dict[str, Behaviour]:
        """Every receiver name -> the behaviour :meth:`behaviour` finds for it, built once: for
        lookups over many webhooks (:meth:`behaviour` scans the receivers on each call)."""
        table = dict(BEHAVIOURS)
        own: dict[str, Behaviour] = {}
        for b in self.receivers:
            own.setdefault(b.name, b)  # the first of a name, as behaviour() finds it
        table.update(own)
        return table

    @property
    def coupled(self) -> bool:
        """Whether deliveries interact: a sender cap or downtime, or a receiver whose answers
        depend on its load (a ``capacity``); only the reference loop runs such scenarios."""
        if self.sender.coupled:
            return True
        table = self.receiver_table()
        return any(table[h.receiver].capacity is not None for h in self.webhooks)

    def replace(self, **changes: object) -> Scenario:
        """A copy with fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
