"""Tolerance bands for real-time checks of a sender, and which retry reading a schedule matches.

A band around an expected gap ``E`` (seconds, already divided by the sender's time scale) is
``[E*(1 - r_lo) - a_lo, E*(1 + r_hi) + a_hi]`` (research conformance.md 4.2): early is
strict (early retries harm receivers), late is lenient (queues, pollers, CI noise). A gap past
the upper bound but within twice it is graded non-strict, past that it fails. The absolute terms
are wall time at every scale: they absorb the kit's and the network's noise, which a time scale
does not shrink. Every profile is printed in the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from whsim.conformance.outcomes import Outcome
from whsim.core.policy import RetryPolicy
from whsim.core.spec.clauses import reading_names

__all__ = [
    "PROFILES",
    "Band",
    "GapGrade",
    "Profile",
    "ReadingMatch",
    "grade_gaps",
    "match_reading",
    "profile",
]


@dataclass(frozen=True, slots=True)
class Profile:
    """Relative and absolute slack below (``lo``) and above (``hi``) an expected gap."""

    name: str
    r_lo: float
    a_lo: float
    r_hi: float
    a_hi: float

    def band(self, expected_s: float) -> Band:
        low = max(0.0, expected_s * (1 - self.r_lo) - self.a_lo)
        return Band(expected_s, low, expected_s * (1 + self.r_hi) + self.a_hi)

    def describe(self) -> str:
        return (
            f"{self.name}: [E*(1-{self.r_lo:g}) - {self.a_lo:g} s, "
            f"E*(1+{self.r_hi:g}) + {self.a_hi:g} s]; up to twice the upper bound is non-strict"
        )


PROFILES: Final[dict[str, Profile]] = {
    p.name: p
    for p in (
        Profile("strict", r_lo=0.05, a_lo=0.05, r_hi=0.25, a_hi=0.5),
        Profile("default", r_lo=0.10, a_lo=0.15, r_hi=0.50, a_hi=1.0),
        Profile("lenient", r_lo=0.25, a_lo=0.5, r_hi=1.0, a_hi=3.0),
    )
}
"""The timing profiles of ``--timing``; ``default`` is research conformance.md 4.2."""


def profile(name: str | None) -> Profile:
    """A profile by name (``default`` when None); raises KeyError naming the known ones."""
    key = name or "default"
    if key not in PROFILES:
        raise KeyError(f"unknown timing profile {key!r}; known: {', '.join(PROFILES)}")
    return PROFILES[key]


@dataclass(frozen=True, slots=True)
class Band:
    """Where a gap expected to be ``expected`` seconds may fall: ``[low, high]``."""

    expected: float
    low: float
    high: float

    def grade(self, observed: float) -> Outcome:
        if observed < self.low:
            return Outcome.FAIL
        if observed <= self.high:
            return Outcome.PASS
        return Outcome.NON_STRICT if observed <= 2 * self.high else Outcome.FAIL


@dataclass(frozen=True, slots=True)
class GapGrade:
    """The grade of a whole observed schedule against one expected schedule."""

    outcome: Outcome
    bands: tuple[Band, ...]
    grades: tuple[Outcome, ...]
    why: str


def grade_gaps(observed: Sequence[float], expected: Sequence[float], prof: Profile) -> GapGrade:
    """Grade observed gaps (seconds) against expected ones, gap by gap, then the count.

    Missing gaps fail; extra gaps fail. The worst gap decides otherwise.
    """
    bands = tuple(prof.band(e) for e in expected)
    grades = tuple(b.grade(o) for b, o in zip(bands, observed, strict=False))
    for k, (band, gap, g) in enumerate(zip(bands, observed, grades, strict=False), start=1):
        if g is Outcome.FAIL:
            where = "early" if gap < band.low else "late"
            return GapGrade(
                Outcome.FAIL,
                bands,
                grades,
                f"gap {k} is {gap:.3f} s, {where} for the band [{band.low:.3f}, {band.high:.3f}] s "
                f"around {band.expected:.3f} s",
            )
    if len(observed) < len(expected):
        return GapGrade(
            Outcome.FAIL,
            bands,
            grades,
            f"{len(observed)} gap(s) observed, {len(expected)} expected: attempts are missing",
        )
    if len(observed) > len(expected):
        return GapGrade(
            Outcome.FAIL,
            bands,
            grades,
            f"{len(observed)} gap(s) observed, {len(expected)} expected: extra attempts",
        )
    if Outcome.NON_STRICT in grades:
        k = grades.index(Outcome.NON_STRICT)
        return GapGrade(
            Outcome.NON_STRICT,
            bands,
            grades,
            f"gap {k + 1} is {observed[k]:.3f} s, late for [{bands[k].low:.3f}, "
            f"{bands[k].high:.3f}] s but within twice the upper bound",
        )
    return GapGrade(Outcome.PASS, bands, grades, f"all {len(observed)} gap(s) within their bands")


@dataclass(frozen=True, slots=True)
class ReadingMatch:
    """How well one reading of RETRY-1 explains an observed schedule (``error`` in seconds)."""

    reading: str
    grade: GapGrade
    error: float


def expected_gaps(reading: str, time_scale: float = 1.0) -> tuple[float, ...]:
    """The gaps between attempts (seconds of wall time) of a RETRY-1 reading at a time scale."""
    return tuple(d / 1000 / time_scale for d in RetryPolicy.seed(reading).delays_ms)


def match_reading(
    observed: Sequence[float], prof: Profile, time_scale: float = 1.0
) -> tuple[ReadingMatch | None, list[ReadingMatch]]:
    """The reading of RETRY-1 the observed gaps match best, and every reading's fit.

    A reading matches when the attempt count is right and no gap fails its band; among matches
    the one with the smallest summed deviation wins. None when no reading matches.
    """
    fits = []
    for name in reading_names("RETRY-1"):
        expected = expected_gaps(name, time_scale)
        grade = grade_gaps(observed, expected, prof)
        error = sum(abs(o - e) for o, e in zip(observed, expected, strict=False))
        error += abs(len(observed) - len(expected)) * 1000.0
        fits.append(ReadingMatch(name, grade, error))
    matches = [f for f in fits if f.grade.outcome is not Outcome.FAIL]
    best = min(matches, key=lambda f: f.error) if matches else None
    return best, fits
