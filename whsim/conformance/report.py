"""Report writers for any conformance role: report.json, junit.xml and a self-contained index.html.

All three come from one :class:`Report`. The HTML page needs no network and no script: the
outcome at the top, a clause-by-case table, then each case with its requirement, expected vs
actual, the exact request and response bytes (escaped) and a curl line that replays the request.
A case may carry ``details["figures"]``, a list of inline SVG strings (e.g. a retry timeline),
shown under the case.
"""

from __future__ import annotations

import html
import json
import platform
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from whsim.conformance.case import CaseResult
from whsim.conformance.exchange import Exchange, curl_line
from whsim.conformance.masking import Masker
from whsim.conformance.outcomes import Outcome, counts, effective, exit_code, overall
from whsim.core.spec.clauses import Clause, Party, clauses

__all__ = ["Report", "build_report", "role_clauses", "write_reports"]

_PARTIES = {"receiver": (Party.RECEIVER, Party.BOTH), "sender": (Party.SENDER, Party.BOTH)}


def role_clauses(role: str) -> tuple[Clause, ...]:
    """The clauses a role's suite answers for: those whose party is the role or both."""
    parties = _PARTIES.get(role, ())
    return tuple(c for c in clauses() if c.party in parties)


@dataclass(slots=True)
class Report:
    """One conformance run. ``readings`` names the reading the kit applied per clause."""

    role: str
    target: str
    kit_version: str
    seed: int
    strict: bool
    cases: list[CaseResult] = field(default_factory=list)
    readings: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    diagnosis: list[dict[str, Any]] = field(default_factory=list)
    """The likely root causes (:class:`whsim.conformance.diagnosis.Finding` dicts), first first."""

    @property
    def outcomes(self) -> list[Outcome]:
        return [c.outcome for c in self.cases]

    @property
    def overall(self) -> str:
        return overall(self.outcomes, self.strict)

    @property
    def exit_code(self) -> int:
        return exit_code(self.outcomes, self.strict)

    def effective(self, result: CaseResult) -> Outcome:
        return effective(result.outcome, self.strict)

    def clause_coverage(self) -> list[dict[str, Any]]:
        """Each of the role's clauses with the cases that cite it (empty list: not covered)."""
        rows = []
        for c in role_clauses(self.role):
            cited = [r for r in self.cases if c.id in r.spec.clauses]
            rows.append(
                {
                    "id": c.id,
                    "level": str(c.level),
                    "text": c.text,
                    "checked_by": list(c.checked_by),
                    "finding": c.finding,
                    "cases": [r.spec.id for r in cited],
                    "outcomes": [str(r.outcome) for r in cited],
                }
            )
        return rows

    def as_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "target": self.target,
            "kit_version": self.kit_version,
            "seed": self.seed,
            "strict": self.strict,
            "outcome": self.overall,
            "exit_code": self.exit_code,
            "counts": counts(self.outcomes),
            "started": self.started,
            "duration_s": round(self.duration_s, 3),
            "python": platform.python_version(),
            "readings": self.readings,
            "settings": self.settings,
            "notes": self.notes,
            "diagnosis": self.diagnosis,
            "clauses": self.clause_coverage(),
            "cases": [r.as_dict() for r in self.cases],
        }


def build_report(
    role: str,
    target: str,
    results: Sequence[CaseResult],
    *,
    seed: int,
    strict: bool,
    duration_s: float = 0.0,
    settings: dict[str, Any] | None = None,
    secrets: Sequence[str] = (),
) -> Report:
    """A :class:`Report` for finished cases; the readings are the kit's defaults for the role.

    Every secret is masked from here on (``secrets``, the kit's generated ones, any ``"secret"``
    in a body: :mod:`whsim.conformance.masking`), so no report and no terminal line shows one.
    """
    from whsim import __version__

    masker = Masker(secrets)
    results = [masker.result(r) for r in results]

    cited = {cid for r in results for cid in r.spec.clauses}
    readings = {
        c.id: c.default
        for c in clauses()
        if c.default is not None and (c.id in cited or c in role_clauses(role))
    }
    untestable = [r.spec.id for r in results if r.outcome is Outcome.UNTESTABLE]
    notes = []
    if untestable:
        notes.append(f"untestable (never counted as pass): {', '.join(untestable)}")
    return Report(
        role=role,
        target=masker.text(target),
        kit_version=__version__,
        seed=seed,
        strict=strict,
        cases=list(results),
        readings={k: v for k, v in readings.items() if v},
        settings=masker.value(dict(settings or {})),
        duration_s=duration_s,
        notes=notes,
    )


