"""The kit's verdicts over the project's whole corpus of correct and broken implementations.

Runs ``whsim conformance receiver`` against every receiver in the corpus (the reference receiver,
``tests/broken_receivers.py``, ``tests/foreign_receivers.py``) and ``whsim conformance sender``
against the reference sender, each of its test-only faults and the senders in
``tests/foreign_senders.py``, and prints one JSON object: per implementation the exit code and
the cases in each outcome. ``--kit DIR`` grades with the kit of another checkout (for example
main before a change: ``git archive COMMIT | tar -x -C DIR``), so one corpus gives a BEFORE and an
AFTER table; ``--markdown`` prints the table instead of JSON.

    python benchmarks/verdict_table.py --out after.json
    python benchmarks/verdict_table.py --kit /tmp/before --out before.json
    python benchmarks/verdict_table.py --compare before.json after.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
SECRET = "s3cret-for-tests"
OUTCOMES = ("fail", "non-strict", "error", "untestable", "blocked")
NEUTRAL_CWD = tempfile.gettempdir()
"""Where every process of a run starts: ``python -m``/``-c`` put the working directory first on
``sys.path``, so started from a checkout they would import its ``whsim`` instead of ``--kit``."""


def kit_env(kit: Path | None) -> dict[str, str]:
    """The environment of a suite process: the kit of ``kit`` (a checkout) or this one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHSIM_")}
    env["PYTHONUNBUFFERED"] = "1"
    if kit is not None:
        shim = Path(tempfile.mkdtemp(prefix="whsim-kit-"))
        (shim / "whsim").symlink_to(kit / "whsim")
        (shim / "whsim_conformance").symlink_to(kit / "conformance")
        env["PYTHONPATH"] = os.pathsep.join([str(shim), str(TESTS)])
    else:
        env["PYTHONPATH"] = str(TESTS)
    return env


def summarize(report: dict[str, Any], code: int) -> dict[str, Any]:
    row: dict[str, Any] = {"exit": code, "outcome": report.get("outcome", "-")}
    cases = report.get("cases", [])
    for name in OUTCOMES:
        if name == "blocked":
            ids = [
                c["id"]
                for c in cases
                if c["outcome"] == "untestable" and "blocked by" in c.get("message", "")
            ]
        elif name == "untestable":
            ids = [
                c["id"]
                for c in cases
                if c["outcome"] == name and "blocked by" not in c.get("message", "")
            ]
        else:
            ids = [c["id"] for c in cases if c["outcome"] == name]
        row[name] = sorted(ids)
    diagnosis = report.get("diagnosis") or []
    row["diagnosis"] = [d.get("code", "") for d in diagnosis if isinstance(d, dict)]
    row["duration_s"] = report.get("duration_s")
    return row


# --- receivers ------------------------------------------------------------------------------

RECEIVER_SERVER = r"""
import sys, time
sys.path.insert(0, sys.argv[2])
name = sys.argv[1]
secret = sys.argv[3]
from whsim.receiver import ServerThread
import broken_receivers as br
def make():
    if name in ("reference", "wrong-secret:reference"):
        from whsim.receiver import ReceiverStore, create_app
        return create_app(secret, store=ReceiverStore())
    if name.startswith("broken:"):
        fault = name.split(":", 1)[1]
        return br.good(secret, None if fault == "none" else fault)
    if name == "guide-example":
        return br.guide_example(secret)
    if name == "guide-example-encode-fixed":
        return br.guide_example(secret, encode_fixed=True)
    import foreign_receivers as fr
    return fr.serve(name.split(":", 1)[1], secret)
app = make()
if hasattr(app, "__enter__"):
    ctx = app
else:
    ctx = ServerThread(app)
with ctx as url:
    print("URL", url, flush=True)
    sys.stdin.read()
"""


def receiver_corpus() -> list[tuple[str, str]]:
    """(name, how to grade: "secret" or an alternative suite argument) for every receiver."""
    sys.path.insert(0, str(TESTS))
    import broken_receivers

    names = ["reference", "broken:none", *(f"broken:{f}" for f in broken_receivers.FAULTS)]
    names += ["guide-example", "guide-example-encode-fixed", "wrong-secret:reference"]
    try:
        import foreign_receivers

        names += [f"foreign:{n}" for n in foreign_receivers.RECEIVERS]
    except ImportError:
        pass
    return [(n, "") for n in names]


