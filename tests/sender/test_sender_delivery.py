"""Delivery over real HTTP: the retry schedule on scaled time, what is retried, timeouts, isolation."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from sender_harness import LiveSender, Received, Receiver, echo_ok, fail_events, running_sender

from whsim.core.policy import RetryPolicy


def gaps_policy_s(received: list[Received], scale: float) -> list[float]:
    """Seconds of policy time between consecutive arrivals."""
    return [(b.at - a.at) * scale for a, b in itertools.pairwise(received)]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("reading", "scale"),
    [("backoff-only", 10.0), ("immediate-plus-five", 20.0), ("immediate-counts", 20.0)],
)
def test_retry_schedule_follows_the_reading(
    tmp_path: Path, receiver: Receiver, reading: str, scale: float
) -> None:
    policy = RetryPolicy.seed(reading)
    with running_sender(tmp_path, reading=reading, time_scale=scale) as sender:
        hook = sender.register(receiver.url("/retry", fail_events(500)), ["proposal.created"])
        sender.proposal()
        (done,) = sender.wait_delivery(
            hook["id"],
            lambda ds: bool(ds) and ds[0]["status"] == "exhausted",
            timeout=policy.window_ms() / 1000 / scale + 3,
        )
        time.sleep(16 / scale)  # room for a wrong extra retry to show up
        got = receiver.requests("/retry")
    assert len(got) == policy.max_attempts == done["attempt_count"]
    assert len({r.json["id"] for r in got}) == 1, "the event id changed between attempts"
    assert len({r.body for r in got}) == 1
    # Never early; late by at most 120 ms of wall time (a loaded 2-core machine).
    for gap, delay_ms in zip(gaps_policy_s(got, scale), policy.delays_ms, strict=True):
        assert delay_ms / 1000 - 0.05 * scale <= gap <= delay_ms / 1000 + 0.12 * scale, (
            gaps_policy_s(got, scale),
            policy.delays_ms,
        )


def test_no_retry_after_success(sender: LiveSender, receiver: Receiver) -> None:
    hook = sender.register(receiver.url("/ok"), ["proposal.created"])
    sender.proposal()
    (done,) = sender.wait_delivery(hook["id"], lambda ds: bool(ds) and ds[0]["status"] != "pending")
    time.sleep(8 / sender.config.time_scale)  # room for three retries: there must be none
    assert done["status"] == "delivered" and done["attempt_count"] == 1
    assert len(receiver.requests("/ok")) == 1


@pytest.mark.parametrize(
    ("status", "final", "attempts"),
    [(400, "rejected", 1), (401, "rejected", 1), (410, "rejected", 1), (204, "delivered", 1)],
)
def test_answers_that_end_a_delivery(
    sender: LiveSender, receiver: Receiver, status: int, final: str, attempts: int
) -> None:
    hook = sender.register(receiver.url("/code", fail_events(status)), ["proposal.created"])
    sender.proposal()
    (done,) = sender.wait_delivery(hook["id"], lambda ds: bool(ds) and ds[0]["status"] != "pending")
    assert (done["status"], done["attempt_count"]) == (final, attempts)


def test_429_is_retried(sender: LiveSender, receiver: Receiver) -> None:
    answers = iter([429, 200])

    def behave(req: Received) -> tuple[int, bytes]:
        return echo_ok(req) if req.json["type"] == "webhook.verify" else (next(answers), b"")

    hook = sender.register(receiver.url("/429", behave), ["proposal.created"])
    sender.proposal()
    (done,) = sender.wait_delivery(hook["id"], lambda ds: bool(ds) and ds[0]["status"] != "pending")
    assert (done["status"], done["attempt_count"]) == ("delivered", 2)


def test_redirects_are_not_followed(sender: LiveSender, receiver: Receiver) -> None:
    target = receiver.url("/target")

    def redirect(req: Received) -> tuple[int, bytes, dict[str, str]]:
        if req.json["type"] == "webhook.verify":
            status, body = echo_ok(req)
            return status, body, {}
        return 302, b"", {"Location": target}

    hook = sender.register(receiver.url("/moved", redirect), ["proposal.created"])
    sender.proposal()
    (done,) = sender.wait_delivery(hook["id"], lambda ds: bool(ds) and ds[0]["status"] != "pending")
    assert done["status"] == "rejected"
    assert sender.delivery(hook["id"], done["id"])["attempts"][0]["status_code"] == 302
    assert receiver.requests("/target", events_only=False) == []


@pytest.mark.slow
def test_an_unanswered_attempt_times_out_at_5_s_and_is_retried(
    sender: LiveSender, receiver: Receiver
) -> None:
    calls: list[float] = []

    def hang_once(req: Received) -> tuple[int, bytes]:
        if req.json["type"] == "webhook.verify":
            return echo_ok(req)
        calls.append(req.at)
        if len(calls) == 1:
            time.sleep(6.5)
        return 200, b"{}"

    hook = sender.register(receiver.url("/slow", hang_once), ["proposal.created"])
    sender.proposal()
    (done,) = sender.wait_delivery(
        hook["id"], lambda ds: bool(ds) and ds[0]["status"] != "pending", timeout=9
    )
    assert (done["status"], done["attempt_count"]) == ("delivered", 2)
    first, second = sender.delivery(hook["id"], done["id"])["attempts"]
    assert first["error"] == "timeout" and first["status_code"] is None
    assert 4900 <= first["latency_ms"] <= 6000
    assert second["status_code"] == 200
    assert calls[1] - calls[0] < 6.4, "the retry waited for the hung answer"


@pytest.mark.slow
def test_a_dead_endpoint_does_not_delay_the_others(tmp_path: Path, receiver: Receiver) -> None:
    def hang(req: Received) -> tuple[int, bytes]:
        if req.json["type"] == "webhook.verify":
            return echo_ok(req)
        time.sleep(4)
        return 200, b"{}"

    with running_sender(tmp_path, time_scale=20.0, max_per_endpoint=4, max_in_flight=16) as sender:
        dead = sender.register(receiver.url("/dead", hang), ["proposal.created"])
        sender.register(receiver.url("/alive"), ["proposal.created"])
        start = time.monotonic()
        for i in range(30):
            sender.proposal(f"proposal {i}")
        receiver.wait_for(
            lambda: len(receiver.requests("/alive")) == 30, timeout=3, what="healthy deliveries"
        )
        healthy_s = time.monotonic() - start
        in_flight = len(receiver.requests("/dead"))
        pending = sender.deliveries(dead["id"], limit=500)
    assert healthy_s < 2.5
    assert in_flight == 4, "the per-endpoint limit did not hold"
    assert all(d["status"] == "pending" for d in pending)
