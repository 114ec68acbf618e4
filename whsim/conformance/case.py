"""A conformance case while it runs: its catalog entry, the exchanges it made, and its verdict.

A test receives a :class:`Case`, records exchanges on it, and ends with exactly one verdict method
(:meth:`Case.passed`, :meth:`Case.info`, :meth:`Case.non_strict`, :meth:`Case.fail`,
:meth:`Case.untestable`, :meth:`Case.error`). The verdict is turned into the matching pytest
outcome so a plain ``pytest`` run reads right too: fail fails, non-strict is an xfail (a failure
under strict mode), untestable is a skip, error raises :class:`CaseError`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, NoReturn

import pytest

from whsim.conformance.exchange import Exchange, curl_line
from whsim.conformance.outcomes import Outcome
from whsim.core.errors import CaseError
from whsim.core.spec.clauses import Level, clause

__all__ = ["Case", "CaseError", "CaseResult", "CaseSpec"]

_LEVEL_ORDER = {Level.MUST: 0, Level.SHOULD: 1, Level.MAY: 2, Level.INFO: 3}


@dataclass(frozen=True, slots=True)
class CaseSpec:
    """A catalog entry: stable ``id``, what it checks, the clauses it cites, its level.

    ``level`` defaults to the strongest level among the cited clauses. ``untestable`` is the
    reason when the case cannot be observed from outside (it is then always graded untestable).
    ``needs`` names the cases whose pass is this case's precondition, and ``precondition`` says
    in words what they establish: when one of them fails, this case is graded
    ``untestable: blocked by <id>`` instead of failing for a reason that is not its own.
    ``justification`` is the guide's words that carry the level, when they are not the cited
    clauses' own (for example a MUST of one clause graded SHOULD because the case tests only the
    part of it that the guide writes with "should").
    """

    id: str
    title: str
    clauses: tuple[str, ...]
    level: str = ""
    untestable: str = ""
    needs: tuple[str, ...] = ()
    precondition: str = ""
    justification: str = ""
    readings: tuple[tuple[str, str], ...] = ()
    """``("CLAUSE=reading", verdict under it)`` for each named reading that changes this case."""

    def __post_init__(self) -> None:
        cited = [clause(c) for c in self.clauses]  # unknown ids raise here, at import time
        if not self.level:
            strongest = min((c.level for c in cited), key=_LEVEL_ORDER.__getitem__)
            object.__setattr__(self, "level", str(strongest))

    @property
    def group(self) -> str:
        return self.id.rsplit("-", 1)[0]

    def requirement(self) -> str:
        """The cited clauses in the guide's own words, one per line."""
        return "\n".join(f"{c.id} ({c.level}): {c.text}" for c in (clause(i) for i in self.clauses))


@dataclass(slots=True)
class CaseResult:
    """What a finished case reports (one row of report.json)."""

    spec: CaseSpec
    outcome: Outcome
    message: str = ""
    expected: str = ""
    actual: str = ""
    exchanges: list[Exchange] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    primary: int | None = None

    def primary_exchange(self) -> Exchange | None:
        """The exchange that decided the verdict (the last one when none was named)."""
        if not self.exchanges:
            return None
        if self.primary is not None and 0 <= self.primary < len(self.exchanges):
            return self.exchanges[self.primary]
        return self.exchanges[-1]

    def as_dict(self, *, max_exchanges: int = 60) -> dict[str, Any]:
        first = self.primary_exchange()
        return {
            "id": self.spec.id,
            "title": self.spec.title,
            "clauses": list(self.spec.clauses),
            "level": self.spec.level,
            "needs": list(self.spec.needs),
            "outcome": str(self.outcome),
            "message": self.message,
            "expected": self.expected,
            "actual": self.actual,
            "requirement": self.spec.requirement(),
            "request": first.request.as_dict() if first else None,
            "response": first.response.as_dict() if first else None,
            "curl": curl_line(first.request) if first else None,
            "exchanges": [e.as_dict() for e in self.exchanges[:max_exchanges]],
            "exchange_count": len(self.exchanges),
            "details": self.details,
            "duration_s": round(self.duration_s, 3),
        }


LINE_LIMIT = 400
"""The longest line a failure prints to the terminal."""


def _clip(line: str, limit: int = LINE_LIMIT) -> str:
    if len(line) <= limit:
        return line
    return line[: limit - 60] + f"... ({len(line) - limit + 60} more characters in report.json)"