@contextmanager
def url_process(what: str, argv: list[str], env: dict[str, str]) -> Iterator[str]:
    """A server started as ``python -c ...`` that prints ``URL <base>`` and runs until its stdin
    closes; yields the base URL and always stops it (killed after 10 s)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=NEUTRAL_CWD,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("URL "):
            raise RuntimeError(f"{what} did not start: {line!r}")
        yield line.split()[1]
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def serve_receiver(name: str, env: dict[str, str]) -> contextlib.AbstractContextManager[str]:
    return url_process(f"receiver {name}", [RECEIVER_SERVER, name, str(TESTS), SECRET], env)


def run_suite(
    role: str, url: str, args: list[str], report: Path, env: dict[str, str]
) -> dict[str, Any]:
    """``whsim conformance ROLE URL ARGS -q --report REPORT`` run outside the checkout; the
    summary row of its report.json, with the wall time (and stderr when no report came)."""
    start = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "whsim",
            "conformance",
            role,
            url,
            *args,
            "--report",
            str(report),
            "-q",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=NEUTRAL_CWD,
        timeout=900,
        check=False,
    )
    wall = time.monotonic() - start
    path = report / "report.json"
    doc = json.loads(path.read_text()) if path.exists() else {}
    row = summarize(doc, done.returncode)
    row["wall_s"] = round(wall, 1)
    if not doc:
        row["stderr"] = done.stderr[-500:]
    return row


def grade_receiver(name: str, env: dict[str, str]) -> dict[str, Any]:
    secret = "not-" + SECRET if name.startswith("wrong-secret:") else SECRET
    with tempfile.TemporaryDirectory() as tmp, serve_receiver(name, env) as base:
        args = ["--secret", secret, "--seed", "20240115"]
        return run_suite("receiver", f"{base}/webhook", args, Path(tmp), env)


# --- senders --------------------------------------------------------------------------------


@contextmanager
def sender_process(tmp: Path, env: dict[str, str], faults: str, args: list[str]) -> Iterator[str]:
    env = dict(env, WHSIM_SENDER_FAULTS=faults)
    # Since issue 12 the faults live in the test-only whsim.sender.faults (its own entry point);
    # an older kit's production sender read WHSIM_SENDER_FAULTS itself.
    entry = ["whsim.sender.faults"] if faults and _has_faults_module(env) else ["whsim", "sender"]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            *entry,
            "--port",
            "0",
            "--db",
            str(tmp / "s.db"),
            "--log-level",
            "warning",
            "--time-scale",
            "10",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=NEUTRAL_CWD,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        while True:
            line = lines.get(timeout=60)
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


FOREIGN_SENDER = r"""
import sys
sys.path.insert(0, sys.argv[2])
import foreign_senders as fs
with fs.serve(sys.argv[1]) as url:
    print("URL", url, flush=True)
    sys.stdin.read()
"""


def foreign_sender(name: str, env: dict[str, str]) -> contextlib.AbstractContextManager[str]:
    return url_process(f"sender {name}", [FOREIGN_SENDER, name, str(TESTS)], env)


_FAULTS_PROBE = """
try:
    from whsim.sender.faults import FAULTS
except ImportError:
    from whsim.sender.config import FAULTS
