"""``whsim conformance`` and ``whsim receiver`` from the command line: exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from whsim.cli import main
from whsim.receiver import ReceiverStore, ServerThread, create_app

WHSIM = [sys.executable, "-m", "whsim.cli"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _one_line_error(err: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0] and "Traceback" not in err, err


def _interrupt(proc: subprocess.Popen[str]) -> None:
    """Ctrl-C for a served subprocess, as a user stops it; killed if it is not gone in 10 s."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_unreachable_target_exits_2_saying_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/webhook"
    assert main(["conformance", "receiver", url, "--secret", "s", "--report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    _one_line_error(err)
    assert "cannot reach" in err and url in err


@pytest.mark.parametrize(
    "argv",
    [
        ["conformance", "receiver"],
        ["conformance", "bystander", "http://127.0.0.1:1/"],
        ["conformance", "sender", "http://127.0.0.1:1/", "--mode", "staging"],
        ["conformance", "receiver", "http://127.0.0.1:1/", "--seed", "x"],
        ["conformance", "receiver", "http://127.0.0.1:1/", "--bogus"],
        ["receiver", "--port", "99999", "--secret", "s"],
        ["receiver", "--port", "http"],
        ["receiver", "--secret", "s", "--capacity", "fast"],
        ["receiver", "--secret", "s", "--capacity", "0"],
        ["receiver", "--secret", "s", "--capacity", "20:30"],
        ["receiver", "--secret", "s", "--capacity", "20:-1"],
        ["receiver", "--secret", "s", "--capacity", "2.5"],
        ["receiver", "--secret", "s", "--max-body", "0"],
        ["receiver", "--secret", "s", "--max-body", "-5"],
        ["receiver", "--secret", "s", "--max-body", "1.5MiB"],
        ["receiver", "--secret", "s", "--max-body", "64 kB"],
        ["receiver", "--secret", "s", "--max-body", "2GiB"],
        ["receiver", "--secret", "s", "--max-body", "lots"],
        ["receiver", "--secret", "s", "--max-body", "\u0663"],  # a unicode digit, not a byte count
    ],
)
def test_bad_flags_exit_2_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    _one_line_error(capsys.readouterr().err)


@pytest.mark.parametrize(
    "argv",
    [
        ["conformance", "receiver", "ftp://example.org/hook", "--secret", "s"],
        ["conformance", "receiver", "http://127.0.0.1:1/hook"],  # no secret
        [
            "conformance",
            "receiver",
            "http://127.0.0.1:1/hook",
            "--secret",
            "s",
            "--timeout-budget",
            "-1",
        ],
        ["receiver"],  # no secret
        ["conformance", "sender", "http://127.0.0.1:1/"],  # unreachable
        ["conformance", "sender", "http://127.0.0.1:1/", "--timing", "sloppy"],
        ["conformance", "sender", "http://127.0.0.1:1/", "--reading", "twice"],
        ["conformance", "sender", "http://127.0.0.1:1/", "--listen", "nowhere"],
        ["conformance", "sender", "http://127.0.0.1:1/", "--public-url", "ftp://x"],
        ["conformance", "sender", "http://127.0.0.1:1/", "--trigger", "run {job}"],
        ["conformance", "sender", "nope"],
        ["receiver", "--secret", "s", "--behaviour", "no-such-behaviour"],
        ["receiver", "--secret", "s", "--behaviour", "missing-file.toml"],
    ],
)
def test_bad_values_exit_2_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WHSIM_SECRET", raising=False)
    assert main(argv) == 2
    _one_line_error(capsys.readouterr().err)


def test_port_in_use_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["receiver", "--secret", "s", "--port", str(port)]) == 2
    _one_line_error(capsys.readouterr().err)


def test_keyword_that_matches_nothing_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with ServerThread(create_app("s", store=ReceiverStore())) as base:
        code = main(
            [
                "conformance",
                "receiver",
                f"{base}/webhook",
                "--secret",
                "s",
                "-q",
                "-k",
                "NOPE",
                "--report",
                str(tmp_path),
            ]
        )
    assert code == 2
    assert "no case matched" in capsys.readouterr().err


def test_spent_budget_is_an_error_never_a_pass(tmp_path: Path) -> None:
    with ServerThread(create_app("s", store=ReceiverStore())) as base:
        code = main(
            [
                "conformance",
                "receiver",
                f"{base}/webhook",
                "--secret",
                "s",
                "-q",
                "-k",
                "VERIFY",
                "--timeout-budget",
                "0.001",
                "--report",
                str(tmp_path),
            ]
        )
    report = json.loads((tmp_path / "report.json").read_text())
    assert code == 2 and report["outcome"] == "fail"
    assert {c["outcome"] for c in report["cases"]} == {"error"}


def test_a_behaviour_file_is_loaded(tmp_path: Path) -> None:
    from whsim.commands.receiver import load_behaviour

    path = tmp_path / "b.toml"
    path.write_text('[behaviour]\nbase = "healthy"\nfail_first = 3\nlatency = 5\n')
    loaded = load_behaviour(str(path))
    assert (loaded.fail_first, loaded.latency.ms) == (3, 5)


@pytest.mark.slow
def test_real_receiver_process_and_conformance_process_exit_0(tmp_path: Path) -> None:
    """The issue's "done when": `whsim receiver` in one shell, `whsim conformance` in another."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    receiver = subprocess.Popen(
        [*WHSIM, "receiver", "--port", "0", "--secret", "s", "--db", str(tmp_path / "r.sqlite3")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    try:
        assert receiver.stdout is not None
        line = receiver.stdout.readline()
        url = re.search(r"http://\S+/webhook", line)
        assert url, line
        done = subprocess.run(
            [
                *WHSIM,
                "conformance",
                "receiver",
                url.group(0),
                "--secret",
                "s",
                "--report",
                str(tmp_path / "rep"),
                "-q",
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
        assert "whsim receiver conformance: PASS" in done.stdout
        for name in ("report.json", "junit.xml", "index.html"):
            assert (tmp_path / "rep" / name).stat().st_size > 0
    finally:
        _interrupt(receiver)


@pytest.mark.parametrize(
    ("argv", "name", "per_s", "recovery"),
    [
        (["--capacity", "20:10"], "healthy", 20, 10),
        (["--capacity", "7"], "healthy", 7, 7),
        (["--behaviour", "fragile"], "fragile", 20, 10),
        (["--behaviour", "fragile", "--capacity", "4:1"], "fragile", 4, 1),
    ],
)
def test_capacity_from_the_command_line(
    argv: list[str], name: str, per_s: int, recovery: int
) -> None:
    from whsim.cli import build_parser
    from whsim.commands.receiver import faults_from

    faults = faults_from(build_parser().parse_args(["receiver", "--secret", "s", *argv]))
    assert faults is not None and faults.capacity is not None
    assert (faults.name, faults.capacity.per_s, faults.capacity.recovery) == (name, per_s, recovery)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1),
        ("4096", 4096),
        ("64KiB", 65536),
        ("64k", 65536),
        ("2MiB", 2 << 20),
        ("1m", 1 << 20),
    ],
)
def test_max_body_takes_bytes_or_binary_units(text: str, value: int) -> None:
    from whsim.cli import build_parser

    args = build_parser().parse_args(["receiver", "--secret", "s", "--max-body", text])
    assert args.max_body == value


def test_max_body_error_names_the_flag_and_the_value(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["receiver", "--secret", "s", "--max-body", "2GiB"])
    err = capsys.readouterr().err
    assert "--max-body" in err and "'2GiB'" in err and "1 GiB" in err


def test_receiver_process_refuses_a_body_over_its_max_body(tmp_path: Path) -> None:
    import httpx

    receiver = subprocess.Popen(
        [*WHSIM, "receiver", "--secret", "s", "--port", "0", "--max-body", "1KiB", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,  # its database goes to tmp_path/data
    )
    try:
        assert receiver.stdout is not None
        line = receiver.stdout.readline()
        assert "max body 1024 bytes" in line, line
        url = re.search(r"http://\S+/webhook", line)
        assert url, line
        big = httpx.post(url.group(0), content=b"x" * 1025, timeout=10)
        assert big.status_code == 413 and big.json()["limit"] == 1024, big.text
        small = httpx.post(url.group(0), content=b"{}", timeout=10)
        assert small.status_code != 413  # within the limit: judged on its signature instead
    finally:
        _interrupt(receiver)
