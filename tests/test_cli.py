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


def test_a_reader_that_closes_early_gets_no_traceback():
    """`whsim spec --json | head -c 100`: the command stops quietly when the pipe closes."""
    import fcntl
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    # A one-page pipe, so whsim is still writing when the reader goes away.
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
    proc = subprocess.Popen(
        [sys.executable, "-m", "whsim.cli", "spec", "--json"],
        stdout=write_end,
        stderr=subprocess.PIPE,
    )
    os.close(write_end)
    assert os.read(read_end, 100)
    os.close(read_end)
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err, err
    assert proc.returncode == 141
