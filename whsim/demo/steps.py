"""The demo's steps that produce data: simulations, the conformance suites, sender-to-receiver interop."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from whsim.demo.supervise import Log, Processes, whsim_command

__all__ = ["run_conformance", "run_interop", "run_simulations"]


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
        whsim_command(
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
