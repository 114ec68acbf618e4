"""``--reading CLAUSE=NAME`` and ``--policy`` in both suites: a reading a suite implements changes
its verdicts, one it does not is refused by name (whsim.core.honoured declares which)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from foreign_receivers import serve

from whsim.cli import main
from whsim.commands.spec import tool_matrix
from whsim.conformance.runner import run
from whsim.core.honoured import RECEIVER_SUITE, SENDER_SUITE
from whsim.core.readings import Readings

SECRET = "readings-secret"
SIG_CASES = ("RCV-SIG-006", "RCV-SIG-011")


def _grade(base: str, out: Path, readings: Readings, strict: bool = False) -> tuple[int, Any]:
    code = run(
        "receiver",
        f"{base}/webhook",
        secret=SECRET,
        report_dir=out,
        seed=3,
        quiet=True,
        keyword="SIG-006 or SIG-011",
        readings=readings,
        strict=strict,
    )
    report = json.loads((out / "report.json").read_text())
    return code, report


def test_sig2_tolerant_changes_the_rcv_sig_verdicts(tmp_path: Path) -> None:
    # A receiver that accepts the right digest with 'sha256=' or in uppercase (it still refuses
    # a wrong digest behind the prefix): non-strict under the default exact-hex, a pass under
    # tolerant, so --strict fails it only under the default.
    with serve("tolerant", SECRET) as base:
        graded = {
            "default": _grade(base, tmp_path / "d", Readings(), strict=True),
            "tolerant": _grade(
                base, tmp_path / "t", Readings.parse(["SIG-2=tolerant"]), strict=True
            ),
        }
    for name, (_code, report) in graded.items():
        got = {c["id"]: c["outcome"] for c in report["cases"]}
        want = "non-strict" if name == "default" else "pass"
        assert {got[i] for i in SIG_CASES} == {want}, (name, got)
    assert graded["default"][0] == 1 and graded["tolerant"][0] == 0
    assert graded["tolerant"][1]["readings"]["SIG-2"] == "tolerant"
    assert graded["default"][1]["readings"]["SIG-2"] == "exact-hex"


def test_tolerant_still_fails_a_receiver_that_accepts_a_wrong_digest(tmp_path: Path) -> None:
    import broken_receivers

    from whsim.receiver import ServerThread

    with ServerThread(broken_receivers.good(SECRET, "accepts-bad-signatures")) as base:
        code, report = _grade(
            base.removesuffix("/webhook"), tmp_path, Readings.parse(["SIG-2=tolerant"])
        )
    got = {c["id"]: c["outcome"] for c in report["cases"]}
    assert {got[i] for i in SIG_CASES} == {"fail"} and code == 1, got


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (
            ["sender", "--reading", "SIG-2=tolerant"],
            "whsim conformance sender does not honour SIG-2=tolerant",
        ),
        (
            ["receiver", "--secret", "s", "--reading", "RETRY-1=immediate-counts"],
            "whsim conformance receiver does not honour RETRY-1=immediate-counts",
        ),
        (["sender", "--policy", "svix"], "whsim conformance sender does not take a vendor policy"),
        (["receiver", "--secret", "s", "--reading", "immediate-plus-five"], "CLAUSE=NAME"),
    ],
)
def test_a_reading_a_suite_does_not_implement_is_refused_by_name(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    role, *rest = argv
    assert main(["conformance", role, "http://127.0.0.1:1/", *rest]) == 2
    err = capsys.readouterr().err.strip()
    assert named in err and len(err.splitlines()) == 1, err


def test_the_plugin_refuses_by_name_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Through the runner (pytest's own option parsing), not the CLI's check.
    with serve("tolerant", SECRET) as base:
        code = run(
            "receiver",
            f"{base}/webhook",
            secret=SECRET,
            report_dir=tmp_path,
            quiet=True,
            readings=Readings.parse(["RETRY-1=immediate-counts"]),
        )
    assert code == 2
    assert "does not honour RETRY-1=immediate-counts" in capsys.readouterr().err


def test_spec_tools_lists_each_suite_with_its_readings() -> None:
    rows = {(r["clause"], r["reading"]): r["tools"] for r in tool_matrix()}
    assert rows[("SIG-2", "tolerant")]["whsim conformance receiver"] == "honours"
    assert rows[("SIG-2", "tolerant")]["whsim conformance sender"] == "refuses"
    assert rows[("RETRY-1", "immediate-plus-five")]["whsim conformance sender"] == "honours"
    assert RECEIVER_SUITE.honours("CODES-5", "reject-400")
    assert not SENDER_SUITE.policy and not RECEIVER_SUITE.policy


def test_the_sender_suites_old_reading_flag_still_works_with_a_notice(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # --reading NAME meant RETRY-1=NAME before; it still does (the URL is unreachable: exit 2
    # after the readings were accepted).
    assert (
        main(["conformance", "sender", "http://127.0.0.1:1/", "--reading", "immediate-plus-five"])
        == 2
    )
    err = capsys.readouterr().err
    assert "use --reading RETRY-1=immediate-plus-five" in err and "cannot reach" in err
