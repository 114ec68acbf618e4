"""``whsim demo``, the kit's main job: simulate, serve, check, explain, and link it all on one page.

:func:`run_demo` runs the named scenarios, starts the reference services as subprocesses on free
loopback ports, runs the conformance suites against them, executes the notebooks into HTML and
writes ``index.html`` linking everything. Every process it starts is stopped before it returns,
also on an error or Ctrl-C (:class:`Processes`). A second run replaces what the first wrote.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

from whsim.core.errors import WhsimError

__all__ = [
    "QUICK_SCENARIOS",
    "DemoError",
    "DemoResult",
    "Processes",
    "notebook_paths",
    "run_conformance",
    "run_demo",
    "run_notebooks",
    "run_simulations",
    "write_index",
]

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
_URL = re.compile(r"(https?://[\w.\-\[\]:]+(?::\d+)?(?:/\S*)?)")
_INLINE_BACKEND: Final = "module://matplotlib_inline.backend_inline"

Log = Callable[[str], None]


class DemoError(WhsimError):
    """A demo step could not run at all (a service did not start, a tool is missing)."""


# --- processes ----------------------------------------------------------------------------


class Processes:
    """Subprocesses the demo starts; leaving the ``with`` block stops every one still running.

    Children run in their own session, so a Ctrl-C in the terminal reaches only the demo, which
    then stops them here: SIGTERM, then SIGKILL after ``grace_s``.
    """

    def __init__(self, grace_s: float = 5.0) -> None:
        self.grace_s = grace_s
        self.started: list[subprocess.Popen[bytes]] = []
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()

    def _popen(
        self, cmd: Sequence[str], stdout: Any, env: dict[str, str] | None
    ) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            list(cmd),
            stdout=stdout,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        self.started.append(proc)
        return proc

    def serve(
        self,
        cmd: Sequence[str],
        log_path: Path,
        *,
        ready: re.Pattern[str] = _URL,
        timeout_s: float = 30.0,
        env: dict[str, str] | None = None,
    ) -> tuple[subprocess.Popen[bytes], str]:
        """Start a service and wait for the line announcing its URL; returns (process, URL).

        Everything the service prints goes to ``log_path``.
        """
        log_path.parent.mkdir(parents=True, exist_ok=True)
        proc = self._popen(cmd, subprocess.PIPE, env)
        assert proc.stdout is not None
        found: list[str] = []
        seen = threading.Event()
        log = log_path.open("w", encoding="utf-8")

        def pump(stream: IO[bytes]) -> None:
            with log:
                for raw in iter(stream.readline, b""):
                    line = raw.decode("utf-8", errors="replace")
                    log.write(line)
                    log.flush()
                    if not found:
                        m = ready.search(line)
                        if m:
                            found.append(m.group(1))
                            seen.set()
            seen.set()  # the service ended (or closed its output) before announcing itself

        thread = threading.Thread(target=pump, args=(proc.stdout,), daemon=True)
        thread.start()
        self._threads.append(thread)
        if not seen.wait(timeout_s) or not found:
            self.stop(proc)
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-800:]
            raise DemoError(
                f"{' '.join(cmd[:4])} did not announce a URL within {timeout_s:g} s "
                f"(see {log_path}):\n{tail}"
            )
        return proc, found[0]

    def run(
        self,
        cmd: Sequence[str],
        log_path: Path,
        *,
        timeout_s: float = 600.0,
        env: dict[str, str] | None = None,
    ) -> int:
        """Run a command to its end, its output in ``log_path``; returns its exit code."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            proc = self._popen(cmd, log, env)
            try:
                return proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.stop(proc)
                raise DemoError(f"{' '.join(cmd[:4])} took more than {timeout_s:g} s") from None

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        """Stop one process (and its session): SIGTERM, then SIGKILL after the grace period."""
        if proc.poll() is None:
            self._signal(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=self.grace_s)
            except subprocess.TimeoutExpired:
                self._signal(proc, signal.SIGKILL)
                proc.wait(timeout=self.grace_s)
        if proc.stdout is not None:
            proc.stdout.close()

    @staticmethod
    def _signal(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)  # its own session: the group id is its pid

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            self.stop(proc)
        for thread in self._threads:
            thread.join(timeout=2)

    @property
    def running(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.started if p.poll() is None]


