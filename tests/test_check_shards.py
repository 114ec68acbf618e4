"""`whsim check --workers N`: endpoint shards graded in N processes give the verdicts of one
process, case by case (outcome, message, details, examples in order, exchanges, counts), the
same first error for a bad line, one line for bad options, and a clear error, not a hang, when a
worker dies or the user presses Ctrl-C."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import whsim.conformance.grader as grader
import whsim.conformance.shards as shards
from whsim.cli import main
from whsim.conformance.grader import check
from whsim.core.errors import TraceError

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("bench_check", ROOT / "benchmarks/bench_check.py")
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6,000 attempts over 100 endpoints and 10 minutes: retries, failures, jobs (the bench's)."""
    path = tmp_path_factory.mktemp("shards") / "trace.jsonl"
    bench.write_trace(path, 6000, 100.0, 3)
    return path


def _report(path: Path, **kw: Any) -> dict[str, Any]:
    result = check(path, **kw)
    r = result.report
    return {
        "cases": [
            {
                "id": c.spec.id,
                "outcome": str(c.outcome),
                "message": c.message,
                "details": c.details,
                "exchanges": [e.as_dict() for e in c.exchanges],
            }
            for c in r.cases
        ],
        "settings": r.settings,
        "diagnosis": r.diagnosis,
        "exit": result.exit_code,
    }


SETTINGS = {
    "default": {"secret": bench.SECRET},
    # everything fails somewhere: examples from every shard, interleaved
    "failing": {
        "secret": "another-secret",
        "readings": ["RETRY-1=immediate-plus-five", "RETRY-2=only-500"],
        "time_scale": 0.5,
        "timing": "strict",
    },
}


