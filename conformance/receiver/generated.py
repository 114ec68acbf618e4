"""Hypothesis strategies for the receiver suite: challenges, valid events, invalid events.

Runs are bounded and seeded from the run's seed: generate only (no shrinking against a live
target), no deadline, no example database.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, Final, TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from whsim.core.errors import EventDataError
from whsim.core.spec.events import EVENT_TYPES, parse_event

__all__ = ["challenges", "invalid_bodies", "run_examples", "valid_bodies"]

T = TypeVar("T")

HYPOTHESIS_LOCK: Final = threading.Lock()
"""One hypothesis run at a time in this process (see :func:`run_examples`)."""

# codec="utf-8" leaves out lone surrogates, which no UTF-8 body can carry.
_CHARS = st.characters(codec="utf-8")
_TEXT = st.text(_CHARS, max_size=40)
_ID = st.text(st.characters(codec="utf-8", min_codepoint=0x20), min_size=1, max_size=40)


def run_examples(
    strategy: st.SearchStrategy[T], check: Callable[[T], None], *, seed: int, n: int
) -> None:
    """Call ``check`` on ``n`` examples drawn from ``strategy`` with ``seed``.

    Holds :data:`HYPOTHESIS_LOCK`: the suite runs cases in threads, and hypothesis is not
    thread-safe (two cases drawing at once in a loaded run saw a half-imported hypothesis module,
    ``ImportError: cannot import name 'FlatMapStrategy'``, and were graded ``error``).
    """

    @settings(
        max_examples=n,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=False,
    )
    @hypothesis_seed(seed)
    @given(strategy)
    def inner(value: T) -> None:
        check(value)

    with HYPOTHESIS_LOCK:
        inner()


# ``SearchStrategy.flatmap`` imports its module on first call; make that first call here, at
# import, in the importing thread, so strategies built in case threads never race on it.
st.integers().flatmap(st.just)


challenges = st.text(_CHARS, min_size=1, max_size=300)


def _data(event_type: str) -> st.SearchStrategy[dict[str, Any]]:
    progress = st.integers(1, 10_000).flatmap(
        lambda total: st.fixed_dictionaries(
            {
                "completed": st.integers(0, total),
                "total": st.just(total),
                "percentage": st.floats(0, 100, allow_nan=False),
            }
        )
    )
    details = st.dictionaries(
        _TEXT, st.one_of(st.none(), st.booleans(), st.integers(), _TEXT), max_size=4
    )
    shapes: dict[str, dict[str, st.SearchStrategy[Any]]] = {
        "job.created": {"job_id": _ID, "proposal_id": _ID, "status": st.just("pending")},
        "job.started": {"job_id": _ID, "status": st.just("processing")},
        "job.progress": {"job_id": _ID, "progress": progress},
        "job.completed": {
            "job_id": _ID,
            "proposal_id": _ID,
            "document_id": _ID,
            "status": st.just("completed"),
        },
        "job.failed": {"job_id": _ID, "error": _TEXT, "error_details": details},
        "document.created": {
            "document_id": _ID,
            "proposal_id": _ID,
            "version": st.integers(1, 10**9),
        },
        "proposal.created": {
            "proposal_id": _ID,
            "title": st.text(_CHARS, max_size=200),
        },
    }
    return st.fixed_dictionaries(shapes[event_type])


_STYLES: st.SearchStrategy[dict[str, Any]] = st.sampled_from(
    [
        {"separators": (",", ":"), "ensure_ascii": False},
        {"separators": (",", ":"), "ensure_ascii": True},
        {"indent": 2, "ensure_ascii": False},
        {"separators": (", ", ": "), "ensure_ascii": True},
    ]
)


@st.composite
def _envelopes(draw: st.DrawFn, new_id: Callable[[], str]) -> dict[str, Any]:
    event_type = draw(st.sampled_from(EVENT_TYPES))
    return {
        "id": new_id(),
        "type": event_type,
        "timestamp": draw(st.sampled_from(["2024-01-15T10:30:00Z", "2024-01-15T10:30:00.123Z"])),
        "data": draw(_data(event_type)),
    }


def valid_bodies(new_id: Callable[[], str]) -> st.SearchStrategy[bytes]:
    """Valid event bodies, serialized in one of several JSON styles."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        doc = draw(_envelopes(new_id))
        body = json.dumps(doc, **draw(_STYLES)).encode("utf-8")
        parse_event(body)  # a strategy bug, not a receiver bug, if this raises
        return body

    return build()


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc["data"].pop(key)


def _retype(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc["data"].__setitem__(key, [1, 2])


def _mutations(doc: dict[str, Any]) -> list[Callable[[dict[str, Any]], None]]:
    data = doc["data"]
    out: list[Callable[[dict[str, Any]], None]] = []
    for key in list(data):
        out += [_drop(key), _retype(key)]
    out.append(lambda d: d.__setitem__("data", ["not", "an", "object"]))
    out.append(lambda d: d.__setitem__("timestamp", "yesterday"))
    # No mutation drops the id: an event without one is valid for a receiver (EVENT-9, the
    # guide prints every event without one; case RCV-IDEM-003).
    out.append(lambda d: d.__setitem__("id", 42))
    if doc["type"] == "job.progress":
        out.append(
            lambda d: d["data"]["progress"].__setitem__(
                "completed", d["data"]["progress"]["total"] + 1
            )
        )
    return out


def invalid_bodies(new_id: Callable[[], str]) -> st.SearchStrategy[tuple[str, bytes]]:
    """(what was broken, body) for events that break the envelope or the type's data schema."""

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, bytes]:
        doc = draw(_envelopes(new_id))
        options = _mutations(doc)
        index = draw(st.integers(0, len(options) - 1))
        options[index](doc)
        body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        try:
            parse_event(body, allow_unknown_type=True)
        except EventDataError as exc:
            return exc.message, body
        return draw(st.nothing())

    return build()
