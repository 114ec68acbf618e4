"""The public hypothesis strategies produce what they promise."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import whsim
from whsim.analysis.strategies import (
    behaviours,
    event_data,
    events,
    failure_sequences,
    invalid_event_bodies,
    invalid_registrations,
    registrations,
    reserialized_bodies,
)
from whsim.core.registry import validate_registration


@given(events())
def test_events_are_valid_and_parse_back(event):
    assert whsim.parse_event(event.body) == event


@given(invalid_event_bodies())
def test_invalid_bodies_break_the_schema(body):
    doc = json.loads(body)  # still JSON: only the data is wrong
    try:
        whsim.parse_event(body)
    except whsim.EventDataError as exc:
        assert exc.field.startswith("data.")
    else:
        raise AssertionError(f"accepted {doc}")


@given(st.data())
def test_reserialized_bodies_are_the_same_document(data):
    event = data.draw(events())
    body = data.draw(reserialized_bodies(event))
    assert json.loads(body) == json.loads(event.body)
    assert whsim.verify(body, whsim.sign(body, "k" * 16), "k" * 16)


@given(registrations())
def test_registrations_are_valid(body):
    assert validate_registration(body).url == body["url"]


@given(registrations(mode="production"))
def test_production_registrations_are_valid_in_production(body):
    validate_registration(body, "production")


@given(invalid_registrations())
def test_invalid_registrations_name_the_broken_field(case):
    body, field = case
    try:
        validate_registration(body)
    except whsim.RegistrationError as exc:
        assert exc.field is not None and exc.field.startswith(field)
    else:
        raise AssertionError(f"accepted {body}")


@given(behaviours(max_outages=3))
def test_behaviours_construct(b):
    assert len(b.outages) <= 3
    assert all(a.end_ms <= c.start_ms for a, c in zip(b.outages, b.outages[1:], strict=False))


@given(failure_sequences(max_size=5))
def test_failure_sequences(seq):
    assert 1 <= len(seq) <= 5
    assert all((s is None) != (e is None) for s, e in seq)


def test_event_data_rejects_unknown_type():
    with pytest.raises(ValueError, match=r"job\.deleted"):
        event_data("job.deleted")
