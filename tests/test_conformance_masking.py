"""No report shows a secret: the kit's generated ones, the --secret given, JSON "secret" values."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from whsim.conformance.case import CaseResult, CaseSpec
from whsim.conformance.exchange import Exchange, Request, Response
from whsim.conformance.masking import KIT_SECRET_PREFIX, MASK, Masker
from whsim.conformance.outcomes import Outcome
from whsim.conformance.report import build_report, write_reports

KIT = f"{KIT_SECRET_PREFIX}a1b2c3-7"
GIVEN = "s3cr3t-the-user-gave"


def _results() -> list[CaseResult]:
    body = json.dumps({"url": "http://127.0.0.1:9/h", "events": ["job.completed"], "secret": KIT})
    register = Exchange(
        Request(
            "POST",
            "http://127.0.0.1:8000/api/webhooks",
            (("Content-Type", "application/json"), ("Authorization", "Bearer tok-123456")),
            body.encode(),
        ),
        Response(201, (("content-type", "application/json"),), b'{"id": "wh_1"}', 0.01),
    )
    echoed = Exchange(
        Request("GET", "http://127.0.0.1:8000/api/webhooks/wh_1", (), b""),
        Response(200, (), json.dumps({"id": "wh_1", "secret": "whsim-secret-123"}).encode()),
    )
    return [
        CaseResult(
            CaseSpec("SND-REG-007", "the secret is never echoed", ("REG-7",)),
            Outcome.FAIL,
            f"the answer carries the secret {KIT}",
            expected="no answer carries the secret",
            actual=f"secret {GIVEN} in the body",
            exchanges=[register, echoed],
            details={"registered": {"secret": KIT}, "figures": [f"<svg><text>{KIT}</text></svg>"]},
        )
    ]


def test_no_secret_in_any_report_file(tmp_path: Path) -> None:
    report = build_report(
        "sender", "http://127.0.0.1:8000", _results(), seed=1, strict=False, secrets=[GIVEN]
    )
    paths = write_reports(report, tmp_path)
    for path in paths.values():
        text = path.read_text(encoding="utf-8")
        for secret in (KIT, GIVEN, "whsim-secret-123", "tok-123456"):
            assert secret not in text, f"{secret} in {path.name}"
    data = json.loads(paths["json"].read_text())
    case = data["cases"][0]
    # the exact copy (base64) and the replay agree with the masked text
    raw = base64.b64decode(case["exchanges"][0]["request"]["body_base64"]).decode()
    assert json.loads(raw)["secret"] == MASK
    assert MASK in case["exchanges"][0]["curl"] and "Bearer " + MASK in case["exchanges"][0]["curl"]
    assert case["message"].endswith(MASK) and data["cases"][0]["details"]["registered"] == {
        "secret": MASK
    }


def test_masker_leaves_ordinary_text_and_short_strings_alone() -> None:
    masker = Masker(["abc", GIVEN])
    assert masker.text("abc and a signature sha256=ff") == "abc and a signature sha256=ff"
    assert masker.text(f"x{GIVEN}y") == f"x{MASK}y"
    assert masker.data(b'{"secret":"q\\"x","n":1}') == ('{"secret":"' + MASK + '","n":1}').encode()
    assert masker.data(b"\xff" + KIT.encode()) == b"\xff" + MASK.encode()


def test_a_failure_prints_short_lines_and_no_secret() -> None:
    import pytest

    from whsim.conformance.case import LINE_LIMIT, Case

    case = Case(CaseSpec("SND-REG-007", "the secret is never echoed", ("REG-7",)))
    big = json.dumps({"secret": KIT, "data": "x" * 8_000}).encode()
    ex = case.record(
        Exchange(Request("POST", "http://127.0.0.1:9/api/webhooks", (), big), Response(201))
    )
    with pytest.raises(pytest.fail.Exception) as failed:
        case.fail(f"echoed {KIT}", expected="y" * 9_000, actual="z", primary=ex)
    text = str(failed.value)
    assert KIT not in text and MASK in text
    assert max(map(len, text.splitlines())) <= LINE_LIMIT
    assert "8" in text and "curl line is in the HTML report" in text