@pytest.mark.parametrize("name", list(SETTINGS))
def test_shards_give_the_verdicts_of_one_process(
    trace: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sweep every 500 attempts (in this process and in the shards' parent), so events and jobs
    # close mid-stream many times over; the workers sweep when their parent says.
    monkeypatch.setattr(grader, "_SWEEP_EVERY", 500)
    monkeypatch.setattr(shards, "_SWEEP_EVERY", 500)
    one = _report(trace, workers=1, **SETTINGS[name])
    for n in (2, 3):
        many = _report(trace, workers=n, **SETTINGS[name])
        for a, b in zip(one["cases"], many["cases"], strict=True):
            assert a == b, (n, a["id"])
        assert one == many
    if name == "failing":  # the comparison saw examples to order, from several endpoints
        examples = {c["id"]: c["details"].get("examples", []) for c in one["cases"]}
        assert len(examples["CHK-SIG-001"]) == 8
        assert len({e.split(" ")[0] for e in examples["CHK-SIG-001"]}) > 3
        assert examples["CHK-RETRY-001"] and examples["CHK-THROTTLE-001"]
        assert one["cases"][0]["outcome"] == "fail"


def _lines(path: Path, rows: list[str]) -> Path:
    path.write_text("".join(r + "\n" for r in rows))
    return path


def test_the_first_bad_line_is_reported_whichever_process_reads_it(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    bench.write_trace(good, 300, 10.0, 1)
    lines = good.read_text().splitlines()
    bad_field = json.dumps({**json.loads(lines[120]), "status": "200"})  # read by a worker
    bad_json = lines[200][:-5]  # read by the parent
    for first, second in ((bad_field, bad_json), (bad_json, bad_field)):
        rows = list(lines)
        rows[120], rows[200] = first, second
        path = _lines(tmp_path / "bad.jsonl", rows)
        errors = []
        for n in (1, 2, 3):
            with pytest.raises(TraceError) as caught:
                check(path, secret=bench.SECRET, workers=n)
            errors.append((str(caught.value), caught.value.where, caught.value.field))
        assert errors[0] == errors[1] == errors[2]
        assert errors[0][1] == "line 121"


@pytest.mark.parametrize("value", ["0", "-1", "65", "two", "1.5"])
def test_bad_worker_counts_exit_2_with_one_line(
    tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _lines(tmp_path / "t.jsonl", [])
    with pytest.raises(SystemExit) as exit_:
        main(["check", str(path), "--workers", value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--workers" in err[0] and "from 1 to 64" in err[0], err


@pytest.mark.parametrize("value", [0, 65, True, "2"])
def test_check_refuses_bad_worker_counts(tmp_path: Path, value: Any) -> None:
    with pytest.raises(TraceError, match="workers: must be a whole number from 1 to 64"):
        check(_lines(tmp_path / "t.jsonl", []), workers=value)


def test_small_files_har_and_simulate_are_graded_in_this_process(tmp_path: Path) -> None:
    small = tmp_path / "t.jsonl"
    bench.write_trace(small, 50, 10.0, 1)
    assert grader._processes(small, None, None) == 1  # below MIN_PARALLEL_BYTES
    assert grader._processes(small, None, 3) == 3
    assert grader._processes(small, "har", 3) == 1
    assert grader._processes(small, None, 1) == 1
    har = ROOT / "tests/fixtures/mitmproxy-reference.har"
    assert grader._processes(har, None, 4) == 1


class _Feed:
    """A worker's connection in this process: the given messages in, what it sends kept."""

    def __init__(self, messages: list[Any]) -> None:
        self.messages, self.sent = list(messages), []  # type: ignore[var-annotated]

    def recv(self) -> Any:
        if not self.messages:
            raise EOFError
        return self.messages.pop(0)

    def send(self, obj: Any) -> None:
        self.sent.append(obj)

    def poll(self) -> bool:
        return bool(self.messages)


def test_a_failing_worker_reports_one_line_and_the_parent_raises_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.jsonl"
    bench.write_trace(path, 5, 10.0, 1)
    items = [(n, n + 1, line) for n, line in enumerate(path.read_bytes().splitlines()[1:], 1)]

    def boom(self: grader.Grader, a: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(grader.Grader, "add", boom)
    feed = _Feed([("lines", items), ("finish", (5, 0))])
    config = {
        "readings": grader.Readings(),
        "secrets": None,
        "time_scale": 1.0,
        "timing": "default",
    }
    shards._worker(feed, config)  # type: ignore[arg-type]
    assert len(feed.sent) == 1
    kind, text = feed.sent[0]
    assert kind == "crash" and text.startswith("RuntimeError: boom (line 2; at ")
    pool = shards._Pool.__new__(shards._Pool)
    pool.procs, pool.errors = [None, None], []
    with pytest.raises(shards.GradingError) as caught:
        pool._take(1, feed.sent[0])
    assert str(caught.value).startswith("grading worker 2 of 2 failed: RuntimeError: boom")
    assert "\n" not in str(caught.value)


def _workers_of(pid: int) -> list[int]:
    """The grading workers a process started (their command line runs the shard loop)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"whsim.conformance.shards" in cmd:
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "trace.jsonl"
    bench.write_trace(path, 80_000, 10.0, 1)  # 40 MB: several seconds of grading
    return path


def _wait_for_workers(pid: int, n: int, proc: subprocess.Popen[str] | None = None) -> list[int]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = _workers_of(pid)
        if len(found) >= n:
            return found
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError("the workers did not start")


@pytest.mark.slow
def test_a_killed_worker_is_a_clear_error_not_a_hang(big: Path) -> None:
    killed: list[int] = []

    def kill_one() -> None:
        found = _wait_for_workers(os.getpid(), 2)
        # stopped first, the worker cannot hand its state back: the grade cannot end before the
        # kill, however fast the machine grades (a sleep alone raced a quick grade)
        os.kill(found[0], signal.SIGSTOP)
        time.sleep(0.3)
        os.kill(found[0], signal.SIGKILL)
        killed.append(found[0])

    killer = threading.Thread(target=kill_one)
    killer.start()
    started = time.monotonic()
    with pytest.raises(shards.GradingError) as caught:
        check(big, secret=bench.SECRET, workers=2)
    killer.join()
    assert killed
    text = str(caught.value)
    assert "stopped unexpectedly (signal 9)" in text and "\n" not in text, text
    assert time.monotonic() - started < 120
    time.sleep(0.2)
    assert _workers_of(os.getpid()) == []  # the other worker was stopped too


@pytest.mark.slow
def test_ctrl_c_stops_the_grade_and_its_workers_with_one_line(big: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "whsim.cli", "check", str(big), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives a foreground job
        # as a terminal's foreground job has it: an ignored SIGINT is inherited across exec,
        # and a test process may have been started with one (CI once was: exit 0, not 130)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        workers = _wait_for_workers(proc.pid, 2, proc)
        # one worker stopped, the grade cannot end before the Ctrl-C lands, however fast the
        # machine grades (a sleep alone raced a quick grade: exit 0); it goes on after it
        os.kill(workers[0], signal.SIGSTOP)
        try:
            time.sleep(0.5)
            assert proc.poll() is None
            os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends to the whole group
        finally:
            os.kill(workers[0], signal.SIGCONT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, (out, err)
    assert err.strip() == "whsim check: interrupted", err
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