def write_reports(report: Report, out: Path) -> dict[str, Path]:
    """Write report.json, junit.xml and index.html into ``out`` (created); returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / "report.json",
        "junit": out / "junit.xml",
        "html": out / "index.html",
    }
    paths["json"].write_text(
        json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    paths["junit"].write_bytes(junit_xml(report))
    paths["html"].write_text(html_page(report), encoding="utf-8")
    return paths


# --- JUnit ------------------------------------------------------------------------------------


def _xml_safe(text: str) -> str:
    # XML 1.0 cannot carry most control characters, even escaped.
    return "".join(
        ch
        if ch in "\t\n\r" or (0x20 <= ord(ch) <= 0xD7FF) or ord(ch) >= 0xE000
        else f"\\x{ord(ch):02x}"
        for ch in text
    )


def junit_xml(report: Report) -> bytes:
    """JUnit XML valid against the strict xunit schema: one testcase per case, named by its id."""
    tally = counts(report.effective(r) for r in report.cases)
    suite = ET.Element(
        "testsuite",
        {
            "name": f"whsim {report.role} conformance",
            "tests": str(len(report.cases)),
            "failures": str(tally["fail"]),
            "errors": str(tally["error"]),
            "skipped": str(tally["untestable"] + tally["non-strict"]),
            "time": f"{report.duration_s:.3f}",
            "timestamp": report.started,
        },
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("target", report.target),
        ("seed", str(report.seed)),
        ("kit_version", report.kit_version),
        ("strict", str(report.strict).lower()),
    ):
        ET.SubElement(props, "property", {"name": name, "value": _xml_safe(value)})
    for r in report.cases:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": f"whsim.{report.role}.{r.spec.group}",
                "name": f"{r.spec.id} {r.spec.title}",
                "time": f"{r.duration_s:.3f}",
            },
        )
        # The strict xunit schema (Jenkins' xunit plugin, shared/schemas/junit-10.xsd) allows no
        # <properties> in a testcase: the id is in the name, clauses, level and outcome go in
        # system-out, and an error is a <failure type="error"> (the schema has no <error>).
        text = _xml_safe(_failure_text(r))
        outcome = report.effective(r)
        if outcome is Outcome.FAIL:
            ET.SubElement(
                case, "failure", {"message": _xml_safe(r.message), "type": "fail"}
            ).text = text
        elif outcome is Outcome.ERROR:
            ET.SubElement(
                case, "failure", {"message": _xml_safe(r.message), "type": "error"}
            ).text = text
        elif outcome in (Outcome.UNTESTABLE, Outcome.NON_STRICT):
            ET.SubElement(case, "skipped", {"message": _xml_safe(f"{r.outcome}: {r.message}")})
        facts = [
            f"clauses: {' '.join(r.spec.clauses)}",
            f"level: {r.spec.level}",
            f"outcome: {r.outcome}",
        ]
        if r.spec.needs:
            facts.append(f"needs: {' '.join(r.spec.needs)}")
        if r.message:
            facts.append(f"verdict: {r.message}")
        ET.SubElement(case, "system-out").text = _xml_safe("\n".join(facts))
    ET.indent(suite)
    data: bytes = ET.tostring(suite, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def _failure_text(r: CaseResult) -> str:
    lines = [r.message, "Requirement:", *("  " + x for x in r.spec.requirement().splitlines())]
    if r.expected or r.actual:
        lines += [f"Expected: {r.expected}", f"Actual:   {r.actual}"]
    ex = r.primary_exchange()
    if ex is not None:
        lines.append(f"Reproduce: {curl_line(ex.request)}")
    return "\n".join(lines)


# --- HTML -------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1320px;padding:.6rem 1.5rem;color:#222}
h1{margin:.2rem 0;font-size:1.5rem}h2{font-size:1.15rem;margin:1.1rem 0 .4rem}
.banner{display:flex;gap:1.2rem;align-items:center;padding:.6rem 1rem;border-radius:6px;color:#fff;margin:.5rem 0}
.banner.pass{background:#2e7d32}.banner.fail{background:#c62828}
.banner .big{font-size:1.6rem;font-weight:700;letter-spacing:.04em}.banner .o{border:1px solid #fff8}
table{border-collapse:collapse;width:100%;margin:.3rem 0 .8rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right}
.o{display:inline-block;padding:0 .45rem;border-radius:3px;font-weight:600;font-size:.85rem;color:#fff;white-space:nowrap}
.o-pass{background:#2e7d32}.o-fail{background:#c62828}.o-non-strict{background:#ef6c00}
.o-info{background:#1565c0}.o-untestable{background:#6d6d6d}.o-error{background:#6a1b9a}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:.5rem;overflow:auto;white-space:pre-wrap;
word-break:break-all;max-height:24rem;margin:.3rem 0}
.diagnosis{border:2px solid #c62828;border-radius:6px;padding:.4rem 1rem;margin:.6rem 0;background:#fff5f5}
.diagnosis h3{margin:.3rem 0}.diagnosis .hint{font-weight:600}
details.case{border-bottom:1px solid #eee}
details.case>summary{display:grid;grid-template-columns:6.5rem 10.5rem minmax(0,22rem) minmax(0,1fr) 3.5rem;
gap:.6rem;padding:.2rem .3rem;cursor:pointer;list-style:none;align-items:baseline}
details.case>summary::-webkit-details-marker{display:none}
details.case>summary:hover{background:#f6f6f6}details.case[open]>summary{background:#f0f4fa}
details.case>summary>span{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
details.case>summary .t{text-align:right;color:#777}
details.case>div{padding:.2rem .8rem .8rem 1.2rem}
.group{font-weight:600;margin:.8rem 0 .2rem;color:#444}
.finding{color:#8e2400;margin-top:.2rem}.kv{color:#555}.muted{color:#777}details{margin:.15rem 0}summary{cursor:pointer}
.ev{display:grid;grid-template-columns:1fr 1fr;gap:.8rem}.ev h4{margin:.2rem 0}
figure{margin:.4rem 0}figure figcaption{font-size:.85rem;color:#555}
.settings{display:grid;grid-template-columns:max-content 1fr;gap:0 1rem;margin:.3rem 0}
.settings dt{font-weight:600}.settings dd{margin:0;overflow-wrap:anywhere}
"""

