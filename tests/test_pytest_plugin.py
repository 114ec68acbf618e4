"""The pytest plugin: inert in ordinary runs; runs the installed suite with options or env vars."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from whsim.receiver import ReceiverStore, ServerThread, create_app


def test_plugin_is_registered_by_entry_point_and_inert(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest("--trace-config", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*whsim*whsim/pytest_plugin.py*"])
    assert "whsim: receiver" not in result.stdout.str()
    assert "conformance" not in result.stdout.str()


def test_plugin_import_is_light() -> None:
    heavy = (
        "httpx",
        "hypothesis",
        "starlette",
        "uvicorn",
        "pandas",
        "matplotlib",
        "whsim.conformance",
    )
    code = f"import sys, whsim.pytest_plugin; print([m for m in sys.modules if m.startswith({heavy!r})])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _plain_pytest(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("WHSIM_")}
    full_env.update(env or {})
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "whsim_conformance.receiver",
            "-p",
            "no:cacheprovider",
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=120,
    )


@pytest.mark.slow
def test_suite_runs_as_plain_pytest_with_options_and_env(tmp_path: Path) -> None:
    with ServerThread(create_app("s", store=ReceiverStore())) as base:
        url = f"{base}/webhook"
        by_option = _plain_pytest(
            tmp_path,
            f"--whsim-receiver-url={url}",
            "--whsim-secret=s",
            "--whsim-seed=7",
            f"--whsim-report={tmp_path / 'a'}",
            "-k",
            "VERIFY or SIG",
        )
        by_env = _plain_pytest(
            tmp_path,
            "-k",
            "RAW",
            env={
                "WHSIM_RECEIVER_URL": url,
                "WHSIM_SECRET": "s",
                "WHSIM_REPORT": str(tmp_path / "b"),
            },
        )
    assert by_option.returncode == 0, by_option.stdout[-3000:]
    assert "--whsim-seed=7" in by_option.stdout
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert report["seed"] == 7 and report["outcome"] == "pass"
    assert {c["id"] for c in report["cases"]} >= {"RCV-VERIFY-001", "RCV-SIG-002"}
    assert by_env.returncode == 0, by_env.stdout[-3000:]
    assert len(json.loads((tmp_path / "b" / "report.json").read_text())["cases"]) == 6


def test_pytests_own_junitxml_names_each_case_by_its_id(tmp_path: Path) -> None:
    """`pytest --junitxml` (not only the kit's junit.xml) names every case by its id."""
    import xml.etree.ElementTree as ET

    xml = tmp_path / "pytest-junit.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHSIM_")}
    with ServerThread(create_app("s", store=ReceiverStore())) as base:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--pyargs",
                "whsim_conformance.receiver",
                "-q",
                "-p",
                "no:cacheprovider",
                "-k",
                "SIG-00 or TIMEOUT",
                f"--junitxml={xml}",
                f"--whsim-receiver-url={base}/webhook",
                "--whsim-secret=s",
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
    assert done.returncode == 0, done.stdout[-2000:]
    names = [t.get("name", "") for t in ET.parse(xml).getroot().iter("testcase")]
    assert names and all(n.startswith(("RCV-SIG-00", "RCV-TIMEOUT-001")) for n in names), names
    assert "RCV-SIG-002 a missing signature header gets 401" in names
