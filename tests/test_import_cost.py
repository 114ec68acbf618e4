"""`import whsim` and `whsim --help` load no heavy module (issues 13 and 15).

Asserted on what a fresh interpreter has in ``sys.modules``, not on wall time (which a loaded
machine would make flaky); ``benchmarks/bench_import.py`` measures the time against ``python -c
pass`` in the same run.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# jsonschema loads its format checkers at import, and with rfc3987_syntax installed that builds a
# grammar for about a second; hypothesis alone is ~0.1 s.
HEAVY = (
    "jsonschema",
    "rfc3987_syntax",
    "hypothesis",
    "pandas",
    "matplotlib",
    "pytest",
    "httpx",
    "starlette",
    "uvicorn",
    "IPython",
    "rich",
)

_PROBE = """
import sys
{body}
print(",".join(m for m in {heavy!r} if m in sys.modules))
"""


def _loaded(body: str) -> list[str]:
    code = _PROBE.format(body=body, heavy=HEAVY)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    last = (out.stdout.strip().splitlines() or [""])[-1]
    return [m for m in last.split(",") if m]


def test_import_whsim_loads_no_heavy_module() -> None:
    assert _loaded("import whsim") == []


@pytest.mark.parametrize("argv", [["--help"], ["explore", "--help"], ["listen", "--help"]])
def test_whsim_help_loads_no_heavy_module(argv: list[str]) -> None:
    body = (
        "import contextlib, io\n"
        "from whsim.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"    try:\n        main({argv!r})\n    except SystemExit as exc:\n        code = exc.code\n"
        "assert code == 0 and out.getvalue().startswith('usage:'), (code, out.getvalue())\n"
    )
    assert _loaded(body) == []


def test_event_validation_still_loads_jsonschema_when_used() -> None:
    # The lazy validator is the same one: a bad event is still refused with the field named.
    body = (
        "import whsim\n"
        "try:\n"
        "    whsim.make_event('job.started', {'job_id': 'j', 'status': 'nope'}, id='e',"
        " timestamp_ms=0)\n"
        "except whsim.EventDataError as exc:\n"
        "    print('refused', exc.field)\n"
    )
    code = _PROBE.format(body=body, heavy=("jsonschema",))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["refused", "data.status", "jsonschema"]
