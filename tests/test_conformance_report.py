"""Report writers: report.json fields and diagnosis, schema-valid JUnit, an HTML page that renders."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from whsim.conformance.case import CaseResult, CaseSpec
from whsim.conformance.exchange import Exchange, Request, Response
from whsim.conformance.outcomes import Outcome
from whsim.conformance.report import build_report, write_reports

EVIL = '</pre><script>alert("x")</script>\xff'


def _report(where: Path, strict: bool = False) -> Path:
    request = Request(
        "POST",
        "http://127.0.0.1:9/webhook",
        (("X-Webhook-Signature", "ab"),),
        EVIL.encode("utf-8") + b"\xfe",
    )
    ex = Exchange(request, Response(500, (("content-type", "text/plain"),), b"<b>boom</b>", 0.012))
    results = [
        CaseResult(
            CaseSpec("RCV-SIG-002", "missing header", ("SIG-2", "CODES-3")),
            Outcome.FAIL,
            "500 instead of 401",
            "401",
            "500",
            [ex],
        ),
        CaseResult(
            CaseSpec("RCV-TIMEOUT-001", "burst", ("TIMEOUT-1",)),
            Outcome.NON_STRICT,
            "slow",
            details={"p50_ms": 1.0, "figures": ["<svg width='10' height='10'></svg>"]},
        ),
        CaseResult(
            CaseSpec("RCV-SIG-009", "constant time", ("SIG-4",)),
            Outcome.UNTESTABLE,
            "cannot observe",
        ),
        CaseResult(
            CaseSpec("RCV-VERIFY-001", "echo", ("VERIFY-2",)),
            Outcome.PASS,
            "echoed",
            exchanges=[ex],
        ),
        CaseResult(
            CaseSpec("RCV-GEN-001", "generated", ("CODES-1",)),
            Outcome.ERROR,
            "kit error: boom",
        ),
        CaseResult(
            CaseSpec("RCV-RAW-001", "raw", ("SIG-3",), needs=("RCV-SIG-001",)),
            Outcome.UNTESTABLE,
            "blocked by RCV-SIG-001 (a correctly signed valid event gets 2xx): fail: 401",
        ),
    ]
    out = where / ("strict" if strict else "plain")
    write_reports(
        build_report("receiver", "http://127.0.0.1:9/webhook", results, seed=42, strict=strict), out
    )
    return out


def test_report_json_has_the_promised_fields(tmp_path: Path) -> None:
    doc = json.loads((_report(tmp_path) / "report.json").read_text())
    assert {"target", "role", "kit_version", "seed", "outcome", "cases"} <= set(doc)
    assert (doc["role"], doc["seed"], doc["outcome"], doc["exit_code"]) == (
        "receiver",
        42,
        "fail",
        1,
    )
    case = doc["cases"][0]
    assert {"id", "clauses", "level", "outcome", "message", "request", "response"} <= set(case)
    assert case["response"]["status"] == 500 and case["request"]["body_base64"]
    assert case["curl"].startswith("curl ")
    sig4 = next(c for c in doc["clauses"] if c["id"] == "SIG-4")
    assert sig4["cases"] == ["RCV-SIG-009"] and sig4["outcomes"] == ["untestable"]


SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "junit-10.xsd"


def _schema() -> Any:
    xmlschema = pytest.importorskip("xmlschema")
    path = SCHEMA if SCHEMA.exists() else Path("/work/shared/schemas/junit-10.xsd")
    if not path.exists():
        pytest.skip("shared/schemas/junit-10.xsd is not beside the checkout")
    return xmlschema.XMLSchema(str(path))


def test_junit_is_valid_against_the_strict_xunit_schema(tmp_path: Path) -> None:
    schema = _schema()
    for strict, failures in ((False, "1"), (True, "2")):
        path = _report(tmp_path, strict) / "junit.xml"
        schema.validate(str(path))  # raises with the offending element when invalid
        suite = ET.parse(path).getroot()
        assert suite.get("failures") == failures and suite.get("errors") == "1"
        first = suite.find("testcase")
        assert first is not None and first.get("name", "").startswith("RCV-SIG-002 ")
        out = first.findtext("system-out") or ""
        assert "clauses: SIG-2 CODES-3" in out and "level: MUST" in out and "outcome: fail" in out
        assert first.find("failure") is not None
        error = next(t for t in suite.iter("testcase") if t.get("name", "").startswith("RCV-GEN"))
        failure = error.find("failure")
        assert failure is not None and failure.get("type") == "error"
        blocked = next(t for t in suite.iter("testcase") if t.get("name", "").startswith("RCV-RAW"))
        skipped = blocked.find("skipped")
        assert skipped is not None and "blocked by RCV-SIG-001" in skipped.get("message", "")


def test_report_json_carries_the_diagnosis(tmp_path: Path) -> None:
    from whsim.conformance.diagnosis import Finding

    report = build_report("receiver", "http://x/webhook", [], seed=1, strict=False)
    report.diagnosis.append(Finding("wrong-secret", "every signed request got 401").as_dict())
    write_reports(report, tmp_path)
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["diagnosis"][0]["code"] == "wrong-secret"
    assert "wrong-secret" in (tmp_path / "index.html").read_text()
    with pytest.raises(ValueError, match="unknown diagnosis"):
        Finding("no-such-cause", "x")


def test_html_escapes_every_byte_it_shows(tmp_path: Path) -> None:
    page = (_report(tmp_path) / "index.html").read_text()
    assert "<script>" not in page and "&lt;/pre&gt;&lt;script&gt;" in page
    assert "<svg width='10'" in page  # kit-drawn figures go in as they are
    assert "http" in page and 'id="outcome"' in page and "FAIL" in page


def _chromium() -> str | None:
    return next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
    )


@pytest.mark.skipif(
    _chromium() is None, reason="headless Chromium is not installed (Debian package: chromium)"
)
def test_index_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = _report(tmp_path) / "index.html"
    browser = [
        str(_chromium()),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [*browser, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=90
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'class="banner fail"' in dom.stdout and "RCV-SIG-002" in dom.stdout
    assert "<script>alert" not in dom.stdout
    shot = tmp_path / "page.png"
    subprocess.run(
        [*browser, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
        capture_output=True,
        timeout=90,
    )
    assert shot.stat().st_size > 10_000
