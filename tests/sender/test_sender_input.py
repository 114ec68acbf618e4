"""No 500 from input: surrogates, Unicode digits, control characters, wrong content types and
duplicate keys each get a 4xx naming the field; hypothesis over every route (in-process ASGI)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sender_harness import ALL_EVENTS, SECRET
from starlette.testclient import TestClient

from whsim.sender import SenderConfig, create_app


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    config = SenderConfig(db_path=Path(tmp_path_factory.mktemp("input")) / "s.db")
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def ids(api: TestClient) -> dict[str, str]:
    # No receiver: verification fails, which leaves a webhook every route can address.
    hook = api.post(
        "/api/webhooks",
        json={"url": "http://127.0.0.1:9/x", "events": ALL_EVENTS, "secret": SECRET},
    )
    assert hook.status_code == 201, hook.text
    proposal = api.post("/api/proposals", json={"title": "t"}).json()
    return {"webhook_id": hook.json()["id"], "proposal_id": proposal["id"]}


def _post(api: TestClient, path: str, raw: str) -> Any:
    return api.post(path, content=raw.encode(), headers={"Content-Type": "application/json"})


def _field_error(response: Any, status: int, field: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["details"]["field"] == field, error
    return str(error["message"])


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        ("/api/proposals", '{"title": "a\\ud800b"}', "title"),
        ("/api/jobs", '{"proposal_id": "\\udfff", "steps": 1}', "proposal_id"),
        (
            "/api/webhooks",
            '{"url": "https://h.example/\\ud800", "events": ["job.completed"], '
            '"secret": "abcdefgh"}',
            "url",
        ),
        ("/api/webhooks", '{"url": "https://h.example/", "events": ["\\ud83d"]}', "events[0]"),
    ],
)
def test_lone_surrogates_are_422_naming_the_field(
    api: TestClient, path: str, raw: str, field: str
) -> None:
    assert "surrogate" in _field_error(_post(api, path, raw), 422, field)


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\u202e", "\n", "\x85", "\u2066"])
def test_control_characters_in_titles_are_422(api: TestClient, char: str) -> None:
    response = api.post("/api/proposals", json={"title": f"Invoice{char}gpj.exe"})
    message = _field_error(response, 422, "title")
    assert f"U+{ord(char):04X}" in message


def test_unicode_text_that_is_not_control_is_accepted(api: TestClient) -> None:
    title = "Prüfbericht 数据 🚀 עברית"  # RTL text without override characters is fine
    response = api.post("/api/proposals", json={"title": title})
    assert response.status_code == 201 and response.json()["title"] == title


@pytest.mark.parametrize("limit", ["²", "١٢", "１", "-1", "0", "501", "1e2", " 5"])
def test_a_limit_that_is_not_ascii_digits_in_range_is_422(
    api: TestClient, ids: dict[str, str], limit: str
) -> None:
    response = api.get(f"/api/webhooks/{ids['webhook_id']}/deliveries", params={"limit": limit})
    _field_error(response, 422, "limit")


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"],
)
def test_bodies_that_are_not_json_are_415(api: TestClient, content_type: str) -> None:
    response = api.post(
        "/api/proposals", content=b'{"title": "t"}', headers={"Content-Type": content_type}
    )
    assert _field_error(response, 415, "Content-Type").startswith("Content-Type")
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_json_content_types_with_parameters_are_accepted(api: TestClient) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = api.post(
            "/api/proposals", content=b'{"title": "t"}', headers={"Content-Type": content_type}
        )
        assert response.status_code == 201, (content_type, response.text)


def test_duplicate_keys_are_400_naming_the_key(api: TestClient) -> None:
    response = _post(api, "/api/proposals", '{"title": "a", "title": "b"}')
    assert "'title' appears more than once" in _field_error(response, 400, "title")
    assert response.json()["error"]["code"] == "duplicate_key"


# --- every route, the whole of Unicode ---------------------------------------------------------

# The whole code space, surrogates included, with the known troublemakers drawn often enough
# (2,048 surrogates in 1.1 M code points would rarely come up by chance).
ANY_CHAR = st.characters(
    min_codepoint=0, max_codepoint=0x10FFFF, categories=None
) | st.sampled_from(
    ["\ud800", "\udfff", "\x00", "\x1b", "\u202e", "²", "١", "\ufeff", "\U0001f680"]
)
# Joined by hand: st.text() never yields a lone surrogate, whatever its alphabet.
TEXT = st.lists(ANY_CHAR, max_size=12).map("".join)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
BODY_KEYS = {
    "/api/webhooks": ["url", "events", "secret"],
    "/api/webhooks/{webhook_id}": ["url", "events", "secret"],
    "/api/proposals": ["title"],
    "/api/jobs": ["proposal_id", "steps", "step_seconds", "fail_at_step"],
}
SMALL_INT = st.integers(min_value=-2, max_value=12)


def _body(template: str) -> st.SearchStrategy[Any]:
    """Mostly bodies with the route's own keys (so values reach validation and the store)."""
    keys = BODY_KEYS.get(template, [])
    own = st.fixed_dictionaries(
        {}, optional={k: TEXT | SMALL_INT | st.lists(TEXT, max_size=2) for k in keys}
    )
    return own | st.dictionaries(TEXT, JSON_VALUE, max_size=3) | JSON_VALUE


