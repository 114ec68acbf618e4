"""Hypothesis strategies for the spec: events, bodies, registrations, behaviours, failures.

Usable from your own tests::

    from hypothesis import given
    from whsim.analysis.strategies import events, invalid_event_bodies

    @given(events())
    def test_my_receiver_accepts(event): ...

Every strategy takes its size bounds as parameters and builds values only through whsim's own
constructors, so a generated valid value is valid by the same rules the kit checks.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from whsim.core.behaviours import Behaviour, Latency, Outage
from whsim.core.spec.events import (
    EVENT_TYPES,
    Event,
    data_schema,
    make_event,
)

__all__ = [
    "answers",
    "behaviours",
    "event_data",
    "event_types",
    "events",
    "failure_sequences",
    "invalid_event_bodies",
    "invalid_registrations",
    "registrations",
    "reserialized_bodies",
    "scenarios",
    "workloads",
]

_IDS = st.text(
    alphabet=st.characters(codec="ascii", categories=("Ll", "Lu", "Nd"), include_characters="_-"),
    min_size=1,
    max_size=24,
)
_TEXT = st.text(max_size=40)
_T_MIN, _T_MAX = 946_684_800_000, 4_102_444_799_000  # 2000 .. 2099


def event_types(types: Sequence[str] = EVENT_TYPES) -> st.SearchStrategy[str]:
    """One of the guide's event types (or of ``types``)."""
    return st.sampled_from(list(types))


