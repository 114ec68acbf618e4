"""Which readings each tool honours: one declaration per tool, one line each.

A tool declares the clauses (all their readings) or single ``CLAUSE=NAME`` readings it
implements, and whether it takes a vendor ``--policy``. It calls :meth:`Honoured.check` on the
:class:`~whsim.core.readings.Readings` it is given before doing anything: a non-default reading
it does not implement is refused with :class:`~whsim.core.errors.ReadingNotHonouredError` naming
the reading, never silently replaced by the default. ``whsim spec --tools`` prints the table
:func:`table` derives from these declarations, and ``tests/test_honoured.py`` checks each
declaration against what the tool really does.

To register a tool, add one line here::

    MY_TOOL = declare("whsim my-tool", "RETRY-1", "CODES-1=any-2xx", policy=True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from whsim.core.errors import ReadingNotHonouredError, SpecInputError
from whsim.core.readings import AMBIGUOUS, DEFAULTS, Readings, parse_reading
from whsim.core.spec.clauses import clause, reading_names

__all__ = [
    "CHECK",
    "EXPLORE",
    "RECEIVER",
    "RECEIVER_SUITE",
    "SENDER",
    "SENDER_SUITE",
    "SIMULATE",
    "TOOLS",
    "Honoured",
    "declare",
    "table",
]


@dataclass(frozen=True, slots=True)
class Honoured:
    """The readings one tool implements: ``readings[clause]`` is the set of reading names."""

    tool: str
    readings: Mapping[str, frozenset[str]]
    policy: bool = False

    def honours(self, clause_id: str, name: str) -> bool:
        """Whether the tool implements ``clause_id=name`` (defaults of clauses it does not
        model count: the tool behaves as the default reads)."""
        if name in self.readings.get(clause_id, frozenset()):
            return True
        return clause_id not in self.readings and DEFAULTS.get(clause_id) == name

    def check(self, readings: Readings) -> Readings:
        """``readings`` unchanged if the tool implements every one of them; else a clear error."""
        for clause_id, name in readings.chosen.items():
            if not self.honours(clause_id, name):
                honoured = tuple(
                    n for n in reading_names(clause_id) if n in self.readings.get(clause_id, ())
                )
                raise ReadingNotHonouredError(self.tool, clause_id, name, honoured)
        if readings.policy is not None and not self.policy:
            raise SpecInputError(
                f"{self.tool} does not take a vendor policy (--policy {readings.policy})",
                field="policy",
            )
        return readings


TOOLS: dict[str, Honoured] = {}
"""Every declared tool by name, in declaration order."""


def declare(tool: str, *honoured: str, policy: bool = False) -> Honoured:
    """Declare (and register) what ``tool`` honours: clause ids or ``CLAUSE=NAME`` strings."""
    chosen: dict[str, set[str]] = {}
    for item in honoured:
        if "=" in item:
            clause_id, name = parse_reading(item)
            chosen.setdefault(clause_id, set()).add(name)
        else:
            c = clause(item)
            if c.id not in AMBIGUOUS:
                raise SpecInputError(f"{c.id} has no readings to honour", field="honoured")
            chosen.setdefault(c.id, set()).update(reading_names(c.id))
    if tool in TOOLS:
        raise SpecInputError(f"{tool} is declared twice", field="honoured")
    decl = Honoured(
        tool, MappingProxyType({k: frozenset(v) for k, v in chosen.items()}), policy=policy
    )
    TOOLS[tool] = decl
    return decl


def table() -> list[dict[str, object]]:
    """One row per reading of every ambiguous clause: the tools that honour it by declaration."""
    rows: list[dict[str, object]] = []
    for clause_id in AMBIGUOUS:
        for name in reading_names(clause_id):
            rows.append(
                {
                    "clause": clause_id,
                    "reading": name,
                    "default": DEFAULTS[clause_id] == name,
                    "tools": [
                        t.tool for t in TOOLS.values() if name in t.readings.get(clause_id, ())
                    ],
                }
            )
    return rows


# --- the declarations (one line per tool) -----------------------------------------------------
_SIM_READINGS: Final = (
    "RETRY-1", "RETRY-2", "RETRY-3", "RETRY-4", "EXPIRY-1", "THROTTLE-1", "CODES-1", "VERIFY-2",
    "VERIFY-3", "THROTTLE-2",
)  # fmt: skip
SIMULATE: Final = declare("whsim simulate", *_SIM_READINGS, policy=True)
EXPLORE: Final = declare("whsim explore", *_SIM_READINGS, policy=True)  # runs the simulator
_SENDER_READINGS: Final = (
    "RETRY-1", "RETRY-2", "RETRY-3", "RETRY-4", "EXPIRY-1", "CODES-1", "VERIFY-2", "VERIFY-3",
    "VERIFY-4", "VERIFY-5", "REG-4", "REG-6", "HTTPS-1", "SIG-1",
)  # fmt: skip
SENDER: Final = declare("whsim sender", *_SENDER_READINGS, policy=True)  # checked in SenderConfig
RECEIVER: Final = declare(
    "whsim receiver", "SIG-1", "SIG-2", "CODES-5", "EVENT-9", "VERIFY-5"
)  # EVENT-9, VERIFY-5: the sender's choice, both handled by the same code (receiver/app.py)
RECEIVER_SUITE: Final = declare("whsim conformance receiver", "SIG-2", "CODES-5", "EVENT-9")
# ^ SIG-2 (RCV-SIG-006/011) and CODES-5 (RCV-CODES-004) change verdicts; EVENT-9: the same
#   verdicts under both readings (an id-less event is valid either way, RCV-IDEM-003/GEN-002).
SENDER_SUITE: Final = declare(
    "whsim conformance sender", "RETRY-1", "REG-6"
)  # RETRY-1: the bands it grades by; REG-6: what SND-REG-006 counts as a bad body
CHECK: Final = declare(
    "whsim check", "RETRY-1", "RETRY-2", "RETRY-3", "RETRY-4", "EXPIRY-1", "CODES-1", "SIG-1",
    "EVENT-9", "THROTTLE-1", "THROTTLE-2", "VERIFY-5", policy=True,
)  # fmt: skip
# ^ the offline grader (conformance/grader.py): the delivery-rule readings through
#   Readings.retry_policy(); SIG-1 and EVENT-9 in its signature and id checks; THROTTLE-1 and
#   THROTTLE-2: every reading allows at most one job.progress per job and endpoint per 10 s,
#   which is what the grader checks (CHK-THROTTLE-001); VERIFY-5: verification requests are not graded, so
#   signed and unsigned ones get the same verdicts. What a delivery trace cannot show
#   (registration, verification policy, receiver-side readings) is refused by name.
