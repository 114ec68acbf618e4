"""Fixtures of the receiver suite: the target, from --whsim-receiver-url and --whsim-secret.

The cases share no state with each other, so the suite grades them all when the first one is
set up (:mod:`whsim.conformance.engine`): concurrently, bounded, in the order their
preconditions give, the timeout case last so that it grades every answer the run saw. Then the
diagnosis runs, and pytest reports each case by replaying its verdict.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from whsim.conformance.case import Case, CaseResult, CaseSpec
from whsim.conformance.engine import Planned, grade_all
from whsim.pytest_plugin import WhsimSettings

from .diagnose import diagnose
from .target import ReceiverTarget

_GRADED = pytest.StashKey[dict[str, CaseResult]]()
LAST = ("RCV-TIMEOUT-001",)
"""Graded after every other case: it reads every answer the run saw."""


@pytest.fixture(scope="session")
def receiver(whsim_settings: WhsimSettings) -> Iterator[ReceiverTarget]:
    """The receiver under test; every case is untestable without a URL and a secret."""
    if not whsim_settings.receiver_url:
        pytest.skip("no receiver URL: pass --whsim-receiver-url or set WHSIM_RECEIVER_URL")
    if not whsim_settings.secret:
        pytest.skip("no signing secret: pass --whsim-secret or set WHSIM_SECRET")
    target = ReceiverTarget(
        whsim_settings.receiver_url,
        whsim_settings.secret,
        whsim_settings.seed,
        whsim_settings.readings,
    )
    yield target
    target.close()


def _spec(item: pytest.Item) -> CaseSpec | None:
    marker = item.get_closest_marker("whsim_case")
    spec = marker.args[0] if marker is not None and marker.args else None
    return spec if isinstance(spec, CaseSpec) and spec.id.startswith("RCV-") else None


@pytest.fixture(scope="session", autouse=True)
def graded(
    request: pytest.FixtureRequest,
    receiver: ReceiverTarget,
    whsim_settings: WhsimSettings,
    whsim_report_extra: dict[str, Any],
) -> dict[str, CaseResult]:
    """Every selected case graded (see the module docstring), by case id."""
    planned = []
    for item in request.session.items:
        spec = _spec(item)
        function = getattr(item, "obj", None)
        if spec is not None and callable(function):
            planned.append(Planned(spec, function))
    deadline = whsim_settings.started + whsim_settings.timeout_budget_s

    def make_case(spec: CaseSpec) -> Case:
        return Case(spec, strict=whsim_settings.strict, deadline=deadline)

    results = grade_all(
        planned,
        make_case,
        {"receiver": receiver, "whsim_settings": whsim_settings},
        last=LAST,
    )
    whsim_report_extra["readings"] = {
        c: receiver.readings[c] for c in ("SIG-2", "CODES-5", "EVENT-9")
    }
    findings = diagnose(receiver, results)
    whsim_report_extra["diagnosis"] = [f.as_dict() for f in findings]
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if findings and reporter is not None:
        reporter.write_line("")
        for finding in findings:
            for line in finding.lines():
                reporter.write_line(line, yellow=True, bold=line.startswith("LIKELY"))
    request.config.stash[_GRADED] = results
    return results


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Report a case graded by :func:`graded` by replaying its verdict."""
    spec = _spec(pyfuncitem)
    results = pyfuncitem.config.stash.get(_GRADED, None)
    if spec is None or results is None or spec.id not in results:
        return None
    case = pyfuncitem.funcargs.get("whsim_case")
    if not isinstance(case, Case):
        return None
    case.replay(results[spec.id])
    return True
