"""The pytest route behaves like `whsim conformance` (issue 13, "Parity").

Usage errors and unreachable targets stop the run with pytest's usage-error exit and one line;
reports go to ``reports/ROLE/`` by default; test ids and JUnit names carry the case id and title;
``-x``, ``--junit-xml`` and ``-- PYTEST_ARGS`` pass through the CLI to pytest.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from broken_receivers import guide_example

from whsim.cli import main
from whsim.receiver import ReceiverStore, ServerThread, create_app

USAGE_ERROR = int(pytest.ExitCode.USAGE_ERROR)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pytest(cwd: Path, suite: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHSIM_")}
    env["PYTEST_ADDOPTS"] = "-p no:cacheprovider"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", f"whsim_conformance.{suite}", "-q", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=180,
    )


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    ("suite", "args", "says"),
    [
        ("receiver", [], "no receiver URL: pass --whsim-receiver-url"),
        ("receiver", ["--whsim-receiver-url=http://127.0.0.1:1/webhook"], "no signing secret"),
        ("sender", [], "no sender URL: pass --whsim-sender-url"),
    ],
)
def test_plain_pytest_without_a_target_is_a_usage_error(
    tmp_path: Path, suite: str, args: list[str], says: str
) -> None:
    done = _pytest(tmp_path, suite, *args)
    assert done.returncode == USAGE_ERROR, done.stdout[-2000:]
    assert says in _one_line(done.stderr)
    assert not (tmp_path / "reports").exists()


def test_plain_pytest_against_an_unreachable_target_is_one_line_not_30_tracebacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/webhook"
    done = _pytest(tmp_path, "receiver", f"--whsim-receiver-url={url}", "--whsim-secret=s")
    assert done.returncode == USAGE_ERROR
    line = _one_line(done.stderr)
    assert f"cannot reach {url} at all" in line
    assert len(done.stdout.splitlines()) < 5
    # The CLI says the same thing (and exits 2, its own "could not run").
    assert main(["conformance", "receiver", url, "--secret", "s"]) == 2
    cli_line = _one_line(capsys.readouterr().err)
    assert line.split("cannot reach", 1)[1] == cli_line.split("cannot reach", 1)[1]


def test_test_ids_carry_the_case_id_and_title(tmp_path: Path) -> None:
    done = _pytest(tmp_path, "receiver", "--collect-only", "-k", "RCV-VERIFY-001 or RCV-SIG-002")
    ids = [line for line in done.stdout.splitlines() if "::" in line]
    assert ids == [
        "test_01_verify.py::test_plain_challenge[RCV-VERIFY-001 a plain challenge is "
        "echoed with 200]",
        "test_02_signature.py::test_missing_header[RCV-SIG-002 a missing signature "
        "header gets 401]",
    ], done.stdout


@pytest.mark.slow
def test_plain_pytest_writes_reports_by_default_and_junit_names_cases(tmp_path: Path) -> None:
    with ServerThread(create_app("s", store=ReceiverStore())) as base:
        done = _pytest(
            tmp_path,
            "receiver",
            f"--whsim-receiver-url={base}/webhook",
            "--whsim-secret=s",
            "-k",
            "VERIFY-00",
            "--junitxml=pytest.xml",
        )
    assert done.returncode == 0, done.stdout[-3000:]
    report = json.loads((tmp_path / "reports" / "receiver" / "report.json").read_text())
    assert report["outcome"] == "pass" and len(report["cases"]) == 6
    names = [tc.get("name", "") for tc in ET.parse(tmp_path / "pytest.xml").iter("testcase")]
    # pytest's --junitxml names each case by its id and title, as the kit's junit.xml does.
    assert "RCV-VERIFY-002 a unicode challenge is echoed exactly" in names
    assert all(" " in n and n.startswith("RCV-VERIFY-00") for n in names), names


@pytest.mark.slow
def test_cli_passes_x_junit_xml_and_pytest_args(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "pytest.xml"
    with ServerThread(guide_example("s")) as base:  # fails nearly every case
        code = main(
            [
                *("conformance", "receiver", f"{base}/webhook", "--secret", "s", "-x"),
                *("--junit-xml", str(junit), "--report", str(tmp_path / "r")),
                *("--", "--tb=no", "-rN"),
            ]
        )
    out = capsys.readouterr().out
    assert code == 1
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    outcomes = [c["outcome"] for c in report["cases"]]
    assert outcomes.count("fail") == 1 and outcomes[-1] == "fail"  # -x: stopped at the first
    assert len(outcomes) < 10
    cases = list(ET.parse(junit).iter("testcase"))
    assert len(cases) == len(outcomes) and all(c.get("name", "").startswith("RCV-") for c in cases)
    assert "short test summary" not in out  # -rN went through to pytest


def test_cli_refuses_words_after_double_dash_for_commands_without_passthrough(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["spec", "--", "-x"])
    assert stop.value.code == 2
    assert "takes no arguments after --" in _one_line(capsys.readouterr().err)
