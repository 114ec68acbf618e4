"""Events: the guide's examples build, bodies are serialized once, bad data names the field."""

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

import whsim
from whsim.core.spec.events import (
    EVENT_TYPES,
    data_schema,
    format_timestamp,
    new_event_id,
    parse_timestamp,
    verification_body,
)

# The data of each example in the guide (job.failed's `// Error details` read as an object).
GUIDE_DATA = {
    "job.created": {"job_id": "job_123", "proposal_id": "prop_123", "status": "pending"},
    "job.started": {"job_id": "job_123", "status": "processing"},
    "job.progress": {
        "job_id": "job_123",
        "progress": {"completed": 5, "total": 10, "percentage": 50},
    },
    "job.completed": {
        "job_id": "job_123",
        "proposal_id": "prop_123",
        "document_id": "doc_123",
        "status": "completed",
    },
    "job.failed": {"job_id": "job_123", "error": "Error message", "error_details": {}},
    "document.created": {"document_id": "doc_123", "proposal_id": "prop_123", "version": 1},
    "proposal.created": {"proposal_id": "prop_123", "title": "AI Research Proposal"},
}
T0 = 1_705_314_600_000  # 2024-01-15T10:30:00Z, the guide's example time


def test_seven_types_in_the_guides_order():
    assert tuple(GUIDE_DATA) == EVENT_TYPES


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_guide_examples_are_valid_and_round_trip(event_type):
    event = whsim.make_event(event_type, GUIDE_DATA[event_type], id="evt_1", timestamp_ms=T0)
    doc = json.loads(event.body)
    assert list(doc) == ["id", "type", "timestamp", "data"]
    assert doc == {
        "id": "evt_1",
        "type": event_type,
        "timestamp": "2024-01-15T10:30:00Z",
        "data": GUIDE_DATA[event_type],
    }
    parsed = whsim.parse_event(event.body)
    assert parsed == event
    assert parsed.body == event.body


@pytest.mark.parametrize(
    ("event_type", "data", "field"),
    [
        ("job.created", {"job_id": "j", "status": "pending"}, "data.proposal_id"),
        ("job.created", {"job_id": "j", "proposal_id": "p", "status": "done"}, "data.status"),
        (
            "job.progress",
            {"job_id": "j", "progress": {"completed": "5", "total": 10, "percentage": 50}},
            "data.progress.completed",
        ),
        (
            "job.progress",
            {"job_id": "j", "progress": {"completed": 11, "total": 10, "percentage": 50}},
            "data.progress.completed",
        ),
        (
            "job.progress",
            {"job_id": "j", "progress": {"completed": 1, "total": 10, "percentage": 101}},
            "data.progress.percentage",
        ),
        (
            "document.created",
            {"document_id": "d", "proposal_id": "p", "version": 0},
            "data.version",
        ),
        (
            "job.failed",
            {"job_id": "j", "error": "e", "error_details": "text"},
            "data.error_details",
        ),
        ("proposal.created", {"proposal_id": "", "title": "t"}, "data.proposal_id"),
    ],
)
def test_bad_data_names_the_field(event_type, data, field):
    with pytest.raises(whsim.EventDataError) as info:
        whsim.make_event(event_type, data, id="evt_1", timestamp_ms=T0)
    assert info.value.field == field
    assert field in str(info.value)


def test_unknown_type_and_bad_envelope_fields():
    with pytest.raises(whsim.EventDataError, match="unknown event type") as info:
        whsim.make_event("job.deleted", {}, id="evt_1", timestamp_ms=T0)
    assert info.value.field == "type"
    with pytest.raises(whsim.EventDataError) as info:
        whsim.make_event("job.started", GUIDE_DATA["job.started"], id="", timestamp_ms=T0)
    assert info.value.field == "id"
    with pytest.raises(whsim.EventDataError) as info:
        whsim.make_event("job.started", GUIDE_DATA["job.started"], id="e", timestamp_ms=-1)
    assert info.value.field == "timestamp"
    with pytest.raises(whsim.EventDataError) as info:
        whsim.make_event("job.started", ["no"], id="e", timestamp_ms=0)  # type: ignore[arg-type]
    assert info.value.field == "data"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"[1, 2]", "body"),
        (b'{"type": "job.started", "timestamp": "2024-01-15T10:30:00Z", "data": {}}', "id"),
        (b'{"id": "e", "type": "job.started", "timestamp": "yesterday", "data": {}}', "timestamp"),
        (
            b'{"id": "e", "type": "job.nope", "timestamp": "2024-01-15T10:30:00Z", "data": {}}',
            "type",
        ),
        (b"\xff\xfe", "body"),
    ],
)
def test_parse_event_errors_name_the_field(body, field):
    with pytest.raises(whsim.EventDataError) as info:
        whsim.parse_event(body)
    assert info.value.field == field


