"""The ``whsim`` command line: spec, demo, and clean errors."""

import json
import subprocess
import sys

import whsim
from whsim.cli import main


def test_spec_table_shows_clauses_and_readings(capsys):
    assert main(["spec"]) == 0
    out = capsys.readouterr().out
    assert "RETRY-1" in out and "* backoff-only" in out and "FINDING:" in out


def test_spec_json(capsys):
    assert main(["spec", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in doc] == [c.id for c in whsim.clauses()]


def test_spec_area_filter_and_bad_area(capsys):
    assert main(["spec", "--area", "retry"]) == 0
    assert all(line.startswith(("RETRY", " ")) for line in capsys.readouterr().out.splitlines()[2:])
    assert main(["spec", "--area", "nope"]) == 2
    assert "areas:" in capsys.readouterr().err


def test_bad_flags_exit_2_without_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "whsim.cli", "spec", "--bogus"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "unrecognized arguments" in proc.stderr and "Traceback" not in proc.stderr


def test_demo_writes_reports(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    schedules = json.loads((tmp_path / "schedules.json").read_text())
    assert schedules["backoff-only"]["attempt_offsets_s"] == [0, 1, 3, 7, 15, 31]
    assert len(json.loads((tmp_path / "clauses.json").read_text())) == len(whsim.clauses())
    assert "Retry schedules" in capsys.readouterr().out
