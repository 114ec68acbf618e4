"""The readings a run follows: one frozen value, checked against the clause registry.

Where the guide is ambiguous, :mod:`whsim.core.spec.clauses` lists named readings per clause and
marks a default. A :class:`Readings` value holds the chosen reading of every such clause (the
default unless chosen otherwise) plus, optionally, a named retry policy of another vendor
(``--policy svix``). Every tool takes one and passes it down; no shell decides a reading itself.

API (stable; other modules build on it)::

    Readings()                                   # every default, no vendor policy
    Readings.parse(["RETRY-1=immediate-counts"], policy="svix")   # CLI form, repeatable
    Readings.of({"RETRY-1": "immediate-counts"})                   # mapping form
    r["RETRY-1"]            -> "immediate-counts"  (the default for a clause not chosen)
    r.chosen                -> {"RETRY-1": "immediate-counts"}   (explicit choices only)
    r.non_default           -> {clause: name} of readings that differ from the default
    r.policy                -> "svix" or None
    r.with_reading("RETRY-2", "only-500") -> a new Readings
    r.retry_policy(**overrides) -> the RetryPolicy these readings describe
    r.as_args()             -> ["--reading", "RETRY-1=immediate-counts", "--policy", "svix"]
    str(r)                  -> "RETRY-1=immediate-counts, policy=svix" ("defaults" if empty)

Errors: an unknown clause, a clause without readings, or an unknown reading raise
:class:`~whsim.core.errors.UnknownReadingError` naming both and listing the valid names; a
malformed ``CLAUSE=NAME`` string, a reading chosen twice with different names, or a vendor
policy combined with a RETRY-1 schedule raise :class:`~whsim.core.errors.SpecInputError`.
Which tools honour which readings is declared in :mod:`whsim.core.honoured`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from whsim.core.errors import SpecInputError, UnknownReadingError
from whsim.core.policy import RetryPolicy, resolve_policy
from whsim.core.spec.clauses import clause, clauses, resolve_reading

__all__ = ["AMBIGUOUS", "DEFAULTS", "Readings", "parse_reading"]

AMBIGUOUS: Final[tuple[str, ...]] = tuple(c.id for c in clauses() if c.readings)
"""Ids of every clause that has named readings, in the guide's order."""

DEFAULTS: Final[Mapping[str, str]] = MappingProxyType(
    {c.id: c.default for c in clauses() if c.readings and c.default is not None}
)
"""The kit's default reading of every ambiguous clause."""

# RetryPolicy field each delivery-rule clause sets (RETRY-1 picks the schedule itself).
_POLICY_FIELD: Final = {
    "RETRY-2": "codes",
    "RETRY-3": "backoff_from",
    "RETRY-4": "jitter",
    "EXPIRY-1": "expiry_from",
    "CODES-1": "success",
}


def _check(clause_id: str, name: str) -> tuple[str, str]:
    c = clause(clause_id)  # unknown clause: UnknownReadingError listing every clause
    if not c.readings:
        raise UnknownReadingError("ambiguous clause", clause_id, AMBIGUOUS)
    return c.id, resolve_reading(c.id, name)


def parse_reading(text: str) -> tuple[str, str]:
    """``"CLAUSE=NAME"`` -> ``(clause, name)``, both checked against the registry."""
    if not isinstance(text, str) or text.count("=") != 1:
        hint = ""
        if isinstance(text, str) and "=" not in text and text in RetryPolicy.names():
            hint = (
                f"; for a vendor's policy use --policy {text}, for the guide's schedule "
                f"--reading RETRY-1={text}"
            )
        raise SpecInputError(
            f"a reading (--reading) is CLAUSE=NAME, e.g. RETRY-1=immediate-counts; got {text!r}{hint}",
            field="reading",
        )
    clause_id, name = (part.strip() for part in text.split("="))
    return _check(clause_id.upper(), name)


