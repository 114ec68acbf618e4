"""The outcome model shared by every conformance role: outcomes, strict mode, the exit code.

Outcomes follow Autobahn and h2spec: ``pass``; ``non-strict`` (a SHOULD missed, or a tolerated
reading); ``fail`` (a MUST broken); ``info`` (recorded, never graded); ``untestable`` (a
precondition is missing); ``error`` (the kit or the network failed, not the target). Untestable
and error are never counted as pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from enum import StrEnum
from typing import Final

__all__ = [
    "EXIT_ERROR",
    "EXIT_FAIL",
    "EXIT_OK",
    "Outcome",
    "counts",
    "effective",
    "exit_code",
    "overall",
]

EXIT_OK: Final = 0
EXIT_FAIL: Final = 1
EXIT_ERROR: Final = 2


class Outcome(StrEnum):
    PASS = "pass"
    NON_STRICT = "non-strict"
    FAIL = "fail"
    INFO = "info"
    UNTESTABLE = "untestable"
    ERROR = "error"


def effective(outcome: Outcome, strict: bool) -> Outcome:
    """The outcome that counts: under ``strict`` a non-strict result is a failure."""
    if strict and outcome is Outcome.NON_STRICT:
        return Outcome.FAIL
    return outcome


def counts(outcomes: Iterable[Outcome]) -> dict[str, int]:
    """How many of each outcome, every outcome listed (zero included), in a fixed order."""
    seen = Counter(outcomes)
    return {str(o): seen.get(o, 0) for o in Outcome}


_GRADED: Final = frozenset({Outcome.PASS, Outcome.NON_STRICT, Outcome.FAIL, Outcome.INFO})


def overall(outcomes: Iterable[Outcome], strict: bool) -> str:
    """``"pass"`` when no case failed, none hit an error and at least one was graded.

    Otherwise ``"fail"``: an error leaves the verdict incomplete, and a run where every case was
    untestable proved nothing (the exit code tells these apart: 2, not 1).
    """
    return "pass" if exit_code(outcomes, strict) == EXIT_OK else "fail"


def exit_code(outcomes: Iterable[Outcome], strict: bool) -> int:
    """0 when no case fails, 1 when one does; 2 when none fails but the kit hit an error or
    could grade nothing at all."""
    seen = {effective(o, strict) for o in outcomes}
    if Outcome.FAIL in seen:
        return EXIT_FAIL
    if Outcome.ERROR in seen or not seen & _GRADED:
        return EXIT_ERROR
    return EXIT_OK
