"""``whsim simulate``: the four files, the summary table, one-line errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from whsim.cli import main
from whsim.commands.simulate import ProgressBar


def test_writes_its_four_files_and_prints_the_summary(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["simulate", "--scenario", "outage-10min", "--seed", "3", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "attempts.csv",
        "deliveries.csv",
        "summary.json",
        "timeline.png",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "outage-10min" and summary["seed"] == 3
    assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    header = (out / "attempts.csv").read_text().splitlines()[0]
    assert header == "event_id,webhook_id,attempt,sent_ms,latency_ms,status,error,outcome"
    text = capsys.readouterr().out
    assert "loss_rate" in text and "amplification" in text and "timeline.png" in text


def test_reading_changes_the_policy(tmp_path, capsys):
    assert (
        main(
            [
                "simulate",
                "--scenario",
                "flaky",
                "--reading",
                "RETRY-1=immediate-plus-five",
                "--reading",
                "RETRY-2=only-500",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "summary.json").read_text())["policy"] == "immediate-plus-five"


def test_policy_flag_picks_a_vendor_policy(tmp_path):
    assert (
        main(["simulate", "--scenario", "flaky", "--policy", "svix", "--out", str(tmp_path)]) == 0
    )
    assert json.loads((tmp_path / "summary.json").read_text())["policy"] == "svix"


def test_same_seed_same_csv_bytes(tmp_path):
    for name in ("a", "b"):
        assert (
            main(
                [
                    "simulate",
                    "--scenario",
                    "slow-receiver",
                    "--seed",
                    "9",
                    "--out",
                    str(tmp_path / name),
                ]
            )
            == 0
        )
    assert (tmp_path / "a" / "attempts.csv").read_bytes() == (
        tmp_path / "b" / "attempts.csv"
    ).read_bytes()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--scenario", "nope"], "no such scenario"),
        (["--scenario", "flaky", "--reading", "sometimes"], "--reading"),
        (["--scenario", "flaky", "--reading", "svix"], "--policy svix"),
        (["--scenario", "flaky", "--reading", "RETRY-1=sometimes"], "immediate-counts"),
        (["--scenario", "flaky", "--reading", "REG-4=full-replace"], "REG-4=full-replace"),
        (["--scenario", "flaky", "--reading", "SIG-1=sha256-prefix"], "SIG-1=sha256-prefix"),
        (["--scenario", "flaky", "--policy", "nope"], "svix"),
        (["--scenario", "flaky", "--seed", "-1"], "--seed"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, args, needle):
    proc = subprocess.run(
        [sys.executable, "-m", "whsim.cli", "simulate", *args, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and needle in proc.stderr


def test_bad_toml_names_field_and_file(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text("[[receivers]]\nname = 'r'\nfailure_probability = 7\n")
    assert main(["simulate", "--scenario", str(path), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "receivers[0].failure_probability" in err


def test_progress_bar_waits_then_draws():
    stream = io.StringIO()
    bar = ProgressBar(stream, enabled=True, delay_s=0.0)
    bar.stage("simulating")
    bar.update(0.5)
    bar.close()
    assert "simulating" in stream.getvalue() and " 50%" in stream.getvalue()
    quiet = io.StringIO()
    late = ProgressBar(quiet, enabled=True, delay_s=3600)
    late.update(0.5)
    off = ProgressBar(quiet, enabled=False, delay_s=0)
    off.update(0.5)
    assert quiet.getvalue() == ""