_ATTENTION = (Outcome.FAIL, Outcome.ERROR, Outcome.NON_STRICT)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _badge(outcome: Outcome | str) -> str:
    return f'<span class="o o-{_e(outcome)}">{_e(outcome)}</span>'


def _headers(headers: Sequence[Sequence[str]]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in headers)


def _exchange_html(ex: Exchange, title: str, *, replay: bool = True, open_: bool = False) -> str:
    req, resp = ex.request, ex.response
    req_text = f"{req.method} {req.url}\n{_headers(req.headers)}\n\n" + req.body.decode(
        "utf-8", errors="backslashreplace"
    )
    if resp.status is None:
        resp_text = f"(no answer: {resp.error})"
    else:
        resp_text = (
            f"HTTP {resp.status}  ({resp.elapsed_s * 1000:.1f} ms)\n{_headers(resp.headers)}\n\n"
        )
        resp_text += resp.body.decode("utf-8", errors="backslashreplace")
    note = f" <span class=muted>{_e(ex.note)}</span>" if ex.note else ""
    return (
        f"<details{' open' if open_ else ''}><summary>{_e(title)}{note}</summary>"
        f'<div class="ev"><div><h4>Request ({len(req.body)} bytes)</h4><pre>{_e(req_text)}</pre></div>'
        f"<div><h4>Response ({len(resp.body)} bytes)</h4><pre>{_e(resp_text)}</pre></div></div>"
        + (f"<h4>Replay</h4><pre>{_e(curl_line(req))}</pre>" if replay else "")
        + "</details>"
    )


def _figures_html(r: CaseResult) -> str:
    # Figures are SVG the kit drew itself, so they go in unescaped.
    return "".join(
        f'<figure><figcaption><a href="#{_e(r.spec.id)}">{_e(r.spec.id)}</a> '
        f"{_e(r.spec.title)}</figcaption>{svg}</figure>"
        for svg in r.details.get("figures", [])
    )


