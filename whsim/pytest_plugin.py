"""pytest plugin for the whsim conformance suites (registered by the ``pytest11`` entry point).

Inert unless a test carries the ``whsim_case`` marker: it adds ``--whsim-*`` options (with
``WHSIM_*`` environment fallbacks) and a ``whsim_case`` fixture. With whsim cases collected it
behaves as ``whsim conformance`` does: a missing target URL or secret, or a target that cannot be
reached at all, is a usage error (pytest's exit 4, one ``ERROR:`` line, no case run); each test
id carries the case id and title (``test_plain_challenge[RCV-VERIFY-001 a plain challenge ...]``,
which is also its name in ``--junitxml``); at the end it writes the reports (``--whsim-report
DIR``, default ``reports/ROLE/`` under the directory pytest was started in, ``none`` for none)
and sets the exit status to the kit's own: 0 no case failed, 1 one did, 2 the kit hit an error.
Importing it costs only the standard library and whsim's small core; the HTTP and Hypothesis
parts are imported only when a whsim case runs.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from whsim.core.errors import WhsimError
from whsim.core.readings import Readings

if TYPE_CHECKING:
    from collections.abc import Generator
    from typing import IO

    from _pytest.terminal import TerminalReporter

    from whsim.conformance.case import Case, CaseResult, CaseSpec
    from whsim.conformance.progress import Progress
    from whsim.conformance.report import Report

__all__ = ["WhsimSettings"]

_ROLES = {"RCV": "receiver", "SND": "sender"}
_TRUE = {"1", "true", "yes", "on"}
DEFAULT_BUDGET_S = 300.0


@dataclass(frozen=True, slots=True)
class WhsimSettings:
    """The run's settings, from options or environment."""

    receiver_url: str | None
    secret: str | None
    seed: int
    report: Path | None
    """``--whsim-report``; None: the default folder, ``reports/ROLE/``."""
    strict: bool
    timeout_budget_s: float
    started: float
    sender_url: str | None = None
    trigger: str = "http"
    listen: str = "127.0.0.1:0"
    public_url: str | None = None
    mode: str | None = None
    readings: Readings = field(default_factory=Readings)
    """``--whsim-reading CLAUSE=NAME`` (repeatable) and ``--whsim-policy``, checked against the
    suite's declaration in :mod:`whsim.core.honoured` (a reading it does not implement is a
    usage error naming it)."""
    timing: str = "default"
    write_reports: bool = True

    def report_dir(self, role: str, start: Path) -> Path | None:
        """Where the reports of ``role`` go (``start``: where pytest was started), None: nowhere."""
        if not self.write_reports:
            return None
        return self.report if self.report is not None else start / "reports" / role


