"""Reading recorded traces: HAR 1.2, JSONL and DataFrames give the same attempts; bad input is
one clear error naming the line or entry and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from whsim.cli import main
from whsim.conformance.grader import check
from whsim.conformance.trace import from_frame, read_har, read_jsonl, to_frame
from whsim.core.errors import TraceError
from whsim.core.signing import sign
from whsim.core.spec.events import make_event

SECRET = "s3cret"
EVENT = make_event(
    "job.completed",
    {"job_id": "job_1", "proposal_id": "p_1", "document_id": "d_1", "status": "completed"},
    id="evt_1",
    timestamp_ms=1_767_225_600_000,
)


def _row(start_s: float, status: int, signature: str | None = None) -> dict[str, object]:
    return {
        "url": "http://r.example/hook",
        "headers": [
            ["content-type", "application/json"],
            ["x-webhook-signature", signature or sign(EVENT.body, SECRET)],
        ],
        "body": EVENT.body.decode(),
        "start_ns": int(start_s * 1e9),
        "end_ns": int((start_s + 0.01) * 1e9),
        "status": status,
    }


def _jsonl(tmp: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


SCHEDULE = [(0.0, 500), (1.01, 500), (3.02, 200)]  # backoff-only: 1 s, then 2 s after each end


def test_a_correct_schedule_passes_and_headers_match_case_insensitively(tmp_path: Path) -> None:
    result = check(_jsonl(tmp_path, [_row(t, s) for t, s in SCHEDULE]), secret=SECRET)
    assert result.exit_code == 0, result.outcomes
    assert result.outcomes["CHK-SIG-001"] == result.outcomes["CHK-RETRY-001"] == "pass"


def test_uppercase_hex_and_prefix_fail_with_a_diagnosis(tmp_path: Path) -> None:
    upper = sign(EVENT.body, SECRET).upper()
    result = check(_jsonl(tmp_path, [_row(0, 200, upper)]), secret=SECRET)
    assert result.outcomes["CHK-SIG-001"] == "fail"
    assert result.diagnosis[0]["code"] == "header-format"
    wrong = check(_jsonl(tmp_path, [_row(0, 200)]), secret="another")
    assert wrong.diagnosis[0]["code"] == "wrong-secret"


def test_an_early_retry_fails_and_the_fitting_reading_is_named(tmp_path: Path) -> None:
    rows = [_row(t, s) for t, s in [(0.0, 500), (0.02, 500), (1.03, 200)]]  # immediate, then 1 s
    result = check(_jsonl(tmp_path, rows), secret=SECRET)
    assert result.outcomes["CHK-RETRY-001"] == "fail"
    assert (
        "immediate" in next(r for r in result.report.cases if r.spec.id == "CHK-RETRY-002").message
    )
    chosen = check(_jsonl(tmp_path, rows), secret=SECRET, readings=["RETRY-1=immediate-counts"])
    assert chosen.outcomes["CHK-RETRY-001"] == "pass"


def test_har_and_frame_give_the_same_verdicts(tmp_path: Path) -> None:
    entries = []
    for t, status in SCHEDULE:
        row = _row(t, status)
        entries.append(
            {
                "startedDateTime": f"2026-01-01T00:00:{t:06.3f}+00:00",
                "time": 10,
                "request": {
                    "method": "POST",
                    "url": row["url"],
                    "headers": [{"name": k, "value": v} for k, v in row["headers"]],  # type: ignore[attr-defined]
                    "postData": {"mimeType": "application/json", "text": row["body"]},
                },
                "response": {"status": status, "headers": [], "content": {"size": 0}},
            }
        )
    har = tmp_path / "t.har"
    har.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}))
    assert [a.status for a in read_har(har)] == [500, 500, 200]
    by_har = check(har, secret=SECRET)
    frame = to_frame(read_jsonl(_jsonl(tmp_path, [_row(t, s) for t, s in SCHEDULE])))
    by_frame = check(frame, secret=SECRET)
    assert by_har.outcomes["CHK-RETRY-001"] == by_frame.outcomes["CHK-RETRY-001"] == "pass"
    assert by_har.outcomes["CHK-EXPIRY-001"] == "pass"  # HAR carries wall-clock starts
    assert len(list(from_frame(frame))) == 3


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("{not json", "line 1: not valid JSON"),
        ('{"url": "http://x/"}', "line 1: field 'start_ns': is missing"),
        ('{"url": "http://x/", "start_ns": "a", "end_ns": 1, "status": 200}', "'start_ns'"),
        ('{"url": "http://x/", "start_ns": 1, "end_ns": 2}', "needs a status or an error"),
        (
            '{"url": "http://x/", "start_ns": 1, "end_ns": 2, "status": 200, "body_base64": "%"}',
            "base64",
        ),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_lines_name_the_line_and_field(tmp_path: Path, line: str, words: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(TraceError, match=words.replace("(", r"\(")):
        check(path)


def test_the_cli_prints_one_line_for_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(_row(0, 200)) + "\n" + '{"url": 3}\n')
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "line 2" in err and "'url'" in err
    good = _jsonl(tmp_path, [_row(t, s) for t, s in SCHEDULE])
    assert main(["check", str(good), "--secret", SECRET, "--report", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("whsim check: ") and (tmp_path / "r" / "report.json").exists()


def _job_row(
    event_type: str, ts_ms: int, start_s: float, data: dict[str, object]
) -> dict[str, object]:
    event = make_event(
        event_type, {"job_id": "job_9", **data}, id=f"evt_{event_type}", timestamp_ms=ts_ms
    )
    return {
        "url": "http://r.example/hook",
        "headers": [
            ["content-type", "application/json"],
            ["x-webhook-signature", sign(event.body, SECRET)],
        ],
        "body": event.body.decode(),
        "start_ns": int(start_s * 1e9),
        "end_ns": int((start_s + 0.01) * 1e9),
        "status": 200,
    }


_PROGRESS = {"progress": {"completed": 1, "total": 2, "percentage": 50}}
_DONE = {"proposal_id": "p_9", "document_id": "d_9", "status": "completed"}


@pytest.mark.parametrize(
    ("progress_ts", "outcome"),
    [(999, "pass"), (1_001, "non-strict")],  # emitted 1 ms before / after job.completed
)
def test_progress_after_the_terminal_event_is_judged_by_when_it_was_emitted(
    tmp_path: Path, progress_ts: int, outcome: str
) -> None:
    """A progress emitted before job.completed that arrives after it (deliveries overtake each
    other, EVENT-12) is an ordering note, not THROTTLE-3; one emitted after it breaks THROTTLE-3
    (the reference sender's own trace was graded non-strict before, on arrival order)."""
    t0 = 1_767_225_600_000
    rows = [
        _job_row("job.completed", t0 + 1_000, 0.0, _DONE),
        _job_row("job.progress", t0 + progress_ts, 0.05, _PROGRESS),  # arrives second
    ]
    result = check(_jsonl(tmp_path, rows), secret=SECRET)
    assert result.outcomes["CHK-THROTTLE-002"] == outcome, result.outcomes
    assert result.outcomes["CHK-ORDER-001"] == "info"  # arrived out of lifecycle order either way
