"""The grading engine: dependency waves, blocked cases, levels that bound verdicts, replay."""

from __future__ import annotations

import threading
import time

import pytest

from whsim.conformance.case import Case, CaseSpec
from whsim.conformance.engine import Planned, grade_all, waves
from whsim.conformance.outcomes import Outcome

ROOT = CaseSpec("RCV-SIG-001", "root", ("CODES-1",))
CHILD = CaseSpec("RCV-RAW-001", "child", ("SIG-3",), needs=("RCV-SIG-001",), precondition="2xx")
LAST = CaseSpec("RCV-TIMEOUT-001", "last", ("TIMEOUT-1",))


def test_waves_follow_needs_and_put_last_at_the_end() -> None:
    plans = [Planned(LAST, lambda: None), Planned(CHILD, lambda: None), Planned(ROOT, lambda: None)]
    got = [[p.spec.id for p in w] for w in waves(plans, last=[LAST.id])]
    assert got == [["RCV-SIG-001"], ["RCV-RAW-001"], ["RCV-TIMEOUT-001"]]
    loop = CaseSpec("RCV-RAW-002", "x", ("SIG-3",), needs=("RCV-RAW-003",))
    back = CaseSpec("RCV-RAW-003", "y", ("SIG-3",), needs=("RCV-RAW-002",))
    with pytest.raises(ValueError, match="cycle"):
        waves([Planned(loop, lambda: None), Planned(back, lambda: None)])


def test_a_failed_precondition_blocks_its_dependents_without_running_them() -> None:
    ran: list[str] = []

    def root(whsim_case: Case) -> None:
        whsim_case.fail("401 for a signed event")

    def child(whsim_case: Case) -> None:
        ran.append("child")
        whsim_case.passed()

    results = grade_all([Planned(ROOT, root), Planned(CHILD, child)], Case, {})
    assert results[ROOT.id].outcome is Outcome.FAIL
    blocked = results[CHILD.id]
    assert blocked.outcome is Outcome.UNTESTABLE and ran == []
    assert blocked.message.startswith("blocked by RCV-SIG-001 (2xx): fail: 401")


def test_independent_cases_run_at_once() -> None:
    started: list[float] = []
    lock = threading.Lock()

    def slow(whsim_case: Case) -> None:
        with lock:
            started.append(time.monotonic())
        time.sleep(0.3)
        whsim_case.passed()

    specs = [CaseSpec(f"RCV-SIG-00{n}", "s", ("SIG-2",)) for n in range(2, 8)]
    t0 = time.monotonic()
    grade_all([Planned(s, slow) for s in specs], Case, {})
    assert time.monotonic() - t0 < 0.3 * len(specs) / 2
    assert max(started) - min(started) < 0.25


def test_a_should_case_never_fails_and_a_kit_bug_is_an_error() -> None:
    should = CaseSpec("RCV-TIMEOUT-001", "slow", ("TIMEOUT-1",))
    assert should.level == "SHOULD"

    def breaks(whsim_case: Case) -> None:
        whsim_case.fail("too slow")

    def crashes(whsim_case: Case) -> None:
        raise KeyError("oops")

    got = grade_all([Planned(should, breaks), Planned(ROOT, crashes)], Case, {})
    assert got[should.id].outcome is Outcome.NON_STRICT
    assert got[ROOT.id].outcome is Outcome.ERROR and "KeyError" in got[ROOT.id].message


def test_replay_raises_the_outcome_the_verdict_had() -> None:
    case = Case(ROOT)
    with pytest.raises(pytest.fail.Exception):
        case.fail("x")
    assert case.result is not None
    again = Case(ROOT)
    with pytest.raises(pytest.fail.Exception, match="RCV-SIG-001 \\(MUST\\): x"):
        again.replay(case.result)
    assert again.result is case.result
