"""`events.check_document` has two copies of one schema check: a compiled fastjsonschema fast
path (a grader of a million recorded attempts needs it) and jsonschema, whose messages name the
field. They must give the same verdict on every document, valid or not; a document the fast path
accepts and jsonschema refuses would be graded valid by `whsim check` and invalid by the suites.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from whsim.core.errors import EventDataError
from whsim.core.spec import events
from whsim.core.spec.events import EVENT_TYPES, TEST_EVENT_TYPE, check_document

pytest.importorskip("fastjsonschema")

ALL_TYPES = (*EVENT_TYPES, TEST_EVENT_TYPE)

ids = st.one_of(st.text(min_size=1, max_size=130), st.just("evt_1"), st.just("x" * 128))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0.0, 1.0, 2.0, 100.0, 100.5, -0.0])
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
timestamps = st.one_of(
    st.sampled_from(
        [
            "2025-01-15T10:30:00Z",
            "2025-01-15T10:30:00.123Z",
            "2025-01-15T10:30:00.1234567Z",
            "2025-01-15T10:30:00+00:00",
            "2025-01-15T10:30:00Z\n",
            "2025-01-15 10:30:00Z",
            "２０２５-01-15T10:30:00Z",
            "",
        ]
    ),
    st.text(max_size=30),
)


@st.composite
def valid_data(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    i = draw(ids.filter(lambda s: len(s) <= 128))
    total = draw(st.integers(1, 1000))
    done = draw(st.integers(0, total))
    return {
        "job.created": {"job_id": i, "proposal_id": i, "status": "pending"},
        "job.started": {"job_id": i, "status": "processing"},
        "job.progress": {
            "job_id": i,
            "progress": {
                "completed": done,
                "total": total,
                "percentage": draw(st.floats(0, 100) | st.integers(0, 100)),
            },
        },
        "job.completed": {
            "job_id": i,
            "proposal_id": i,
            "document_id": i,
            "status": "completed",
        },
        "job.failed": {"job_id": i, "error": draw(st.text(max_size=10)), "error_details": {}},
        "document.created": {
            "document_id": i,
            "proposal_id": i,
            "version": draw(st.integers(1, 50)),
        },
        "proposal.created": {"proposal_id": i, "title": draw(st.text(max_size=1001))},
        TEST_EVENT_TYPE: {"webhook_id": i, "message": draw(st.text(max_size=10))},
    }[kind]


@st.composite
def documents(draw: st.DrawFn) -> object:
    """A valid event envelope, then zero to three mutations anywhere in it."""
    kind = draw(st.sampled_from(ALL_TYPES))
    doc: Any = {
        "id": draw(ids),
        "type": kind,
        "timestamp": draw(timestamps),
        "data": draw(valid_data(kind)),
    }
    for _ in range(draw(st.integers(0, 3))):
        # pick a container (the envelope or one nested object) and change one key of it
        holders = [doc]
        stack = [doc]
        while stack:
            node = stack.pop()
            for v in node.values():
                if isinstance(v, dict):
                    holders.append(v)
                    stack.append(v)
        node = draw(st.sampled_from(holders))
        key = draw(st.sampled_from([*node.keys(), "extra"]))
        action = draw(st.sampled_from(["drop", "replace", "bool", "float", "string"]))
        if action == "drop":
            node.pop(key, None)
        elif action == "replace":
            node[key] = draw(json_values)
        elif action == "bool":
            node[key] = draw(st.booleans())
        elif action == "float" and isinstance(node.get(key), int):
            node[key] = float(node[key])
        else:
            node[key] = str(node.get(key))
    if draw(st.integers(0, 20)) == 0:
        return draw(json_values)  # not an object at all
    return doc


def _verdict(doc: object) -> bool:
    try:
        check_document(copy.deepcopy(doc), allow_unknown_type=True)
    except EventDataError:
        return False
    return True


def _slow_verdict(doc: object, monkeypatch: pytest.MonkeyPatch) -> bool:
    with monkeypatch.context() as m:
        m.setattr(events, "_fast_ok", lambda _doc: False)  # jsonschema only
        return _verdict(doc)


@given(documents())
def test_fast_path_and_jsonschema_agree(doc: object) -> None:
    with pytest.MonkeyPatch.context() as mp:
        slow = _slow_verdict(doc, mp)
    fast = events._fast_ok(copy.deepcopy(doc))
    # The fast path never accepts what jsonschema refuses ...
    assert not (fast and not slow), doc
    # ... and refuses nothing jsonschema accepts (else it is no fast path but a slow one).
    assert fast == slow, doc
    assert _verdict(doc) == slow, doc


def test_the_generator_reaches_both_verdicts() -> None:
    """Not vacuous: the strategy above yields accepted and refused documents of every type."""
    seen: set[tuple[str, bool]] = set()

    @given(documents())
    def probe(doc: object) -> None:
        if isinstance(doc, dict) and isinstance(doc.get("type"), str):
            seen.add((doc["type"], _verdict(doc)))

    probe()
    assert {v for _, v in seen} == {True, False}
    assert len({t for t, v in seen if v}) >= 3
