"""The CI recipe in docs/ci.md works (issue 13): its workflow's shell commands, run here.

Each job's ``run:`` steps but the install step (whsim is installed here already) run in one bash
script, with the job's ``env`` but ``PORT`` set to a free loopback port, in a fresh folder; the
commands must exit 0 and write the reports the upload step keeps. Slow: both suites twice, the
sender at time scale 10 (about 1 min on the project's 2-core machine).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

DOC = Path(__file__).resolve().parents[1] / "docs" / "ci.md"


def _workflow() -> dict[str, Any]:
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1, "docs/ci.md should hold one yaml workflow"
    doc = yaml.safe_load(blocks[0])
    assert isinstance(doc, dict)
    return doc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_workflow_starts_a_service_runs_each_suite_and_uploads_reports() -> None:
    jobs = _workflow()["jobs"]
    assert set(jobs) == {"receiver", "sender"}
    for job in jobs.values():
        steps = job["steps"]
        uploads = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
        assert uploads and uploads[0]["with"]["path"] == "reports/" and uploads[0]["if"]
        commands = " ".join(s.get("run", "") for s in steps)
        assert "whsim conformance" in commands and "pytest --pyargs whsim_conformance." in commands


@pytest.mark.slow
@pytest.mark.parametrize("name", ["receiver", "sender"])
def test_the_workflow_commands_pass_against_the_reference_services(
    tmp_path: Path, name: str
) -> None:
    job = _workflow()["jobs"][name]
    runs = [
        s["run"] for s in job["steps"] if "run" in s and not s.get("name", "").startswith("Install")
    ]
    script = "set -e\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + "\n".join(runs)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHSIM_")}
    env.update({k: str(v) for k, v in job.get("env", {}).items()})
    env.update(PORT=str(_free_port()), CI="true", PYTEST_ADDOPTS="-p no:cacheprovider")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400
    )
    assert done.returncode == 0, (done.stdout[-4000:], done.stderr[-2000:])
    for folder in (f"reports/{name}", f"reports/{name}-pytest"):
        for file in ("report.json", "junit.xml", "index.html"):
            assert (tmp_path / folder / file).is_file(), (folder, file, done.stdout[-3000:])
        report = json.loads((tmp_path / folder / "report.json").read_text(encoding="utf-8"))
        assert report["exit_code"] == 0 and report["role"] == name
    # CI mode: one line per finished case, not a live display.
    assert re.search(r"^\[\s*\d+/\d+\] (RCV|SND)-\S+ +pass ", done.stdout, flags=re.M)
