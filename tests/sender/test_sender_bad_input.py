"""Bad input gets a clear 4xx in the common error shape, never a 500, on every endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sender_harness import SECRET, LiveSender, assert_error, check_openapi, running_sender


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSender]:
    path = Path(tmp_path_factory.mktemp("bad-input"))
    with running_sender(path, time_scale=20.0) as sender:
        yield sender


@pytest.fixture(scope="module")
def hook_id(live: LiveSender) -> str:
    # No receiver: the handshake fails, which is all these tests need of a webhook.
    response = live.call(
        "POST",
        "/api/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["job.completed"], "secret": SECRET},
    )
    assert response.status_code == 201
    return str(response.json()["id"])


@pytest.fixture(scope="module")
def proposal_id(live: LiveSender) -> str:
    return str(live.proposal()["id"])


GOOD = {"url": "http://127.0.0.1:9/x", "events": ["job.completed"], "secret": SECRET}
BODY_CASES: list[tuple[str, bytes, int, str]] = [
    ("not json", b"{bad", 400, "invalid_json"),
    ("empty", b"", 400, "invalid_json"),
    ("not utf-8", b'{"url": "\xff"}', 400, "invalid_json"),
    ("NaN", b'{"url": NaN}', 400, "invalid_json"),
    ("too deep", b"[" * 20000 + b"]" * 20000, 400, "invalid_json"),
    ("too large", b'{"title": "' + b"x" * 70_000 + b'"}', 413, "body_too_large"),
    ("array", b"[1, 2]", 422, ""),
    ("string", b'"hello"', 422, ""),
    ("null", b"null", 422, ""),
]

WEBHOOK_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("url not a string", {**GOOD, "url": 5}, "invalid_url"),
    ("ftp url", {**GOOD, "url": "ftp://example.com/x"}, "invalid_url"),
    ("url with a space", {**GOOD, "url": "http://exa mple.com/"}, "invalid_url"),
    ("url with credentials", {**GOOD, "url": "http://u:p@example.com/"}, "invalid_url"),
    ("url without a host", {**GOOD, "url": "http:///path"}, "invalid_url"),
    ("events a string", {**GOOD, "events": "job.completed"}, "invalid_request"),
    ("events empty", {**GOOD, "events": []}, "invalid_request"),
    ("unknown event type", {**GOOD, "events": ["job.exploded"]}, "unknown_event_type"),
    ("event type not a string", {**GOOD, "events": [1]}, "invalid_request"),
    ("test type not subscribable", {**GOOD, "events": ["webhook.test"]}, "unknown_event_type"),
    ("secret a number", {**GOOD, "secret": 12345678}, "invalid_request"),
    ("secret too short", {**GOOD, "secret": "short"}, "invalid_request"),
    ("secret with a newline", {**GOOD, "secret": "abcd\nefgh"}, "invalid_text"),
    ("missing url", {"events": ["job.completed"], "secret": SECRET}, "missing_field"),
    ("unknown field", {**GOOD, "active": True}, "invalid_request"),
]


@pytest.mark.parametrize(
    ("name", "raw", "status", "code"), BODY_CASES, ids=[c[0] for c in BODY_CASES]
)
@pytest.mark.parametrize("path", ["/api/webhooks", "/api/proposals", "/api/jobs", "PUT"])
def test_bodies_that_are_not_a_json_object(
    live: LiveSender, hook_id: str, path: str, name: str, raw: bytes, status: int, code: str
) -> None:
    method, target = ("PUT", f"/api/webhooks/{hook_id}") if path == "PUT" else ("POST", path)
    response = live.call(method, target, content=raw, headers={"Content-Type": "application/json"})
    assert_error(response, status, code or None)
    template = "/api/webhooks/{webhook_id}" if path == "PUT" else path
    check_openapi(method, template, response)


@pytest.mark.parametrize(("name", "body", "code"), WEBHOOK_CASES, ids=[c[0] for c in WEBHOOK_CASES])
def test_registrations_that_break_the_rules(
    live: LiveSender, name: str, body: dict[str, Any], code: str
) -> None:
    response = live.call("POST", "/api/webhooks", json=body)
    assert_error(response, 422, code)
    assert response.json()["error"]["details"]["field"]
    check_openapi("POST", "/api/webhooks", response)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "missing_field"),
        ({"url": "gopher://x"}, "invalid_url"),
        ({"events": ["nope"]}, "unknown_event_type"),
        ({"secret": None}, "invalid_request"),
        ({"status": "active"}, "invalid_request"),
    ],
)
def test_updates_that_break_the_rules(
    live: LiveSender, hook_id: str, body: dict[str, Any], code: str
) -> None:
    response = live.call("PUT", f"/api/webhooks/{hook_id}", json=body)
    assert_error(response, 422, code)
    check_openapi("PUT", "/api/webhooks/{webhook_id}", response)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": 5},
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 1001},
        {"title": "ok", "extra": 1},
    ],
)
def test_proposals_that_break_the_rules(live: LiveSender, body: dict[str, Any]) -> None:
    response = live.call("POST", "/api/proposals", json=body)
    assert_error(response, 422)
    check_openapi("POST", "/api/proposals", response)


def test_jobs_that_break_the_rules(live: LiveSender, proposal_id: str) -> None:
    good = {"proposal_id": proposal_id, "steps": 3, "step_seconds": 1}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**good, "proposal_id": "prop_nope"}, "unknown_proposal"),
        ({**good, "proposal_id": 7}, "invalid_field"),
        ({**good, "steps": "3"}, "invalid_field"),
        ({**good, "steps": 0}, "invalid_field"),
        ({**good, "steps": True}, "invalid_field"),
        ({**good, "steps": 10**9}, "invalid_field"),
        ({**good, "step_seconds": -1}, "invalid_field"),
        ({**good, "step_seconds": "1"}, "invalid_field"),
        ({**good, "fail_at_step": 4}, "invalid_field"),
        ({**good, "fail_at_step": 0}, "invalid_field"),
        ({**good, "later": True}, "invalid_field"),
        ({"steps": 3, "step_seconds": 1}, "invalid_field"),
    ]
    for body, code in cases:
        response = live.call("POST", "/api/jobs", json=body)
        assert_error(response, 422, code)
        check_openapi("POST", "/api/jobs", response)


def test_unknown_ids_are_404_everywhere(live: LiveSender, hook_id: str) -> None:
    cases = [
        ("GET", "/api/webhooks/wh_nope", "/api/webhooks/{webhook_id}"),
        ("PUT", "/api/webhooks/wh_nope", "/api/webhooks/{webhook_id}"),
        ("DELETE", "/api/webhooks/wh_nope", "/api/webhooks/{webhook_id}"),
        ("POST", "/api/webhooks/wh_nope/test", "/api/webhooks/{webhook_id}/test"),
        ("GET", "/api/webhooks/wh_nope/deliveries", "/api/webhooks/{webhook_id}/deliveries"),
        (
            "GET",
            f"/api/webhooks/{hook_id}/deliveries/dlv_nope",
            "/api/webhooks/{webhook_id}/deliveries/{delivery_id}",
        ),
        (
            "POST",
            f"/api/webhooks/{hook_id}/deliveries/dlv_nope/redeliver",
            "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        ),
        ("GET", "/api/proposals/prop_nope", "/api/proposals/{proposal_id}"),
        ("GET", "/api/jobs/job_nope", "/api/jobs/{job_id}"),
    ]
    for method, path, template in cases:
        response = live.call(method, path, json={"url": "http://127.0.0.1:9/"})
        assert_error(response, 404, "not_found")
        check_openapi(method, template, response)
    assert_error(live.call("GET", "/api/nothing-here"), 404, "not_found")


def test_wrong_methods_are_405(live: LiveSender) -> None:
    response = live.call("PATCH", "/api/webhooks")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]


def test_a_webhook_that_is_not_active_gets_no_test_event(live: LiveSender, hook_id: str) -> None:
    response = live.call("POST", f"/api/webhooks/{hook_id}/test")
    assert_error(response, 409, "webhook_not_active")
    check_openapi("POST", "/api/webhooks/{webhook_id}/test", response)


@pytest.mark.parametrize(
    "query",
    [{"limit": "0"}, {"limit": "501"}, {"limit": "ten"}, {"status": "lost"}, {"page": "2"}],
)
def test_bad_delivery_log_queries(live: LiveSender, hook_id: str, query: dict[str, str]) -> None:
    response = live.call("GET", f"/api/webhooks/{hook_id}/deliveries", params=query)
    assert_error(response, 422, "invalid_query")
    check_openapi("GET", "/api/webhooks/{webhook_id}/deliveries", response)


# --- fuzzing: arbitrary JSON never gets a 5xx ------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
field_values = json_values | st.sampled_from(
    ["http://127.0.0.1:9/", "https://[::1]/", "job.completed", SECRET, "", "prop_x"]
)
near_bodies = st.fixed_dictionaries(
    {},
    optional={
        "url": field_values,
        "events": st.lists(st.sampled_from(["job.completed", "nope", "", "proposal.created"]))
        | field_values,
        "secret": field_values,
        "title": field_values,
        "proposal_id": field_values,
        "steps": st.integers(-5, 2000) | field_values,
        "step_seconds": st.floats(-1, 5000, allow_nan=False) | field_values,
        "fail_at_step": st.integers(-1, 5) | field_values,
    },
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=json_values | near_bodies,
    target=st.sampled_from(["/api/webhooks", "/api/proposals", "/api/jobs", "PUT"]),
)
def test_arbitrary_json_never_gets_a_server_error(
    live: LiveSender, hook_id: str, body: Any, target: str
) -> None:
    method, path = ("PUT", f"/api/webhooks/{hook_id}") if target == "PUT" else ("POST", target)
    response = live.call(method, path, content=json.dumps(body).encode())
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_error(response, response.status_code)
        assert SECRET not in response.text


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_never_get_a_server_error(live: LiveSender, raw: bytes) -> None:
    response = live.call("POST", "/api/proposals", content=raw)
    assert response.status_code < 500, response.text
