"""Live progress (issue 13): a live line per running scenario on a terminal, one line per
finished case on a pipe or in CI; suite-relative paths instead of site-packages paths."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from whsim.conformance.progress import Progress, is_live
from whsim.receiver import ReceiverStore, ServerThread, create_app


def test_terminal_shows_running_scenarios_with_elapsed_and_expected_time() -> None:
    now = [100.0]
    console = Console(file=io.StringIO(), force_terminal=True, record=True, width=140)
    progress = Progress(3, console, live=True, get_time=lambda: now[0])
    progress.start()
    progress.scenario_started("retry-500", 47.0, ["SND-RETRY-001", "SND-RETRY-002"])
    progress.scenario_started("throttle", 32.0)
    now[0] += 12.5
    progress.refresh()
    text = console.export_text()
    assert "scenario retry-500 (for SND-RETRY-001, SND-RETRY-002)" in text
    assert "12.5 s / 47.0 s expected" in text
    assert "12.5 s / 32.0 s expected" in text
    assert "0/3 cases done, 3 left" in text
    progress.scenario_finished("retry-500")
    progress.case_finished("SND-RETRY-001", "pass", 12.5, "the backoff gaps")
    now[0] += 1.0
    progress.refresh()
    after = console.export_text()  # (export_text clears what it returned)
    assert "[1/3] SND-RETRY-001" in after
    last = after.rsplit("whsim conformance", 1)[1]  # the last frame drawn
    assert "1/3 cases done, 2 left" in last
    assert "13.5 s / 32.0 s" in last and "retry-500 (for" not in last
    progress.stop()


def test_ci_or_a_pipe_gets_no_live_display() -> None:
    tty = Console(file=io.StringIO(), force_terminal=True)
    assert is_live(tty, {}) and not is_live(tty, {"CI": "true"})
    assert not is_live(Console(file=io.StringIO()), {})


def _run_suite(cwd: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHSIM_")}
    env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "whsim_conformance.receiver",
         f"--whsim-receiver-url={url}", "--whsim-secret=s", "--whsim-report=none",
         "-p", "no:cacheprovider", "-rs", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=180,
    )  # fmt: skip


def test_pipe_prints_one_line_per_finished_case_and_suite_relative_paths(tmp_path: Path) -> None:
    with ServerThread(create_app("s", store=ReceiverStore())) as base:
        url = f"{base}/webhook"
        done = _run_suite(tmp_path, url, "-k", "RCV-VERIFY or RCV-SIG-009 or RCV-SIG-002")
        verbose = _run_suite(tmp_path, url, "-k", "RCV-SIG-002", "-v")
    assert done.returncode == 0, done.stdout[-3000:]
    lines = [line for line in done.stdout.splitlines() if re.match(r"\[\s*\d+/\d+\] ", line)]
    rows = [line.split("]", 1)[1].split() for line in lines]
    ids = [row[0] for row in rows]
    assert ids == [*(f"RCV-VERIFY-00{i}" for i in range(1, 7)), "RCV-SIG-002", "RCV-SIG-009"], (
        done.stdout
    )
    outcomes = {row[0]: row[1] for row in rows}
    assert outcomes["RCV-SIG-002"] == "pass" and outcomes["RCV-SIG-009"] == "untestable"
    assert outcomes["RCV-VERIFY-006"] == "info"
    assert lines[-1].startswith("[8/8]")
    # pytest's own per-file dots are gone, and no path points into site-packages or the venv.
    for out in (done.stdout, verbose.stdout):
        assert "site-packages" not in out and "../" not in out and ".venv/lib" not in out, out
    assert "SKIPPED [1] whsim_conformance/receiver/test_02_signature.py:" in done.stdout
    assert "whsim_conformance/receiver/test_02_signature.py::test_missing_header[" in (
        verbose.stdout
    )
