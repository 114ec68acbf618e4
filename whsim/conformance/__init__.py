"""Conformance kits: the outcome model, cases, report writers and the runner, shared by roles.

The suites themselves are pytest files shipped as the ``whsim_conformance`` package (the
``conformance/`` folder of the checkout); :mod:`whsim.pytest_plugin` wires them into pytest and
:mod:`whsim.conformance.runner` drives them for ``whsim conformance ROLE``.
"""

from whsim.conformance.case import Case, CaseError, CaseResult, CaseSpec
from whsim.conformance.exchange import Exchange, Request, Response, curl_line
from whsim.conformance.outcomes import Outcome, exit_code, overall
from whsim.conformance.report import Report, build_report, write_reports

__all__ = [
    "Case",
    "CaseError",
    "CaseResult",
    "CaseSpec",
    "Exchange",
    "Outcome",
    "Report",
    "Request",
    "Response",
    "build_report",
    "curl_line",
    "exit_code",
    "overall",
    "write_reports",
]