def _whsim(*args: str) -> list[str]:
    """The command line of ``whsim ARGS`` run by this interpreter (no PATH lookup)."""
    return [sys.executable, "-m", "whsim.cli", *args]


# --- steps --------------------------------------------------------------------------------


def run_simulations(
    out: Path, names: Sequence[str], *, seed: int = 0, log: Log = print
) -> list[dict[str, Any]]:
    """Each named scenario -> ``out/NAME/summary.json`` and ``out/NAME/timeline.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from whsim.analysis import plot
    from whsim.sim import simulate
    from whsim.sim.scenarios import load_scenario

    rows = []
    for name in names:
        started = time.monotonic()
        scenario = load_scenario(name)
        result = simulate(scenario, seed=seed)
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        summary = dict(result.summary)
        summary["description"] = scenario.description
        (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        fig = plot.overview(result)
        fig.savefig(folder / "timeline.png", dpi=90)
        plt.close(fig)
        took = time.monotonic() - started
        log(
            f"  {name:<15} {summary['events']:>6} events {summary['attempts']:>7} attempts  "
            f"lost {100 * summary['loss_rate']:5.1f} %  ({took:.1f} s)"
        )
        rows.append({"name": name, "summary": summary, "png": f"sim/{name}/timeline.png"})
    return rows


def run_conformance(
    procs: Processes,
    role: str,
    url: str,
    *,
    secret: str,
    out: Path,
    seed: int = 1,
    extra: Sequence[str] = (),
    log: Log = print,
) -> dict[str, Any]:
    """Run ``whsim conformance ROLE URL`` as a subprocess; returns its report's outcome."""
    started = time.monotonic()
    code = procs.run(
        _whsim(
            "conformance",
            role,
            url,
            "--secret",
            secret,
            "--report",
            str(out),
            "--seed",
            str(seed),
            "-q",
            *extra,
        ),
        out / "run.log",
    )
    took = time.monotonic() - started
    report_path = out / "report.json"
    if not report_path.exists():
        tail = (out / "run.log").read_text(encoding="utf-8", errors="replace")[-600:]
        log(f"  {role} suite wrote no report (exit {code}); see {out / 'run.log'}\n{tail}")
        return {
            "role": role,
            "outcome": "error",
            "exit_code": code,
            "counts": {},
            "seconds": took,
            "failed": [],
            "target": url,
        }
    report = json.loads(report_path.read_text(encoding="utf-8"))
    counts = report.get("counts", {})
    shown = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    log(f"  {role} suite: {report['outcome'].upper()} ({shown}) in {took:.0f} s")
    return {
        "role": role,
        "outcome": report["outcome"],
        "exit_code": code,
        "counts": counts,
        "seconds": took,
        "target": url,
        "failed": [
            f"{c['id']}: {c.get('message', '')}"
            for c in report.get("cases", [])
            if c.get("outcome") in ("fail", "error")
        ],
    }


_INTEROP_EVENTS: Final = (
    "proposal.created",
    "job.created",
    "job.started",
    "job.completed",
    "document.created",
)