_SETTINGS = pytest.StashKey[WhsimSettings]()
_RESULTS: pytest.StashKey[list[CaseResult]] = pytest.StashKey()
_CASE: pytest.StashKey[Case] = pytest.StashKey()
_REPORT: pytest.StashKey[Report] = pytest.StashKey()
_EXTRA: pytest.StashKey[dict[str, Any]] = pytest.StashKey()
_FOLDER: pytest.StashKey[Path] = pytest.StashKey()
_PROGRESS: pytest.StashKey[Progress] = pytest.StashKey()
_SPECS: pytest.StashKey[dict[str, CaseSpec]] = pytest.StashKey()
"""The collected whsim cases by node id."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("whsim", "whsim webhook conformance")
    group.addoption(
        "--whsim-receiver-url",
        help="URL of the webhook receiver under test (env WHSIM_RECEIVER_URL)",
    )
    group.addoption(
        "--whsim-secret", help="signing secret shared with the target (env WHSIM_SECRET)"
    )
    group.addoption("--whsim-seed", type=int, help="seed for generated cases (env WHSIM_SEED)")
    group.addoption(
        "--whsim-report",
        help="write report.json, junit.xml, index.html here (env WHSIM_REPORT; default "
        "reports/ROLE/; none: write no reports)",
    )
    group.addoption(
        "--whsim-strict",
        action="store_true",
        default=None,
        help="count non-strict results (SHOULD missed) as failures (env WHSIM_STRICT)",
    )
    group.addoption(
        "--whsim-timeout-budget",
        type=float,
        help=f"seconds the whole run may take (env WHSIM_TIMEOUT_BUDGET, default {DEFAULT_BUDGET_S:g})",
    )
    group.addoption(
        "--whsim-sender-url",
        help="base URL of the webhook sender's API under test (env WHSIM_SENDER_URL)",
    )
    group.addoption(
        "--whsim-trigger",
        help="how the sender suite makes events: http, none or a command template with "
        "{event_type} and {webhook_id} (env WHSIM_TRIGGER, default http)",
    )
    group.addoption(
        "--whsim-listen",
        help="HOST:PORT of the kit's receiving endpoint (env WHSIM_LISTEN, default 127.0.0.1:0)",
    )
    group.addoption(
        "--whsim-public-url",
        help="base URL the sender reaches the kit's endpoint at (env WHSIM_PUBLIC_URL)",
    )
    group.addoption(
        "--whsim-mode",
        help="the sender's mode: development or production (env WHSIM_MODE; default: what "
        "GET /api/meta says, else development)",
    )
    group.addoption(
        "--whsim-reading",
        action="append",
        default=None,
        metavar="CLAUSE=NAME",
        help="grade by a named reading of an ambiguous clause, e.g. SIG-2=tolerant or "
        "RETRY-1=immediate-plus-five (repeatable; env WHSIM_READING, comma-separated; "
        "`whsim spec --tools` lists what each suite honours)",
    )
    group.addoption(
        "--whsim-policy",
        metavar="NAME",
        help="grade by another vendor's retry policy (env WHSIM_POLICY; no suite takes one yet)",
    )
    group.addoption(
        "--whsim-timing",
        help="timing profile: strict, default or lenient (env WHSIM_TIMING)",
    )


def _option(config: pytest.Config, name: str, env: str) -> Any:
    value = config.getoption(name)
    return os.environ.get(env) if value is None else value


def _readings(config: pytest.Config) -> Readings:
    """The readings of ``--whsim-reading``/``--whsim-policy`` (or the environment), checked
    against the declaration of the suite the run targets."""
    from whsim.core.honoured import RECEIVER_SUITE, SENDER_SUITE

    chosen: list[str] | None = config.getoption("whsim_reading")
    if chosen is None:
        env = os.environ.get("WHSIM_READING", "")
        chosen = [part for part in env.split(",") if part.strip()]
    policy = _option(config, "whsim_policy", "WHSIM_POLICY") or None
    readings = Readings.parse(chosen, policy=policy)
    if _option(config, "whsim_sender_url", "WHSIM_SENDER_URL"):
        SENDER_SUITE.check(readings)
    if _option(config, "whsim_receiver_url", "WHSIM_RECEIVER_URL"):
        RECEIVER_SUITE.check(readings)
    return readings


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "whsim_case(spec): a whsim conformance case (a whsim.conformance.CaseSpec)"
    )
    seed = _option(config, "whsim_seed", "WHSIM_SEED")
    budget = _option(config, "whsim_timeout_budget", "WHSIM_TIMEOUT_BUDGET")
    report = _option(config, "whsim_report", "WHSIM_REPORT")
    strict = config.getoption("whsim_strict")
    try:
        config.stash[_SETTINGS] = WhsimSettings(
            receiver_url=_option(config, "whsim_receiver_url", "WHSIM_RECEIVER_URL") or None,
            secret=_option(config, "whsim_secret", "WHSIM_SECRET"),
            seed=int(seed) if seed not in (None, "") else random.SystemRandom().randrange(2**32),
            report=Path(report) if report and str(report).lower() != "none" else None,
            write_reports=report is None or str(report).lower() != "none",
            strict=bool(strict)
            if strict is not None
            else os.environ.get("WHSIM_STRICT", "").lower() in _TRUE,
            timeout_budget_s=float(budget) if budget not in (None, "") else DEFAULT_BUDGET_S,
            started=time.monotonic(),
            sender_url=_option(config, "whsim_sender_url", "WHSIM_SENDER_URL") or None,
            trigger=_option(config, "whsim_trigger", "WHSIM_TRIGGER") or "http",
            listen=_option(config, "whsim_listen", "WHSIM_LISTEN") or "127.0.0.1:0",
            public_url=_option(config, "whsim_public_url", "WHSIM_PUBLIC_URL") or None,
            mode=_option(config, "whsim_mode", "WHSIM_MODE") or None,
            readings=_readings(config),
            timing=_option(config, "whsim_timing", "WHSIM_TIMING") or "default",
        )
    except WhsimError as exc:
        raise pytest.UsageError(f"whsim: {exc}") from None
    except ValueError as exc:
        raise pytest.UsageError(f"whsim: bad WHSIM_SEED or WHSIM_TIMEOUT_BUDGET: {exc}") from None
    config.stash[_RESULTS] = []
    config.stash[_EXTRA] = {}


def case_label(spec: CaseSpec) -> str:
    """The test-id part of a case: its id and title (``RCV-VERIFY-001 a plain challenge ...``).

    Kept to printable ASCII without brackets, so the id can be pasted back into pytest.
    """
    text = f"{spec.id} {spec.title}"
    text = text.replace("[", "(").replace("]", ")").replace("::", ":")
    return "".join(c if c.isascii() and c.isprintable() else "?" for c in text)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # The case id and title go into the test id (and so into --junitxml names and -k).
    marker = metafunc.definition.get_closest_marker("whsim_case")
    if marker is None or not marker.args or "whsim_case_title" not in metafunc.fixturenames:
        return
    spec = marker.args[0]
    metafunc.parametrize("whsim_case_title", [spec.title], ids=[case_label(spec)])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Let -k select by case id ("-k RCV-SIG-003", "-k 'SIG-00 and not SIG-006'").
    for item in items:
        marker = item.get_closest_marker("whsim_case")
        if marker is not None and marker.args:
            item.extra_keyword_matches.add(marker.args[0].id)


def _roles(items: list[pytest.Item]) -> set[str]:
    roles = set()
    for item in items:
        marker = item.get_closest_marker("whsim_case")
        if marker is not None and marker.args:
            roles.add(_ROLES.get(marker.args[0].id.split("-", 1)[0], "unknown"))
    return roles


def target_problem(role: str, settings: WhsimSettings) -> str | None:
    """Why the ``role`` suite cannot run against its target at all, in one line; None: it can.

    The same text ``whsim conformance`` prints, so both routes say the same thing.
    """
    if role == "receiver":
        url, option, env = settings.receiver_url, "--whsim-receiver-url", "WHSIM_RECEIVER_URL"
    elif role == "sender":
        url, option, env = settings.sender_url, "--whsim-sender-url", "WHSIM_SENDER_URL"
    else:
        return None
    if not url:
        return f"no {role} URL: pass {option} URL or set {env}"
    if role == "receiver" and not settings.secret:
        return "no signing secret: pass --whsim-secret S or set WHSIM_SECRET"
    from whsim.conformance.http import probe

    why = probe(url)
    return None if why is None else f"cannot reach {url} at all: {why}"


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    settings = config.stash.get(_SETTINGS, None)
    if settings is None or config.option.collectonly:
        return
    for role in sorted(_roles(session.items)):
        problem = target_problem(role, settings)
        if problem is not None:
            raise pytest.UsageError(f"whsim {role} conformance: {problem}")
    specs = _specs(session.items)
    if not specs:
        return
    config.stash[_SPECS] = specs
    _show_suite_relative_paths(config, session.items)
    _start_progress(config, len(specs))


def _specs(items: list[pytest.Item]) -> dict[str, CaseSpec]:
    found = {}
    for item in items:
        marker = item.get_closest_marker("whsim_case")
        if marker is not None and marker.args:
            found[item.nodeid] = marker.args[0]
    return found


def display_path(item: pytest.Item, spec: CaseSpec) -> str:
    """The suite-relative name of a case's file: ``whsim_conformance/receiver/test_01_verify.py``.

    Where the suite is installed (``../.venv/lib/python3.11/site-packages/...``) says nothing to
    the reader, and under ``whsim conformance`` pytest's root is the suite's own folder.
    """
    role = _ROLES.get(spec.id.split("-", 1)[0], "unknown")
    return f"whsim_conformance/{role}/{Path(item.path).name}"


def _show_suite_relative_paths(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Print the suite's node ids with suite-relative paths (``-v`` lines, ``FAILED`` lines).

    pytest prints node ids through ``Config.cwd_relative_nodeid``; the instance's method is
    wrapped so whsim cases print as ``whsim_conformance/ROLE/test_x.py::test_y[CASE-ID title]``
    and every other node id as pytest would. The ids themselves (and so ``--junitxml``,
    ``--deselect``) are unchanged.
    """
    names: dict[str, str] = {}
    for item in items:
        marker = item.get_closest_marker("whsim_case")
        if marker is not None and marker.args:
            names[item.nodeid.split("::", 1)[0]] = display_path(item, marker.args[0])
    original = config.cwd_relative_nodeid

    def relative(nodeid: Any) -> Any:
        path = nodeid.split("::", 1)[0] if isinstance(nodeid, str) else nodeid.path
        shown = names.get(path)
        if shown is None:
            return original(nodeid)
        if isinstance(nodeid, str):
            return shown + nodeid[len(path) :]
        import dataclasses

        return dataclasses.replace(nodeid, path=shown)

    setattr(config, "cwd_relative_nodeid", relative)  # noqa: B010 (an instance method, replaced)


