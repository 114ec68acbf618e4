"""``whsim demo``, the kit's main job: simulate, serve, check, explain, and link it all on one page."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from whsim.demo.notebooks import notebook_paths, run_notebooks
from whsim.demo.page import DemoResult, write_index
from whsim.demo.steps import run_conformance, run_interop, run_simulations
from whsim.demo.supervise import Log, Processes, whsim_command

__all__ = ["QUICK_SCENARIOS", "run_demo"]

QUICK_SCENARIOS: Final = ("healthy", "outage-10min")
"""The scenarios ``--quick`` runs."""
_MANAGED: Final = (
    "sim",
    "receiver",
    "sender",
    "interop",
    "notebooks",
    "logs",
    "index.html",
    "demo.json",
)
"""What a run writes under its folder, and so what the next run replaces (nothing else)."""


def _clean(out: Path) -> None:
    """Remove what a previous run wrote (and only that)."""
    for name in _MANAGED:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def run_demo(
    out: Path,
    *,
    scenarios: Sequence[str] | None = None,
    notebooks: Path | None = None,
    run_notebook_html: bool = True,
    time_scale: float = 1.0,
    log: Log = print,
) -> DemoResult:
    """The main job (see the module docstring); returns what it did.

    ``notebooks`` is the folder holding them (default: ``notebooks/`` of the working directory,
    skipped if absent). ``time_scale`` runs the reference sender's policy time that many times
    faster (the sender suite then takes about 57 s / ``time_scale``).
    """
    from whsim.sim.scenarios import SCENARIOS

    begun = time.monotonic()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _clean(out)
    result = DemoResult(out=out)
    names = list(scenarios) if scenarios is not None else list(SCENARIOS)
    secret = secrets.token_hex(16)
    total = 6
    loopback = ("--host", "127.0.0.1", "--port", "0")
    faults = ("--behaviour", "fail-twice", "--quiet")
    scale = ("--time-scale", f"{time_scale:g}")

    log(f"[1/{total}] simulating {len(names)} named scenarios -> {out / 'sim'}")
    result.simulations = run_simulations(out / "sim", names, log=log)

    with Processes() as procs, tempfile.TemporaryDirectory(prefix="whsim-demo-") as tmp:
        db = Path(tmp)
        try:
            log(f"[2/{total}] starting the reference receiver on a free loopback port")
            receiver, url = procs.serve(
                whsim_command(
                    "receiver", *loopback, "--secret", secret, "--db", f"{db}/r.db", "--quiet"
                ),
                out / "logs" / "receiver.log",
            )
            result.processes.append(receiver.pid)
            log(f"  receiver (pid {receiver.pid}) at {url}")
            log(f"[3/{total}] receiver conformance suite against {url} -> {out / 'receiver'}")
            result.conformance.append(
                run_conformance(
                    procs, "receiver", url, secret=secret, out=out / "receiver", log=log
                )
            )

            log(f"[4/{total}] starting the reference sender (time scale {time_scale:g})")
            sender, sender_url = procs.serve(
                whsim_command(
                    "sender", *loopback, "--db", f"{db}/s.db", *scale, "--log-level", "warning"
                ),
                out / "logs" / "sender.log",
            )
            faulty, faulty_url = procs.serve(
                whsim_command(
                    "receiver", *loopback, "--secret", secret, "--db", f"{db}/f.db", *faults
                ),
                out / "logs" / "receiver-fail-twice.log",
            )
            result.processes += [sender.pid, faulty.pid]
            log(f"  sender (pid {sender.pid}) at {sender_url}")
            log(f"  it delivers a job to a reference receiver that fails twice ({faulty_url})")
            result.interop = run_interop(
                sender_url,
                faulty_url,
                secret=secret,
                out=out / "interop",
                time_scale=time_scale,
                log=log,
            )
            procs.stop(faulty)

            log(f"[5/{total}] sender conformance suite against {sender_url} -> {out / 'sender'}")
            result.conformance.append(
                run_conformance(
                    procs, "sender", sender_url, secret=secret, out=out / "sender", log=log
                )
            )
        finally:
            procs.stop_all()
            log(f"  stopped {len(procs.started)} process(es) this run started")

    folder = notebooks if notebooks is not None else Path("notebooks")
    paths = notebook_paths(folder) if folder.is_dir() else []
    step = f"[{total}/{total}]"
    if run_notebook_html and paths:
        log(f"{step} executing {len(paths)} notebooks into HTML -> {out / 'notebooks'}")
        result.notebooks = run_notebooks(paths, out / "notebooks", reports=out, log=log)
    else:
        why = "not asked for" if not run_notebook_html else f"no notebooks in {folder}"
        result.notes.append(f"notebooks not executed ({why})")
        log(f"{step} notebooks skipped ({why})")

    result.seconds = time.monotonic() - begun
    write_index(result)
    return result
