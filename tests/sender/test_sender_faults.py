"""The test-only fault switches: each one really breaks its rule (the sender suite relies on it)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from sender_harness import (
    SECRET,
    LiveSender,
    Received,
    Receiver,
    echo_ok,
    fail_events,
    running_sender,
)

from whsim.core.errors import UnknownReadingError
from whsim.sender import SenderConfig
from whsim.sender.faults import FAULTS, FAULTS_ENV, FaultySender, parse_faults


def hex_hmac(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_fault_names_are_checked() -> None:
    assert parse_faults(" no-retry , wrong-secret ") == {"no-retry", "wrong-secret"}
    assert parse_faults("") == frozenset()
    with pytest.raises(UnknownReadingError, match="no-such-fault"):
        parse_faults("no-such-fault")
    with pytest.raises(UnknownReadingError):
        FaultySender(SenderConfig(), frozenset({"bogus"}))


def test_the_production_modules_know_no_fault() -> None:
    """The faults are a layer of their own: no production module names one."""
    import whsim.sender as package

    root = Path(package.__file__).parent
    for module in sorted(root.glob("*.py")):
        if module.name == "faults.py":
            continue
        text = module.read_text()
        assert FAULTS_ENV not in text, module.name
        named = [f for f in FAULTS if f'"{f}"' in text]
        assert not named, f"{module.name} names faults {named}"
        assert ".faults" not in text.replace("whsim.sender.faults", ""), module.name


def test_whsim_sender_refuses_the_fault_variable(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, FAULTS_ENV: "no-retry"}
    done = subprocess.run(
        [sys.executable, "-m", "whsim", "sender", "--port", "0", "--db", str(tmp_path / "x.db")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2
    assert "python -m whsim.sender.faults" in done.stderr


def deliver_once(
    tmp_path: Path,
    receiver: Receiver,
    faults: set[str],
    behaviour=echo_ok,
    events=None,
    scale=200.0,
) -> tuple[list[Received], dict, dict]:
    """Register, emit one proposal, wait for the delivery to end; return what arrived."""
    with running_sender(tmp_path, time_scale=scale, faults=frozenset(faults)) as live:
        hook = live.register(receiver.url("/f", behaviour), events or ["proposal.created"])
        live.proposal()
        (done,) = live.wait_delivery(
            hook["id"], lambda ds: bool(ds) and ds[0]["status"] != "pending", timeout=8
        )
        meta = live.call("GET", "/api/meta").json()
    assert meta["faults"] == sorted(faults)
    return receiver.requests("/f"), done, hook


def test_every_fault_is_documented() -> None:
    assert len(FAULTS) >= 12
    assert all(text.endswith(")") for text in FAULTS.values())  # names its clause


def test_return_secret(tmp_path: Path, receiver: Receiver) -> None:
    _, _, hook = deliver_once(tmp_path, receiver, {"return-secret"})
    assert hook["secret"] == SECRET


def test_no_verification(tmp_path: Path, receiver: Receiver) -> None:
    _, _, hook = deliver_once(tmp_path, receiver, {"no-verification"})
    assert hook["status"] == "active"
    assert receiver.requests("/f", events_only=False) == receiver.requests("/f")


def test_unsubscribed_events(tmp_path: Path, receiver: Receiver) -> None:
    got, _, _ = deliver_once(tmp_path, receiver, {"unsubscribed-events"}, events=["job.failed"])
    assert [r.json["type"] for r in got] == ["proposal.created"]


@pytest.mark.parametrize("fault", ["resign-body", "wrong-secret", "no-signature"])
def test_signature_faults(tmp_path: Path, receiver: Receiver, fault: str) -> None:
    (got,), _, _ = deliver_once(tmp_path, receiver, {fault})
    signature = got.headers.get("X-Webhook-Signature")
    assert signature != hex_hmac(got.body)
    if fault == "resign-body":
        assert signature == hex_hmac(json.dumps(json.loads(got.body)).encode())
    if fault == "no-signature":
        assert signature is None


def test_new_id_per_retry(tmp_path: Path, receiver: Receiver) -> None:
    got, _, _ = deliver_once(tmp_path, receiver, {"new-id-per-retry"}, fail_events(500))
    assert len(got) == 6
    assert len({r.json["id"] for r in got}) == 6
    assert all(r.json["id"] == r.headers["X-Webhook-Id"] for r in got)


@pytest.mark.parametrize(
    ("fault", "attempts"), [("no-retry", 1), ("too-many-retries", 9), ("wrong-backoff", 6)]
)
def test_retry_count_faults(tmp_path: Path, receiver: Receiver, fault: str, attempts: int) -> None:
    got, done, _ = deliver_once(tmp_path, receiver, {fault}, fail_events(500))
    assert len(got) == attempts == done["attempt_count"]


def test_retry_after_2xx(tmp_path: Path, receiver: Receiver) -> None:
    got, done, _ = deliver_once(tmp_path, receiver, {"retry-after-2xx"})
    assert len(got) == 2 and done["status"] == "delivered"


def test_follow_redirects(tmp_path: Path, receiver: Receiver) -> None:
    target = receiver.url("/target")

    def redirect(req: Received) -> tuple[int, bytes, dict[str, str]]:
        if req.json["type"] == "webhook.verify":
            status, body = echo_ok(req)
            return status, body, {}
        return 307, b"", {"Location": target}

    _, done, _ = deliver_once(tmp_path, receiver, {"follow-redirects"}, redirect)
    assert done["status"] == "delivered"
    assert len(receiver.requests("/target")) == 1


def test_http_in_production_and_ssrf(tmp_path: Path) -> None:
    async def dns(host: str, port: int) -> list[str]:
        raise OSError("no DNS in tests")

    def register(live: LiveSender, url: str) -> int:
        body = {"url": url, "events": ["job.completed"], "secret": SECRET}
        return live.call("POST", "/api/webhooks", json=body).status_code

    faults = frozenset({"http-in-production"})
    with running_sender(tmp_path, mode="production", resolver=dns, faults=faults) as live:
        assert register(live, "http://public.example/x") == 201
        assert register(live, "https://10.0.0.1:9/x") == 422  # addresses still checked
    faults = frozenset({"ssrf"})
    with running_sender(tmp_path, mode="production", resolver=dns, faults=faults) as live:
        assert register(live, "http://public.example/x") == 422  # https still required
        assert register(live, "https://127.0.0.1:9/x") == 201
