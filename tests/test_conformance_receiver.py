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
SIG_NEGATIVE = {f"RCV-SIG-00{n}" for n in range(2, 9)} | {
    "RCV-SIG-011"
}  # 011: wrong digest in uppercase
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
    xmlschema = pytest.importorskip("xmlschema")
    xsd = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "junit-10.xsd"
    xsd = xsd if xsd.exists() else Path("/work/shared/schemas/junit-10.xsd")
    if xsd.exists():
        xmlschema.XMLSchema(str(xsd)).validate(str(tmp_path / "report" / "junit.xml"))
    # Against the reference receiver the whole suite takes well under 10 s.
    assert report["duration_s"] < 10, report["duration_s"]


def by_outcome(report: dict[str, Any], outcome: str) -> set[str]:
    """Case ids with ``outcome``; "blocked" is untestable with a blocked-by reason."""
    out = set()
    for c in report["cases"]:
        blocked = c["outcome"] == "untestable" and c["message"].startswith("blocked by ")
        if (outcome == "blocked" and blocked) or (outcome == c["outcome"] and not blocked):
            out.add(c["id"])
    return out


def diagnosis(report: dict[str, Any]) -> list[str]:
    return [d["code"] for d in report["diagnosis"]]


SIGNED_DEPENDENTS = RAW | {
    "RCV-CODES-001",
    "RCV-CODES-002",
    "RCV-CODES-003",
    "RCV-CODES-004",
    "RCV-GEN-001",
    "RCV-GEN-002",
    "RCV-IDEM-001",
    "RCV-IDEM-002",
    "RCV-IDEM-003",
}
ECHO_DEPENDENTS = VERIFY - {"RCV-VERIFY-001"}
BAD_DATA = {"RCV-CODES-001", "RCV-CODES-002", "RCV-CODES-003", "RCV-GEN-002"}