def _start_progress(config: pytest.Config, total: int) -> None:
    """Own the per-case output: live lines on a terminal, one line per finished case elsewhere.

    Only at pytest's default verbosity (or ``-q``): with ``-v`` pytest's own lines stay, and
    with ``-qq`` or no terminal reporter nothing is added. The stream is a duplicate of stdout's
    file descriptor, so what the live display draws while a case runs is not taken by pytest's
    output capture.
    """
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or config.get_verbosity() > 0 or config.get_verbosity() < -1:
        return
    import sys

    from whsim.conformance.progress import Progress

    stream: IO[str]
    try:
        stream = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", errors="replace")
        owned = True
    except (AttributeError, OSError, ValueError):  # no file behind stdout (pytester, an IDE)
        stream, owned = sys.stdout, False
    reporter.showfspath = False
    if hasattr(reporter, "_show_progress_info"):
        reporter._show_progress_info = False  # the [ 42%] column: the progress says it
    progress = Progress.on(total, stream, owned=owned)
    config.stash[_PROGRESS] = progress
    reporter.write_line("")
    progress.start()


def _stop_progress(config: pytest.Config) -> None:
    progress = config.stash.get(_PROGRESS, None)
    if progress is None:
        return
    progress.stop()
    del config.stash[_PROGRESS]


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    try:
        return (yield)
    finally:
        _stop_progress(session.config)