def test_parse_event_can_allow_unknown_types():
    body = b'{"id":"e","type":"job.nope","timestamp":"2024-01-15T10:30:00Z","data":{}}'
    assert whsim.parse_event(body, allow_unknown_type=True).type == "job.nope"


def test_non_ascii_is_sent_as_utf8_not_escaped():
    event = whsim.make_event(
        "proposal.created", {"proposal_id": "p", "title": "Lösung ✓"}, id="evt_1", timestamp_ms=T0
    )
    assert "Lösung ✓".encode() in event.body


@given(st.integers(min_value=0, max_value=4_102_444_800_000))
def test_timestamp_round_trip(ms):
    text = format_timestamp(ms)
    assert text.endswith("Z")
    assert parse_timestamp(text) == ms


def test_timestamp_format():
    assert format_timestamp(T0) == "2024-01-15T10:30:00Z"
    assert format_timestamp(T0 + 5) == "2024-01-15T10:30:00.005Z"
    with pytest.raises(whsim.EventDataError):
        parse_timestamp("2024-01-15T10:30:00+01:00")


def test_event_ids_are_seeded_unique_and_stable():
    a = [new_event_id(random.Random(7)) for _ in range(2)]
    assert a[0] == a[1]
    rng = random.Random(7)
    ids = {new_event_id(rng) for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("evt_") and len(i) == 28 for i in ids)


def test_schemas_are_copies_and_verification_body():
    schema = data_schema("job.started")
    schema["required"].append("x")
    assert "x" not in data_schema("job.started")["required"]
    assert json.loads(verification_body('é"\\')) == {"type": "webhook.verify", "challenge": 'é"\\'}


def test_validating_an_event_does_not_build_the_iri_grammar():
    """The first validation must not pay rfc3987_syntax's grammar build (seconds under load)."""
    import subprocess
    import sys

    code = (
        "import sys, whsim\n"
        "from whsim.core.spec.events import parse_event\n"
        "try:\n"
        "    parse_event(b'{}')\n"
        "except Exception:\n"
        "    pass\n"
        "assert 'jsonschema' in sys.modules, 'the envelope was not validated'\n"
        "print('rfc3987_syntax' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


_TRICKY = [
    True,
    False,
    None,
    0,
    1,
    -1,
    1.0,
    1.5,
    float("nan"),
    float("inf"),
    10**30,
    "",
    "x",
    "\U0001f600" * 1000,
    "\U0001f600" * 1001,
    "x" * 128,
    "x" * 129,
    [],
    {},
    {"a": 1},
]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_the_compiled_fast_path_gives_jsonschemas_verdict(event_type: str) -> None:
    # make_event tries fastjsonschema first: it must never accept what jsonschema refuses.
    from whsim.core.errors import EventDataError
    from whsim.core.spec import events as module
    from whsim.core.spec.events import make_event

    good = {
        "job_id": "job_1",
        "proposal_id": "prop_1",
        "document_id": "doc_1",
        "title": "t",
        "status": {
            "job.created": "pending",
            "job.started": "processing",
            "job.completed": "completed",
        }.get(event_type, "x"),
        "error": "e",
        "error_details": {},
        "version": 1,
        "progress": {"completed": 1, "total": 2, "percentage": 50},
    }
    schema = module.data_schema(event_type)
    base = {k: good[k] for k in schema["required"]}
    cases = [base]
    for key in schema["properties"]:
        for value in _TRICKY:
            cases.append({**base, key: value})
    if event_type == "job.progress":
        for key in ("completed", "total", "percentage"):
            for value in _TRICKY:
                cases.append({**base, "progress": {**good["progress"], key: value}})
    assert module._fast(event_type) is not None  # fastjsonschema is installed: the path runs
    for data in cases:
        refused = any(True for _ in module._validator(event_type).iter_errors(data))
        try:
            make_event(event_type, data, id="evt_1", timestamp_ms=0)
        except EventDataError:
            made = False
        else:
            made = True
        if refused:
            assert not made, data
