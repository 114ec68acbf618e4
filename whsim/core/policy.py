"""Retry policy: when a failed delivery is tried again, what counts as failure, when to give up.

:meth:`RetryPolicy.seed` builds the guide's policy under a reading of clause RETRY-1;
:meth:`RetryPolicy.named` also knows the published policies of other systems, for comparison.
Randomness (jitter) is passed in as a uniform number, so callers decide how it is seeded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from whsim.core.errors import SpecInputError, UnknownReadingError
from whsim.core.spec.clauses import reading_names, resolve_reading

__all__ = [
    "DEFAULT_READING",
    "EXPIRY_MS",
    "NETWORK_ERRORS",
    "TIMEOUT_MS",
    "VENDOR_POLICIES",
    "RetryPolicy",
    "Verdict",
    "classify",
    "jitter_delay",
    "resolve_policy",
]

TIMEOUT_MS: Final = 5_000
"""The guide's attempt timeout (clause TIMEOUT-2)."""
EXPIRY_MS: Final = 24 * 3_600_000
"""The guide's event expiry (clause EXPIRY-1)."""

NETWORK_ERRORS: Final = ("timeout", "connect", "dns", "tls", "reset", "blocked")
"""Error kinds an attempt can end with instead of an HTTP status."""

_S = 1000
_GUIDE_DELAYS: Final[dict[str, tuple[int, ...]]] = {
    "backoff-only": (1 * _S, 2 * _S, 4 * _S, 8 * _S, 16 * _S),
    "immediate-plus-five": (0, 1 * _S, 2 * _S, 4 * _S, 8 * _S, 16 * _S),
    "immediate-counts": (0, 1 * _S, 2 * _S, 4 * _S, 8 * _S),
}
DEFAULT_READING: Final = resolve_reading("RETRY-1", None)

_MIN, _H = 60 * _S, 3_600 * _S

# Named policies of other systems, as data. Each entry: delays between attempts (ms), jitter
# kind, jitter ratio, source.
_OTHERS: Final[dict[str, tuple[tuple[int, ...], str, float, str]]] = {
    # svix-webhooks server/svix-server/config.default.toml retry_schedule and worker.rs
    # JITTER_DELTA (+-20 %); docs.svix.com/retries gives the same schedule.
    "svix": (
        (5 * _S, 5 * _MIN, 30 * _MIN, 2 * _H, 5 * _H, 10 * _H, 10 * _H),
        "proportional",
        0.2,
        "Svix: retry_schedule 5s, 5m, 30m, 2h, 5h, 10h, 10h with +-20 % jitter",
    ),
    # Standard Webhooks spec v1.0.0, "Retry schedule" example (about 75 h).
    "standard-webhooks": (
        (5 * _S, 5 * _MIN, 30 * _MIN, 2 * _H, 5 * _H, 10 * _H, 14 * _H, 20 * _H, 24 * _H),
        "none",
        0.0,
        "Standard Webhooks example: 5s, 5m, 30m, 2h, 5h, 10h, 14h, 20h, 24h",
    ),
    # docs.stripe.com/webhooks: "exponential backoff for up to three days"; the intervals are not
    # published, so this doubles from 1 min, capped at 12 h, until three days are covered.
    "stripe-like": (
        tuple(min(2**k, 720) * _MIN for k in range(15)),
        "none",
        0.0,
        "Stripe-like: doubling from 1 min, capped at 12 h, about 3 days (Stripe "
        "publishes the span, not the intervals)",
    ),
    # hookdeck/outpost internal/config/config.go: 30 s * 2^n, 10 retries, no jitter.
    "outpost": (
        tuple(30 * _S * 2**k for k in range(10)),
        "none",
        0.0,
        "Hookdeck Outpost: 30 s x 2^n, 10 retries, no jitter",
    ),
    # frain-dev/convoy datastore/models.go: project default linear 100 s, RetryCount 10 attempts.
    "convoy": ((100 * _S,) * 9, "none", 0.0, "Convoy default: linear 100 s, 10 attempts in all"),
}


_READING_FIELDS: Final = (
    ("jitter", "RETRY-4"),
    ("codes", "RETRY-2"),
    ("backoff_from", "RETRY-3"),
    ("expiry_from", "EXPIRY-1"),
    ("success", "CODES-1"),
)
"""RetryPolicy fields that hold a reading, and their clause."""


