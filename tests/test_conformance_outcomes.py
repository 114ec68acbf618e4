"""The outcome model: strict mode, the overall outcome and the exit code."""

from __future__ import annotations

import pytest

from whsim.conformance.outcomes import Outcome, counts, effective, exit_code, overall

P, N, F, NFO, U, E = (
    Outcome.PASS,
    Outcome.NON_STRICT,
    Outcome.FAIL,
    Outcome.INFO,
    Outcome.UNTESTABLE,
    Outcome.ERROR,
)


def test_strict_turns_non_strict_into_fail() -> None:
    assert effective(N, strict=True) is F
    assert effective(N, strict=False) is N
    assert effective(U, strict=True) is U


@pytest.mark.parametrize(
    ("outcomes", "strict", "code", "verdict"),
    [
        ([P, NFO, U], False, 0, "pass"),
        ([P, N], False, 0, "pass"),
        ([P, N], True, 1, "fail"),
        ([P, F, E], False, 1, "fail"),
        ([P, E], False, 2, "fail"),
        ([U, U], False, 2, "fail"),  # nothing graded proves nothing
        ([], False, 2, "fail"),
    ],
)
def test_exit_code_and_overall(
    outcomes: list[Outcome], strict: bool, code: int, verdict: str
) -> None:
    assert exit_code(outcomes, strict) == code
    assert overall(outcomes, strict) == verdict


def test_counts_lists_every_outcome_in_order() -> None:
    assert counts([P, P, U]) == {
        "pass": 2,
        "non-strict": 0,
        "fail": 0,
        "info": 0,
        "untestable": 1,
        "error": 0,
    }
