"""Readings: one frozen value per run, checked against the clause registry."""

import dataclasses

import pytest

import whsim
from whsim import Readings, UnknownReadingError
from whsim.core.errors import SpecInputError
from whsim.core.readings import AMBIGUOUS, DEFAULTS
from whsim.core.spec.clauses import clauses


def test_defaults_come_from_the_registry():
    r = Readings()
    for c in clauses():
        if c.readings:
            assert r[c.id] == c.default
    assert set(AMBIGUOUS) == set(DEFAULTS)
    assert not r.chosen and not r.non_default and r.policy is None
    assert str(r) == "defaults"


def test_parse_repeatable_strings():
    r = Readings.parse(["RETRY-1=immediate-counts", "expiry-1 = from-first-attempt"])
    assert r["RETRY-1"] == "immediate-counts"
    assert r["EXPIRY-1"] == "from-first-attempt"
    assert r["RETRY-2"] == "5xx-and-network"
    assert dict(r.chosen) == {"EXPIRY-1": "from-first-attempt", "RETRY-1": "immediate-counts"}
    assert Readings.parse(r.as_args()[1::2][:2]) == r


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("NOPE-1=x", ("NOPE-1", "RETRY-1")),
        ("RETRY-1=sometimes", ("RETRY-1", "sometimes", "backoff-only", "immediate-counts")),
        ("SIG-3=x", ("SIG-3", "RETRY-1")),  # a clause without readings
    ],
)
def test_unknown_clause_or_reading_names_both_and_lists_valid_ones(text, names):
    with pytest.raises(UnknownReadingError) as exc:
        Readings.parse([text])
    for name in names:
        assert name in str(exc.value)


@pytest.mark.parametrize("text", ["RETRY-1", "RETRY-1=a=b", "", "svix"])
def test_malformed_strings_are_refused(text):
    with pytest.raises(SpecInputError, match="CLAUSE=NAME"):
        Readings.parse([text])


def test_a_policy_name_given_as_reading_points_to_the_policy_flag():
    with pytest.raises(SpecInputError, match="--policy svix"):
        Readings.parse(["svix"])


def test_conflicting_choices_are_refused():
    with pytest.raises(SpecInputError, match="twice"):
        Readings.parse(["RETRY-1=backoff-only", "RETRY-1=immediate-counts"])
    with pytest.raises(SpecInputError, match="whole retry schedule"):
        Readings.parse(["RETRY-1=immediate-counts"], policy="svix")


def test_policy_is_resolved_against_the_vendor_policies():
    assert Readings(policy="svix").policy == "svix"
    with pytest.raises(UnknownReadingError, match="svix") as exc:
        Readings(policy="nope")
    assert "nope" in str(exc.value)
    with pytest.raises(UnknownReadingError, match="RETRY-1=immediate-counts"):
        Readings(policy="immediate-counts")


def test_frozen_and_hashable():
    r = Readings.parse(["RETRY-1=immediate-counts"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.policy = "svix"  # type: ignore[misc]
    assert hash(r) == hash(Readings.of({"RETRY-1": "immediate-counts"}))
    assert r.with_reading("RETRY-2", "only-500")["RETRY-2"] == "only-500"
    assert r["RETRY-2"] == "5xx-and-network"


def test_retry_policy_follows_the_readings():
    p = Readings.parse(
        [
            "RETRY-1=immediate-plus-five",
            "RETRY-2=only-500",
            "RETRY-3=from-send",
            "RETRY-4=full",
            "EXPIRY-1=from-first-attempt",
            "CODES-1=200-only",
        ]
    ).retry_policy(timeout_ms=1000)
    assert p == whsim.RetryPolicy.seed(
        "immediate-plus-five",
        codes="only-500",
        backoff_from="from-send",
        jitter="full",
        expiry_from="from-first-attempt",
        success="200-only",
        timeout_ms=1000,
    )


def test_vendor_policy_keeps_its_rules_unless_chosen():
    svix = Readings(policy="svix").retry_policy()
    assert svix == whsim.RetryPolicy.named("svix")
    assert svix.codes == "all-non-2xx" and svix.jitter == "proportional"
    chosen = Readings.parse(["RETRY-2=only-500"], policy="svix").retry_policy()
    assert chosen.codes == "only-500" and chosen.delays_ms == svix.delays_ms


def test_codes_1_200_only_changes_classification():
    any2xx = Readings().retry_policy()
    only200 = Readings.parse(["CODES-1=200-only"]).retry_policy()
    assert any2xx.classify(204, None) is whsim.Verdict.SUCCESS
    assert only200.classify(204, None) is whsim.Verdict.REJECTED
    assert only200.classify(200, None) is whsim.Verdict.SUCCESS
    retry_all = Readings.parse(["CODES-1=200-only", "RETRY-2=all-non-2xx"]).retry_policy()
    assert retry_all.classify(204, None) is whsim.Verdict.RETRY


def test_jitter_kinds_are_retry_4_readings():
    names = {r.name for r in next(c for c in clauses() if c.id == "RETRY-4").readings}
    for name in names:
        whsim.RetryPolicy.seed(jitter=name)
    with pytest.raises(UnknownReadingError, match="RETRY-4"):
        whsim.RetryPolicy.seed(jitter="gaussian")