class Case:
    """The running case handed to a conformance test."""

    def __init__(
        self, spec: CaseSpec, *, strict: bool = False, deadline: float | None = None
    ) -> None:
        self.spec = spec
        self.strict = strict
        self.deadline = deadline
        self.exchanges: list[Exchange] = []
        self.details: dict[str, Any] = {}
        self.result: CaseResult | None = None

    def seconds_left(self, cap: float) -> float:
        """Seconds this case may still spend: ``cap``, or less when the run's budget is nearly spent."""
        if self.deadline is None:
            return cap
        return max(0.0, min(cap, self.deadline - time.monotonic()))

    def record(self, exchange: Exchange) -> Exchange:
        self.exchanges.append(exchange)
        return exchange

    def _finish(
        self, outcome: Outcome, message: str, expected: str, actual: str, primary: Exchange | None
    ) -> CaseResult:
        index = None
        if primary is not None:
            index = next((i for i, e in enumerate(self.exchanges) if e is primary), None)
        self.result = CaseResult(
            self.spec,
            outcome,
            message,
            expected,
            actual,
            list(self.exchanges),
            dict(self.details),
            primary=index,
        )
        return self.result

    def explain(self, message: str, expected: str, actual: str, primary: Exchange | None) -> str:
        """The failure text: requirement quoted, expected vs actual, a one-line replay.

        It goes to a terminal, so every line is kept under :data:`LINE_LIMIT` characters (the
        full text, and the replay of a long request, are in the reports) and secrets are masked.
        """
        from whsim.conformance.masking import Masker

        lines = [_clip(f"{self.spec.id} ({self.spec.level}): {message}"), "Requirement:"]
        lines += ["  " + line for line in self.spec.requirement().splitlines()]
        if expected or actual:
            lines += [_clip(f"Expected: {expected}"), _clip(f"Actual:   {actual}")]
        ex = primary or (self.exchanges[-1] if self.exchanges else None)
        if ex is not None:
            replay = curl_line(ex.request)
            if len(replay) > LINE_LIMIT:
                replay = (
                    f"{ex.request.method} {ex.request.url} with a {len(ex.request.body)}-byte body: "
                    "the curl line is in the HTML report and report.json"
                )
            lines.append(f"Reproduce: {replay}")
        return Masker().text("\n".join(lines))

    def passed(self, message: str = "", *, primary: Exchange | None = None) -> None:
        self._finish(Outcome.PASS, message, "", "", primary)

    def info(self, message: str, *, primary: Exchange | None = None) -> None:
        self._finish(Outcome.INFO, message, "", "", primary)

    def non_strict(
        self, message: str, *, expected: str = "", actual: str = "", primary: Exchange | None = None
    ) -> NoReturn:
        self._finish(Outcome.NON_STRICT, message, expected, actual, primary)
        text = self.explain(message, expected, actual, primary)
        if self.strict:
            pytest.fail("NON-STRICT (failing under --strict) " + text, pytrace=False)
        pytest.xfail("NON-STRICT " + text)

    def fail(
        self, message: str, *, expected: str = "", actual: str = "", primary: Exchange | None = None
    ) -> NoReturn:
        """A MUST broken. In a case whose level is SHOULD or MAY this is :meth:`non_strict`:
        the level, which the guide's words carry, bounds every verdict of the case."""
        if self.spec.level in (Level.SHOULD, Level.MAY):
            self.non_strict(message, expected=expected, actual=actual, primary=primary)
        self._finish(Outcome.FAIL, message, expected, actual, primary)
        pytest.fail(self.explain(message, expected, actual, primary), pytrace=False)

    def untestable(self, reason: str) -> NoReturn:
        self._finish(Outcome.UNTESTABLE, reason, "", "", None)
        pytest.skip(f"UNTESTABLE {self.spec.id}: {reason}")

    def error(self, message: str) -> NoReturn:
        self._finish(Outcome.ERROR, message, "", "", None)
        raise CaseError(f"{self.spec.id}: {message}", case_id=self.spec.id)

    def blocked(self, by: str, why: str = "") -> NoReturn:
        """Untestable because the precondition case ``by`` did not pass (never a failure)."""
        need = f" ({self.spec.precondition})" if self.spec.precondition else ""
        self.untestable(f"blocked by {by}{need}" + (f": {why}" if why else ""))

    def replay(self, result: CaseResult) -> None:
        """Take ``result`` (graded elsewhere, e.g. concurrently) as this case's verdict.

        Ends the way the verdict method that made ``result`` ended: returns for pass and info,
        raises the matching pytest outcome otherwise, so pytest, its JUnit and the kit's
        reports agree.
        """
        self.exchanges = list(result.exchanges)
        self.details = dict(result.details)
        self.result = result
        text = self.explain(
            result.message, result.expected, result.actual, result.primary_exchange()
        )
        if result.outcome is Outcome.FAIL:
            pytest.fail(text, pytrace=False)
        if result.outcome is Outcome.NON_STRICT:
            if self.strict:
                pytest.fail("NON-STRICT (failing under --strict) " + text, pytrace=False)
            pytest.xfail("NON-STRICT " + text)
        if result.outcome is Outcome.UNTESTABLE:
            pytest.skip(f"UNTESTABLE {self.spec.id}: {result.message}")
        if result.outcome is Outcome.ERROR:
            raise CaseError(f"{self.spec.id}: {result.message}", case_id=self.spec.id)
