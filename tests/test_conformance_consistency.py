"""One reading, one verdict: no two receiver cases grade the same behaviour differently.

The generated invalid events (RCV-GEN-002 expects 400) must be exactly what the reading-default
receiver refuses, and the generated valid ones what it accepts; an event as the guide prints it
(no id) is valid for RCV-IDEM-003, so no generated invalid event may differ from a valid one only
by a missing id. Every case's level is bounded by its verdicts (a SHOULD case never fails).
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from whsim_conformance.receiver.catalog import CATALOG
from whsim_conformance.receiver.generated import invalid_bodies, valid_bodies

from whsim.conformance.case import CaseSpec
from whsim.core.errors import EventDataError
from whsim.core.spec.clauses import clause
from whsim.receiver.app import _parse

_ids = iter(range(10**9))


def _new_id() -> str:
    return f"evt_{next(_ids)}"


@settings(max_examples=150, deadline=None)
@given(item=invalid_bodies(_new_id))
def test_every_generated_invalid_event_is_refused_by_the_default_reading(
    item: tuple[str, bytes],
) -> None:
    why, body = item
    try:
        _parse(body)
    except EventDataError:
        pass
    else:
        raise AssertionError(f"RCV-GEN-002 calls this invalid ({why}) but it is accepted: {body!r}")
    doc = json.loads(body)
    assert not (isinstance(doc, dict) and "id" not in doc), "a missing id is not invalid"


@settings(max_examples=100, deadline=None)
@given(body=valid_bodies(_new_id), drop_id=st.booleans())
def test_every_generated_valid_event_is_accepted_with_or_without_its_id(
    body: bytes, drop_id: bool
) -> None:
    if drop_id:
        doc = json.loads(body)
        doc.pop("id")
        body = json.dumps(doc).encode()
    event = _parse(body)
    assert event.body == body and event.id


def test_an_id_less_event_is_keyed_by_its_exact_bytes() -> None:
    one = b'{"type":"job.started","timestamp":"2024-01-15T10:31:00Z","data":{"job_id":"j","status":"processing"}}'
    other = one.replace(b'"j"', b'"k"')
    assert _parse(one).id == _parse(one).id != _parse(other).id
    assert _parse(one).id.startswith("sha256:")


def test_readings_named_by_cases_exist() -> None:
    for spec in CATALOG.values():
        for key, _ in spec.readings:
            clause_id, _, name = key.partition("=")
            assert name in {r.name for r in clause(clause_id).readings}, (spec.id, key)


def _levels_carry(spec: CaseSpec) -> bool:
    cited = {str(clause(c).level) for c in spec.clauses}
    return spec.level in cited or bool(spec.justification) or spec.level == "INFO"


def test_every_level_is_carried_by_a_cited_clause_or_a_justification() -> None:
    for spec in CATALOG.values():
        assert _levels_carry(spec), spec.id


def test_should_and_may_clauses_never_yield_a_must_case_without_justification() -> None:
    for spec in CATALOG.values():
        levels = {str(clause(c).level) for c in spec.clauses}
        if "MUST" not in levels and spec.level == "MUST":
            assert spec.justification, spec.id


def test_docs_cases_md_is_generated_from_the_catalogs() -> None:
    from pathlib import Path

    from whsim_conformance.cases_doc import render

    committed = Path(__file__).resolve().parents[1] / "docs" / "cases.md"
    assert committed.read_text(encoding="utf-8") == render(), (
        "docs/cases.md is stale: python -m whsim_conformance.cases_doc > docs/cases.md"
    )
    for spec in CATALOG.values():
        assert f"| {spec.id} | {spec.level} |" in render()
