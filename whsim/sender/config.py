"""The reference sender's settings.

Test-only fault switches are not settings of the product: they live in
:mod:`whsim.sender.faults`, a layer of their own that tests install.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from whsim.core.errors import SpecInputError
from whsim.core.honoured import SENDER
from whsim.core.readings import Readings
from whsim.core.registry import Mode

__all__ = ["SenderConfig"]


@dataclass(frozen=True, slots=True)
class SenderConfig:
    """How one sender runs. ``time_scale`` speeds up policy time (backoff, throttle, expiry).

    The attempt timeout (``timeout_s``) is wall time at every scale: it is what a receiver
    experiences, and a scaled 5 s would be 83 ms at scale 60. ``max_in_flight`` caps attempts
    in flight in all; endpoints whose circuit is open (an attempt slower than ``slow_after_s``
    wall seconds, or a timeout) share at most ``max_slow_in_flight`` of them (default: half),
    see :mod:`whsim.sender.isolation`. ``synchronous`` is SQLite's durability setting (FULL: an
    acknowledged event survives a power cut; NORMAL: only a process crash).

    ``readings`` are the readings the sender follows; they are checked against
    :data:`whsim.core.honoured.SENDER` here, so a reading the sender does not implement is
    refused (:class:`~whsim.core.errors.ReadingNotHonouredError`) before anything starts.
    ``reading`` is a shorthand for ``RETRY-1`` (kept for the Python API); after construction it
    holds the RETRY-1 reading in force (None under a vendor ``--policy``).
    """

    db_path: Path = Path("whsim-sender.db")
    mode: Mode = Mode.DEVELOPMENT
    readings: Readings = field(default_factory=Readings)
    reading: str | None = None
    time_scale: float = 1.0
    timeout_s: float = 5.0
    verify_timeout_s: float = 5.0
    max_in_flight: int = 128
    max_per_endpoint: int = 8
    max_slow_in_flight: int | None = None
    max_body_bytes: int = 64 * 1024
    excerpt_bytes: int = 1024
    slow_after_s: float = 1.0
    synchronous: str = "FULL"

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", Mode(self.mode))
        object.__setattr__(self, "db_path", Path(self.db_path))
        readings = self.readings
        if not isinstance(readings, Readings):
            raise SpecInputError("readings must be a whsim.Readings value", field="readings")
        if self.reading is not None and readings["RETRY-1"] != self.reading:
            readings = readings.with_reading("RETRY-1", self.reading)
        SENDER.check(readings)
        object.__setattr__(self, "readings", readings)
        object.__setattr__(
            self, "reading", readings["RETRY-1"] if readings.policy is None else None
        )
        if not self.time_scale > 0:
            raise SpecInputError("time scale must be positive", field="time_scale")
        if self.max_in_flight < 1 or self.max_per_endpoint < 1:
            raise SpecInputError("concurrency limits must be at least 1", field="max_in_flight")
        if self.max_slow_in_flight is not None and not (
            1 <= self.max_slow_in_flight <= self.max_in_flight
        ):
            raise SpecInputError(
                "max_slow_in_flight must be within 1..max_in_flight", field="max_slow_in_flight"
            )
        if not 0 < self.slow_after_s <= self.timeout_s:
            raise SpecInputError(
                "slow_after_s must be positive and at most the attempt timeout",
                field="slow_after_s",
            )
        if self.synchronous not in ("FULL", "NORMAL"):
            raise SpecInputError("synchronous must be FULL or NORMAL", field="synchronous")