def pytest_unconfigure(config: pytest.Config) -> None:
    _stop_progress(config)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    progress = item.config.stash.get(_PROGRESS, None)
    spec = item.config.stash.get(_SPECS, {}).get(item.nodeid)
    if progress is not None and spec is not None:
        progress.case_started(spec.id, spec.title)


@pytest.hookimpl(wrapper=True)
def pytest_report_teststatus(
    report: pytest.TestReport | pytest.CollectReport, config: pytest.Config
) -> Generator[None, tuple[str, str, str], tuple[str, str, str]]:
    status = yield
    if _PROGRESS in config.stash and report.nodeid in config.stash.get(_SPECS, {}):
        return (status[0], "", "")  # the progress prints the case; pytest only counts it
    return status


def pytest_report_header(config: pytest.Config) -> str | None:
    settings = config.stash.get(_SETTINGS, None)
    if settings is not None and settings.sender_url is not None:
        return (
            f"whsim: sender {settings.sender_url}, --whsim-seed={settings.seed}, "
            f"trigger={settings.trigger}, timing={settings.timing}, strict={settings.strict}"
        )
    if settings is None or settings.receiver_url is None:
        return None
    return (
        f"whsim: receiver {settings.receiver_url}, --whsim-seed={settings.seed}, "
        f"strict={settings.strict}, budget {settings.timeout_budget_s:g} s"
    )


