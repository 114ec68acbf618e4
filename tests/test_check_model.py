"""`whsim check --simulate`: recorded attempt times against the model under the same reading.

The two fixtures in tests/data/traces/ were recorded by the kit's listener (answering 500 to
every attempt) from the reference sender at time scale 10, once as shipped and once with the
test-only `wrong-backoff` fault (retries every second of policy time): see `record` in
tests/test_check_recorded.py; the slow test below records both again and checks the same.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import whsim
from whsim import Readings
from whsim.cli import main
from whsim.core.behaviours import Answer, Recorded
from whsim.sim.replay import replay_event

DATA = Path(__file__).parent / "data" / "traces"
REFERENCE = DATA / "reference-always-500.jsonl"
WRONG = DATA / "wrong-backoff-always-500.jsonl"
SECRET = "recorded-secret-0123456789"


def test_recorded_answers_replay_through_the_delivery_rule():
    policy = Readings().retry_policy()
    got = replay_event(Recorded.from_observed([(500, None, 20)] * 5 + [(200, None, 20)]), 0, policy)
    assert [a.sent_ms for a in got.attempts] == [0, 1020, 3040, 7060, 15080, 31100]
    assert got.status == "delivered"
    counts = Readings.parse(["RETRY-1=immediate-counts"]).retry_policy()
    two = Recorded.from_observed([(500, None, 20), (500, None, 20)])
    assert [a.sent_ms for a in replay_event(two, 0, counts).attempts] == [0, 20]
    # past the recording the model names the attempt it expects next, and when
    pending = replay_event(two, 0, policy)
    assert (pending.status, pending.next_ms) == ("pending", 3040)
    # a 410 is not retried (RETRY-2), a timeout lasts as long as it was recorded
    mixed = Recorded.from_observed([(None, "timeout", 900), (None, "connect", 1), (410, None, 3)])
    assert mixed.answers[0] == Answer("hang", latency_ms=900)
    assert [a.sent_ms for a in replay_event(mixed, 0, policy).attempts] == [0, 1900, 3901]
    assert replay_event(mixed, 0, policy).status == "rejected"


def test_the_reference_senders_trace_stays_within_the_band():
    result = whsim.check(REFERENCE, secret=SECRET, simulate=True)
    model = result.model
    assert model is not None and model["attempts_compared"] == 6
    assert model["within_band"] == 6 and model["unpredicted"] == model["missing"] == 0
    largest = model["largest"]
    low, high = largest["band_s"]
    assert low <= largest["observed_s"] <= high
    assert model["largest_deviation_s"] < 0.5  # seconds of trace time, at time scale 10
    assert result.outcomes["CHK-MODEL-001"] == "info"


def test_a_wrong_backoff_is_far_from_the_model_and_named():
    result = whsim.check(WRONG, secret=SECRET, simulate=True)
    model = result.model
    assert model is not None
    largest = model["largest"]
    assert model["largest_deviation_s"] > 2.0  # 0.5 s observed where 3.1 s was predicted
    assert largest["attempt"] == 6 and largest["event"].startswith("evt_")
    assert not largest["within_band"] and model["within_band"] < model["attempts_compared"]
    message = next(r for r in result.report.cases if r.spec.id == "CHK-MODEL-001").message
    assert largest["event"] in message and "attempt 6" in message


def test_the_cli_prints_the_deviation_and_the_reports_carry_it(tmp_path, capsys):
    code = main(["check", str(WRONG), "--secret", SECRET, "--simulate", "--report", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1  # CHK-RETRY-001 fails; the model case is information
    line = next(x for x in out.splitlines() if x.startswith("model: "))
    assert "largest deviation -2." in line and "attempt 6" in line
    doc = json.loads((tmp_path / "report.json").read_text())
    case = next(c for c in doc["cases"] if c["id"] == "CHK-MODEL-001")
    assert case["details"]["model"]["largest"]["attempt"] == 6
    page = (tmp_path / "index.html").read_text()
    assert "the trace against the model" in page and "<svg" in page


def test_without_simulate_there_is_no_model_case():
    result = whsim.check(REFERENCE, secret=SECRET)
    assert result.model is None and "CHK-MODEL-001" not in result.outcomes


def test_matplotlib_is_imported_only_to_draw_a_report(tmp_path):
    code = (
        "import sys, whsim\n"
        f"whsim.check({str(REFERENCE)!r}, simulate=True)\n"
        "assert 'matplotlib' not in sys.modules, 'imported without a report'\n"
        f"whsim.check({str(REFERENCE)!r}, simulate=True, report_dir={str(tmp_path)!r})\n"
        "assert 'matplotlib' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.slow
def test_live_recordings_of_the_reference_and_a_wrong_backoff(tmp_path):
    # about 12 s: the two recordings the fixtures came from, made again
    from test_check_recorded import SECRET as LIVE_SECRET
    from test_check_recorded import record

    from whsim.conformance.listener import always

    good = record(tmp_path / "ref", frozenset(), always(500), 5.0)
    bad = record(tmp_path / "wb", frozenset({"wrong-backoff"}), always(500), 5.0)
    ref = whsim.check(good, secret=LIVE_SECRET, simulate=True, time_scale=10).model
    wrong = whsim.check(bad, secret=LIVE_SECRET, simulate=True, time_scale=10).model
    assert ref is not None and wrong is not None
    assert ref["within_band"] == ref["attempts_compared"] == 6, ref["largest"]
    assert wrong["largest_deviation_s"] > 2.0 and not wrong["largest"]["within_band"]


def test_the_model_follows_the_reading_graded_under():
    def sixth(readings):
        model = whsim.check(REFERENCE, secret=SECRET, readings=readings, simulate=True).model
        assert model is not None
        return next(a["predicted_s"] for a in model["attempts"] if a["attempt"] == 6)

    # 1+2+4+8+16 s of policy time at time scale 10, against 0+1+2+4+8 s (plus the answers' time)
    assert 3.1 <= sixth(Readings()) < 3.3
    assert 1.5 <= sixth(Readings.parse(["RETRY-1=immediate-counts"])) < 1.7
