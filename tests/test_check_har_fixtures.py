"""`whsim check` on real mitmproxy HAR exports (``tests/fixtures/mitmproxy-*.har``).

The fixtures are mitmdump's own ``hardump`` output, recorded in reverse-proxy mode between the
reference sender (or a test-only broken one) and the reference receiver, which fails each event
twice; ``tests/fixtures/record_har.py`` recorded them and says how to re-record. The reference
recording passes with its secret; each broken one fails on the clause its fault breaks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from whsim.conformance.grader import check
from whsim.conformance.trace import har_error_kind, read_har

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "har-fixture-secret-Q7x2-Lemur"  # record_har.SECRET


def _har(name: str) -> Path:
    return FIXTURES / f"mitmproxy-{name}.har"


def test_the_fixtures_are_mitmproxy_exports() -> None:
    doc = json.loads(_har("reference").read_text(encoding="utf-8"))
    assert doc["log"]["creator"]["name"] == "mitmproxy"
    entry = doc["log"]["entries"][1]
    assert {"connect", "send", "wait", "receive"} <= set(entry["timings"])
    assert entry["startedDateTime"].endswith("+00:00")  # microseconds, an offset, no Z
    attempts = list(read_har(_har("reference")))
    # the challenge, then two events failed twice and delivered, then the closing event's three
    assert [a.status for a in attempts].count(500) == 6
    assert any(a.start_ns % 1_000_000 for a in attempts), "microseconds were rounded away"
    assert any("Café roadmap ✓".encode() in a.body for a in attempts)


def test_reference_recording_passes_with_its_secret() -> None:
    result = check(_har("reference"), secret=SECRET)
    got = result.outcomes
    assert result.exit_code == 0, (result.summary_line(), got)
    for case in ("CHK-SIG-001", "CHK-RETRY-001", "CHK-RETRY-003", "CHK-RETRY-004"):
        assert got[case] == "pass", (case, got)
    fit = next(r for r in result.report.cases if r.spec.id == "CHK-RETRY-002")
    assert fit.message.startswith("best fit: backoff-only"), fit.message


def test_reference_recording_without_or_with_another_secret() -> None:
    assert check(_har("reference")).outcomes["CHK-SIG-001"] == "untestable"
    other = check(_har("reference"), secret=SECRET + "-not")
    assert other.outcomes["CHK-SIG-001"] == "fail"
    assert other.diagnosis[0]["code"] == "wrong-secret"


@pytest.mark.parametrize(
    ("name", "case", "code"),
    [("wrong-secret", "CHK-SIG-001", "wrong-secret"), ("no-retry", "CHK-RETRY-003", "no-retry")],
)
def test_broken_recordings_fail_on_their_clause(name: str, case: str, code: str) -> None:
    result = check(_har(name), secret=SECRET)
    assert result.exit_code == 1
    assert result.outcomes[case] == "fail", result.outcomes
    assert result.diagnosis[0]["code"] == code, result.diagnosis


def _entry(post: dict[str, str], response: dict[str, object]) -> dict[str, object]:
    return {
        "startedDateTime": "2026-01-01T00:00:00.123456+00:00",
        "time": 2.5,
        "request": {"method": "POST", "url": "http://h.example/w", "headers": [], "postData": post},
        "response": response,
    }


def test_har_text_is_encoded_back_with_its_charset_and_escaped_bytes(tmp_path: Path) -> None:
    raw = b'{"t":"\xe9\xff"}'  # latin-1 é, and a byte that is no UTF-8
    entries = [
        _entry(
            {"mimeType": "application/json; charset=latin-1", "text": '{"t":"é"}'}, {"status": 200}
        ),
        # mitmproxy keeps undecodable bytes as lone surrogates (surrogateescape)
        _entry(
            {"mimeType": "application/json", "text": raw.decode("utf-8", "surrogateescape")},
            {"status": 200},
        ),
        _entry({"text": "{}"}, {"status": 0, "_error": "Client disconnected."}),
    ]
    har = tmp_path / "t.har"
    har.write_text(json.dumps({"log": {"entries": entries}}))
    a, b, c = read_har(har)
    assert a.body == '{"t":"é"}'.encode("latin-1")
    assert b.body == raw
    assert (c.status, c.error) == (None, "reset")
    assert a.start_ns == 1_767_225_600_123_456_000 and a.end_ns - a.start_ns == 2_500_000
    assert a.wall_ms == 1_767_225_600_123


def test_har_error_kinds() -> None:
    assert har_error_kind("Client disconnected.") == "reset"
    assert har_error_kind("Server disconnected.") == "reset"
    assert har_error_kind("[Errno 111] Connection refused") == "connect"
    assert har_error_kind("net::ERR_TIMED_OUT") == "timeout"
    assert har_error_kind("net::ERR_NAME_NOT_RESOLVED") == "dns"
    assert har_error_kind("") == "connect"