@pytest.fixture(scope="session")
def whsim_settings(pytestconfig: pytest.Config) -> WhsimSettings:
    """The run's whsim settings (options, then environment)."""
    return pytestconfig.stash[_SETTINGS]


@pytest.fixture(scope="session")
def whsim_report_extra(pytestconfig: pytest.Config) -> dict[str, Any]:
    """Settings a suite adds to its report header (e.g. timing bands); ``"notes"`` is a list."""
    return pytestconfig.stash[_EXTRA]


@pytest.fixture(scope="session")
def whsim_progress(pytestconfig: pytest.Config) -> Progress | None:
    """The run's live progress (None when pytest prints its own lines: ``-v``, ``-qq``).

    A suite announces what it runs beyond its cases: ``scenario_started(name, expected_s)``.
    """
    return pytestconfig.stash.get(_PROGRESS, None)


@pytest.fixture
def whsim_case_title() -> str:
    """The running case's title; parametrized per case so the test id carries it."""
    return ""


@pytest.fixture
def whsim_case(
    request: pytest.FixtureRequest, whsim_settings: WhsimSettings, whsim_case_title: str
) -> Case:
    """The running :class:`~whsim.conformance.case.Case` of a test marked ``whsim_case``."""
    from whsim.conformance.case import Case

    marker = request.node.get_closest_marker("whsim_case")
    if marker is None or not marker.args:
        raise pytest.UsageError(f"{request.node.nodeid}: the whsim_case fixture needs the marker")
    deadline = whsim_settings.started + whsim_settings.timeout_budget_s
    case = Case(marker.args[0], strict=whsim_settings.strict, deadline=deadline)
    request.node.stash[_CASE] = case
    if time.monotonic() > deadline:
        case.error(f"not run: the timeout budget of {whsim_settings.timeout_budget_s:g} s is spent")
    return case


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    marker = item.get_closest_marker("whsim_case")
    if marker is None or not marker.args:
        return report
    if call.when == "setup":
        _name_junit_case(item, report, marker.args[0])
    finished = call.when == "call" or (call.when == "setup" and not report.passed)
    if finished:
        spec = marker.args[0]
        result = _result(item, spec, call, report)
        item.config.stash[_RESULTS].append(result)
        progress = item.config.stash.get(_PROGRESS, None)
        if progress is not None:
            progress.case_finished(spec.id, str(result.outcome), result.duration_s, spec.title)
    if report.skipped and isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        # "SKIPPED [1] ../.venv/.../whsim/conformance/case.py:198: ..." names the kit's
        # internals; the case's own file, suite-relative, is what the reader can look up.
        where = item.config.invocation_params.dir / display_path(item, marker.args[0])
        line = item.location[1]
        report.longrepr = (str(where), line + 1 if line is not None else 0, report.longrepr[2])
    return report


