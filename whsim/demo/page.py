"""The demo's one page, ``index.html``, and ``demo.json`` beside it."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["DemoResult", "write_index"]

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


def duration(ms: float | None) -> str:
    """A time in the unit a reader takes in at a glance: "850 ms", "12.4 s", "55.9 min", "2.3 h"."""
    if ms is None:
        return "none delivered"
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


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
            f"expired {m['expired']} · amplification {m['amplification']} · peak {m['peak_attempts_per_s']} attempts/s on one webhook · "
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
                duration(s["summary"]["p99_time_to_delivery_ms"]),
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
<th>expired</th><th>attempts per delivery</th><th title="the most attempts one webhook received in one second of simulated time">peak attempts per second, one webhook</th><th title="99th percentile of the time from an event to its successful delivery">p99 time to delivery</th></tr>
{table_rows}</table>
<div class="grid">{"".join(sims)}</div>
</body></html>
"""
    result.index.write_text(page, encoding="utf-8")
    (result.out / "demo.json").write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    return result.index