def _case_body(report: Report, r: CaseResult) -> str:
    """A case's detail: verdict, expected vs actual, figures, then the raw data and exchanges."""
    parts = [
        f'<div class="kv">Level {_e(r.spec.level)} · clauses '
        + ", ".join(f'<a href="#clause-{_e(c)}">{_e(c)}</a>' for c in r.spec.clauses)
        + f" · {r.duration_s:.2f} s</div>",
    ]
    if r.message:
        parts.append(f"<p><b>Verdict:</b> {_e(r.message)}</p>")
    if r.expected or r.actual:
        parts.append(
            "<table><tr><th>Expected</th><th>Actual</th></tr>"
            f"<tr><td><pre>{_e(r.expected)}</pre></td><td><pre>{_e(r.actual)}</pre></td></tr></table>"
        )
    parts.append(
        f"<details><summary>The guide's words</summary><pre>{_e(r.spec.requirement())}</pre></details>"
    )
    if report.effective(r) in _ATTENTION:
        parts.append(_figures_html(r))
    primary = r.primary_exchange()
    if primary is not None:
        graded_bad = r.outcome not in (Outcome.PASS, Outcome.INFO)
        parts.append(
            f'<p><b>Replay</b> (bash):</p><pre class="curl">{_e(curl_line(primary.request))}</pre>'
        )
        parts.append(_exchange_html(primary, "Deciding exchange", replay=False, open_=graded_bad))
    shown = {k: v for k, v in r.details.items() if k != "figures"}
    if shown:
        parts.append(
            "<details><summary>Raw details (JSON)</summary>"
            f"<pre>{_e(json.dumps(shown, indent=2, ensure_ascii=False))}</pre></details>"
        )
    others = [e for e in r.exchanges if e is not primary]
    if others:
        parts.append(f"<details><summary>{len(others)} more exchange(s)</summary>")
        for i, ex in enumerate(others[:60], 1):
            parts.append(_exchange_html(ex, f"Exchange {i}"))
        if len(others) > 60:
            parts.append(f"<p class=muted>{len(others) - 60} more not shown</p>")
        parts.append("</details>")
    return "\n".join(parts)


def _case_html(report: Report, r: CaseResult) -> str:
    """One case as a single summary line; failures open, everything else collapsed."""
    opened = " open" if report.effective(r) in _ATTENTION else ""
    return (
        f'<details class="case" id="{_e(r.spec.id)}"{opened}><summary>'
        f"<span>{_badge(r.outcome)}</span><span><b>{_e(r.spec.id)}</b></span>"
        f'<span title="{_e(r.spec.title)}">{_e(r.spec.title)}</span>'
        f'<span title="{_e(r.message)}" class="muted">{_e(r.message)}</span>'
        f'<span class="t">{r.duration_s:.1f} s</span></summary>'
        f"<div>{_case_body(report, r)}</div></details>"
    )


def _diagnosis_html(report: Report) -> str:
    """The likely root causes the suite named (``report.diagnosis``), before anything else."""
    findings = getattr(report, "diagnosis", None) or []
    if not findings:
        return ""
    items = []
    for f in findings:
        f = f if isinstance(f, dict) else {"summary": str(f)}
        evidence = "".join(f"<li>{_e(x)}</li>" for x in f.get("evidence", []))
        cases = ", ".join(f'<a href="#{_e(c)}">{_e(c)}</a>' for c in f.get("cases", []))
        items.append(
            f"<h3>Likely cause: {_e(f.get('summary', ''))} "
            f'<span class="muted">({_e(f.get("code", ""))})</span></h3>'
            + (f"<ul>{evidence}</ul>" if evidence else "")
            + (f'<p class="hint">Fix: {_e(f["hint"])}</p>' if f.get("hint") else "")
            + (f'<p class="muted">cases: {cases}</p>' if cases else "")
        )
    return f'<section class="diagnosis" id="diagnosis">{"".join(items)}</section>'


