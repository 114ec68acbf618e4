"""Receiver behaviours: the pure ``respond`` and loading from TOML-like tables."""

from __future__ import annotations

import pytest

from whsim.core.behaviours import (
    BEHAVIOURS,
    Answer,
    Behaviour,
    Latency,
    Outage,
    behaviour,
    behaviour_from_dict,
    respond,
)
from whsim.core.errors import ScenarioError


def answer(b: Behaviour, now: int = 0, attempt: int = 1, f=0.9, lat=0.5, hang=0.9) -> Answer:
    return respond(b, now_ms=now, attempt=attempt, u_fail=f, u_latency=lat, u_hang=hang)


def test_healthy_answers_success_after_its_latency():
    assert answer(Behaviour(latency=Latency("fixed", 30))) == Answer("status", 200, 30)


def test_failure_probability_fail_first_and_hang():
    flaky = Behaviour(failure_probability=0.2, failure_status=503)
    assert answer(flaky, f=0.1).status == 503 and answer(flaky, f=0.3).status == 200
    twice = Behaviour(fail_first=2)
    assert [answer(twice, attempt=k).status for k in (1, 2, 3)] == [500, 500, 200]
    assert answer(Behaviour(hang_probability=0.5), hang=0.4).kind == "hang"


def test_outages_override_everything_while_they_last():
    b = Behaviour(
        outages=(
            Outage(1_000, 2_000, "down"),
            Outage(3_000, 4_000, "hang"),
            Outage(5_000, 6_000, "status", 429),
        ),
        latency=Latency("fixed", 7),
    )
    assert answer(b, now=1_500).kind == "refused"
    assert answer(b, now=2_000) == Answer("status", 200, 7)  # the end is exclusive
    assert answer(b, now=3_000).kind == "hang"
    assert answer(b, now=5_999) == Answer("status", 429, 7)


@pytest.mark.parametrize(
    ("latency", "u", "ms"),
    [
        (Latency("uniform", 10, high_ms=20), 0.5, 15),
        (Latency("uniform", 10, high_ms=20), 0.0, 10),
        (Latency("exponential", 10, mean_ms=0), 0.99, 10),
    ],
)
def test_latency_samples(latency, u, ms):
    assert latency.sample(u) == ms
    assert Latency("exponential", 0, mean_ms=100).sample(0.5) == 69  # -100 ln(0.5) = 69.3


def test_bad_values_name_the_field():
    with pytest.raises(ScenarioError) as info:
        Behaviour(failure_probability=1.5)
    assert info.value.field == "failure_probability"
    with pytest.raises(ScenarioError) as info:
        Latency("fixed", 2.5)  # type: ignore[arg-type]
    assert info.value.field == "latency.ms"
    with pytest.raises(ScenarioError, match="overlap"):
        Behaviour(outages=(Outage(0, 10), Outage(5, 20)))


def test_from_dict_reads_seconds_and_names_fields():
    b = behaviour_from_dict(
        {
            "name": "r",
            "base": "flaky",
            "latency": {"kind": "uniform", "ms": 10, "high_ms": 30},
            "outages": [{"start_s": 1.001, "end_s": 2, "kind": "hang"}],
        }
    )
    assert b.failure_probability == BEHAVIOURS["flaky"].failure_probability
    assert b.outages == (Outage(1_001, 2_000, "hang"),)
    for doc, field in [
        ({"latency": {"kind": "fixed", "msec": 3}}, "latency.msec"),
        ({"latency": "fast"}, "latency"),
        ({"outages": [{"start_s": 1}]}, "outages[0]"),
        ({"outages": [{"start_s": 2, "end_s": 1}]}, "outages[0]"),
        ({"outages": [{"start_s": 0, "end_s": 1, "colour": "red"}]}, "outages[0].colour"),
        ({"verify": "maybe"}, "verify"),
        ({"speed": 1}, "speed"),
    ]:
        with pytest.raises(ScenarioError) as info:
            behaviour_from_dict(doc, source="x.toml")
        assert info.value.field == field, doc
        assert info.value.source == "x.toml"


def test_named_behaviours():
    assert behaviour("down").outage_at(123) is not None
    assert behaviour("wrong-challenge").verify == "wrong"
    with pytest.raises(ScenarioError, match="known"):
        behaviour("nope")
