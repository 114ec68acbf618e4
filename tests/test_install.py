"""A plain (non-editable) install runs the receiver suite from outside the checkout."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from whsim.receiver import ReceiverStore, ServerThread, create_app

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_pip_install_then_whsim_conformance_from_elsewhere(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # Dependencies come from the current environment (no network); whsim itself is installed
    # from the checkout as a wheel, not in editable mode.
    (site / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    # The project's own metadata gives setuptools nothing to warn about (license table, data
    # folders that are not packages).
    for noise in ("project.license", "whsim.sim.named", "SetuptoolsDeprecationWarning"):
        assert noise not in install.stdout + install.stderr, noise
    assert (site / "whsim_conformance" / "receiver" / "test_01_verify.py").is_file()
    assert (site / "whsim_conformance" / "pytest.ini").is_file()
    assert not (site / "conformance").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with ServerThread(create_app("s", store=ReceiverStore())) as base:
        done = subprocess.run(
            [
                str(env_dir / "bin" / "whsim"),
                "conformance",
                "receiver",
                f"{base}/webhook",
                "--secret",
                "s",
                "-q",
                "-k",
                "VERIFY or SIG-00 or RAW-006",
                "--report",
                "out",
            ],
            capture_output=True,
            text=True,
            cwd=elsewhere,
            timeout=120,
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    report = json.loads((elsewhere / "out" / "report.json").read_text())
    assert report["settings"]["suite"] == str(site / "whsim_conformance" / "receiver")
    assert report["outcome"] == "pass" and len(report["cases"]) >= 15
    assert sys.executable != str(python)