class Verdict(StrEnum):
    """What one attempt's outcome means for the delivery."""

    SUCCESS = "success"
    RETRY = "retry"
    REJECTED = "rejected"


def classify(
    status: int | None,
    error: str | None,
    codes: str = "5xx-and-network",
    success: str = "any-2xx",
) -> Verdict:
    """Classify an attempt by HTTP status or network error under readings of RETRY-2 and CODES-1.

    Success is any 2xx (CODES-1 ``any-2xx``) or only 200 (``200-only``: another 2xx is a failed
    answer, retried only under RETRY-2 ``all-non-2xx``, which retries every answer that is not a
    success); 3xx is an answer and never followed; an error (``timeout``, ``connect``, ...) with
    no status is always retried.
    """
    if status is None:
        if error is None:
            raise SpecInputError("an attempt needs a status or an error", field="status")
        return Verdict.RETRY
    if success == "200-only":
        if status == 200:
            return Verdict.SUCCESS
    elif success != "any-2xx":
        raise UnknownReadingError("reading of CODES-1", success, reading_names("CODES-1"))
    elif 200 <= status < 300:
        return Verdict.SUCCESS
    if codes == "all-non-2xx":
        return Verdict.RETRY
    if codes == "only-500":
        return Verdict.RETRY if status == 500 else Verdict.REJECTED
    if codes == "5xx-and-network":
        return Verdict.RETRY if status >= 500 or status in (408, 429) else Verdict.REJECTED
    raise UnknownReadingError("reading of RETRY-2", codes, reading_names("RETRY-2"))


def jitter_delay(
    delays_ms: tuple[int, ...],
    retry: int,
    jitter: str,
    ratio: float,
    u: Any,
    previous_ms: Any = None,
    trunc: Callable[[Any], Any] = int,
) -> Any:
    """The wait before retry ``retry`` (1-based) of schedule ``delays_ms`` with jitter of kind
    ``jitter`` (a reading of RETRY-4) drawn from ``u`` in [0, 1).

    ``none``: the scheduled delay; ``full``: uniform in [0, delay]; ``equal``: uniform in
    [delay/2, delay]; ``proportional``: delay x (1 +- ratio), never negative; ``decorrelated``
    (Brooker 2015): uniform in [first delay, 3 x ``previous_ms``), capped at the longest delay
    (``previous_ms`` defaults to the first delay). Only arithmetic and ``trunc`` (towards zero)
    touch ``u`` and ``previous_ms``, so the simulator passes arrays and numpy's truncation and
    gets the same values as ``int`` on each element.
    """
    base = delays_ms[retry - 1]
    if jitter == "decorrelated":
        low = delays_ms[0]
        span = 3 * (low if previous_ms is None else previous_ms) - low
        drawn = low + trunc(span * (span > 0) * u)
        cap = max(delays_ms)
        return drawn - (drawn - cap) * (drawn > cap)
    if jitter == "none":
        return base + trunc(u * 0.0)
    if jitter == "full":
        return trunc(base * u)
    if jitter == "equal":
        half = base // 2
        return half + trunc((base - half) * u)
    if jitter == "proportional":
        raw = trunc(base * (1.0 + ratio * (2.0 * u - 1.0)))
        return raw * (raw > 0)
    raise UnknownReadingError("reading of RETRY-4", jitter, reading_names("RETRY-4"))


VENDOR_POLICIES: Final[tuple[str, ...]] = tuple(_OTHERS)
"""Names of the other vendors' retry policies (``--policy NAME``)."""