def _result(
    item: pytest.Item, spec: CaseSpec, call: pytest.CallInfo[None], report: pytest.TestReport
) -> CaseResult:
    """The case's own verdict, or what pytest's outcome says when the case gave none."""
    from whsim.conformance.case import CaseResult
    from whsim.conformance.outcomes import Outcome

    case = item.stash.get(_CASE, None)
    if case is not None and case.result is not None:
        result = case.result
    elif call.when == "setup" and report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        result = CaseResult(spec, Outcome.UNTESTABLE, reason.removeprefix("Skipped: "))
    elif call.excinfo is not None:
        exc = call.excinfo.value
        kind = "network" if type(exc).__module__.startswith(("httpx", "httpcore")) else "kit"
        result = CaseResult(
            spec,
            Outcome.ERROR,
            f"{kind} error: {type(exc).__name__}: {exc}",
            exchanges=list(case.exchanges) if case else [],
        )
    else:
        result = CaseResult(spec, Outcome.ERROR, "the case ended without a verdict (a kit bug)")
    if not result.duration_s:  # a case graded ahead (whsim.conformance.engine) keeps its time
        result.duration_s = call.duration
    return result


def _name_junit_case(item: pytest.Item, report: pytest.TestReport, spec: CaseSpec) -> None:
    # pytest's own --junitxml names each whsim case by its id, as the kit's junit.xml does
    # (what record_xml_attribute does, without its experimental-API warning).
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # a pytest without it: its junit.xml keeps the function names
        return
    xml = item.config.stash.get(xml_key, None)
    if xml is not None:
        xml.node_reporter(report).attrs["name"] = f"{spec.id} {spec.title}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    results = session.config.stash.get(_RESULTS, [])
    if not results:
        return
    from whsim.conformance.report import build_report, write_reports

    settings = session.config.stash[_SETTINGS]
    role = _ROLES.get(results[0].spec.id.split("-", 1)[0], "unknown")
    stored = session.config.stash.get(_EXTRA, None)
    extra: dict[str, Any] = dict(stored) if stored else {}
    notes = [str(n) for n in extra.pop("notes", [])]
    readings = extra.pop("readings", {})
    diagnosis = list(extra.pop("diagnosis", []))
    target = settings.sender_url if role == "sender" else settings.receiver_url
    wall = time.monotonic() - settings.started
    report = build_report(
        role,
        target or "",
        results,
        seed=settings.seed,
        strict=settings.strict,
        duration_s=wall,
        settings={
            "timeout budget": f"{settings.timeout_budget_s:g} s",
            "suite": str(Path(session.items[0].path).parent) if session.items else "",
            **extra,
        },
        secrets=[settings.secret] if settings.secret else (),
    )
    report.readings.update(readings)
    report.diagnosis[:] = diagnosis
    report.notes[:0] = [*notes, f"wall time of the whole run: {wall:.1f} s"]
    session.config.stash[_REPORT] = report
    folder = settings.report_dir(role, session.config.invocation_params.dir)
    if folder is not None:
        write_reports(report, folder)
        session.config.stash[_FOLDER] = folder
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        session.exitstatus = report.exit_code


def pytest_terminal_summary(terminalreporter: TerminalReporter, config: pytest.Config) -> None:
    report = config.stash.get(_REPORT, None)
    if report is None:
        return
    from whsim.conformance.outcomes import counts

    tally = ", ".join(f"{n} {o}" for o, n in counts(report.outcomes).items() if n)
    terminalreporter.write_sep("=", f"whsim {report.role} conformance: {report.overall.upper()}")
    for finding in report.diagnosis:
        terminalreporter.write_line(f"likely cause ({finding['code']}): {finding['summary']}")
    terminalreporter.write_line(f"{tally}; seed {report.seed}; exit code {report.exit_code}")
    folder = config.stash.get(_FOLDER, None)
    if folder is not None:
        terminalreporter.write_line(f"reports in {folder}/ (index.html, report.json, junit.xml)")
