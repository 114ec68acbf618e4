"""The receiver case catalog against the clause registry and the suite's test functions."""

from __future__ import annotations

import importlib
import pkgutil
import re

import whsim_conformance.receiver as suite
from whsim_conformance.receiver.catalog import CATALOG

from whsim.conformance.report import role_clauses
from whsim.core.spec.clauses import clause


def _test_case_ids() -> list[str]:
    ids = []
    for info in pkgutil.iter_modules(suite.__path__):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"{suite.__name__}.{info.name}")
        for name, fn in vars(module).items():
            if name.startswith("test_") and callable(fn):
                marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "whsim_case"]
                assert len(marks) == 1, f"{info.name}.{name} needs exactly one whsim_case marker"
                ids.append(marks[0].args[0].id)
    return ids


def test_every_catalog_case_has_exactly_one_test() -> None:
    ids = _test_case_ids()
    assert sorted(ids) == sorted(CATALOG)


def test_case_ids_are_stable_names() -> None:
    for case_id, spec in CATALOG.items():
        assert case_id == spec.id
        assert re.fullmatch(r"RCV-[A-Z]+-\d{3}", case_id)


def test_every_receiver_clause_has_a_case_or_an_untestable_reason() -> None:
    for c in role_clauses("receiver"):
        cases = [s for s in CATALOG.values() if c.id in s.clauses]
        assert cases, f"{c.id} has no case"
        graded = [s for s in cases if not s.untestable]
        if "receiver-suite" in c.checked_by:
            assert graded, f"{c.id} is checked by the receiver suite but every case is untestable"
        else:
            assert all(s.untestable for s in cases), f"{c.id}: {c.checked_by}"


def test_case_levels_match_their_clauses() -> None:
    for spec in CATALOG.values():
        # INFO marks a case whose normal result is information (which reading a target follows).
        assert spec.level in {str(clause(c).level) for c in spec.clauses} | {"INFO"}, spec.id