@dataclass(frozen=True, slots=True, init=False)
class Readings:
    """The chosen reading of every ambiguous clause, plus an optional vendor retry policy.

    Immutable and hashable; equal values mean the same behaviour. Only explicit choices are
    stored (sorted by clause id), so ``Readings()`` and a value that chose every default by
    name compare unequal but behave the same (compare :attr:`non_default` for behaviour).
    """

    _chosen: tuple[tuple[str, str], ...]
    policy: str | None

    def __init__(
        self, chosen: Mapping[str, str] | None = None, *, policy: str | None = None
    ) -> None:
        pairs = dict(_check(k, v) for k, v in (chosen or {}).items())
        if policy is not None:
            policy = resolve_policy(policy).name
            if "RETRY-1" in pairs:
                raise SpecInputError(
                    f"--policy {policy} sets the whole retry schedule; drop "
                    f"RETRY-1={pairs['RETRY-1']} or the policy",
                    field="policy",
                )
        object.__setattr__(self, "_chosen", tuple(sorted(pairs.items())))
        object.__setattr__(self, "policy", policy)

    @classmethod
    def of(cls, chosen: Mapping[str, str], *, policy: str | None = None) -> Readings:
        """Readings from a ``{clause: name}`` mapping (checked)."""
        return cls(chosen, policy=policy)

    @classmethod
    def parse(cls, texts: Iterable[str] = (), *, policy: str | None = None) -> Readings:
        """Readings from repeatable ``CLAUSE=NAME`` strings (the ``--reading`` flag)."""
        if isinstance(texts, str):
            texts = (texts,)
        chosen: dict[str, str] = {}
        for text in texts:
            clause_id, name = parse_reading(text)
            if chosen.get(clause_id, name) != name:
                raise SpecInputError(
                    f"{clause_id} chosen twice: {chosen[clause_id]} and {name}", field="reading"
                )
            chosen[clause_id] = name
        return cls(chosen, policy=policy)

    @property
    def chosen(self) -> Mapping[str, str]:
        """The explicit choices only."""
        return MappingProxyType(dict(self._chosen))

    @property
    def non_default(self) -> Mapping[str, str]:
        """Choices that differ from the kit's default."""
        return MappingProxyType({k: v for k, v in self._chosen if DEFAULTS.get(k) != v})

    def __getitem__(self, clause_id: str) -> str:
        for k, v in self._chosen:
            if k == clause_id:
                return v
        if clause_id in DEFAULTS:
            return DEFAULTS[clause_id]
        clause(clause_id)  # raises for an unknown id
        raise UnknownReadingError("ambiguous clause", clause_id, AMBIGUOUS)

    def get(self, clause_id: str) -> str:
        """Same as ``self[clause_id]``."""
        return self[clause_id]

    def is_chosen(self, clause_id: str) -> bool:
        return any(k == clause_id for k, _ in self._chosen)

    def with_reading(self, clause_id: str, name: str) -> Readings:
        """A copy with one more (or another) choice."""
        return Readings({**dict(self._chosen), clause_id: name}, policy=self.policy)

    def retry_policy(self, **overrides: object) -> RetryPolicy:
        """The :class:`RetryPolicy` of these readings.

        The schedule is the vendor policy if one is set, else the guide's under RETRY-1. RETRY-2,
        RETRY-3, RETRY-4, EXPIRY-1 and CODES-1 then apply: for the guide's schedule always, for a
        vendor policy only where chosen explicitly (the vendor's own rule stands otherwise).
        ``overrides`` (e.g. ``timeout_ms``) are applied last.
        """
        fields: dict[str, object] = {}
        for clause_id, field in _POLICY_FIELD.items():
            if self.policy is None or self.is_chosen(clause_id):
                fields[field] = self[clause_id]
        fields.update(overrides)
        if self.policy is not None:
            return RetryPolicy.named(self.policy, **fields)
        return RetryPolicy.seed(self["RETRY-1"], **fields)

    def as_args(self) -> list[str]:
        """The CLI flags that rebuild this value."""
        args: list[str] = []
        for k, v in self._chosen:
            args += ["--reading", f"{k}={v}"]
        if self.policy is not None:
            args += ["--policy", self.policy]
        return args

    def as_dict(self) -> dict[str, object]:
        """Every ambiguous clause's reading, plus the policy (JSON-ready)."""
        return {"readings": {k: self[k] for k in AMBIGUOUS}, "policy": self.policy}

    def __str__(self) -> str:
        parts = [f"{k}={v}" for k, v in self._chosen]
        if self.policy is not None:
            parts.append(f"policy={self.policy}")
        return ", ".join(parts) or "defaults"

    def __repr__(self) -> str:
        policy = f", policy={self.policy!r}" if self.policy is not None else ""
        return f"Readings({dict(self._chosen)!r}{policy})"