def _iso_s(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def run_interop(
    sender_url: str,
    receiver_url: str,
    *,
    secret: str,
    out: Path,
    reading: str = "backoff-only",
    fails_first: int = 2,
    time_scale: float = 1.0,
    timeout_s: float = 60.0,
    log: Log = print,
) -> dict[str, Any]:
    """The reference sender delivers one job to the reference receiver, whose faults refuse each
    event's first ``fails_first`` attempts; writes ``out/interop.json`` and ``out/interop.png``.

    The check: every event delivered, each after ``fails_first + 1`` attempts, the gaps between
    attempts those of ``reading`` (observed against the schedule and the simulator's prediction).
    Observed offsets are in policy seconds: wall seconds times the sender's ``time_scale``.
    """
    import httpx

    from whsim.core.policy import RetryPolicy

    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with httpx.Client(base_url=sender_url, timeout=10.0) as api:
        hook = api.post(
            "/api/webhooks",
            json={"url": receiver_url, "events": list(_INTEROP_EVENTS), "secret": secret},
        )
        hook.raise_for_status()
        webhook = hook.json()
        proposal = api.post("/api/proposals", json={"title": "whsim demo"})
        proposal.raise_for_status()
        job = api.post(
            "/api/jobs", json={"proposal_id": proposal.json()["id"], "steps": 2, "step_seconds": 1}
        )
        job.raise_for_status()
        deadline = time.monotonic() + timeout_s
        deliveries: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            listed = api.get(f"/api/webhooks/{webhook['id']}/deliveries", params={"limit": 50})
            listed.raise_for_status()
            deliveries = listed.json()["deliveries"]
            if len(deliveries) >= len(_INTEROP_EVENTS) and all(
                d["status"] != "pending" for d in deliveries
            ):
                break
            time.sleep(0.2)
        detailed = []
        for d in deliveries:
            doc = api.get(f"/api/webhooks/{webhook['id']}/deliveries/{d['id']}")
            doc.raise_for_status()
            detailed.append(doc.json())
    from whsim.sim.sweep import failing_attempts

    detailed.sort(key=lambda d: (d["created_at"], d["id"]))
    expected = list(RetryPolicy.named(reading).attempt_offsets()[: fails_first + 1])
    simulated = failing_attempts(reading, receiver="fail-twice")
    observed = []
    for d in detailed:
        times = [_iso_s(a["started_at"]) for a in d["attempts"]]
        observed.append([round((t - times[0]) * time_scale, 3) for t in times] if times else [])
    ok = (
        len(detailed) == len(_INTEROP_EVENTS)
        and all(d["status"] == "delivered" for d in detailed)
        and all(len(o) == fails_first + 1 for o in observed)
        # a wall-clock tolerance: the last attempt no more than 0.5 s late per retry
        and all(
            -0.05 <= (o[-1] - expected[-1]) / time_scale <= 0.5 * fails_first for o in observed if o
        )
    )
    took = time.monotonic() - started
    summary = {
        "sender": sender_url,
        "receiver": receiver_url,
        "reading": reading,
        "time_scale": time_scale,
        "receiver_faults": f"fails the first {fails_first} attempts of every event",
        "expected_offsets_s": expected,
        "simulated_offsets_s": simulated,
        "observed_offsets_s": observed,
        "outcome": "pass" if ok else "fail",
        "seconds": round(took, 1),
        "webhook": webhook,
        "deliveries": detailed,
    }
    (out / "interop.json").write_text(json.dumps(summary, indent=2) + "\n")
    _interop_figure(summary, out / "interop.png")
    state = ", ".join(
        f"{d['event_type']} {d['status']} after {d['attempt_count']}" for d in detailed
    )
    log(f"  interop: {summary['outcome'].upper()} in {took:.0f} s ({state})")
    return summary


def _interop_figure(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from whsim.analysis import plot

    rows: dict[str, Any] = {
        "schedule": summary["expected_offsets_s"],
        "simulator": summary["simulated_offsets_s"],
    }
    for d, offsets in zip(summary["deliveries"], summary["observed_offsets_s"], strict=True):
        rows[d["event_type"]] = offsets
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(rows) + 1.6))
    scale = summary["time_scale"]
    bands = [(t - 0.05 * scale, t + 0.5 * scale) for t in summary["expected_offsets_s"]]
    plot.attempt_offsets(rows, bands=bands, ax=ax)
    ax.set_title("reference sender -> reference receiver (fail-twice): attempts per event")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def notebook_paths(folder: Path) -> list[Path]:
    """The design-review notebooks, ``NN-topic.ipynb``, in order."""
    return sorted(folder.glob("[0-9][0-9]-*.ipynb"))


def _question_and_answer(nb: Any) -> tuple[str, str]:
    question = ""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "**Question.**" in cell.source:
            text = cell.source.split("**Question.**", 1)[1]
            question = " ".join(text.split("\n\n", 1)[0].split())
            break
    answer = ""
    if nb.cells:
        answer = "".join(
            o.get("text", "")
            for o in nb.cells[-1].get("outputs", [])
            if o.get("output_type") == "stream"
        ).strip()
    return question, answer