print(','.join(FAULTS))
"""


def _has_faults_module(env: dict[str, str]) -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", "import whsim.sender.faults"],
        env=env,
        cwd=NEUTRAL_CWD,
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def sender_corpus(env: dict[str, str]) -> list[str]:
    probe = subprocess.run(
        [sys.executable, "-c", _FAULTS_PROBE],
        capture_output=True,
        text=True,
        env=env,
        cwd=NEUTRAL_CWD,
        check=True,
    )
    names = ["reference", *(f"fault:{f}" for f in probe.stdout.strip().split(",") if f)]
    sys.path.insert(0, str(TESTS))
    try:
        import foreign_senders

        names += [f"foreign:{n}" for n in foreign_senders.SENDERS]
    except ImportError:
        pass
    return names


PRODUCTION_FAULTS = {"http-in-production", "ssrf"}


def grade_sender(name: str, env: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        fault = name.split(":", 1)[1] if name.startswith("fault:") else ""
        args = ["--mode", "production"] if fault in PRODUCTION_FAULTS else []
        ctx = (
            foreign_sender(name.split(":", 1)[1], env)
            if name.startswith("foreign:")
            else sender_process(tmp, env, fault, args)
        )
        with ctx as url:
            suite = ["--seed", "7", *(["--trigger", "none"] if name.startswith("foreign:") else [])]
            return run_suite("sender", url, suite, tmp / "r", env)


# --- output ---------------------------------------------------------------------------------


def table(result: dict[str, Any]) -> str:
    lines = []
    for role in ("receivers", "senders"):
        lines += [
            f"### {role} ({result.get('kit', 'this checkout')})",
            "",
            "| implementation | exit | fail | non-strict | error | blocked | diagnosis |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, row in result.get(role, {}).items():
            cells = [", ".join(short(i) for i in row.get(k, [])) or "-" for k in OUTCOMES]
            lines.append(
                f"| {name} | {row['exit']} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[4]} "
                f"| {', '.join(row.get('diagnosis', [])) or '-'} |"
            )
        lines.append("")
    return "\n".join(lines)


def short(case_id: str) -> str:
    return case_id.removeprefix("RCV-").removeprefix("SND-")


def compare(before: dict[str, Any], after: dict[str, Any]) -> str:
    lines = [
        "| role | implementation | before: exit, fail | after: exit, fail (blocked); non-strict "
        "| diagnosis after |",
        "|---|---|---|---|---|",
    ]
    for role in ("receivers", "senders"):
        names = list(dict.fromkeys([*before.get(role, {}), *after.get(role, {})]))
        for name in names:
            b, a = before.get(role, {}).get(name), after.get(role, {}).get(name)

            def cell(row: dict[str, Any] | None, blocked: bool = False) -> str:
                if row is None:
                    return "(not in corpus)"
                fails = ", ".join(short(i) for i in row["fail"] + row["error"]) or "none"
                text = f"{row['exit']}: {fails}"
                if row.get("non-strict"):
                    text += f"; non-strict {', '.join(short(i) for i in row['non-strict'])}"
                if blocked and row.get("blocked"):
                    text += f" ({', '.join(short(i) for i in row['blocked'])})"
                return text

            diag = ", ".join(a.get("diagnosis", [])) if a else ""
            lines.append(f"| {role[:-1]} | {name} | {cell(b)} | {cell(a, True)} | {diag or '-'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kit", type=Path, help="grade with the kit of this checkout")
    parser.add_argument("--only", choices=["receivers", "senders"])
    parser.add_argument("--match", help="only implementations whose name contains this")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args(argv)
    if args.compare:
        before, after = (json.loads(p.read_text()) for p in args.compare)
        print(compare(before, after))
        return
    env = kit_env(args.kit.resolve() if args.kit else None)
    result: dict[str, Any] = {"kit": str(args.kit or "this checkout")}
    start = time.monotonic()
    load_start = list(os.getloadavg())  # timing cases depend on it: the table records it
    jobs: list[tuple[str, str, Callable[[], dict[str, Any]]]] = []
    if args.only in (None, "receivers"):
        for name, _ in receiver_corpus():
            jobs.append(("receivers", name, lambda n=name: grade_receiver(n, env)))  # type: ignore[misc]
    if args.only in (None, "senders"):
        for name in sender_corpus(env):
            jobs.append(("senders", name, lambda n=name: grade_sender(n, env)))  # type: ignore[misc]
    if args.match:
        jobs = [j for j in jobs if args.match in j[1]]
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = [(role, name, pool.submit(fn)) for role, name, fn in jobs]
        for role, name, future in futures:
            try:
                row = future.result()
            except Exception as exc:  # one broken run must not hide the others
                row = {"exit": "-", "crash": f"{type(exc).__name__}: {exc}"}
                row.update({k: [] for k in OUTCOMES})
            result.setdefault(role, {})[name] = row
            print(f"{role} {name}: exit {row['exit']} fail {row['fail']}", file=sys.stderr)
    result["wall_s"] = round(time.monotonic() - start, 1)
    result["load_average"] = {"start": load_start, "end": list(os.getloadavg())}
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(table(result) if args.markdown else text)


if __name__ == "__main__":
    main()
