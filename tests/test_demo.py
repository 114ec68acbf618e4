"""``whsim demo``: the main job writes one page linking everything and leaves no process behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from whsim.cli import main
from whsim.demo import DemoError, DemoResult, Processes, run_demo, run_notebooks, write_index
from whsim.demo.page import duration

ROOT = Path(__file__).resolve().parents[1]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _service(tmp_path: Path, body: str) -> list[str]:
    script = tmp_path / "service.py"
    script.write_text(body)
    return [sys.executable, "-u", str(script)]


def test_processes_announce_their_url_and_are_stopped(tmp_path):
    cmd = _service(
        tmp_path,
        "import time\nprint('listening on http://127.0.0.1:1234/webhook', flush=True)\n"
        "time.sleep(60)\n",
    )
    with Processes(grace_s=2) as procs:
        proc, url = procs.serve(cmd, tmp_path / "service.log")
        assert url == "http://127.0.0.1:1234/webhook"
        assert procs.running == [proc]
    assert procs.running == []
    assert _gone(proc.pid)
    assert "listening on" in (tmp_path / "service.log").read_text()


def test_a_process_that_ignores_sigterm_is_killed(tmp_path):
    cmd = _service(
        tmp_path,
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('up at http://127.0.0.1:9/', flush=True)\ntime.sleep(60)\n",
    )
    with Processes(grace_s=0.5) as procs:
        proc, _ = procs.serve(cmd, tmp_path / "log")
    assert proc.returncode is not None and _gone(proc.pid)


def test_a_service_that_never_announces_itself_is_an_error_and_is_stopped(tmp_path):
    cmd = _service(tmp_path, "print('no address here', flush=True)\nimport time; time.sleep(60)\n")
    with Processes(grace_s=1) as procs:
        with pytest.raises(DemoError, match="did not announce a URL"):
            procs.serve(cmd, tmp_path / "log", timeout_s=1.0)
        assert procs.running == []


def test_ctrl_c_stops_what_was_started(tmp_path):
    cmd = _service(
        tmp_path, "print('http://127.0.0.1:9/', flush=True)\nimport time; time.sleep(60)\n"
    )
    with pytest.raises(KeyboardInterrupt), Processes(grace_s=1) as procs:
        proc, _ = procs.serve(cmd, tmp_path / "log")
        raise KeyboardInterrupt
    assert _gone(proc.pid)


def test_run_waits_for_the_exit_code(tmp_path):
    with Processes() as procs:
        code = procs.run([sys.executable, "-c", "print('hi'); raise SystemExit(3)"], tmp_path / "l")
    assert code == 3 and (tmp_path / "l").read_text().strip() == "hi"


def test_index_links_what_ran(tmp_path):
    result = DemoResult(out=tmp_path)
    result.conformance.append(
        {
            "role": "receiver",
            "outcome": "fail",
            "counts": {"pass": 3, "fail": 1},
            "seconds": 2,
            "target": "http://x/",
            "failed": ["RCV-SIG-001: accepted a bad signature"],
        }
    )
    result.notebooks.append(
        {
            "name": "01-x",
            "html": "notebooks/01-x.html",
            "ok": True,
            "error": "",
            "seconds": 1,
            "question": "Why?",
            "answer": "Because 42.",
            "figure": "",
        }
    )
    page = write_index(result).read_text()
    assert "RCV-SIG-001" in page and "receiver/index.html" in page
    assert "Because 42." in page and "notebooks/01-x.html" in page
    assert not result.ok and json.loads((tmp_path / "demo.json").read_text())["ok"] is False


@pytest.mark.parametrize(
    ("ms", "shown"),
    [
        (None, "none delivered"),
        (12, "12 ms"),
        (12_400, "12.4 s"),
        (3_356_932, "55.9 min"),
        (8_280_000, "2.3 h"),
    ],
)
def test_times_on_the_index_are_in_a_readable_unit(ms, shown):
    assert duration(ms) == shown


def test_index_says_what_peak_and_p99_are_per(tmp_path):
    result = DemoResult(out=tmp_path)
    summary = {
        "policy": "backoff-only",
        "events": 10,
        "deliveries": 10,
        "attempts": 30,
        "loss_rate": 0.0,
        "expired": 0,
        "amplification": 3.0,
        "peak_attempts_per_s": 4,
        "p99_time_to_delivery_ms": 3_356_932,
        "description": "d",
    }
    result.simulations.append({"name": "outage", "summary": summary, "png": "sim/o.png"})
    page = write_index(result).read_text()
    assert "3356932" not in page and "55.9 min" in page
    assert "attempts/s on one webhook" in page and "per second, one webhook" in page


@pytest.mark.slow
def test_quick_demo_twice_from_the_command_line_then_in_process(tmp_path, capsys):
    out = tmp_path / "reports"
    (out / "sim" / "stale").mkdir(parents=True)
    (out / "keep.txt").write_text("not the demo's")
    proc = subprocess.run(
        [sys.executable, "-m", "whsim.cli", "demo", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith(str((out / "index.html").resolve()))
    for step in ("[1/6]", "[3/6]", "[5/6]", "[6/6]", "receiver suite: PASS", "sender suite: PASS"):
        assert step in proc.stdout
    assert not (out / "sim" / "stale").exists(), "a second run replaces the first's output"
    assert (out / "keep.txt").exists(), "files the demo did not write are left alone"

    result = run_demo(
        out,
        scenarios=("healthy",),
        notebooks=ROOT / "notebooks",
        run_notebook_html=False,
        time_scale=10,
    )
    assert result.ok, (result.conformance, result.interop.get("observed_offsets_s"))
    assert len(result.processes) == 3 and all(_gone(pid) for pid in result.processes)
    assert not (out / "sim" / "outage-10min").exists()
    summary = json.loads((out / "sim" / "healthy" / "summary.json").read_text())
    assert summary["loss_rate"] == 0 and (out / "sim" / "healthy" / "timeline.png").stat().st_size
    for role in ("receiver", "sender"):
        report = json.loads((out / role / "report.json").read_text())
        assert report["outcome"] == "pass" and report["counts"]["fail"] == 0, role
    interop = json.loads((out / "interop" / "interop.json").read_text())
    assert interop["outcome"] == "pass"
    assert all(len(o) == 3 for o in interop["observed_offsets_s"])
    page = (out / "index.html").read_text()
    links = ("sim/healthy/timeline.png", "receiver/index.html", "sender/index.html")
    for link in (*links, "interop/interop.png"):
        assert link in page


@pytest.mark.slow
def test_notebooks_become_html_with_their_answer(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell("# T\n\n**Question.** Does it run?"),
        nbformat.v4.new_code_cell(
            "import matplotlib.pyplot as plt\nprint('It runs.')\nplt.plot([1, 2])"
        ),
    ]
    folder = tmp_path / "nb"
    folder.mkdir()
    nbformat.write(nb, folder / "01-t.ipynb")
    started = time.monotonic()
    (row,) = run_notebooks([folder / "01-t.ipynb"], tmp_path / "html", reports=tmp_path)
    assert time.monotonic() - started < 60
    assert row["ok"] and row["question"] == "Does it run?" and row["answer"] == "It runs."
    assert (tmp_path / "html" / "01-t.html").exists()
    assert row["figure"] and (tmp_path / "html" / "01-t.png").stat().st_size > 1000


def test_demo_help_lists_quick(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert "--quick" in capsys.readouterr().out


@pytest.mark.slow
def test_ctrl_c_during_the_demo_stops_everything_it_started(tmp_path):
    import re
    import signal

    proc = subprocess.Popen(
        [sys.executable, "-m", "whsim.cli", "demo", "--quick", "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "MPLBACKEND": "Agg"},
        start_new_session=True,  # a terminal's Ctrl-C goes to the whole group
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    seen = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("[3/6]"):  # the receiver runs, its suite has started
                break
        pids = [int(p) for p in re.findall(r"\(pid (\d+)\)", "".join(seen))]
        assert pids, seen
        os.killpg(proc.pid, signal.SIGINT)
        rest = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, "".join(seen) + rest
    assert "interrupted" in rest
    deadline = time.monotonic() + 5
    while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_gone(pid) for pid in pids)
