"""The spec as data: event catalog and schemas, the envelope, and the clause registry."""

from whsim.core.spec.clauses import Clause, Level, Party, Reading, clause, clauses, findings
from whsim.core.spec.events import EVENT_TYPES, Event, make_event, parse_event

__all__ = [
    "EVENT_TYPES",
    "Clause",
    "Event",
    "Level",
    "Party",
    "Reading",
    "clause",
    "clauses",
    "findings",
    "make_event",
    "parse_event",
]
