"""The sender's API over real HTTP: registration and verification, CRUD, test events, the log."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from sender_harness import (
    ALL_EVENTS,
    SECRET,
    LiveSender,
    Received,
    Receiver,
    assert_error,
    check_openapi,
    echo_ok,
    fail_events,
    running_sender,
)
from starlette.routing import Route

from whsim.sender.config import SenderConfig
from whsim.sender.openapi import openapi_document


def expected_signature(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_register_verifies_with_a_signed_challenge_and_answers_active(
    sender: LiveSender, receiver: Receiver
) -> None:
    url = receiver.url("/hook")
    response = sender.call(
        "POST", "/api/webhooks", json={"url": url, "events": ["job.completed"], "secret": SECRET}
    )
    check_openapi("POST", "/api/webhooks", response)
    hook = response.json()
    assert response.status_code == 201
    assert hook["status"] == "active"
    assert hook["url"] == url and hook["events"] == ["job.completed"]
    assert hook["verification"]["result"] == "passed"
    assert "secret" not in hook
    (verify,) = receiver.requests("/hook", events_only=False)
    doc = verify.json
    assert doc["type"] == "webhook.verify" and len(doc["challenge"]) >= 32
    assert verify.headers["X-Webhook-Signature"] == expected_signature(verify.body)
    assert verify.headers["Content-Type"] == "application/json"


def test_a_wrong_echo_marks_the_webhook_verification_failed(
    sender: LiveSender, receiver: Receiver
) -> None:
    def wrong(req: Received) -> tuple[int, bytes]:
        return 200, b'{"challenge": "not-it"}'

    hook = sender.register(receiver.url("/wrong", wrong))
    assert hook["status"] == "verification_failed"
    assert "differs" in hook["verification"]["detail"]


def test_an_unreachable_url_fails_verification_without_hanging(sender: LiveSender) -> None:
    from sender_harness import free_socket

    closed = free_socket()  # bound, never listening: connection refused
    port = closed.getsockname()[1]
    hook = sender.register(f"http://127.0.0.1:{port}/hook")
    closed.close()
    assert hook["status"] == "verification_failed"
    assert hook["verification"]["error"] == "connect"


def test_crud_partial_put_reverify_and_delete(sender: LiveSender, receiver: Receiver) -> None:
    hook = sender.register(receiver.url("/a"), ["job.completed"])
    wid = hook["id"]
    listed = sender.call("GET", "/api/webhooks")
    check_openapi("GET", "/api/webhooks", listed)
    assert [h["id"] for h in listed.json()["webhooks"]] == [wid]
    got = sender.call("GET", f"/api/webhooks/{wid}")
    check_openapi("GET", "/api/webhooks/{webhook_id}", got)
    assert got.json()["events"] == ["job.completed"]

    # Partial: only events change, no new handshake.
    put = sender.call("PUT", f"/api/webhooks/{wid}", json={"events": ["job.failed"]})
    check_openapi("PUT", "/api/webhooks/{webhook_id}", put)
    assert put.json()["events"] == ["job.failed"] and put.json()["url"] == hook["url"]
    assert len(receiver.requests(events_only=False)) == 1

    # A new URL is verified again; a bad one leaves the webhook verification_failed.
    put = sender.call("PUT", f"/api/webhooks/{wid}", json={"url": receiver.url("/b")})
    assert put.json()["status"] == "active"
    assert len(receiver.requests("/b", events_only=False)) == 1
    bad = receiver.url("/bad", lambda r: (404, b"nope"))
    put = sender.call("PUT", f"/api/webhooks/{wid}", json={"url": bad})
    assert put.json()["status"] == "verification_failed"
    assert_error(sender.call("POST", f"/api/webhooks/{wid}/test"), 409, "webhook_not_active")
    # The same URL again re-verifies while not active (the fix-it path).
    receiver.behaviours["/bad"] = echo_ok
    put = sender.call("PUT", f"/api/webhooks/{wid}", json={"url": bad})
    assert put.json()["status"] == "active"

    deleted = sender.call("DELETE", f"/api/webhooks/{wid}")
    check_openapi("DELETE", "/api/webhooks/{webhook_id}", deleted)
    assert deleted.status_code == 204
    again = sender.call("DELETE", f"/api/webhooks/{wid}")
    check_openapi("DELETE", "/api/webhooks/{webhook_id}", again)
    assert_error(again, 404, "not_found")
    assert_error(sender.call("GET", f"/api/webhooks/{wid}"), 404, "not_found")


def test_test_event_is_signed_and_logged(sender: LiveSender, receiver: Receiver) -> None:
    hook = sender.register(receiver.url("/t"), ["job.completed"])
    response = sender.call("POST", f"/api/webhooks/{hook['id']}/test")
    check_openapi("POST", "/api/webhooks/{webhook_id}/test", response)
    assert response.status_code == 202
    queued = response.json()
    receiver.wait_for(lambda: len(receiver.requests("/t")) == 1, what="the test event")
    (got,) = receiver.requests("/t")
    assert got.json["type"] == "webhook.test"
    assert got.json["data"]["webhook_id"] == hook["id"]
    assert got.json["id"] == queued["event_id"] == got.headers["X-Webhook-Id"]
    assert got.headers["X-Webhook-Signature"] == expected_signature(got.body)
    done = sender.wait_delivery(hook["id"], lambda ds: ds[0]["status"] == "delivered")
    check_openapi(
        "GET",
        "/api/webhooks/{webhook_id}/deliveries",
        sender.call("GET", f"/api/webhooks/{hook['id']}/deliveries"),
    )
    detail = sender.call("GET", f"/api/webhooks/{hook['id']}/deliveries/{done[0]['id']}")
    check_openapi("GET", "/api/webhooks/{webhook_id}/deliveries/{delivery_id}", detail)
    doc = detail.json()
    assert doc["event"]["body"].encode() == got.body
    (attempt,) = doc["attempts"]
    assert attempt["status_code"] == 200 and attempt["error"] is None
    assert attempt["response_excerpt"] == '{"status":"ok"}'
    assert attempt["latency_ms"] > 0


def test_the_log_keeps_a_bounded_excerpt(sender: LiveSender, receiver: Receiver) -> None:
    def big(req: Received) -> tuple[int, bytes]:
        return echo_ok(req) if req.json["type"] == "webhook.verify" else (200, b"x" * 5000)

    hook = sender.register(receiver.url("/big", big))
    sender.call("POST", f"/api/webhooks/{hook['id']}/test")
    (done,) = sender.wait_delivery(hook["id"], lambda ds: ds[0]["status"] == "delivered")
    (attempt,) = sender.delivery(hook["id"], done["id"])["attempts"]
    assert attempt["response_excerpt"] == "x" * sender.config.excerpt_bytes
    assert attempt["response_truncated"] is True


def test_redeliver_sends_the_same_bytes_again(sender: LiveSender, receiver: Receiver) -> None:
    hook = sender.register(receiver.url("/r"), ["proposal.created"])
    sender.proposal()
    (first,) = sender.wait_delivery(hook["id"], lambda ds: ds and ds[0]["status"] == "delivered")
    response = sender.call("POST", f"/api/webhooks/{hook['id']}/deliveries/{first['id']}/redeliver")
    check_openapi("POST", "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", response)
    assert response.status_code == 202
    again = response.json()
    assert again["redelivery_of"] == first["id"] and again["event_id"] == first["event_id"]
    receiver.wait_for(lambda: len(receiver.requests("/r")) == 2, what="the redelivery")
    one, two = receiver.requests("/r")
    assert one.body == two.body
    assert one.headers["X-Webhook-Signature"] == two.headers["X-Webhook-Signature"]


def test_redeliver_refuses_a_pending_delivery(sender: LiveSender, receiver: Receiver) -> None:
    hook = sender.register(receiver.url("/p", fail_events(503)), ["proposal.created"])
    sender.proposal()
    (pending,) = sender.wait_delivery(hook["id"], lambda ds: ds and ds[0]["attempt_count"] >= 1)
    assert pending["status"] == "pending" and pending["next_attempt_at"]
    response = sender.call(
        "POST", f"/api/webhooks/{hook['id']}/deliveries/{pending['id']}/redeliver"
    )
    check_openapi("POST", "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", response)
    assert_error(response, 409, "delivery_pending")


def test_only_subscribed_events_are_delivered(sender: LiveSender, receiver: Receiver) -> None:
    done = sender.register(receiver.url("/done"), ["job.completed"])
    props = sender.register(receiver.url("/props"), ["proposal.created"])
    everything = sender.register(receiver.url("/all"), ALL_EVENTS)
    proposal = sender.proposal()
    job = sender.call(
        "POST", "/api/jobs", json={"proposal_id": proposal["id"], "steps": 3, "step_seconds": 1}
    )
    check_openapi("POST", "/api/jobs", job)
    assert job.status_code == 201
    receiver.wait_for(
        lambda: any(r.json["type"] == "document.created" for r in receiver.requests("/all")),
        what="the end of the job",
    )
    sender.wait_delivery(everything["id"], lambda ds: all(d["status"] == "delivered" for d in ds))
    # Deliveries to different webhooks are unordered (EVENT-12): wait for /done's own.
    sender.wait_delivery(done["id"], lambda ds: bool(ds) and ds[0]["status"] == "delivered")
    assert [r.json["type"] for r in receiver.requests("/done")] == ["job.completed"]
    assert [r.json["type"] for r in receiver.requests("/props")] == ["proposal.created"]
    types = [r.json["type"] for r in receiver.requests("/all")]
    assert sorted(types) == sorted(
        [
            "proposal.created",
            "job.created",
            "job.started",
            "job.progress",
            "job.completed",
            "document.created",
        ]
    ), types
    assert len(sender.deliveries(done["id"])) == 1 and len(sender.deliveries(props["id"])) == 1
    finished = sender.call("GET", f"/api/jobs/{job.json()['id']}")
    check_openapi("GET", "/api/jobs/{job_id}", finished)
    assert finished.json()["status"] == "completed" and finished.json()["document_id"]
    for got in receiver.requests("/all"):
        assert got.headers["X-Webhook-Signature"] == expected_signature(got.body)


def test_a_failing_job_ends_with_job_failed(sender: LiveSender, receiver: Receiver) -> None:
    sender.register(receiver.url("/f"), ["job.failed", "job.completed", "job.progress"])
    proposal = sender.proposal()
    job = sender.call(
        "POST",
        "/api/jobs",
        json={"proposal_id": proposal["id"], "steps": 4, "step_seconds": 0.5, "fail_at_step": 3},
    ).json()
    receiver.wait_for(
        lambda: any(r.json["type"] == "job.failed" for r in receiver.requests("/f")),
        what="job.failed",
    )
    types = [r.json["type"] for r in receiver.requests("/f")]
    assert "job.completed" not in types
    failed = next(r.json for r in receiver.requests("/f") if r.json["type"] == "job.failed")
    assert failed["data"]["job_id"] == job["id"] and failed["data"]["error_details"]["step"] == 3
    assert sender.call("GET", f"/api/jobs/{job['id']}").json()["status"] == "failed"


def test_progress_is_throttled_per_job(sender: LiveSender, receiver: Receiver) -> None:
    # 10 steps of 3 s policy time: raw updates at 3, 6, ..., 30 s. The 10 s window sends the
    # first at once, the newest held one when each window ends (12 s at 13, 21 s at 23), and
    # drops the one held at completion (THROTTLE-3).
    sender.register(receiver.url("/prog"), ["job.progress", "job.completed"])
    proposal = sender.proposal()
    sender.call(
        "POST", "/api/jobs", json={"proposal_id": proposal["id"], "steps": 10, "step_seconds": 3}
    )
    receiver.wait_for(
        lambda: any(r.json["type"] == "job.completed" for r in receiver.requests("/prog")),
        what="job.completed",
    )
    progress = [
        r.json["data"]["progress"]
        for r in receiver.requests("/prog")
        if r.json["type"] == "job.progress"
    ]
    assert [p["completed"] for p in progress] == [1, 4, 7]
    assert progress[0] == {"completed": 1, "total": 10, "percentage": 10}


def test_meta_event_types_and_openapi(sender: LiveSender) -> None:
    meta = sender.call("GET", "/api/meta")
    check_openapi("GET", "/api/meta", meta)
    assert meta.json()["mode"] == "development"
    assert meta.json()["reading"] == "backoff-only"
    assert meta.json()["time_scale"] == 20.0
    assert "faults" not in meta.json()  # the production sender has none
    assert meta.json()["durability"] == {"sqlite_synchronous": "FULL"}
    types = sender.call("GET", "/api/event-types")
    check_openapi("GET", "/api/event-types", types)
    assert {t["type"] for t in types.json()["event_types"]} >= set(ALL_EVENTS)
    document = sender.call("GET", "/openapi.json").json()
    assert document["openapi"].startswith("3.1")


def test_every_route_is_in_the_openapi_document(tmp_path: Path) -> None:
    from whsim.sender import create_app

    app = create_app(SenderConfig(db_path=tmp_path / "x.db"))
    routes = {
        (method.lower(), route.path)
        for route in app.routes
        if isinstance(route, Route)
        for method in (route.methods or ()) - {"HEAD"}
    }
    document = openapi_document(SenderConfig())
    described = {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert routes == described


def test_the_reading_changes_what_meta_reports(tmp_path: Path) -> None:
    with running_sender(tmp_path, reading="immediate-plus-five", time_scale=3) as live:
        meta = live.call("GET", "/api/meta").json()
    assert meta["reading"] == "immediate-plus-five"
    assert meta["retry"]["attempt_offsets_s"] == [0, 0, 1, 3, 7, 15, 31]


def test_the_secret_never_appears_in_a_response(sender: LiveSender, receiver: Receiver) -> None:
    hook = sender.register(receiver.url("/s"))
    wid = hook["id"]
    sender.call("PUT", f"/api/webhooks/{wid}", json={"secret": SECRET + "-2"})
    sender.call("GET", f"/api/webhooks/{wid}")
    sender.call("GET", "/api/webhooks")
    sender.call("POST", f"/api/webhooks/{wid}/test")
    (done,) = sender.wait_delivery(wid, lambda ds: ds and ds[0]["status"] == "delivered")
    sender.delivery(wid, done["id"])
    sender.call("POST", "/api/webhooks", json={"url": "ftp://x", "events": [], "secret": SECRET})
    sender.call(
        "POST",
        "/api/webhooks",
        json={"url": receiver.url("/s"), "events": ["job.x"], "secret": SECRET},
    )
    assert len(sender.responses) > 8
    for response in sender.responses:
        assert SECRET not in response.text, response.text
    # The new secret signs from now on.
    (got,) = receiver.requests("/s")
    assert got.headers["X-Webhook-Signature"] == expected_signature(got.body, SECRET + "-2")
    assert json.loads(got.body)["type"] == "webhook.test"


def test_pending_retries_stop_when_the_webhook_stops_being_active(
    sender: LiveSender, receiver: Receiver
) -> None:
    hook = sender.register(receiver.url("/down", fail_events(503)), ["proposal.created"])
    sender.proposal()
    sender.wait_delivery(hook["id"], lambda ds: bool(ds) and ds[0]["attempt_count"] >= 1)
    refused = receiver.url("/refuses", lambda r: (403, b"no"))
    put = sender.call("PUT", f"/api/webhooks/{hook['id']}", json={"url": refused})
    assert put.json()["status"] == "verification_failed"
    (done,) = sender.wait_delivery(hook["id"], lambda ds: ds[0]["status"] != "pending")
    assert done["status"] == "cancelled"
    assert "verification_failed" in done["reason"]
    assert receiver.requests("/refuses") == []
