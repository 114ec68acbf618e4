"""The honoured-readings declarations: the mechanism (tools' own checks are tested with them)."""

import pytest

from whsim import Readings
from whsim.core import honoured
from whsim.core.errors import ReadingNotHonouredError, SpecInputError
from whsim.core.readings import AMBIGUOUS


def _tool(*items, policy=False):
    name = f"test tool {len(honoured.TOOLS)}"
    try:
        return honoured.declare(name, *items, policy=policy)
    finally:
        honoured.TOOLS.pop(name, None)


def test_a_tool_refuses_a_reading_it_does_not_honour_by_name():
    tool = _tool("RETRY-1", "CODES-1=any-2xx")
    tool.check(Readings.parse(["RETRY-1=immediate-counts", "CODES-1=any-2xx"]))
    with pytest.raises(ReadingNotHonouredError) as exc:
        tool.check(Readings.parse(["CODES-1=200-only"]))
    assert "CODES-1=200-only" in str(exc.value) and tool.tool in str(exc.value)
    assert exc.value.honoured == ("any-2xx",)
    with pytest.raises(ReadingNotHonouredError, match="SIG-1=sha256-prefix"):
        tool.check(Readings.parse(["SIG-1=sha256-prefix"]))


def test_defaults_of_clauses_a_tool_does_not_model_pass():
    _tool().check(Readings.parse(["SIG-1=bare-hex"]))


def test_policy_is_refused_unless_declared():
    with pytest.raises(SpecInputError, match="--policy svix"):
        _tool("RETRY-1").check(Readings(policy="svix"))
    _tool("RETRY-1", policy=True).check(Readings(policy="svix"))


def test_declarations_are_checked_against_the_registry():
    with pytest.raises(SpecInputError):
        _tool("SIG-3")
    with pytest.raises(SpecInputError):
        _tool("RETRY-1=sometimes")


def test_table_lists_every_reading_and_who_honours_it():
    rows = honoured.table()
    assert {r["clause"] for r in rows} == set(AMBIGUOUS)
    row = next(r for r in rows if (r["clause"], r["reading"]) == ("RETRY-1", "immediate-counts"))
    assert "whsim simulate" in row["tools"]


def _tiny():
    from whsim.sim import Scenario, Webhook, Workload

    return Scenario(
        webhooks=(
            Webhook("a", "flaky"),
            Webhook("b", "wrong-challenge", status="pending_verification"),
        ),
        workload=Workload(duration_ms=30_000, max_events=10),
    )


def _simulate_refuses(clause_id, name):
    import whsim

    try:
        whsim.simulate(_tiny(), readings=Readings({clause_id: name}))
    except ReadingNotHonouredError as exc:
        assert f"{clause_id}={name}" in str(exc)
        return True
    return False


def test_the_simulators_table_is_what_the_simulator_does():
    # derived by running the tool: every reading in the registry is honoured or refused by name
    for row in honoured.table():
        clause_id, name = row["clause"], row["reading"]
        refused = _simulate_refuses(clause_id, name)
        assert refused == (not honoured.SIMULATE.honours(clause_id, name)), (clause_id, name)


def test_honoured_simulator_readings_change_what_it_does():
    import whsim

    base = whsim.simulate(_tiny(), seed=2)
    for text in ("RETRY-1=immediate-counts", "RETRY-3=from-send", "RETRY-4=full"):
        other = whsim.simulate(_tiny(), seed=2, readings=Readings.parse([text]))
        assert other.summary["attempts_sha256"] != base.summary["attempts_sha256"], text
    ignore = whsim.simulate(_tiny(), seed=2, readings=Readings.parse(["VERIFY-3=ignore"]))
    assert ignore.summary["deliveries"] > base.summary["deliveries"]
    reject = whsim.simulate(
        _tiny(), seed=2, readings=Readings.parse(["VERIFY-3=reject-registration"])
    )
    assert "rejected" in reject.plan.hook_status


def test_the_explorers_table_is_what_explore_does():
    from hypothesis import strategies as st

    from whsim.analysis.explore import explore

    for row in honoured.table():
        clause_id, name = row["clause"], row["reading"]
        try:
            explore(
                lambda result: None,
                st.just(_tiny()),
                max_examples=1,
                time_budget_s=5,
                readings=Readings({clause_id: name}),
            )
            refused = False
        except ReadingNotHonouredError as exc:
            assert f"{clause_id}={name}" in str(exc)
            refused = True
        assert refused == (not honoured.EXPLORE.honours(clause_id, name)), (clause_id, name)


def _trace():
    from whsim.conformance.trace import Attempt
    from whsim.core.signing import sign
    from whsim.core.spec.events import make_event

    event = make_event(
        "job.completed",
        {"job_id": "job_1", "proposal_id": "p_1", "document_id": "d_1", "status": "completed"},
        id="evt_1",
        timestamp_ms=1_767_225_600_000,
    )
    headers = (("content-type", "application/json"),
               ("x-webhook-signature", "sha256=" + sign(event.body, "k")))  # fmt: skip
    return [
        Attempt(url="http://r.example/hook", method="POST", headers=headers, body=event.body,
                start_ns=int(t * 1e9), end_ns=int((t + 0.01) * 1e9), status=s, error=None, index=i)
        for i, (t, s) in enumerate([(0.0, 500), (1.01, 500), (3.02, 200)])
    ]  # fmt: skip


def test_the_checkers_table_is_what_check_does():
    # `whsim check` (the offline grader): every reading in the registry honoured or refused by name
    import whsim

    for row in honoured.table():
        clause_id, name = row["clause"], row["reading"]
        try:
            whsim.check(_trace(), secret="k", readings=Readings({clause_id: name}))
            refused = False
        except ReadingNotHonouredError as exc:
            assert f"{clause_id}={name}" in str(exc) and "whsim check" in str(exc)
            refused = True
        assert refused == (not honoured.CHECK.honours(clause_id, name)), (clause_id, name)


def test_an_honoured_check_reading_changes_its_verdict():
    import whsim

    plain = whsim.check(_trace(), secret="k")
    prefixed = whsim.check(_trace(), secret="k", readings=Readings.parse(["SIG-1=sha256-prefix"]))
    assert (plain.outcomes["CHK-SIG-001"], prefixed.outcomes["CHK-SIG-001"]) == ("fail", "pass")
    # RETRY-1 readings change CHK-RETRY-001: tests/test_trace.py (an immediate retry)
