"""The receiver suite, tested: it passes the reference receiver and fails each broken one for
exactly the cases of its fault (run in-process: uvicorn in a thread on a free loopback port)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from broken_receivers import FAULTS, good, guide_example

from whsim.conformance.runner import run
from whsim.core.spec.clauses import clause
from whsim.receiver import ReceiverStore, ServerThread, create_app

SECRET = "s3cret-for-tests"
VERIFY = {f"RCV-VERIFY-00{n}" for n in range(1, 6)}
RAW = {f"RCV-RAW-00{n}" for n in range(1, 7)}
SIG_NEGATIVE = {f"RCV-SIG-00{n}" for n in range(2, 9)}
INFO_OR_UNTESTABLE = {"RCV-VERIFY-006", "RCV-SIG-009", "RCV-SIG-010", "RCV-EVENT-001"}


def run_suite(
    app: Any, tmp_path: Path, *, strict: bool = False, keyword: str | None = None
) -> dict[str, Any]:
    out = tmp_path / "report"
    with ServerThread(app) as base:
        code = run(
            "receiver",
            f"{base}/webhook",
            secret=SECRET,
            report_dir=out,
            strict=strict,
            seed=20240115,
            keyword=keyword,
            quiet=True,
        )
    report: dict[str, Any] = json.loads((out / "report.json").read_text())
    assert report["exit_code"] == code
    return report


def failing(report: dict[str, Any]) -> set[str]:
    """Case ids that count as failures (non-strict ones too under strict mode)."""
    bad = {"fail", "non-strict"} if report["strict"] else {"fail"}
    return {c["id"] for c in report["cases"] if c["outcome"] in bad}


@pytest.mark.slow
def test_reference_receiver_passes(tmp_path: Path) -> None:
    report = run_suite(create_app(SECRET, store=ReceiverStore()), tmp_path, strict=True)
    outcomes = {c["id"]: c["outcome"] for c in report["cases"]}
    assert report["exit_code"] == 0 and report["outcome"] == "pass", outcomes
    assert {i for i, o in outcomes.items() if o not in ("pass", "info", "untestable")} == set()
    assert {i for i, o in outcomes.items() if o == "untestable"} == {
        "RCV-SIG-009",
        "RCV-SIG-010",
        "RCV-EVENT-001",
    }
    # Every receiver clause appears in the report: graded by a case, or untestable with a reason.
    by_id = {c["id"]: c for c in report["cases"]}
    for row in report["clauses"]:
        assert row["cases"], row["id"]
        if "receiver-suite" not in clause(row["id"]).checked_by:
            assert row["outcomes"] == ["untestable"] and by_id[row["cases"][0]]["message"], row[
                "id"
            ]
    assert (
        report["readings"]["CODES-5"] == "accept" and report["readings"]["VERIFY-2"] == "json-echo"
    )
    junit = ET.parse(tmp_path / "report" / "junit.xml").getroot()
    assert len(junit.findall("testcase")) == len(report["cases"]) and junit.get("failures") == "0"


EXPECTED_FAILURES: dict[str, set[str]] = {
    "no-challenge-echo": VERIFY,
    "accepts-bad-signatures": SIG_NEGATIVE,
    "reserialized-json": RAW | {"RCV-GEN-001"},
    "500-on-missing-header": {"RCV-SIG-002"},
    "500-on-duplicate": {"RCV-IDEM-001", "RCV-IDEM-002"},
    "500-on-bad-data": {
        "RCV-CODES-001",
        "RCV-CODES-002",
        "RCV-CODES-003",
        "RCV-GEN-002",
        "RCV-IDEM-003",
    },
    "sha256-prefix": VERIFY | RAW | {"RCV-SIG-001", "RCV-GEN-001", "RCV-IDEM-001", "RCV-IDEM-002"},
}


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(EXPECTED_FAILURES))
def test_broken_receiver_fails_its_cases(fault: str, tmp_path: Path) -> None:
    report = run_suite(good(SECRET, fault), tmp_path)
    assert report["exit_code"] == 1
    assert failing(report) == EXPECTED_FAILURES[fault]


@pytest.mark.slow
def test_slow_receiver_is_non_strict(tmp_path: Path) -> None:
    report = run_suite(good(SECRET, "slow"), tmp_path, strict=True)
    assert failing(report) == {"RCV-TIMEOUT-001"}
    timeout = next(c for c in report["cases"] if c["id"] == "RCV-TIMEOUT-001")
    assert timeout["outcome"] == "non-strict" and timeout["details"]["p95_ms"] > 5000
    assert report["exit_code"] == 1  # strict; without --strict the same results exit 0


@pytest.mark.slow
def test_guide_example_as_written_fails_everything_it_touches(tmp_path: Path) -> None:
    report = run_suite(guide_example(SECRET), tmp_path)
    every = {c["id"] for c in report["cases"]}
    assert failing(report) == every - INFO_OR_UNTESTABLE - {"RCV-TIMEOUT-001"}
    missing = next(c for c in report["cases"] if c["id"] == "RCV-SIG-002")
    assert missing["response"]["status"] == 500 and "SIG-5" in missing["clauses"]


@pytest.mark.slow
def test_guide_example_with_encode_fixed_still_crashes_on_a_missing_header(tmp_path: Path) -> None:
    report = run_suite(guide_example(SECRET, encode_fixed=True), tmp_path)
    assert failing(report) == VERIFY | {"RCV-SIG-002"}


def test_every_fault_has_expectations() -> None:
    assert set(FAULTS) == set(EXPECTED_FAILURES) | {"slow"}