def _last_figure(nb: Any, target: Path) -> Path | None:
    """Save the answer's figure (the last PNG the notebook shows) to ``target``."""
    import base64

    for cell in reversed(nb.cells):
        for output in reversed(cell.get("outputs", [])):
            png = output.get("data", {}).get("image/png")
            if png:
                target.write_bytes(base64.b64decode(png))
                return target
    return None


def run_notebooks(
    paths: Sequence[Path], out: Path, *, reports: Path, timeout_s: float = 300.0, log: Log = print
) -> list[dict[str, Any]]:
    """Execute each notebook on the ``python3`` kernel and write it as HTML into ``out``.

    Figures are rendered inline (PNG in the page); ``WHSIM_REPORTS`` tells notebook 06 where
    this run's conformance reports are. A notebook that raises is written all the same, up to
    the failing cell, and marked failed.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbconvert import HTMLExporter

    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter()  # type: ignore[no-untyped-call]
    rows = []
    saved = {k: os.environ.get(k) for k in ("MPLBACKEND", "WHSIM_REPORTS")}
    os.environ["MPLBACKEND"] = (
        _INLINE_BACKEND  # the kernel inherits it: non-interactive, PNGs inline
    )
    os.environ["WHSIM_REPORTS"] = str(reports.resolve())
    try:
        for path in paths:
            started = time.monotonic()
            nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
            error = ""
            client = NotebookClient(
                nb,
                timeout=timeout_s,
                kernel_name="python3",
                resources={"metadata": {"path": str(path.parent)}},
                extra_arguments=["--log-level=ERROR"],  # not ipykernel's TCP warning
            )
            try:
                client.execute()
            except Exception as exc:  # a cell raised, or the kernel died or would not start
                # While it runs, nbclient answers Ctrl-C (and SIGTERM) by shutting the kernel
                # down, which surfaces as some other error; its handler leaves this mark. A
                # Ctrl-C in a terminal also reaches the kernel, as a KeyboardInterrupt in a cell.
                cell_interrupted = getattr(exc, "ename", "") == "KeyboardInterrupt"
                if cell_interrupted or getattr(client, "_async_cleanup_kernel_future", None):
                    raise KeyboardInterrupt from None
                if isinstance(exc, CellExecutionError):
                    text = str(exc).strip()
                    error = text.splitlines()[-1] if text else "cell failed"
                else:
                    error = f"{type(exc).__name__}: {exc}"
            body, _ = exporter.from_notebook_node(nb)
            target = out / f"{path.stem}.html"
            target.write_text(body, encoding="utf-8")
            took = time.monotonic() - started
            question, answer = _question_and_answer(nb)
            figure = _last_figure(nb, out / f"{path.stem}.png")
            status = "failed: " + error if error else "ok"
            log(f"  {path.stem:<28} {status} ({took:.0f} s)")
            rows.append(
                {
                    "name": path.stem,
                    "html": f"notebooks/{target.name}",
                    "ok": not error,
                    "error": error,
                    "seconds": took,
                    "question": question,
                    "answer": answer,
                    "figure": f"notebooks/{figure.name}" if figure else "",
                }
            )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return rows


# --- the page ----------------------------------------------------------------------------

_CSS = """
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1rem 2rem;color:#222}
h1{margin:.3rem 0}h2{margin-top:2rem;border-bottom:2px solid #eee}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.o{display:inline-block;padding:0 .45rem;border-radius:3px;font-weight:600;color:#fff}
.o-pass,.o-ok{background:#2e7d32}.o-fail,.o-failed{background:#c62828}.o-non-strict{background:#ef6c00}
.o-error{background:#6a1b9a}.o-skipped{background:#6d6d6d}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:1rem}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem}.card img{width:100%;height:auto}
.fig{max-width:100%;height:auto;border:1px solid #eee}.muted{color:#666}.answer{background:#f6faf6;border-left:4px solid #2e7d32;padding:.4rem .7rem}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _badge(outcome: str) -> str:
    return f'<span class="o o-{_e(outcome)}">{_e(outcome.upper())}</span>'


@dataclass
class DemoResult:
    """What one run did: its parts, notes (skipped steps), timing and the index it wrote."""

    out: Path
    simulations: list[dict[str, Any]] = field(default_factory=list)
    conformance: list[dict[str, Any]] = field(default_factory=list)
    notebooks: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    processes: list[int] = field(default_factory=list)
    interop: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (
            all(c["outcome"] in ("pass", "non-strict") for c in self.conformance)
            and all(n["ok"] for n in self.notebooks)
            and self.interop.get("outcome", "pass") == "pass"
        )

    @property
    def index(self) -> Path:
        return self.out / "index.html"

    def as_dict(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "seconds": round(self.seconds, 1),
            "ok": self.ok,
            "simulations": [
                {
                    "name": s["name"],
                    **{k: s["summary"][k] for k in ("events", "attempts", "loss_rate")},
                }
                for s in self.simulations
            ],
            "conformance": self.conformance,
            "notebooks": [{k: v for k, v in n.items() if k != "answer"} for n in self.notebooks],
            "interop": {
                k: v for k, v in self.interop.items() if k not in ("deliveries", "webhook")
            },
            "notes": self.notes,
        }


def _interop_html(interop: dict[str, Any]) -> str:
    if not interop:
        return ""
    rows = "".join(
        f"<tr><td>{_e(d['event_type'])}</td><td>{_e(d['status'])}</td>"
        f"<td class=num>{d['attempt_count']}</td><td>{_e(', '.join(f'{x:.2f}' for x in o))}</td></tr>"
        for d, o in zip(interop["deliveries"], interop["observed_offsets_s"], strict=True)
    )
    expected = ", ".join(f"{x:g}" for x in interop["expected_offsets_s"])
    return (
        f"<h3>Reference sender to reference receiver {_badge(interop['outcome'])}</h3>"
        f"<p>The reference sender ({_e(interop['sender'])}, reading {_e(interop['reading'])}) "
        f"delivers one job to a reference receiver that {_e(interop['receiver_faults'])}: each "
        f"event should arrive on its attempt at {_e(expected)} s. "
        f'<a href="interop/interop.json">interop.json</a></p>'
        f"<table><tr><th>event</th><th>status</th><th>attempts</th><th>attempt offsets (s)</th></tr>"
        f"{rows}</table>"
        f'<img class="fig" src="interop/interop.png" alt="attempts of the reference sender">'
    )


def write_index(result: DemoResult) -> Path:
    """The one page: simulations with their figures, conformance outcomes, notebooks."""
    from whsim import __version__

    sims = []
    for s in result.simulations:
        m = s["summary"]
        sims.append(
            f'<div class="card"><h3>{_e(s["name"])}</h3><p class="muted">{_e(m.get("description", ""))}</p>'
            f'<a href="{_e(s["png"])}"><img src="{_e(s["png"])}" alt="timeline of {_e(s["name"])}" loading="lazy"></a>'
            f"<p>{m['events']} events · {m['attempts']} attempts · lost {100 * m['loss_rate']:.2f} % · "
            f"expired {m['expired']} · amplification {m['amplification']} · peak {m['peak_attempts_per_s']}/s · "
            f'<a href="sim/{_e(s["name"])}/summary.json">summary.json</a></p></div>'
        )
    table_rows = "".join(
        f'<tr><td><a href="{_e(s["png"])}">{_e(s["name"])}</a></td><td>{_e(s["summary"]["policy"])}</td>'
        + "".join(
            f'<td class="num">{_e(v)}</td>'
            for v in (
                s["summary"]["events"],
                s["summary"]["deliveries"],
                s["summary"]["attempts"],
                f"{100 * s['summary']['loss_rate']:.2f} %",
                s["summary"]["expired"],
                s["summary"]["amplification"],
                s["summary"]["peak_attempts_per_s"],
                s["summary"]["p99_time_to_delivery_ms"],
            )
        )
        + "</tr>"
        for s in result.simulations
    )
    conf = []
    for c in result.conformance:
        counts = ", ".join(f"{n} {k}" for k, n in c.get("counts", {}).items() if n)
        failed = "".join(f"<li>{_e(f)}</li>" for f in c.get("failed", []))
        conf.append(
            f"<tr><td>{_e(c['role'])}</td><td>{_badge(c['outcome'])}</td><td>{_e(counts)}</td>"
            f'<td>{_e(c.get("target", ""))}</td><td class="num">{c.get("seconds", 0):.0f} s</td>'
            f'<td><a href="{_e(c["role"])}/index.html">report</a> · <a href="{_e(c["role"])}/report.json">report.json</a> · '
            f'<a href="{_e(c["role"])}/junit.xml">junit.xml</a> · <a href="{_e(c["role"])}/run.log">log</a>'
            + (f"<ul>{failed}</ul>" if failed else "")
            + "</td></tr>"
        )
    nbs = []
    for n in result.notebooks:
        status = _badge("ok" if n["ok"] else "failed")
        nbs.append(
            f'<h3>{status} <a href="{_e(n["html"])}">{_e(n["name"])}</a> <span class="muted">({n["seconds"]:.0f} s)</span></h3>'
            f"<p><b>Question.</b> {_e(n['question'])}</p>"
            + (f'<p class="answer"><b>Answer.</b> {_e(n["answer"])}</p>' if n["answer"] else "")
            + (
                f'<a href="{_e(n["html"])}"><img class="fig" src="{_e(n["figure"])}" '
                f'alt="the answer of {_e(n["name"])}" loading="lazy"></a>'
                if n.get("figure")
                else ""
            )
            + (f'<p class="muted">error: {_e(n["error"])}</p>' if n["error"] else "")
        )
    notes = "".join(f"<li>{_e(n)}</li>" for n in result.notes)
    overall = "pass" if result.ok else "fail"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>whsim demo</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{_CSS}</style></head><body>
<h1>whsim: how the guide's webhooks behave {_badge(overall)}</h1>
<p>One run of <code>make demo</code>: the reference receiver and the reference sender checked by
the conformance suites over real HTTP, the sender delivering through a faulty receiver, the
design-review notebooks (each a question about the webhooks guide, answered by simulation), and
the named simulation scenarios with their retry timelines.</p>
<p class="muted">whsim {_e(__version__)} · run {_e(result.started)} · {result.seconds:.0f} s ·
<a href="demo.json">demo.json</a> · <a href="logs/">logs</a></p>
{f"<ul>{notes}</ul>" if notes else ""}
<h2>Conformance of the reference implementations</h2>
<table><tr><th>role</th><th>outcome</th><th>cases</th><th>target</th><th>time</th><th>reports</th></tr>
{"".join(conf) or "<tr><td colspan=6>no suite ran</td></tr>"}</table>
{_interop_html(result.interop)}
<h2>Design review notebooks</h2>
{"".join(nbs) or '<p class="muted">not executed in this run (--quick or --no-notebooks)</p>'}
<h2>Simulations of the named scenarios</h2>
<table><tr><th>scenario</th><th>policy</th><th>events</th><th>deliveries</th><th>attempts</th><th>lost</th>
<th>expired</th><th>attempts per delivery</th><th>peak attempts/s</th><th>p99 to delivery (ms)</th></tr>
{table_rows}</table>
<div class="grid">{"".join(sims)}</div>
</body></html>
"""
    result.index.write_text(page, encoding="utf-8")
    (result.out / "demo.json").write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    return result.index


# --- the job ------------------------------------------------------------------------------


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
                _whsim("receiver", *loopback, "--secret", secret, "--db", f"{db}/r.db", "--quiet"),
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
                _whsim("sender", *loopback, "--db", f"{db}/s.db", *scale, "--log-level", "warning"),
                out / "logs" / "sender.log",
            )
            faulty, faulty_url = procs.serve(
                _whsim("receiver", *loopback, "--secret", secret, "--db", f"{db}/f.db", *faults),
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
