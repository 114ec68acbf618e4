"""The reference receiver app, in-process (Starlette AppClient, no sockets)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from whsim.core.behaviours import behaviour
from whsim.core.clock import VirtualClock
from whsim.core.signing import sign
from whsim.core.spec.events import make_event, verification_body
from whsim.receiver import ReceiverStore, create_app

SECRET = "test-secret"


def _event(n: int = 1) -> bytes:
    data = {"job_id": f"job_{n}", "proposal_id": "p", "document_id": "d", "status": "completed"}
    return make_event("job.completed", data, id=f"evt_{n}", timestamp_ms=0).body


def _post(
    client: AppClient, body: bytes, signature: str | None = "sign"
) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers["X-Webhook-Signature"] = sign(body, SECRET)
    elif signature is not None:
        headers["X-Webhook-Signature"] = signature
    r = client.post("/webhook", content=body, headers=headers)
    return r.status_code, r.json()


class AppClient:
    """A synchronous client for an ASGI app over httpx's in-process transport (no sockets)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
            return await client.request(method, url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return asyncio.run(self._request("POST", url, **kwargs))

    def get(self, url: str) -> httpx.Response:
        return asyncio.run(self._request("GET", url))


@pytest.fixture
def client() -> AppClient:
    return AppClient(create_app(SECRET, store=ReceiverStore()))


def test_signed_event_accepted_then_deduplicated(client: AppClient) -> None:
    assert _post(client, _event()) == (200, {"status": "ok"})
    assert _post(client, _event()) == (200, {"status": "already_processed"})


@pytest.mark.parametrize("signature", [None, "", "0" * 64, "sha256=abc", "zz"])
def test_bad_or_missing_signature_is_401(client: AppClient, signature: str | None) -> None:
    status, _ = _post(client, _event(), signature)
    assert status == 401


def test_bad_data_is_400_naming_the_field(client: AppClient) -> None:
    body = json.dumps(
        {"id": "e", "type": "job.started", "timestamp": "2024-01-15T10:31:00Z", "data": {}}
    ).encode()
    status, doc = _post(client, body)
    assert (status, doc["field"]) == (400, "data.job_id")
    assert _post(client, b"not json")[0] == 400


def test_unknown_type_is_accepted(client: AppClient) -> None:
    body = json.dumps(
        {"id": "e9", "type": "job.archived", "timestamp": "2024-01-15T10:31:00Z", "data": {}}
    ).encode()
    assert _post(client, body)[0] == 200


def test_challenge_echoed_signed_or_unsigned_but_not_wrongly_signed(client: AppClient) -> None:
    body = verification_body("ch-é")
    assert _post(client, body) == (200, {"challenge": "ch-é"})
    assert _post(client, body, None) == (200, {"challenge": "ch-é"})
    assert _post(client, body, "0" * 64)[0] == 401


def test_idempotency_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite3"
    first = ReceiverStore(db)
    assert _post(AppClient(create_app(SECRET, store=first)), _event())[1] == {"status": "ok"}
    first.close()
    again = AppClient(create_app(SECRET, store=ReceiverStore(db)))
    assert _post(again, _event())[1] == {"status": "already_processed"}
    log = again.get("/received").json()
    assert [r["outcome"] for r in log["received"]] == ["duplicate", "processed"]
    assert log["processed"] == 1


def test_behaviour_fail_twice_comes_from_behaviours_module() -> None:
    app = create_app(
        SECRET, store=ReceiverStore(), behaviour=behaviour("fail-twice"), clock=VirtualClock()
    )
    client = AppClient(app)
    assert [_post(client, _event())[0] for _ in range(3)] == [500, 500, 200]
    assert _post(client, _event(2), "0" * 64)[0] == 401  # faults never hide a bad signature


def test_behaviour_wrong_challenge_and_outage() -> None:
    client = AppClient(
        create_app(SECRET, store=ReceiverStore(), behaviour=behaviour("wrong-challenge"))
    )
    assert _post(client, verification_body("x"))[1] == {"challenge": "x-wrong"}
    down = AppClient(
        create_app(SECRET, store=ReceiverStore(), behaviour=behaviour("down"), clock=VirtualClock())
    )
    assert _post(down, _event())[0] == 503


def test_a_receiver_with_a_capacity_fails_by_its_load_and_recovers_below_the_threshold() -> None:
    from whsim.core.behaviours import Behaviour, Capacity, Latency

    clock = VirtualClock()
    fragile = Behaviour(
        "fragile", latency=Latency("fixed", 0), capacity=Capacity(per_s=3, recover_below=2)
    )
    client = AppClient(create_app(SECRET, store=ReceiverStore(), behaviour=fragile, clock=clock))
    assert [_post(client, _event(n))[0] for n in range(4)] == [200, 200, 200, 503]
    clock.advance(900)  # still 5 attempts in the last second: down
    assert _post(client, _event(9))[0] == 503
    clock.advance(600)  # 2 in the window: not below 2, so still down (hysteresis)
    assert _post(client, _event(10))[0] == 503
    clock.advance(2_000)  # alone in its window: back
    assert _post(client, _event(11))[0] == 200


def test_the_command_lines_capacity_reaches_the_app() -> None:
    """``whsim receiver --capacity 3:2`` builds the app it serves with that capacity."""
    from whsim.cli import build_parser
    from whsim.commands.receiver import faults_from

    args = build_parser().parse_args(["receiver", "--secret", SECRET, "--capacity", "3:2"])
    clock = VirtualClock()
    app = create_app(SECRET, store=ReceiverStore(), behaviour=faults_from(args), clock=clock)
    client = AppClient(app)
    assert [_post(client, _event(n))[0] for n in range(4)] == [200, 200, 200, 503]
    clock.advance(900)  # five in the last second: still down
    assert _post(client, _event(7))[0] == 503
    clock.advance(3_000)  # alone in its window, under 2/s: back
    assert _post(client, _event(8))[0] == 200