def resolve_policy(name: str) -> RetryPolicy:
    """Another vendor's retry policy by name (``--policy NAME``); a clear error otherwise.

    The guide's own schedules are readings of RETRY-1, not policies: naming one here says so.
    """
    if name not in _OTHERS:
        error = UnknownReadingError("vendor policy", name, VENDOR_POLICIES)
        if name in _GUIDE_DELAYS:
            error.message += f" (the guide's own schedule is --reading RETRY-1={name})"
            error.args = (error.message,)
        raise error
    return RetryPolicy.named(name)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A retry schedule plus the rules around it.

    ``delays_ms[k]`` is the wait before retry ``k + 1``; so ``max_attempts`` is one more than its
    length. Build the guide's policy with :meth:`seed`, another system's with :meth:`named`;
    change a field with :func:`dataclasses.replace` (the new value is validated).
    """

    name: str
    delays_ms: tuple[int, ...]
    timeout_ms: int = TIMEOUT_MS
    expiry_ms: int = EXPIRY_MS
    jitter: str = "none"
    jitter_ratio: float = 0.0
    backoff_from: str = "from-failure"
    codes: str = "5xx-and-network"
    expiry_from: str = "from-event-timestamp"
    success: str = "any-2xx"
    source: str = ""

    def __post_init__(self) -> None:
        if any((not isinstance(d, int)) or d < 0 for d in self.delays_ms):
            raise SpecInputError("delays_ms must be non-negative integers", field="delays_ms")
        if not isinstance(self.timeout_ms, int) or self.timeout_ms <= 0:
            raise SpecInputError("timeout_ms must be a positive integer", field="timeout_ms")
        if not isinstance(self.expiry_ms, int) or self.expiry_ms <= 0:
            raise SpecInputError("expiry_ms must be a positive integer", field="expiry_ms")
        if not 0.0 <= self.jitter_ratio <= 1.0:
            raise SpecInputError("jitter_ratio must be within [0, 1]", field="jitter_ratio")
        for field, clause_id in _READING_FIELDS:
            try:
                resolve_reading(clause_id, getattr(self, field))
            except UnknownReadingError as exc:
                exc.field = field  # the field to fix, as in a scenario file
                raise

    @classmethod
    def seed(cls, reading: str | None = None, **overrides: object) -> RetryPolicy:
        """The guide's policy under a reading of RETRY-1 (default ``backoff-only``)."""
        name = resolve_reading("RETRY-1", reading)
        policy = cls(
            name=name,
            delays_ms=_GUIDE_DELAYS[name],
            source="the guide: immediate retry, then 1, 2, 4, 8, 16 s, max 5 retries",
        )
        return dataclasses.replace(policy, **overrides) if overrides else policy  # type: ignore[arg-type]

    @classmethod
    def named(cls, name: str, **overrides: object) -> RetryPolicy:
        """A guide reading (see :meth:`seed`) or another system's policy, by name."""
        if name in _GUIDE_DELAYS:
            return cls.seed(name, **overrides)
        if name not in _OTHERS:
            raise UnknownReadingError("retry policy", name, cls.names())
        delays, jitter, ratio, source = _OTHERS[name]
        policy = cls(
            name=name,
            delays_ms=delays,
            jitter=jitter,
            jitter_ratio=ratio,
            source=source,
            codes="all-non-2xx",
        )
        return dataclasses.replace(policy, **overrides) if overrides else policy  # type: ignore[arg-type]

    @staticmethod
    def names() -> tuple[str, ...]:
        """Every name :meth:`named` accepts: the guide's readings first."""
        return (*_GUIDE_DELAYS, *_OTHERS)

    @property
    def max_attempts(self) -> int:
        return 1 + len(self.delays_ms)

    @property
    def max_retries(self) -> int:
        return len(self.delays_ms)

    def attempt_offsets(self) -> tuple[float, ...]:
        """Seconds from the first attempt to each attempt when every attempt fails instantly."""
        offsets = [0]
        for delay in self.delays_ms:
            offsets.append(offsets[-1] + delay)
        return tuple(o / 1000 for o in offsets)

    def retry_delay_ms(self, retry: int, u: float = 0.5, previous_ms: int | None = None) -> int:
        """The wait before retry number ``retry`` (1-based), with jitter drawn from ``u`` in [0, 1).

        ``decorrelated`` jitter (Brooker 2015) draws from the previous wait instead of the
        schedule: uniformly in [first delay, 3 x ``previous_ms``), capped at the longest delay;
        ``previous_ms`` defaults to the first delay.
        """
        if not 1 <= retry <= len(self.delays_ms):
            raise SpecInputError(
                f"retry must be within 1..{len(self.delays_ms)}, got {retry}", field="retry"
            )
        return int(
            jitter_delay(self.delays_ms, retry, self.jitter, self.jitter_ratio, u, previous_ms)
        )

    def classify(self, status: int | None, error: str | None) -> Verdict:
        """:func:`classify` under this policy's readings of RETRY-2 and CODES-1."""
        return classify(status, error, self.codes, self.success)

    def window_ms(self) -> int:
        """Longest span from first to last attempt without jitter, when attempts fail instantly."""
        return sum(self.delays_ms)
