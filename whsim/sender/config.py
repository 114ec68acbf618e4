"""The reference sender's settings, and the test-only fault switches.

Faults exist so the sender conformance suite can prove it fails a broken sender: each one breaks
exactly one rule of the guide. They are off unless ``WHSIM_SENDER_FAULTS`` (comma-separated
names) or :attr:`SenderConfig.faults` asks for them, and the sender announces them on startup and
in ``GET /api/meta``. Never run a sender with faults for anything but testing a test suite.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from whsim.core.errors import SpecInputError, UnknownReadingError
from whsim.core.registry import Mode
from whsim.core.spec.clauses import resolve_reading

__all__ = ["FAULTS", "FAULTS_ENV", "SenderConfig", "parse_faults"]

FAULTS_ENV: Final = "WHSIM_SENDER_FAULTS"

FAULTS: Final[Mapping[str, str]] = {
    "no-retry": "never retries: every delivery gets one attempt (RETRY-1)",
    "wrong-backoff": "retries every 1 s instead of the reading's backoff (RETRY-1)",
    "too-many-retries": "three extra retries after the schedule ends (RETRY-1)",
    "retry-after-2xx": "retries once more after a 2xx answer (CODES-1)",
    "resign-body": "signs a re-serialized body but sends the original bytes (SIG-1)",
    "wrong-secret": "signs with a secret other than the registered one (SIG-1)",
    "no-signature": "sends no X-Webhook-Signature header (SIG-1)",
    "no-verification": "sends no verification request; webhooks are active at once (VERIFY-1)",
    "unsubscribed-events": "delivers every event type to every active webhook (REG-6)",
    "new-id-per-retry": "gives each retry a new event id (EVENT-9)",
    "follow-redirects": "follows 3xx answers (RETRY-5)",
    "no-timeout": "waits for an answer forever (TIMEOUT-2)",
    "return-secret": "returns the secret in webhook responses (REG-7)",
    "http-in-production": "accepts http URLs in production mode (HTTPS-1)",
    "ssrf": "skips the production address checks at registration and connection (HTTPS-2)",
}
"""Every fault name and the one rule it breaks."""


def parse_faults(text: str | None) -> frozenset[str]:
    """Fault names from a comma-separated string; raises :class:`UnknownReadingError`."""
    names = frozenset(part.strip() for part in (text or "").split(",") if part.strip())
    for name in sorted(names):
        if name not in FAULTS:
            raise UnknownReadingError("sender fault", name, tuple(FAULTS))
    return names


@dataclass(frozen=True, slots=True)
class SenderConfig:
    """How one sender runs. ``time_scale`` speeds up policy time (backoff, throttle, expiry).

    The attempt timeout (``timeout_s``) is wall time at every scale: it is what a receiver
    experiences, and a scaled 5 s would be 83 ms at scale 60.
    """

    db_path: Path = Path("whsim-sender.db")
    mode: Mode = Mode.DEVELOPMENT
    reading: str = "backoff-only"
    time_scale: float = 1.0
    timeout_s: float = 5.0
    verify_timeout_s: float = 5.0
    max_in_flight: int = 128
    max_per_endpoint: int = 8
    max_body_bytes: int = 64 * 1024
    excerpt_bytes: int = 1024
    faults: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", Mode(self.mode))
        object.__setattr__(self, "db_path", Path(self.db_path))
        resolve_reading("RETRY-1", self.reading)
        if not self.time_scale > 0:
            raise SpecInputError("time scale must be positive", field="time_scale")
        if self.max_in_flight < 1 or self.max_per_endpoint < 1:
            raise SpecInputError("concurrency limits must be at least 1", field="max_in_flight")
        parse_faults(",".join(self.faults))

    @classmethod
    def from_env(cls, **values: object) -> SenderConfig:
        """A config from keyword values plus the faults named in ``WHSIM_SENDER_FAULTS``."""
        config = cls(**values)  # type: ignore[arg-type]
        env = parse_faults(os.environ.get(FAULTS_ENV))
        return dataclasses.replace(config, faults=config.faults | env) if env else config
