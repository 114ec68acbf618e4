"""The sender's readings: each one it declares honoured changes what it does; the rest are refused.

One default sender and one sender on a non-default reading of every clause it honours get the
same probes; each probe must come out differently. VERIFY-3 gets senders of its own (its
readings mask each other's).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sender_harness import LiveSender, Received, Receiver, echo_ok, fail_events, running_sender

from whsim import Readings
from whsim.core import honoured
from whsim.core.errors import ReadingNotHonouredError
from whsim.core.readings import DEFAULTS
from whsim.sender import SenderConfig

ALT = Readings.parse(
    [
        "RETRY-1=immediate-counts",
        "RETRY-2=only-500",
        "CODES-1=200-only",
        "VERIFY-2=any-2xx-echo",
        "VERIFY-4=keep",
        "VERIFY-5=unsigned",
        "REG-4=full-replace",
        "REG-6=ignore-unknown",
        "HTTPS-1=loopback-host",
        "SIG-1=sha256-prefix",
    ]
)


def test_the_senders_table_is_what_the_sender_does() -> None:
    # derived from the code: every reading in the registry is honoured or refused by name
    for row in honoured.table():
        clause_id, name = str(row["clause"]), str(row["reading"])
        try:
            SenderConfig(readings=Readings({clause_id: name}))
            refused = False
        except ReadingNotHonouredError as exc:
            assert f"{clause_id}={name}" in str(exc) and "whsim sender" in str(exc)
            refused = True
        assert refused == (not honoured.SENDER.honours(clause_id, name)), (clause_id, name)
        assert ("whsim sender" in row["tools"]) == honoured.SENDER.honours(clause_id, name) or (
            row["default"] and clause_id not in honoured.SENDER.readings
        )
    SenderConfig(readings=Readings(policy="stripe-like"))  # vendor policies are taken


def test_a_refused_reading_is_one_line_and_exit_2(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    argv = ["sender", "--port", "0", "--db", db, "--reading", "THROTTLE-2=per-webhook"]
    run = subprocess.run(
        [sys.executable, "-m", "whsim", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.strip().splitlines() == [
        "whsim sender: error: whsim sender does not honour THROTTLE-2=per-webhook; "
        "it honours no reading of it"
    ]


def _plain_echo(status: int) -> Any:
    def behave(req: Received) -> tuple[int, bytes]:
        if req.json.get("type") == "webhook.verify":
            return status, json.dumps({"challenge": req.json["challenge"]}).encode()
        return 200, b"{}"

    return behave


def _wrong_challenge(req: Received) -> tuple[int, bytes]:
    return 200, b'{"challenge": "not it"}'


def _answer(status: int) -> Any:
    def behave(req: Received) -> tuple[int, bytes]:
        if req.json.get("type") == "webhook.verify":
            return echo_ok(req)
        return status, b"{}"

    return behave


def _verifications(receiver: Receiver, path: str) -> list[Received]:
    return [
        r for r in receiver.requests(path, events_only=False) if r not in receiver.requests(path)
    ]


def _probe(live: LiveSender, receiver: Receiver, tag: str) -> dict[str, Any]:
    """What one sender does with the same requests (paths are prefixed by ``tag``)."""
    got: dict[str, Any] = {"meta": live.call("GET", "/api/meta").json()}
    events = ["proposal.created"]
    hook = live.register(receiver.url(f"/{tag}/a"), events)
    (verify,) = _verifications(receiver, f"/{tag}/a")
    got["verify_signed"] = "x-webhook-signature" in {k.lower() for k in verify.headers}
    live.proposal()
    receiver.wait_for(lambda: bool(receiver.requests(f"/{tag}/a")), what="the delivery")
    (event,) = receiver.requests(f"/{tag}/a")
    sig = {k.lower(): v for k, v in event.headers.items()}["x-webhook-signature"]
    got["sig_prefixed"] = sig.startswith("sha256=")
    got["unknown_event"] = live.call(
        "POST",
        "/api/webhooks",
        json={"url": receiver.url(f"/{tag}/u"), "events": [*events, "no.such"], "secret": "s" * 32},
    ).status_code
    got["http_non_loopback"] = live.call(
        "POST",
        "/api/webhooks",
        json={"url": "http://0.0.0.0:1/x", "events": events, "secret": "s" * 32},
    ).status_code
    got["put_events_only"] = live.call(
        "PUT", f"/api/webhooks/{hook['id']}", json={"events": events}
    ).status_code
    moved = live.call(
        "PUT",
        f"/api/webhooks/{hook['id']}",
        json={"url": receiver.url(f"/{tag}/bad", _wrong_challenge), "events": events},
    )
    got["moved_to_failing_url"] = moved.json().get("status")
    got["verify_201_echo"] = live.register(receiver.url(f"/{tag}/201", _plain_echo(201)), events)[
        "status"
    ]
    ends: dict[str, Any] = {}
    for status in (204, 503):
        h = live.register(receiver.url(f"/{tag}/{status}", _answer(status)), events)
        ends[str(status)] = h["id"]
    retry = live.register(receiver.url(f"/{tag}/500", fail_events(500)), events)
    live.proposal()
    receiver.wait_for(lambda: len(receiver.requests(f"/{tag}/500")) >= 2, timeout=10)
    first, second = receiver.requests(f"/{tag}/500")[:2]
    got["first_retry_gap_s"] = second.at - first.at
    for status, hook_id in ends.items():
        (d,) = live.wait_delivery(hook_id, lambda ds: bool(ds) and ds[0]["attempt_count"] >= 1)
        got[f"after_{status}"] = d["status"]
    live.call("DELETE", f"/api/webhooks/{retry['id']}")
    return got


def test_every_honoured_reading_changes_behaviour(tmp_path: Path, receiver: Receiver) -> None:
    probes: dict[str, dict[str, Any]] = {}
    for tag, readings in (("default", Readings()), ("alt", ALT)):
        (tmp_path / tag).mkdir()
        with running_sender(tmp_path / tag, readings=readings) as live:
            probes[tag] = _probe(live, receiver, tag)
    d, a = probes["default"], probes["alt"]
    assert (d["verify_signed"], a["verify_signed"]) == (True, False)  # VERIFY-5
    assert (d["sig_prefixed"], a["sig_prefixed"]) == (False, True)  # SIG-1
    assert d["unknown_event"] >= 400 and a["unknown_event"] == 201  # REG-6
    assert d["http_non_loopback"] == 201 and a["http_non_loopback"] >= 400  # HTTPS-1
    assert d["put_events_only"] == 200 and a["put_events_only"] >= 400  # REG-4
    assert d["moved_to_failing_url"] == "verification_failed"  # VERIFY-4
    assert a["moved_to_failing_url"] == "active"
    assert d["verify_201_echo"] == "verification_failed" and a["verify_201_echo"] == "active"
    assert d["after_204"] == "delivered" and a["after_204"] != "delivered"  # CODES-1
    assert d["after_503"] == "pending" and a["after_503"] == "rejected"  # RETRY-2
    # RETRY-1: backoff-only waits 1 s before the first retry (never early); immediate-counts not
    assert d["first_retry_gap_s"] >= 0.95 and a["first_retry_gap_s"] < 0.9, (d, a)
    # /api/meta reports the readings in force
    dm, am = d["meta"], a["meta"]
    assert dm["readings"] == dict(DEFAULTS) and dm["policy"] is None
    assert am["readings"] == {**DEFAULTS, **ALT.chosen}
    assert am["reading"] == "immediate-counts" and dm["reading"] == "backoff-only"


@pytest.mark.parametrize(
    ("readings", "policy_field", "value"),
    [
        (Readings.parse(["RETRY-3=from-send"]), "backoff_from", "from-send"),
        (Readings.parse(["RETRY-4=full"]), "jitter", "full"),
        (Readings.parse(["EXPIRY-1=from-first-attempt"]), "expiry_from", "from-first-attempt"),
        (Readings(policy="svix"), "name", "svix"),
    ],
)
def test_policy_readings_reach_the_delivery_kernel(
    tmp_path: Path, readings: Readings, policy_field: str, value: str
) -> None:
    # The dispatcher hands this policy to whsim.core.delivery for every attempt; what each field
    # does there is tested in tests/test_delivery.py.
    with running_sender(tmp_path, readings=readings) as live:
        policy = live.app.state.sender.dispatcher.policy
        assert getattr(policy, policy_field) == value
        assert policy == readings.retry_policy()
        meta = live.call("GET", "/api/meta").json()
    assert meta["retry"]["policy"] == readings.retry_policy().name


@pytest.mark.parametrize(
    ("reading", "expect"),
    [("mark-failed", 201), ("reject-registration", 422), ("ignore", 201)],
)
def test_verify3_reading_decides_a_failed_handshake(
    tmp_path: Path, receiver: Receiver, reading: str, expect: int
) -> None:
    with running_sender(tmp_path, readings=Readings.parse([f"VERIFY-3={reading}"])) as live:
        answer = live.call(
            "POST",
            "/api/webhooks",
            json={
                "url": receiver.url("/wrong", _wrong_challenge),
                "events": ["proposal.created"],
                "secret": "s" * 32,
            },
        )
    assert answer.status_code == expect, answer.text
    if expect == 201:
        status = answer.json()["status"]
        assert status == ("active" if reading == "ignore" else "verification_failed")
    else:
        assert "VERIFY-3" in answer.text or "verification" in answer.text


def test_old_reading_form_still_runs_with_a_deprecation_notice(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import argparse

    from whsim.commands.readings import upgrade_old_readings

    old = argparse.Namespace(reading=["immediate-plus-five", "SIG-1=bare-hex"])
    assert upgrade_old_readings(old, "whsim sender").reading == [
        "RETRY-1=immediate-plus-five",
        "SIG-1=bare-hex",
    ]
    assert "use --reading RETRY-1=immediate-plus-five" in capsys.readouterr().err
