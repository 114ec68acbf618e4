"""The ``whsim`` command line: spec and clean errors (``whsim demo``: tests/test_demo.py)."""

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
