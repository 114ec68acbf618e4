"""Receiver behaviours: how an endpoint answers, as data plus one pure function.

The same :class:`Behaviour` drives a simulated receiver (the simulator passes virtual time and
uniforms drawn per (endpoint, event, attempt) from its seed) and the real fault-injecting
reference receiver (which passes its own clock and random numbers). :func:`respond` decides one
answer; it reads no clock and draws no randomness itself.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Final, Literal

from whsim.core.errors import ScenarioError

__all__ = [
    "BEHAVIOURS",
    "CONNECT_CODE",
    "TIMEOUT_CODE",
    "Answer",
    "Behaviour",
    "Capacity",
    "Latency",
    "Load",
    "LoadMeter",
    "Outage",
    "Recorded",
    "behaviour",
    "behaviour_from_dict",
    "outage_answer",
    "outage_at",
    "respond",
]

LatencyKind = Literal["fixed", "uniform", "exponential"]
OutageKind = Literal["down", "hang", "status"]
OverloadKind = Literal["status", "slow"]
VerifyKind = Literal["echo", "wrong", "status", "hang"]
AnswerKind = Literal["status", "refused", "hang"]


@dataclass(frozen=True, slots=True)
class Latency:
    """Service time of an answer, in ms: ``fixed`` at ``ms``; ``uniform`` in [ms, high_ms];
    ``exponential`` as ``ms`` plus an exponential tail of mean ``mean_ms``."""

    kind: LatencyKind = "fixed"
    ms: int = 20
    high_ms: int = 0
    mean_ms: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("fixed", "uniform", "exponential"):
            raise ScenarioError(
                f"unknown latency kind {self.kind!r}; use fixed, uniform or exponential",
                field="latency.kind",
            )
        for name in ("ms", "high_ms", "mean_ms"):
            value = getattr(self, name)
            # whole ms: a float here would leak into the simulator's integer clock
            if isinstance(value, bool) or not isinstance(value, int):
                raise ScenarioError(f"must be whole ms, got {value!r}", field=f"latency.{name}")
        if self.ms < 0 or self.high_ms < 0 or self.mean_ms < 0:
            raise ScenarioError("latency values must be >= 0", field="latency")
        if self.kind == "uniform" and self.high_ms < self.ms:
            raise ScenarioError("latency.high_ms must be >= latency.ms", field="latency.high_ms")

    def sample(self, u: float) -> int:
        """Latency in ms for a uniform ``u`` in [0, 1)."""
        if self.kind == "fixed":
            return self.ms
        if self.kind == "uniform":
            return self.ms + int((self.high_ms - self.ms) * u)
        return self.ms + int(-self.mean_ms * math.log1p(-u))


@dataclass(frozen=True, slots=True)
class Outage:
    """A window ``[start_ms, end_ms)`` of the receiver's clock when it is down.

    ``down``: connections are refused; ``hang``: requests are accepted and never answered (the
    sender times out); ``status``: every request gets ``status`` (e.g. 503).
    """

    start_ms: int
    end_ms: int
    kind: OutageKind = "down"
    status: int = 503

    def __post_init__(self) -> None:
        if self.kind not in ("down", "hang", "status"):
            raise ScenarioError(
                f"unknown outage kind {self.kind!r}; use down, hang or status", field="outages.kind"
            )
        if not 0 <= self.start_ms < self.end_ms:
            raise ScenarioError("an outage needs 0 <= start_ms < end_ms", field="outages")
        if not 100 <= self.status <= 599:
            raise ScenarioError("outage status must be an HTTP status", field="outages.status")

    def covers(self, now_ms: int) -> bool:
        return self.start_ms <= now_ms < self.end_ms


@dataclass(frozen=True, slots=True)
class Capacity:
    """How much load a receiver takes before it fails, and what brings it back.

    The receiver counts the attempts that reached it in the last ``window_ms`` (rejected ones
    too: answering costs work). Above ``per_s`` per second it is overloaded, and it stays
    overloaded until the count falls below ``recover_below`` per second (default ``per_s``).
    A ``recover_below`` under ``per_s`` is the metastable case: a load the receiver serves when
    healthy does not bring it back once it is down, so retries of the failures it answered can
    keep it down. Overloaded, it answers ``status`` (``answer = "status"``, 503 by default) or
    serves every attempt ``slow_ms`` later for each attempt over capacity in the window
    (``answer = "slow"``: its queue grows, and the sender's timeout ends the attempt).
    """

    per_s: int
    recover_below: int | None = None
    answer: OverloadKind = "status"
    status: int = 503
    slow_ms: int = 100
    window_ms: int = 1000

    def __post_init__(self) -> None:
        for name in ("per_s", "slow_ms", "window_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ScenarioError(
                    f"must be an integer >= 1, got {value!r}", field=f"capacity.{name}"
                )
        low = self.recover_below
        if low is not None and (
            isinstance(low, bool) or not isinstance(low, int) or not 0 <= low <= self.per_s
        ):
            raise ScenarioError(
                f"must be an integer in [0, per_s], got {low!r}", field="capacity.recover_below"
            )
        if self.answer not in ("status", "slow"):
            raise ScenarioError(
                f"unknown overload answer {self.answer!r}; use status or slow",
                field="capacity.answer",
            )
        if not 100 <= self.status <= 599:
            raise ScenarioError("must be an HTTP status", field="capacity.status")

    @property
    def limit(self) -> int:
        """Attempts per window above which the receiver tips over."""
        return self.per_s * self.window_ms // 1000

    @property
    def recovery(self) -> int:
        """Attempts per window below which an overloaded receiver comes back."""
        low = self.per_s if self.recover_below is None else self.recover_below
        return low * self.window_ms // 1000


@dataclass(frozen=True, slots=True)
class Load:
    """What a :class:`LoadMeter` says about one arriving attempt."""

    overloaded: bool
    in_window: int
    excess: int


class LoadMeter:
    """The load state of one receiver: the attempts of the last window and whether it is down.

    Deterministic and clock-free: the caller passes each attempt's arrival time (virtual in the
    simulator, the receiver's own clock in ``whsim receiver``), in non-decreasing order.
    """

    __slots__ = ("_arrivals", "capacity", "overloaded")

    def __init__(self, capacity: Capacity) -> None:
        self.capacity = capacity
        self.overloaded = False
        self._arrivals: deque[int] = deque()

    def admit(self, now_ms: int) -> Load:
        """Count an attempt arriving at ``now_ms`` and return the receiver's state for it."""
        arrivals, cap = self._arrivals, self.capacity
        arrivals.append(now_ms)
        while arrivals[0] <= now_ms - cap.window_ms:
            arrivals.popleft()
        count = len(arrivals)
        if not self.overloaded and count > cap.limit:
            self.overloaded = True
        elif self.overloaded and count < cap.recovery:
            self.overloaded = False
        return Load(self.overloaded, count, max(0, count - cap.limit))


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer: an HTTP ``status`` after ``latency_ms``, a refused connection, or a hang.

    A hang never answers; the sender's timeout decides when the attempt ends.
    """

    kind: AnswerKind
    status: int | None = None
    latency_ms: int = 0


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How one receiver answers deliveries and the verification challenge.

    ``fail_first`` fails the first N attempts of every event with ``failure_status``;
    ``failure_probability`` fails any attempt at random; ``hang_probability`` hangs at random;
    ``outages`` override everything while they last; ``capacity`` makes failures depend on the
    load (see :class:`Capacity`). ``verify`` says how the challenge is answered: ``echo`` (right),
    ``wrong`` (a different value), ``status`` (``failure_status``) or ``hang``.
    """

    name: str = "healthy"
    latency: Latency = field(default_factory=Latency)
    failure_probability: float = 0.0
    failure_status: int = 500
    hang_probability: float = 0.0
    fail_first: int = 0
    outages: tuple[Outage, ...] = ()
    success_status: int = 200
    verify: VerifyKind = "echo"
    capacity: Capacity | None = None

    def __post_init__(self) -> None:
        for name in ("failure_probability", "hang_probability"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise ScenarioError(f"must be a probability in [0, 1], got {value!r}", field=name)
        for name in ("failure_status", "success_status"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 100 <= value <= 599:
                raise ScenarioError(f"must be an HTTP status, got {value!r}", field=name)
        if not isinstance(self.fail_first, int) or self.fail_first < 0:
            raise ScenarioError("must be a non-negative integer", field="fail_first")
        if self.verify not in ("echo", "wrong", "status", "hang"):
            raise ScenarioError(
                f"unknown verify behaviour {self.verify!r}; use echo, wrong, status or hang",
                field="verify",
            )
        ordered = sorted(self.outages, key=lambda o: o.start_ms)
        for a, b in itertools.pairwise(ordered):
            if b.start_ms < a.end_ms:
                raise ScenarioError("outages must not overlap", field="outages")
        object.__setattr__(self, "outages", tuple(ordered))

    def outage_at(self, now_ms: int) -> Outage | None:
        """The outage covering ``now_ms``, if any."""
        return outage_at(self.outages, now_ms)


@dataclass(frozen=True, slots=True)
class Recorded:
    """A receiver that answers one event's attempts as it was recorded answering them.

    ``answers[k]`` is the answer to attempt ``k + 1``: an HTTP status after the latency it was
    recorded taking, a refused connection (any error other than a timeout: no status came), or a
    hang (the recorded attempt timed out; ``latency_ms`` is when the recording saw it end, the
    sender's timeout as observed). :meth:`answer` is None past the recording: what the
    receiver would have said to an attempt nobody made is not known. Built with
    :meth:`from_observed` from what a trace holds per attempt.
    """

    answers: tuple[Answer, ...]

    @staticmethod
    def observed(status: int | None, error: str | None, took_ms: int) -> Answer:
        """The :class:`Answer` of one recorded attempt: its ``status`` (answered after
        ``took_ms``), or its ``error`` (``timeout``: a hang; anything else: refused)."""
        if status is not None:
            return Answer("status", int(status), max(0, int(took_ms)))
        if error == "timeout":
            return Answer("hang", latency_ms=max(0, int(took_ms)))
        return Answer("refused", latency_ms=max(0, int(took_ms)))

    @classmethod
    def from_observed(cls, attempts: Sequence[tuple[int | None, str | None, int]]) -> Recorded:
        """From ``(status, error, took_ms)`` per attempt, in the order they were made."""
        return cls(tuple(cls.observed(s, e, t) for s, e, t in attempts))

    def answer(self, attempt: int) -> Answer | None:
        """The recorded answer to ``attempt`` (1-based); None past the recording."""
        if 1 <= attempt <= len(self.answers):
            return self.answers[attempt - 1]
        return None


TIMEOUT_CODE: Final = -1
"""Attempt code of an attempt that got no answer within the timeout (hang or slow answer)."""
CONNECT_CODE: Final = -2
"""Attempt code of a refused connection (an outage of kind ``down``)."""


def outage_at(outages: Sequence[Outage], now_ms: int) -> Outage | None:
    """The outage of ``outages`` (sorted by start, not overlapping) covering ``now_ms``, if any."""
    for outage in outages:
        if outage.start_ms <= now_ms < outage.end_ms:
            return outage
        if outage.start_ms > now_ms:
            break
    return None


def outage_answer(
    outages: Sequence[Outage],
    now_ms: int,
    code: int,
    took_ms: int,
    latency_ms: int,
    timeout_ms: int,
) -> tuple[int, int]:
    """(attempt code, ms taken) of an attempt sent at ``now_ms``, outages applied.

    Outside every outage the planned ``code`` and ``took_ms`` stand; inside one, the outage
    decides: ``down`` refuses at once (``CONNECT_CODE``, 0 ms), ``hang`` holds the request until
    the timeout (``TIMEOUT_CODE``), ``status`` answers its status after ``latency_ms`` (a timeout
    if that is longer). :func:`respond` and both simulator loops call this, so an outage means
    the same everywhere; the numpy engine's ``answers`` is its vectorised twin.
    """
    outage = outage_at(outages, now_ms)
    if outage is None:
        return code, took_ms
    if outage.kind == "down":
        return CONNECT_CODE, 0
    if outage.kind == "hang" or latency_ms > timeout_ms:
        return TIMEOUT_CODE, timeout_ms
    return outage.status, latency_ms


def respond(
    behaviour: Behaviour,
    *,
    now_ms: int,
    attempt: int,
    u_fail: float,
    u_latency: float,
    u_hang: float = 1.0,
    load: Load | None = None,
) -> Answer:
    """The answer ``behaviour`` gives to delivery attempt ``attempt`` (1-based) at ``now_ms``.

    ``u_fail``, ``u_latency`` and ``u_hang`` are uniforms in [0, 1) drawn by the caller; the
    simulator keys them on (endpoint, event, attempt) so two policies see the same failures.
    ``load`` is what the receiver's :class:`LoadMeter` said about this attempt (it matters only
    when the behaviour has a ``capacity``).
    """
    if behaviour.outage_at(now_ms) is not None:
        latency = behaviour.latency.sample(u_latency)
        code, took = outage_answer(behaviour.outages, now_ms, 0, 0, latency, 2**62)
        if code == CONNECT_CODE:
            return Answer("refused")
        if code == TIMEOUT_CODE:
            return Answer("hang")
        return Answer("status", code, took)
    cap = behaviour.capacity
    if cap is not None and load is not None and load.overloaded and cap.answer == "status":
        return Answer("status", cap.status, behaviour.latency.sample(u_latency))
    if u_hang < behaviour.hang_probability:
        return Answer("hang")
    latency = behaviour.latency.sample(u_latency)
    if cap is not None and load is not None and load.overloaded:  # slow: its queue grows
        latency += load.excess * cap.slow_ms
    if attempt <= behaviour.fail_first or u_fail < behaviour.failure_probability:
        return Answer("status", behaviour.failure_status, latency)
    return Answer("status", behaviour.success_status, latency)


BEHAVIOURS: Final[dict[str, Behaviour]] = {
    b.name: b
    for b in (
        Behaviour("healthy"),
        Behaviour("flaky", latency=Latency("exponential", 10, mean_ms=40), failure_probability=0.2),
        Behaviour("fail-twice", fail_first=2),
        Behaviour("always-500", failure_probability=1.0),
        Behaviour("slow", latency=Latency("fixed", 7_000)),
        Behaviour("hang", hang_probability=1.0),
        Behaviour("down", outages=(Outage(0, 10**12, "down"),)),
        Behaviour("wrong-challenge", verify="wrong"),
        # serves 20 attempts/s; once over, back only when the load falls under 10/s
        Behaviour("fragile", capacity=Capacity(per_s=20, recover_below=10)),
    )
}
"""Named behaviours, usable as ``--behaviour NAME`` and ``behaviour = "NAME"`` in scenarios."""


def behaviour(name: str) -> Behaviour:
    """A named behaviour; raises :class:`ScenarioError` listing the names."""
    try:
        return BEHAVIOURS[name]
    except KeyError:
        raise ScenarioError(
            f"unknown behaviour {name!r}; known: {', '.join(BEHAVIOURS)}", field="behaviour"
        ) from None


def _latency_from(value: Any) -> Latency:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Latency("fixed", round(value))
    if not isinstance(value, Mapping):
        raise ScenarioError("must be a number of ms or a table {kind, ms, ...}", field="latency")
    allowed = {f.name for f in fields(Latency)}
    for key in value:
        if key not in allowed:
            raise ScenarioError(
                f"unknown field; allowed: {', '.join(sorted(allowed))}", field=f"latency.{key}"
            )
    try:
        return Latency(**dict(value))
    except TypeError as exc:
        raise ScenarioError(f"malformed latency: {exc}", field="latency") from None


def _capacity_from(value: Any) -> Capacity:
    if not isinstance(value, Mapping):
        raise ScenarioError(
            "must be a table {per_s, recover_below, answer, status, slow_ms, window_ms}",
            field="capacity",
        )
    allowed = {f.name for f in fields(Capacity)}
    for key in value:
        if key not in allowed:
            raise ScenarioError(
                f"unknown field; allowed: {', '.join(sorted(allowed))}", field=f"capacity.{key}"
            )
    if "per_s" not in value:
        raise ScenarioError("a capacity needs per_s", field="capacity.per_s")
    try:
        return Capacity(**dict(value))
    except TypeError as exc:
        raise ScenarioError(f"malformed capacity: {exc}", field="capacity") from None


def _outages_from(value: Any) -> tuple[Outage, ...]:
    if not isinstance(value, list | tuple):
        raise ScenarioError("must be a list of {start_s, end_s, kind, status}", field="outages")
    out = []
    for i, o in enumerate(value):
        where = f"outages[{i}]"
        if not isinstance(o, Mapping) or "start_s" not in o or "end_s" not in o:
            raise ScenarioError("an outage needs start_s and end_s", field=where)
        for key in o:
            if key not in ("start_s", "end_s", "kind", "status"):
                raise ScenarioError(
                    "unknown field; allowed: end_s, kind, start_s, status", field=f"{where}.{key}"
                )
        try:
            # round, not int: 1.001 s is 1001 ms, not 1000.9999 truncated to 1000
            out.append(
                Outage(
                    round(o["start_s"] * 1000),
                    round(o["end_s"] * 1000),
                    o.get("kind", "down"),
                    int(o.get("status", 503)),
                )
            )
        except ScenarioError as exc:
            raise ScenarioError(exc.detail, field=where) from None
        except (TypeError, ValueError) as exc:
            raise ScenarioError(f"malformed outage: {exc}", field=where) from None
    return tuple(out)


def behaviour_from_dict(doc: Mapping[str, Any], *, source: str | None = None) -> Behaviour:
    """A behaviour from a TOML/JSON table; errors name the field and ``source``.

    ``base = "NAME"`` starts from a named behaviour; ``latency`` is a table or a number of ms;
    ``outages`` is a list of tables ``{start_s, end_s, kind, status}`` (seconds, for humans).
    """
    try:
        known = {f.name for f in fields(Behaviour)} | {"base"}
        for key in doc:
            if key not in known:
                raise ScenarioError(
                    f"unknown field; allowed: {', '.join(sorted(known))}", field=str(key)
                )
        start = behaviour(str(doc["base"])) if "base" in doc else Behaviour()
        values: dict[str, Any] = {f.name: getattr(start, f.name) for f in fields(Behaviour)}
        for key, value in doc.items():
            if key == "base":
                continue
            if key == "latency":
                values["latency"] = _latency_from(value)
            elif key == "outages":
                values["outages"] = _outages_from(value)
            elif key == "capacity":
                values["capacity"] = _capacity_from(value)
            else:
                values[key] = value
        return Behaviour(**values)
    except ScenarioError as exc:
        raise ScenarioError(exc.detail, field=exc.field, source=source) from None
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        raise ScenarioError(f"malformed behaviour: {exc}", source=source) from None