# fault -> (failing cases, blocked cases, diagnosis codes)
EXPECTED: dict[str, tuple[set[str], set[str], list[str]]] = {
    "no-challenge-echo": ({"RCV-VERIFY-001"}, ECHO_DEPENDENTS, []),
    "accepts-bad-signatures": (SIG_NEGATIVE, set(), []),
    "reserialized-json": (RAW | {"RCV-GEN-001"}, set(), ["body-reserialized"]),
    "500-on-missing-header": ({"RCV-SIG-002"}, set(), []),
    "500-on-duplicate": ({"RCV-IDEM-001", "RCV-IDEM-002"}, set(), []),
    # A 5xx for bad data misses CODES-2, a SHOULD: non-strict, not a failure.
    "500-on-bad-data": (set(), set(), []),
    # The receiver needs the prefix, so the guide's bare-hex deliveries are refused: SIG-001
    # fails, the cases that need an accepted event are blocked by it, the diagnosis says why.
    "sha256-prefix": (
        {"RCV-SIG-001", "RCV-VERIFY-001"},
        SIGNED_DEPENDENTS | ECHO_DEPENDENTS,
        ["header-format"],
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_broken_receiver_fails_its_cases(fault: str, tmp_path: Path) -> None:
    report = run_suite(good(SECRET, fault), tmp_path)
    fails, blocked, codes = EXPECTED[fault]
    assert failing(report) == fails, by_outcome(report, "non-strict")
    assert by_outcome(report, "blocked") == blocked
    assert diagnosis(report) == codes
    assert report["exit_code"] == (1 if fails else 0)


@pytest.mark.slow
def test_bad_data_answered_500_is_non_strict_and_fails_under_strict(tmp_path: Path) -> None:
    report = run_suite(good(SECRET, "500-on-bad-data"), tmp_path, strict=True)
    assert failing(report) == BAD_DATA
    junit = ET.parse(tmp_path / "report" / "junit.xml").getroot()
    names = {
        t.get("name", "").split()[0]
        for t in junit.iter("testcase")
        if t.find("failure") is not None
    }
    assert names == BAD_DATA


@pytest.mark.slow
def test_wrong_secret_is_diagnosed_and_blocks_instead_of_failing(tmp_path: Path) -> None:
    out = tmp_path / "report"
    with ServerThread(create_app(SECRET, store=ReceiverStore())) as base:
        code = run(
            "receiver", f"{base}/webhook", secret="not-" + SECRET, report_dir=out, quiet=True
        )
    report = json.loads((out / "report.json").read_text())
    assert code == 1 and failing(report) == {"RCV-SIG-001", "RCV-VERIFY-001"}
    assert by_outcome(report, "blocked") == SIGNED_DEPENDENTS | ECHO_DEPENDENTS
    assert diagnosis(report) == ["wrong-secret"]
    raw = next(c for c in report["cases"] if c["id"] == "RCV-RAW-001")
    assert raw["message"].startswith(
        "blocked by RCV-SIG-001 (a correctly signed valid event gets 2xx)"
    )
    junit = ET.parse(out / "junit.xml").getroot()
    skipped = next(t for t in junit.iter("testcase") if t.get("name", "").startswith("RCV-RAW-001"))
    assert "blocked by RCV-SIG-001" in skipped.find("skipped").get("message", "")  # type: ignore[union-attr]
    page = (out / "index.html").read_text()
    assert page.index("wrong-secret") < page.index('id="clauses"')


@pytest.mark.slow
def test_slow_receiver_is_non_strict(tmp_path: Path) -> None:
    report = run_suite(good(SECRET, "slow"), tmp_path, strict=True)
    assert failing(report) == {"RCV-TIMEOUT-001"}
    timeout = next(c for c in report["cases"] if c["id"] == "RCV-TIMEOUT-001")
    assert timeout["outcome"] == "non-strict" and timeout["details"]["over_5s"] > 0
    assert timeout["details"]["per_event_type"]["job.progress"]["max_ms"] >= 4900
    assert diagnosis(report) == ["slow-receiver"]
    assert report["exit_code"] == 1  # strict; without --strict the same results exit 0


@pytest.mark.slow
def test_guide_example_as_written_fails_on_the_signature_and_blocks_the_rest(
    tmp_path: Path,
) -> None:
    report = run_suite(guide_example(SECRET), tmp_path)
    assert failing(report) == {"RCV-SIG-001", "RCV-VERIFY-001"} | SIG_NEGATIVE | {"RCV-SIG-011"}
    assert by_outcome(report, "blocked") == SIGNED_DEPENDENTS | ECHO_DEPENDENTS
    missing = next(c for c in report["cases"] if c["id"] == "RCV-SIG-002")
    assert missing["response"]["status"] == 500 and "SIG-5" in missing["clauses"]


@pytest.mark.slow
def test_guide_example_with_encode_fixed_still_crashes_on_a_missing_header(tmp_path: Path) -> None:
    report = run_suite(guide_example(SECRET, encode_fixed=True), tmp_path)
    assert failing(report) == {"RCV-VERIFY-001", "RCV-SIG-002"}


def test_every_fault_has_expectations() -> None:
    assert set(FAULTS) == set(EXPECTED) | {"slow"}


def test_kit_lets_go_of_idle_connections_before_servers_close_them():
    """Reusing a keep-alive connection at the instant the server closes it loses the request.

    The kit's expiry stays below whsim's own server idle timeout and gunicorn's 2 s default.
    """
    from whsim_conformance.receiver import target as receiver_target
    from whsim_conformance.sender import target as sender_target

    from whsim.serve import DEFAULT_DEADLINES

    for expiry in (receiver_target.KEEPALIVE_EXPIRY_S, sender_target.KEEPALIVE_EXPIRY_S):
        assert expiry < min(2.0, DEFAULT_DEADLINES.idle_timeout_s)
    client = receiver_target.ReceiverTarget("http://127.0.0.1:9/webhook", "s", 0).client
    try:
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert pool._keepalive_expiry == receiver_target.KEEPALIVE_EXPIRY_S
    finally:
        client.close()