def _clauses_html(report: Report) -> str:
    rows = []
    bad = False
    for row in report.clause_coverage():
        cases = [r for r in report.cases if r.spec.id in row["cases"]]
        bad = bad or any(report.effective(r) in _ATTENTION for r in cases)
        cell = (
            " ".join(
                f'<a href="#{_e(r.spec.id)}" title="{_e(r.spec.title)}">{_badge(r.outcome)} '
                f"{_e(r.spec.id)}</a>"
                for r in cases
            )
            or '<span class="muted">no case in this run</span>'
        )
        reading = report.readings.get(row["id"], "")
        finding = row["finding"]
        rows.append(
            f'<tr id="clause-{_e(row["id"])}"><td>{_e(row["id"])}</td><td>{_e(row["level"])}</td>'
            f"<td>{_e(row['text'])}"
            + (f'<div class="muted">reading: {_e(reading)}</div>' if reading else "")
            + (f'<div class="finding">finding: {_e(finding)}</div>' if finding else "")
            + f"</td><td>{cell}</td></tr>"
        )
    own = {c.id for c in role_clauses(report.role)}
    for r in report.cases:
        if not set(r.spec.clauses) & own:
            rows.append(
                f'<tr><td colspan=3 class="muted">other clauses: {_e(", ".join(r.spec.clauses))}'
                f'</td><td><a href="#{_e(r.spec.id)}">{_badge(r.outcome)} {_e(r.spec.id)}</a></td></tr>'
            )
    covered = sum(1 for row in report.clause_coverage() if row["cases"])
    return (
        f'<details id="clauses"{" open" if bad else ""}><summary><b>Clauses and cases</b> '
        f'<span class="muted">({covered} of {len(report.clause_coverage())} clauses checked in '
        "this run)</span></summary>"
        '<table><colgroup><col style="width:7rem"><col style="width:5rem"><col>'
        '<col style="width:34%"></colgroup>'
        "<tr><th>Clause</th><th>Level</th><th>The guide says</th><th>Cases</th></tr>"
        f"{''.join(rows)}</table></details>"
    )


def html_page(report: Report) -> str:
    """The whole report as one HTML page with inline CSS and no script.

    Order: the outcome, the likely root cause, the cases that need attention (open), the
    figures, every case as one line (collapsed, its raw data inside), then clauses and settings.
    """
    tally = counts(report.outcomes)
    outcome = report.overall
    summary = " ".join(f"{_badge(o)} {n}" for o, n in tally.items() if n)
    settings = "".join(
        f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>"
        for k, v in {
            "target": report.target,
            "role": report.role,
            "kit version": report.kit_version,
            "seed": report.seed,
            "strict": report.strict,
            "started": report.started,
            "duration": f"{report.duration_s:.1f} s",
            **report.settings,
        }.items()
    )
    notes = "".join(f"<li>{_e(n)}</li>" for n in report.notes)
    attention = [r for r in report.cases if report.effective(r) in _ATTENTION]
    rest = [r for r in report.cases if report.effective(r) not in _ATTENTION]
    figures = "".join(_figures_html(r) for r in rest)
    sections = [_diagnosis_html(report)]
    if attention:
        sections.append(f"<h2>Needs attention ({len(attention)})</h2>")
        sections += [_case_html(report, r) for r in attention]
    if figures:
        sections.append(f"<h2>Figures</h2>{figures}")
    if rest:
        sections.append(
            f"<h2>{'Other cases' if attention else 'Cases'} ({len(rest)}) "
            '<span class="muted" style="font-weight:normal;font-size:.85rem">'
            "click a line for its verdict, exchanges and replay</span></h2>"
        )
        sections += [_case_html(report, r) for r in rest]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>whsim {_e(report.role)} conformance: {_e(outcome)}</title>
<style>{_CSS}</style></head>
<body>
<h1>whsim {_e(report.role)} conformance</h1>
<div class="banner {_e(outcome)}" id="outcome"><div class="big">{_e(outcome.upper())}</div>
<div>{_e(report.target)} · {len(report.cases)} cases · seed {report.seed}
{"· strict" if report.strict else ""} · exit code {report.exit_code} ·
{report.duration_s:.1f} s<br>{summary}</div></div>
{"".join(sections)}
<h2>Run</h2>
{f"<ul>{notes}</ul>" if notes else ""}
{_clauses_html(report)}
<details><summary><b>Settings</b> <span class="muted">(target, seed, readings, timing)</span></summary>
<dl class="settings">{settings}</dl></details>
<p class="muted">Outcomes: pass; non-strict = a SHOULD missed or a tolerated reading (a failure
with --strict); fail = a MUST broken; info = recorded only; untestable = cannot be observed
from outside; error = the kit or the network failed. Untestable and error are never a pass.</p>
</body></html>
"""