ROUTES = [
    ("GET", "/openapi.json"),
    ("GET", "/api/meta"),
    ("GET", "/api/event-types"),
    ("POST", "/api/webhooks"),
    ("GET", "/api/webhooks"),
    ("GET", "/api/webhooks/{webhook_id}"),
    ("PUT", "/api/webhooks/{webhook_id}"),
    ("DELETE", "/api/webhooks/{id}"),
    ("POST", "/api/webhooks/{webhook_id}/test"),
    ("GET", "/api/webhooks/{webhook_id}/deliveries"),
    ("GET", "/api/webhooks/{webhook_id}/deliveries/{id}"),
    ("POST", "/api/webhooks/{webhook_id}/deliveries/{id}/redeliver"),
    ("POST", "/api/proposals"),
    ("GET", "/api/proposals/{proposal_id}"),
    ("GET", "/api/proposals/{id}"),
    ("POST", "/api/jobs"),
    ("GET", "/api/jobs/{id}"),
]


def _segment(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    segment=TEXT,
    query=st.dictionaries(st.sampled_from(["limit", "status"]) | TEXT, TEXT, max_size=2),
    data=st.data(),
    content_type=st.sampled_from(
        [
            None,
            "application/json",
            "application/json",
            "application/json",
            "text/plain",
            "multipart/form-data; boundary=b",
            "\u00e9/x",
        ]
    ),
)
def test_no_route_answers_5xx_to_any_unicode(
    api: TestClient,
    ids: dict[str, str],
    route: tuple[str, str],
    segment: str,
    query: dict[str, str],
    data: st.DataObject,
    content_type: str | None,
) -> None:
    method, template = route
    body = data.draw(_body(template), label="body")
    path = template.format(
        webhook_id=ids["webhook_id"], proposal_id=ids["proposal_id"], id=_segment(segment)
    )
    if query:
        path += "?" + "&".join(f"{_segment(k)}={_segment(v)}" for k, v in query.items())
    headers = {"Content-Type": content_type.encode()} if content_type else {}
    raw = json.dumps(body).encode()  # ensure_ascii: lone surrogates travel as \\udXXX escapes
    if method == "DELETE" and template.endswith("{id}"):
        raw = b""  # never delete the shared webhook; an unknown id is enough
    response = api.request(method, path, content=raw or None, headers=headers)
    assert response.status_code < 500, (method, path, raw[:200], response.text)
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"] and error["message"]
