"""Grading a suite's cases before pytest reports them: concurrently, in dependency order.

A suite whose cases do not share state with each other (the receiver suite) grades them all when
its first case is set up: cases whose preconditions (:attr:`CaseSpec.needs`) are met run at
once in a bounded pool, wave after wave, and a case whose precondition failed is graded
``untestable: blocked by <id>`` without sending anything. pytest then reports each case by
replaying its verdict (:meth:`Case.replay`), so pytest's own output and JUnit, the kit's
reports and the exit code all say the same. A slow target costs about one attempt timeout per
wave instead of one per request.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from whsim.conformance.case import Case, CaseResult, CaseSpec
from whsim.conformance.outcomes import Outcome

__all__ = ["BLOCKING", "Planned", "grade_all", "waves"]

BLOCKING = frozenset({Outcome.FAIL, Outcome.ERROR, Outcome.UNTESTABLE})
"""Outcomes of a precondition case that block the cases that need it."""


@dataclass(frozen=True, slots=True)
class Planned:
    """One case to grade: its spec and the test function that grades it."""

    spec: CaseSpec
    function: Callable[..., None]


def waves(planned: Sequence[Planned], last: Iterable[str] = ()) -> list[list[Planned]]:
    """Cases grouped so that each case comes after every selected case it needs.

    Cases named in ``last`` (for example one that grades every answer the run saw) form a
    final wave of their own. A dependency cycle raises ValueError (a catalog bug).
    """
    by_id = {p.spec.id: p for p in planned}
    late = set(last) & set(by_id)
    depth: dict[str, int] = {}

    def level(case_id: str, seen: tuple[str, ...] = ()) -> int:
        if case_id in seen:
            raise ValueError(f"dependency cycle: {' -> '.join((*seen, case_id))}")
        if case_id not in depth:
            needs = [n for n in by_id[case_id].spec.needs if n in by_id and n not in late]
            depth[case_id] = 1 + max((level(n, (*seen, case_id)) for n in needs), default=-1)
        return depth[case_id]

    groups: dict[int, list[Planned]] = {}
    for p in planned:
        if p.spec.id not in late:
            groups.setdefault(level(p.spec.id), []).append(p)
    ordered = [groups[k] for k in sorted(groups)]
    tail = [p for p in planned if p.spec.id in late]
    return [*ordered, tail] if tail else ordered


def _run(
    plan: Planned, make_case: Callable[[CaseSpec], Case], fixtures: Mapping[str, Any]
) -> CaseResult:
    case = make_case(plan.spec)
    start = time.monotonic()
    kwargs = {
        name: case if name == "whsim_case" else fixtures[name]
        for name in inspect.signature(plan.function).parameters
    }
    try:
        plan.function(**kwargs)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # pytest's outcomes are BaseExceptions; the verdict is set
        if case.result is None:
            kind = "network" if type(exc).__module__.startswith(("httpx", "httpcore")) else "kit"
            case.result = CaseResult(
                plan.spec,
                Outcome.ERROR,
                f"{kind} error: {type(exc).__name__}: {exc}",
                exchanges=list(case.exchanges),
            )
    if case.result is None:
        case.result = CaseResult(
            plan.spec, Outcome.ERROR, "the case ended without a verdict (a kit bug)"
        )
    case.result.duration_s = time.monotonic() - start
    return case.result


def _blocked(plan: Planned, make_case: Callable[[CaseSpec], Case], by: CaseResult) -> CaseResult:
    case = make_case(plan.spec)
    # The skip pytest would raise is dropped: the verdict is what counts here.
    with contextlib.suppress(BaseException):
        case.blocked(by.spec.id, f"{by.outcome}: {by.message}")
    assert case.result is not None
    return case.result


def grade_all(
    planned: Sequence[Planned],
    make_case: Callable[[CaseSpec], Case],
    fixtures: Mapping[str, Any],
    *,
    workers: int = 16,
    last: Iterable[str] = (),
    on_result: Callable[[CaseResult], None] | None = None,
) -> dict[str, CaseResult]:
    """Grade every planned case; returns the results by case id.

    ``fixtures`` gives the value of each test-function argument other than ``whsim_case``
    (a fresh :class:`Case` from ``make_case``). ``on_result`` is called as each case finishes.
    """
    results: dict[str, CaseResult] = {}
    for wave in waves(planned, last):

        def one(plan: Planned) -> CaseResult:
            for need in plan.spec.needs:
                got = results.get(need)
                if got is not None and got.outcome in BLOCKING:
                    return _blocked(plan, make_case, got)
            return _run(plan, make_case, fixtures)

        with ThreadPoolExecutor(max(1, min(workers, len(wave)))) as pool:
            for plan, result in zip(wave, pool.map(one, wave), strict=True):
                results[plan.spec.id] = result
                if on_result is not None:
                    on_result(result)
    return results
