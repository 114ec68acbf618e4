"""The likely root cause of a run's failures, named before the case list.

A suite looks at the pattern of its outcomes (and, for the receiver suite, a few extra probes)
and names what most likely went wrong: a wrong secret, a re-serialized body, a header read
differently, a slow receiver, a URL that is no receiver; for the sender suite a URL that is no
sender API, a challenge that never came, a sender that cannot reach the kit. Each finding says
what it rests on, so a reader can check it. The suites produce the findings; the reports
(report.json ``diagnosis``, the HTML page, the terminal) only show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["CODES", "Finding"]

CODES = (
    "wrong-secret",
    "body-reserialized",
    "header-format",
    "slow-receiver",
    "not-a-receiver",
    "sender-api-not-receiver",
    "not-a-sender-api",
    "challenge-never-came",
    "sender-cannot-reach-kit",
    "registration-unanswered",
)
"""Every diagnosis a suite can make (``Finding.code``)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One likely root cause: a stable ``code``, one line, what it rests on, what to do."""

    code: str
    summary: str
    evidence: list[str] = field(default_factory=list)
    hint: str = ""
    cases: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown diagnosis code {self.code!r}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "summary": self.summary,
            "evidence": list(self.evidence),
            "hint": self.hint,
            "cases": list(self.cases),
        }

    def lines(self) -> list[str]:
        """The finding as terminal lines."""
        out = [f"LIKELY CAUSE ({self.code}): {self.summary}"]
        out += [f"  - {e}" for e in self.evidence]
        if self.hint:
            out.append(f"  fix: {self.hint}")
        return out
