"""The trace reader parses with orjson where it can and with json where they differ: the values,
the verdicts and the error messages are json's either way.

orjson refuses lone surrogates (the JSONL format keeps undecodable body bytes as them), NaN and
1e400, and turns integers beyond 64 bits into floats; json keeps all of them. Each test grades or
parses with orjson and again with it switched off (``trace._orjson = None``, json only).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import whsim.conformance.trace as trace
from whsim.conformance.grader import check
from whsim.conformance.trace import load_json, read_jsonl
from whsim.core.errors import TraceError
from whsim.core.signing import sign

pytest.importorskip("orjson")

SECRET = "s3cret"

EDGES = [
    '"\\ud800"',  # a lone high surrogate
    '"\\udc80\\ud800"',  # reversed pair
    '{"x": 123456789012345678901234567890}',  # wider than 64 bits
    '{"x": -9223372036854775809}',  # one below int64
    "[18446744073709551615, 18446744073709551616]",  # uint64 max, one above
    "[NaN, Infinity, -Infinity]",
    "[1e400, -1e400, 1e-400]",
    '{"a": 1, "b": 2, "a": 3}',  # a repeated key: the last value, the first position
    "[-0, -0.0, 0.1, 5e-324, 1.7976931348623157e308]",
    "[" * 950 + "]" * 950,  # deeper than orjson is asked to go
    '{"big": 1.8446744073709552e19}',  # a float that large: json's value either way
]
MALFORMED = ["{", "[1,]", '{"a" 1}', "{} x", '"\x01"', "\ufeff{}", "[01]", "nul"]


def _same(a: object, b: object) -> bool:
    """Equal values of equal types (1 == 1.0 and 0.0 == -0.0 do not count), NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return repr(a) == repr(b) or (math.isnan(a) and math.isnan(b))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)  # type: ignore[attr-defined]
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    return a == b


@pytest.mark.parametrize("text", EDGES)
def test_load_json_gives_jsons_value_on_what_orjson_reads_otherwise(text: str) -> None:
    expected = json.loads(text)
    same = (lambda a, b: repr(a) == repr(b)) if text.startswith("[[[") else _same
    assert same(load_json(text), expected)
    assert same(load_json(text.encode("utf-8", "surrogatepass")), expected)


@pytest.mark.parametrize("text", MALFORMED)
def test_load_json_raises_jsons_error(text: str) -> None:
    with pytest.raises(ValueError) as theirs:
        json.loads(text)
    with pytest.raises(ValueError) as ours:
        load_json(text)
    assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(alphabet=st.characters(codec=None, exclude_categories=())),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_values, st.booleans())
def test_load_json_equals_json_loads_on_generated_documents(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert _same(load_json(text), json.loads(text))
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate written raw: not UTF-8, json refuses it too
        return
    assert _same(load_json(raw), json.loads(raw.decode("utf-8")))


def _lines(tmp: Path) -> Path:
    """A trace whose lines orjson reads differently from json, each also a graded attempt."""
    body = json.dumps(
        {
            "id": "evt_1",
            "type": "proposal.created",
            "timestamp": "2026-01-01T00:00:00Z",
            "data": {"proposal_id": "p\ud800", "title": "t", "n": 10**30},
        }
    )
    raw_body = json.dumps({"id": "evt_2", "type": "x"}).encode() + b"\xff"
    rows: list[dict[str, Any]] = [
        {
            "whsim_trace": 1,
            "source": "edges",
            "time_scale": 10**30,
            "end_ns": 10**10,
            "url": "http://r.example/h",
            "body": "",
            "start_ns": 0,
            "status": 200,
        },
        {
            "url": "http://r.example/a",
            "body": body,
            "start_ns": 0,
            "end_ns": 10**7,
            "status": 500,
            "headers": [
                ["Content-Type", "application/json"],
                ["X-Webhook-Signature", sign(body.encode("utf-8", "surrogatepass"), SECRET)],
            ],
        },
        {
            "url": "http://r.example/a",
            "body": body,
            "start_ns": 1_010_000_000,
            "end_ns": 1_020_000_000,
            "status": 200,
            "extra": -(2**64),
            "float": float("nan"),
        },
        {
            "url": "http://r.example/b",
            "body": raw_body.decode("utf-8", "surrogateescape"),
            "start_ns": 5,
            "end_ns": 6,
            "status": 200,
            "wide": [2**65, 1e400],
        },
    ]
    path = tmp / "edges.jsonl"
    path.write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8", errors="surrogatepass"
    )
    return path


def _verdicts(path: Path, **kw: Any) -> list[tuple[str, str, str, str]]:
    result = check(path, secret=SECRET, **kw)
    return [
        (c.spec.id, str(c.outcome), c.message, json.dumps(c.details, sort_keys=True, default=str))
        for c in result.report.cases
    ]


def test_orjson_and_json_give_equal_attempts_and_verdicts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _lines(tmp_path)
    fast = list(read_jsonl(path))
    fast_verdicts = _verdicts(path)
    monkeypatch.setattr(trace, "_orjson", None)
    slow = list(read_jsonl(path))
    assert [(a, repr(a.doc)) for a in fast] == [(a, repr(a.doc)) for a in slow]
    assert slow[0].doc["data"]["n"] == 10**30 and "\ud800" in slow[0].doc["data"]["proposal_id"]  # type: ignore[index]
    # kept as the format says: the surrogate's own UTF-8 (surrogatepass), not valid JSON text
    assert slow[2].body.endswith("\udcff".encode("utf-8", "surrogatepass")) and slow[2].doc is None
    assert fast_verdicts == _verdicts(path)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('{"url": "http://r/a", "start_ns": 1,', "line 2: not valid JSON (Expecting"),
        (
            '{"url": "http://r/a", "start_ns": NaN, "end_ns": 2, "status": 200}',
            "line 2: field 'start_ns': must be an integer, got nan",
        ),
        (
            '{"url": "http://r/a", "start_ns": 1, "end_ns": 2, "status": 100000000000000000000}',
            "line 2: field 'status': must be an HTTP status 100..599, got 100000000000000000000",
        ),
        (
            '{"url": "http://r/a", "start_ns": 1, "end_ns": 2, "status": 2e2}',
            "line 2: field 'status': must be an integer, got 200.0",
        ),
        ("[" * 5000 + "]" * 5000, "line 2: not valid JSON (nested too deeply)"),
    ],
)
def test_a_malformed_line_gets_the_same_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, words: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"whsim_trace": 1}\n' + line + "\n")
    errors = []
    for parser in (trace._orjson, None):
        monkeypatch.setattr(trace, "_orjson", parser)
        with pytest.raises(TraceError) as caught:
            list(read_jsonl(path))
        errors.append(str(caught.value))
    assert errors[0] == errors[1]
    assert errors[0].startswith(words), errors[0]
