"""The sender suite, tested: it passes the reference sender in every mode and fails each broken
sender (the reference sender with one test-only fault) for exactly the cases of its fault.

Everything runs as real processes, as a user would: ``whsim sender --time-scale 10`` and
``whsim conformance sender URL``. Runs go several at a time (threads waiting on processes), so
the matrix takes little more than its slowest run; each broken sender is graded with ``-k`` on the
cases its fault touches plus controls that must still pass.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from whsim.core.spec.clauses import clause
from whsim.sender.faults import FAULTS

SCALE = "10"
WHSIM = [sys.executable, "-m", "whsim"]


@contextmanager
def sender_process(tmp: Path, *args: str, faults: str = "") -> Iterator[str]:
    """``whsim sender --port 0`` in a subprocess; yields its base URL, always stops it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHSIM_")}
    env.update(PYTHONUNBUFFERED="1", WHSIM_SENDER_FAULTS=faults)
    command = [sys.executable, "-m", "whsim.sender.faults"] if faults else [*WHSIM, "sender"]
    proc = subprocess.Popen(
        [
            *command,
            "--port",
            "0",
            "--db",
            str(tmp / "sender.db"),
            "--log-level",
            "warning",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        seen = []
        while True:
            line = lines.get(timeout=90)
            seen.append(line)
            if "listening on" in line:
                break
        yield line.split("listening on ", 1)[1].split()[0]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        reader.join(5)


def conformance(tmp: Path, url: str, *args: str) -> tuple[int, dict[str, Any], str]:
    """``whsim conformance sender URL ARGS`` in a subprocess: exit code, report.json, output."""
    out = tmp / "report"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHSIM_")}
    done = subprocess.run(
        [*WHSIM, "conformance", "sender", url, "--report", str(out), "-q", "--seed", "7", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    text = done.stdout[-4000:] + done.stderr[-2000:]
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    return done.returncode, report, text


def run_against(
    tmp: Path, sender_args: tuple[str, ...], suite_args: tuple[str, ...], faults: str = ""
) -> tuple[int, dict[str, Any], str]:
    """Start a sender, run the suite against it; ``@URL@`` in ``suite_args`` is its base URL."""
    tmp.mkdir(parents=True, exist_ok=True)
    with sender_process(tmp, "--time-scale", SCALE, *sender_args, faults=faults) as url:
        return conformance(tmp, url, *(a.replace("@URL@", url) for a in suite_args))


TRIGGER_SCRIPT = """
import sys, httpx
base, event_type = sys.argv[1], sys.argv[2]
proposal = httpx.post(base + "/api/proposals", json={"title": "by command"}).json()
if event_type != "proposal.created":
    job = {"proposal_id": proposal["id"], "steps": 2, "step_seconds": 0}
    if event_type == "job.failed":
        job["fail_at_step"] = 2
    if event_type == "job.progress":
        job.update(steps=30, step_seconds=1.0)
    httpx.post(base + "/api/jobs", json=job).raise_for_status()
"""


def outcomes(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["outcome"] for c in report.get("cases", [])}


def failing(report: dict[str, Any]) -> set[str]:
    return {i for i, o in outcomes(report).items() if o == "fail"}


UNTESTABLE_DEV = {"SND-HTTPS-001", "SND-HTTPS-002", "SND-EXPIRY-001"}


@pytest.mark.slow
def test_reference_sender_passes_in_development_mode(tmp_path: Path) -> None:
    """The issue's "done when": `whsim sender` in one process, `whsim conformance sender` in another."""
    code, report, text = run_against(tmp_path, (), ())
    got = outcomes(report)
    assert code == 0 and report["outcome"] == "pass", (got, text)
    assert {i for i, o in got.items() if o == "untestable"} == UNTESTABLE_DEV
    assert {i for i, o in got.items() if o not in ("pass", "info", "untestable")} == set(), got
    assert len(got) == 33
    by_id = {c["id"]: c for c in report["cases"]}
    retry = by_id["SND-RETRY-001"]
    assert len(retry["details"]["attempts"]) == 6 and retry["details"]["scaled"] is True
    assert retry["details"]["figures"][0].startswith("<svg")
    assert "backoff-only" in by_id["SND-RETRY-003"]["message"]
    assert report["settings"]["time scale"].startswith("10")
    assert "timing profile" in report["settings"] and "retry bands (s, wall)" in report["settings"]
    assert any(n.startswith("wall time of the whole run") for n in report["notes"])
    assert report["duration_s"] < 40
    page = (tmp_path / "report" / "index.html").read_text()
    assert page.count("</figcaption><svg") >= 2 and "seconds since the first attempt" in page
    # Every sender clause is in the report: graded by a case, or untestable with a reason.
    for row in report["clauses"]:
        if "sender-suite" in clause(row["id"]).checked_by:
            assert row["cases"], row["id"]


@pytest.mark.slow
def test_reference_sender_in_production_and_other_reading(tmp_path: Path) -> None:
    script = tmp_path / "trigger.py"
    script.write_text(TRIGGER_SCRIPT)
    command = f"{sys.executable} {script} @URL@ {{event_type}}"
    runs = {
        "production": ((("--mode", "production")), ()),
        "reading": (
            ("--reading", "RETRY-1=immediate-plus-five"),
            ("-k", "RETRY-001 or RETRY-002 or RETRY-003"),
        ),
        # The same sender graded by the suite under that reading (--reading RETRY-1=...): pass.
        "kit-reading": (
            ("--reading", "immediate-plus-five"),
            ("--reading", "RETRY-1=immediate-plus-five", "-k", "RETRY-001 or RETRY-002"),
        ),
        "no-trigger": ((), ("--trigger", "none", "-k", "SND-EVENT or SND-THROTTLE or SND-SIG")),
        "command": ((), ("--trigger", command, "-k", "EVENT-002 or EVENT-004 or THROTTLE")),
    }
    with ThreadPoolExecutor(len(runs)) as pool:
        futures = {
            name: pool.submit(run_against, tmp_path / name, sender_args, suite_args)
            for name, (sender_args, suite_args) in runs.items()
        }
        results = {name: f.result() for name, f in futures.items()}
    code, report, text = results["production"]
    got = outcomes(report)
    assert code == 0, (got, text)
    assert got["SND-HTTPS-001"] == got["SND-HTTPS-002"] == "pass"
    assert all(o in ("pass", "info", "untestable") for o in got.values()), got
    assert got["SND-RETRY-001"] == "untestable" and got["SND-REG-008"] == "pass"
    # A sender on another reading of RETRY-1 is tolerated and named, not failed.
    code, report, text = results["reading"]
    got = outcomes(report)
    assert code == 0 and got["SND-RETRY-001"] == got["SND-RETRY-002"] == "non-strict", (got, text)
    assert (
        "immediate-plus-five"
        in next(c for c in report["cases"] if c["id"] == "SND-RETRY-003")["message"]
    )
    # A reading of the suite changes the verdict: the same schedule passes under it.
    code, report, text = results["kit-reading"]
    got = outcomes(report)
    assert code == 0 and got["SND-RETRY-001"] == got["SND-RETRY-002"] == "pass", (got, text)
    assert report["readings"]["RETRY-1"] == "immediate-plus-five"
    # Without a trigger, the cases that need one are untestable, never passed.
    code, report, text = results["no-trigger"]
    got = outcomes(report)
    assert code == 0, (got, text)
    assert {i for i, o in got.items() if o == "untestable"} == {
        "SND-EVENT-002",
        "SND-EVENT-004",
        "SND-THROTTLE-001",
    }
    # A command template is a trigger like the http one.
    code, report, text = results["command"]
    assert code == 0 and set(outcomes(report).values()) == {"pass"}, (outcomes(report), text)


# The cases each fault must fail, and the -k selection it is graded with (its cases + controls).
BROKEN: dict[str, tuple[set[str], str, tuple[str, ...]]] = {
    "no-retry": (
        {f"SND-RETRY-00{n}" for n in (1, 2, 3, 5, 6, 7)},
        "RETRY or EVENT-003",
        (),
    ),
    "wrong-backoff": (
        {"SND-RETRY-001", "SND-RETRY-003"},
        "RETRY-001 or RETRY-002 or RETRY-003 or RETRY-005",
        (),
    ),
    "too-many-retries": (
        {"SND-RETRY-001", "SND-RETRY-002", "SND-RETRY-003"},
        "RETRY-001 or RETRY-002 or RETRY-003 or RETRY-004",
        (),
    ),
    "retry-after-2xx": ({"SND-RETRY-004"}, "RETRY-004 or RETRY-005 or EVENT-005 or SIG", ()),
    "resign-body": ({"SND-SIG-001"}, "SIG or EVENT-001 or VERIFY", ()),
    "wrong-secret": ({"SND-SIG-001"}, "SIG or EVENT-001 or VERIFY", ()),
    "no-signature": ({"SND-SIG-001"}, "SIG or EVENT-001", ()),
    "no-verification": ({"SND-VERIFY-001"}, "VERIFY or REG-001 or SIG", ()),
    "unsubscribed-events": ({"SND-EVENT-004"}, "EVENT or RETRY-002", ()),
    # RETRY-007 as a control: a retry under a new id is still recognised as the same event.
    "new-id-per-retry": (
        set(),
        "EVENT-003 or RETRY-001 or RETRY-002 or RETRY-005 or RETRY-007",
        (),
    ),
    "follow-redirects": (set(), "RETRY-008 or RETRY-004", ()),
    "no-timeout": ({"SND-RETRY-006"}, "TIMEOUT or RETRY-006 or RETRY-004", ()),
    # REG-7 is a SHOULD (the guide's examples only leave the secret out): non-strict there, but
    # the registration model (REG-008) still fails a secret in any answer.
    "return-secret": ({"SND-REG-008"}, "REG", ()),
    "http-in-production": ({"SND-HTTPS-001"}, "HTTPS or REG-001", ("--mode", "production")),
    # HTTPS-2 is a SHOULD (the guide is silent on which hosts production may reach): non-strict.
    "ssrf": (set(), "HTTPS or REG-001", ("--mode", "production")),
    "fast-progress": ({"SND-THROTTLE-001"}, "THROTTLE or EVENT-002 or EVENT-004", ()),
}


@pytest.fixture(scope="module")
def broken_results(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[int, dict[str, Any], str]]:
    base = tmp_path_factory.mktemp("broken")
    # Four at a time: each run is a sender and a suite process on a 2-core machine, and the
    # suite's own timing (the challenge handshake, the bands) must not starve; with five, one
    # refused-connection run once saw its webhook fail verification under load.
    with ThreadPoolExecutor(4) as pool:
        futures = {
            fault: pool.submit(run_against, base / fault, sender_args, ("-k", keyword), fault)
            for fault, (_, keyword, sender_args) in BROKEN.items()
        }
        return {fault: f.result() for fault, f in futures.items()}


@pytest.mark.slow
@pytest.mark.alone
@pytest.mark.parametrize("fault", sorted(BROKEN))
def test_broken_sender_fails_exactly_its_cases(
    fault: str, broken_results: dict[str, tuple[int, dict[str, Any], str]]
) -> None:
    code, report, text = broken_results[fault]
    expected = BROKEN[fault][0]
    assert failing(report) == expected, (outcomes(report), text)
    should = NON_STRICT.get(fault, set())
    assert should <= {i for i, o in outcomes(report).items() if o == "non-strict"}
    assert code == (1 if expected else 0)
    controls = set(outcomes(report)) - expected - should
    assert controls, "each broken run keeps some controls that must still pass"
    assert {outcomes(report)[c] for c in controls} <= {"pass", "info", "untestable", "non-strict"}


# Faults whose clause is a SHOULD (EVENT-9, RETRY-5, TIMEOUT-2, REG-7, HTTPS-2): non-strict, a failure only
# under --strict, never a plain fail (the guide's words carry no MUST there).
NON_STRICT: dict[str, set[str]] = {
    "new-id-per-retry": {"SND-EVENT-003"},
    "return-secret": {"SND-REG-007"},
    "ssrf": {"SND-HTTPS-002"},
    "follow-redirects": {"SND-RETRY-008"},
    "no-timeout": {"SND-TIMEOUT-001"},
}


def test_every_fault_is_in_the_matrix() -> None:
    assert set(BROKEN) == set(FAULTS)


@contextmanager
def cpu_hogs(n: int = 2, limit_s: float = 300) -> Iterator[None]:
    """``n`` busy processes (this machine has 2 cores), each stopped after ``limit_s`` at most."""
    hogs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"import time\nend = time.monotonic() + {limit_s}\nwhile time.monotonic() < end: pass",
            ]
        )
        for _ in range(n)
    ]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait(10)


LOADED = ("no-retry", "wrong-backoff", "too-many-retries", "no-timeout", "fast-progress")


@pytest.mark.slow
@pytest.mark.alone
def test_verdicts_hold_under_two_busy_processes(tmp_path: Path) -> None:
    """Under load the reference sender still passes the whole suite (retry timing, the
    refused-then-reset retry of SND-RETRY-007, the registration handshake, subscriptions and
    progress throttling) and the timing-sensitive broken senders still fail their cases."""
    with cpu_hogs(), ThreadPoolExecutor(2) as pool:
        ref = pool.submit(run_against, tmp_path / "ref", (), ())
        broken = {
            f: pool.submit(run_against, tmp_path / f, BROKEN[f][2], ("-k", BROKEN[f][1]), f)
            for f in LOADED
        }
        code, report, text = ref.result()
        results = {f: b.result() for f, b in broken.items()}
    got = outcomes(report)
    assert code == 0 and got["SND-RETRY-007"] == "pass", (got, text)
    assert all(o in ("pass", "info", "untestable") for o in got.values()), got
    for fault, (_fcode, freport, ftext) in results.items():
        assert failing(freport) == BROKEN[fault][0], (fault, outcomes(freport), ftext)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "fails"),
    [("correct", set()), ("uppercase-hex", {"SND-SIG-001"}), ("sha256-prefix", {"SND-SIG-001"})],
)
def test_senders_written_from_the_guide(name: str, fails: set[str], tmp_path: Path) -> None:
    """Signatures are graded as strictly as the guide's receiver compares them (before: both
    broken senders passed, exit 0)."""
    import foreign_senders

    with foreign_senders.serve(name) as url:
        code, report, text = conformance(
            tmp_path, url, "--trigger", "none", "-k", "SIG or VERIFY-001 or RETRY-004"
        )
    assert failing(report) == fails, (outcomes(report), text)
    assert code == (1 if fails else 0)
    if fails:
        sig = next(c for c in report["cases"] if c["id"] == "SND-SIG-001")
        assert "guide's receiver" in sig["message"]


