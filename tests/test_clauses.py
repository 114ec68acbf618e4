"""The clause registry: ids, readings, and every ambiguity the design names."""

import re

import pytest

import whsim
from whsim.core.spec.clauses import CHECKERS, Level, Party, clause, default_reading, resolve_reading

AREAS = {
    "REG",
    "VERIFY",
    "EVENT",
    "SIG",
    "RETRY",
    "THROTTLE",
    "EXPIRY",
    "HTTPS",
    "CODES",
    "TIMEOUT",
    "IDEM",
}


def test_ids_are_unique_and_well_formed():
    ids = [c.id for c in whsim.clauses()]
    assert len(ids) == len(set(ids))
    for c in whsim.clauses():
        assert re.fullmatch(r"[A-Z]+-\d+", c.id)
        assert c.area in AREAS
        assert c.text and isinstance(c.level, Level) and isinstance(c.party, Party)
        assert c.checked_by and set(c.checked_by) <= set(CHECKERS)
    assert {c.area for c in whsim.clauses()} == AREAS


def test_ambiguous_clauses_have_exactly_one_default():
    for c in whsim.clauses():
        if c.readings:
            assert sum(r.default for r in c.readings) == 1, c.id
            names = [r.name for r in c.readings]
            assert len(names) == len(set(names)), c.id


@pytest.mark.parametrize(
    ("clause_id", "readings"),
    [
        ("RETRY-1", {"immediate-plus-five", "immediate-counts", "backoff-only"}),  # retry count
        ("RETRY-2", {"5xx-and-network", "all-non-2xx", "only-500"}),  # which codes retry
        ("EVENT-9", {"envelope-id", "no-id"}),  # the id no example carries
        ("REG-8", {"active-after-verify", "active-immediately"}),  # "active" before verification
        ("VERIFY-3", {"mark-failed", "reject-registration", "ignore"}),  # failed verification
        ("VERIFY-4", {"reverify", "keep"}),  # URL change
        ("THROTTLE-1", {"drop", "coalesce"}),  # drop or coalesce
        ("THROTTLE-2", {"per-job", "per-webhook"}),  # per job or per webhook
        ("EXPIRY-1", {"from-event-timestamp", "from-first-attempt"}),  # 24 h vs 31 s window
        ("RETRY-4", {"none", "full", "equal", "proportional", "decorrelated"}),  # no jitter
        ("EVENT-11", {"webhook.test", "subscribed-sample"}),  # the test event's type
        ("HTTPS-1", {"mode-flag", "loopback-host"}),  # "local development"
    ],
)
def test_every_ambiguity_of_the_design_is_a_reading(clause_id, readings):
    assert {r.name for r in clause(clause_id).readings} == readings


def test_findings_include_the_broken_example_receiver():
    found = {c.id: c.finding for c in whsim.findings()}
    assert "payload.encode()" in found["SIG-5"]
    assert "compare_digest" in found["SIG-5"]
    assert "EVENT-9" in found and "EVENT-10" in found and "EXPIRY-1" in found


def test_reading_lookup_errors_list_choices():
    assert default_reading("RETRY-1") == "backoff-only"
    assert resolve_reading("RETRY-1", "immediate-counts") == "immediate-counts"
    with pytest.raises(whsim.UnknownReadingError, match="backoff-only"):
        resolve_reading("RETRY-1", "twice")
    with pytest.raises(whsim.UnknownReadingError):
        clause("NOPE-1")
    with pytest.raises(whsim.UnknownReadingError):
        default_reading("REG-1")


def test_as_dict_is_json_ready():
    d = clause("RETRY-1").as_dict()
    assert d["area"] == "RETRY" and d["level"] == "MUST" and d["party"] == "sender"
    assert [r["name"] for r in d["readings"] if r["default"]] == ["backoff-only"]