def _progress() -> st.SearchStrategy[dict[str, Any]]:
    def build(total: int, completed: int) -> dict[str, Any]:
        return {"completed": completed, "total": total, "percentage": 100 * completed // total}

    return st.integers(1, 10_000).flatmap(
        lambda total: st.integers(0, total).map(lambda done: build(total, done))
    )


def event_data(event_type: str, *, max_text: int = 40) -> st.SearchStrategy[dict[str, Any]]:
    """Valid ``data`` for one event type."""
    text = st.text(max_size=max_text)
    fields: dict[str, st.SearchStrategy[Any]] = {
        "job.created": st.fixed_dictionaries(
            {"job_id": _IDS, "proposal_id": _IDS, "status": st.just("pending")}
        ),
        "job.started": st.fixed_dictionaries({"job_id": _IDS, "status": st.just("processing")}),
        "job.progress": st.fixed_dictionaries({"job_id": _IDS, "progress": _progress()}),
        "job.completed": st.fixed_dictionaries(
            {
                "job_id": _IDS,
                "proposal_id": _IDS,
                "document_id": _IDS,
                "status": st.just("completed"),
            }
        ),
        "job.failed": st.fixed_dictionaries(
            {
                "job_id": _IDS,
                "error": text,
                "error_details": st.dictionaries(_IDS, st.integers() | text, max_size=3),
            }
        ),
        "document.created": st.fixed_dictionaries(
            {"document_id": _IDS, "proposal_id": _IDS, "version": st.integers(1, 10_000)}
        ),
        "proposal.created": st.fixed_dictionaries({"proposal_id": _IDS, "title": text}),
    }
    if event_type not in fields:
        raise ValueError(f"unknown event type {event_type!r}; known: {', '.join(EVENT_TYPES)}")
    return fields[event_type]


@st.composite
def events(draw: st.DrawFn, types: Sequence[str] = EVENT_TYPES, *, max_text: int = 40) -> Event:
    """A valid :class:`~whsim.core.spec.events.Event`, serialized once like the kit sends it."""
    event_type = draw(event_types(types))
    data = draw(event_data(event_type, max_text=max_text))
    event_id = "evt_" + draw(_IDS)
    stamp = draw(st.integers(_T_MIN, _T_MAX))
    return make_event(event_type, data, id=event_id, timestamp_ms=stamp)


_WRONG_TYPES: dict[str, Any] = {"string": 12345, "integer": "12", "number": "1.5", "object": ["x"]}


@st.composite
def invalid_event_bodies(draw: st.DrawFn, types: Sequence[str] = EVENT_TYPES) -> bytes:
    """A JSON envelope whose ``data`` breaks its type's schema (a required field missing, a
    wrong type, or a broken constant), serialized compactly."""
    event = draw(events(types))
    doc = json.loads(event.body)
    schema = data_schema(event.type)
    required = schema["required"]
    field = draw(st.sampled_from(required))
    how = draw(st.sampled_from(["missing", "wrong-type", "null"]))
    if how == "missing":
        del doc["data"][field]
    elif how == "null":
        doc["data"][field] = None
    else:
        spec = schema["properties"][field]
        if "const" in spec:
            doc["data"][field] = spec["const"] + "-not"
        else:
            doc["data"][field] = _WRONG_TYPES[spec.get("type", "string")]
    return json.dumps(doc, separators=(",", ":")).encode()


@st.composite
def reserialized_bodies(draw: st.DrawFn, event: Event | None = None) -> bytes:
    """Bytes of the same JSON document as ``event.body`` but written differently: key order,
    whitespace, escaped unicode, a trailing newline. A receiver that verifies a re-serialized
    body instead of the raw bytes fails on these."""
    source = event if event is not None else draw(events())
    doc = json.loads(source.body)
    if draw(st.booleans()):
        doc = dict(reversed(list(doc.items())))
    indent = draw(st.sampled_from([None, 1, 2, "\t"]))
    ascii_only = draw(st.booleans())
    sep = draw(st.sampled_from([(",", ":"), (", ", ": "), (",", ": ")]))
    text = json.dumps(doc, indent=indent, ensure_ascii=ascii_only, separators=sep)
    if draw(st.booleans()):
        text += "\n"
    return text.encode()


def registrations(
    *, events_max: int = 7, mode: str = "development"
) -> st.SearchStrategy[dict[str, Any]]:
    """Valid ``POST /api/webhooks`` bodies (https URLs on public-looking hosts)."""
    host = st.from_regex(r"[a-z]{3,12}\.(com|org|io)", fullmatch=True)
    path = st.from_regex(r"(/[a-z0-9_-]{1,10}){0,3}", fullmatch=True)
    scheme = st.just("https") if mode == "production" else st.sampled_from(["https", "http"])
    url = st.builds(lambda s, h, p: f"{s}://{h}{p}", scheme, host, path)
    return st.fixed_dictionaries(
        {
            "url": url,
            "events": st.lists(event_types(), min_size=1, max_size=events_max, unique=True),
            "secret": st.text(
                alphabet=st.characters(codec="ascii", categories=("L", "N", "P")),
                min_size=8,
                max_size=64,
            ),
        }
    )


@st.composite
def invalid_registrations(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A registration body with exactly one thing wrong, and the name of the field it breaks."""
    body = dict(draw(registrations()))
    field = draw(st.sampled_from(["url", "events", "secret"]))
    bad: dict[str, list[Any]] = {
        "url": [None, 42, "", "ftp://example.com/x", "not a url", "https://", ["https://a.io"]],
        "events": [[], None, "job.completed", ["job.deleted"], [1], {"job.failed": True}],
        "secret": [None, "", "short", 12345678, ["secret-secret"]],
    }
    choice = draw(st.sampled_from(bad[field] + ["<missing>"]))
    if choice == "<missing>":
        del body[field]
    else:
        body[field] = choice
    return body, field


def answers() -> st.SearchStrategy[tuple[int | None, str | None]]:
    """One attempt's answer: ``(status, None)`` or ``(None, error)``."""
    status = st.sampled_from(
        [200, 201, 204, 301, 302, 400, 401, 404, 408, 410, 429, 500, 502, 503, 504]
    )
    error = st.sampled_from(["timeout", "connect", "reset"])
    return st.one_of(st.tuples(status, st.none()), st.tuples(st.none(), error))


def failure_sequences(
    *, min_size: int = 1, max_size: int = 10
) -> st.SearchStrategy[list[tuple[int | None, str | None]]]:
    """What a receiver answers to successive attempts of one event."""
    return st.lists(answers(), min_size=min_size, max_size=max_size)


@st.composite
def behaviours(draw: st.DrawFn, *, max_outages: int = 2, horizon_ms: int = 3_600_000) -> Behaviour:
    """A receiver :class:`~whsim.core.behaviours.Behaviour` with up to ``max_outages`` outages in
    ``[0, horizon_ms)``."""
    n = draw(st.integers(0, max_outages))
    cuts = sorted(
        draw(st.lists(st.integers(0, horizon_ms), min_size=2 * n, max_size=2 * n, unique=True))
    )
    outages = tuple(
        Outage(
            cuts[2 * i],
            cuts[2 * i + 1],
            draw(st.sampled_from(["down", "hang", "status"])),
            draw(st.sampled_from([500, 502, 503])),
        )
        for i in range(n)
    )
    latency = draw(
        st.one_of(
            st.builds(Latency, st.just("fixed"), st.integers(0, 7_000)),
            st.integers(0, 500).flatmap(
                lambda lo: st.builds(
                    Latency, st.just("uniform"), st.just(lo), st.integers(lo, lo + 6_000)
                )
            ),
        )
    )
    return Behaviour(
        name="generated",
        latency=latency,
        failure_probability=draw(st.sampled_from([0.0, 0.1, 0.5, 1.0])),
        failure_status=draw(st.sampled_from([500, 503, 400])),
        fail_first=draw(st.integers(0, 3)),
        outages=outages,
        verify=draw(st.sampled_from(["echo", "echo", "wrong", "status"])),
    )


@st.composite
def workloads(draw: st.DrawFn, *, max_duration_s: int = 600, max_events: int = 200) -> Any:
    """A :class:`~whsim.sim.Workload` of at most ``max_events`` events within ``max_duration_s``."""
    from whsim.sim import Arrival, Workload

    kind: Any = draw(st.sampled_from(["constant", "poisson", "bursts"]))
    arrival = Arrival(
        kind,
        rate_per_s=draw(st.sampled_from([0.01, 0.05, 0.2, 1.0])),
        burst_size=draw(st.integers(1, 20)),
        burst_every_ms=draw(st.integers(10, 300)) * 1000,
        burst_spread_ms=draw(st.integers(0, 5)) * 1000,
    )
    return Workload(
        duration_ms=draw(st.integers(1, max_duration_s)) * 1000,
        arrival=arrival,
        jobs_per_proposal=draw(st.integers(0, 2)),
        start_delay_ms=draw(st.integers(0, 10)) * 1000,
        job_duration_ms=draw(st.integers(0, 120)) * 1000,
        progress_every_ms=draw(st.integers(1, 20)) * 1000,
        job_failure_probability=draw(st.sampled_from([0.0, 0.1, 0.5])),
        max_events=max_events,
    )


@st.composite
def scenarios(
    draw: st.DrawFn,
    *,
    max_webhooks: int = 3,
    max_outage_s: int = 600,
    max_events: int = 200,
    readings: Sequence[str] = ("backoff-only", "immediate-plus-five", "immediate-counts"),
    coupled: bool = True,
) -> Any:
    """A whole :class:`~whsim.sim.Scenario`: webhooks, their receivers, sender and workload.

    With ``coupled`` the sender may have a concurrency cap and downtime windows (events queue).
    """
    from whsim.sim import Downtime, Scenario, Sender, Webhook

    n = draw(st.integers(1, max_webhooks))
    horizon = max_outage_s * 1000 * 2
    receivers = tuple(
        dataclasses.replace(draw(behaviours(max_outages=1, horizon_ms=horizon)), name=f"r{i}")
        for i in range(n)
    )
    hooks = tuple(
        Webhook(
            f"wh{i}",
            receiver=f"r{i}",
            events=tuple(draw(st.lists(event_types(), min_size=1, max_size=7, unique=True))),
        )
        for i in range(n)
    )
    downtime: tuple[Any, ...] = ()
    concurrency = 0
    if coupled and draw(st.booleans()):
        start = draw(st.integers(0, 600)) * 1000
        downtime = (Downtime(start, start + draw(st.integers(1, 90_000)) * 1000),)
        concurrency = draw(st.integers(0, 4))
    sender = Sender(
        retry=draw(st.sampled_from(list(readings))),
        throttle=draw(st.sampled_from(["coalesce", "drop"])),
        concurrency=concurrency,
        downtime=downtime,
    )
    return Scenario(
        name="generated",
        webhooks=hooks,
        receivers=receivers,
        sender=sender,
        workload=draw(workloads(max_events=max_events)),
    )