@pytest.mark.slow
def test_a_registration_that_is_never_answered_ends_the_run_with_exit_2(tmp_path: Path) -> None:
    """Before, the kit waited out its whole time budget (300 s) and exited 1. The bound is half
    that budget, not a latency band: the run ends at the registration's own deadline (about
    19 s on a quiet machine, 43 s once under load), which only a kit that waits for the budget
    could exceed."""
    import time

    import foreign_senders

    from whsim.pytest_plugin import DEFAULT_BUDGET_S

    with foreign_senders.serve("hangs-registration") as url:
        start = time.monotonic()
        code, _report, text = conformance(tmp_path, url)
        took = time.monotonic() - start
    assert code == 2 and took < DEFAULT_BUDGET_S / 2, (took, text)
    assert "never answered a registration" in text


@pytest.mark.slow
def test_a_correct_sender_written_from_the_guide_fails_nothing(tmp_path: Path) -> None:
    """The whole suite against a sender written from the guide alone, which answers 201 to bodies
    the guide never says to refuse: no MUST fails (before: SND-REG-006 failed it, exit 1); the
    bodies it accepts are a SHOULD missed, and REG-6 ``ignore-unknown`` takes the unknown event
    type off that list while the other bodies stay."""
    import foreign_senders

    with foreign_senders.serve("correct") as url:
        code, report, text = conformance(tmp_path / "default", url, "--trigger", "none")
        _, tolerant, ttext = conformance(
            tmp_path / "ignore", url, "--trigger", "none", "-k", "REG-006",
            "--reading", "REG-6=ignore-unknown",
        )  # fmt: skip
    assert code == 0 and not failing(report), (outcomes(report), text)
    reg = next(c for c in report["cases"] if c["id"] == "SND-REG-006")
    assert reg["outcome"] == "non-strict" and "unknown event type" in reg["message"], reg
    again = next(c for c in tolerant["cases"] if c["id"] == "SND-REG-006")
    assert again["outcome"] == "non-strict", ttext
    assert "unknown event type" not in again["message"] and "events not a list" in again["message"]


def test_the_reference_sender_refuses_every_bad_registration_body(tmp_path: Path) -> None:
    """SND-REG-006 passes a sender that refuses each bad body (so its non-strict above is the
    foreign sender's doing, not the case's)."""
    code, report, text = run_against(tmp_path, (), ("--trigger", "none", "-k", "REG-006"))
    assert outcomes(report).get("SND-REG-006") == "pass" and code == 0, (outcomes(report), text)
