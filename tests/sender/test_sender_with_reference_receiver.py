"""The reference sender against the reference receiver (whsim.receiver): the two agree."""

from __future__ import annotations

import time
from pathlib import Path

from sender_harness import SECRET, running_sender

from whsim.core.behaviours import behaviour
from whsim.receiver import ReceiverStore, ServerThread, create_app


def test_a_job_reaches_the_reference_receiver_through_its_faults(tmp_path: Path) -> None:
    store = ReceiverStore()
    app = create_app(SECRET, store=store, behaviour=behaviour("fail-twice"))
    with ServerThread(app) as receiver_url, running_sender(tmp_path, time_scale=20.0) as live:
        hook = live.register(
            receiver_url + "/webhook",
            ["proposal.created", "job.created", "job.started", "job.completed", "document.created"],
        )
        assert hook["status"] == "active"
        proposal = live.proposal()
        live.call(
            "POST", "/api/jobs", json={"proposal_id": proposal["id"], "steps": 2, "step_seconds": 1}
        )
        deliveries = live.wait_delivery(
            hook["id"],
            lambda ds: len(ds) == 5 and all(d["status"] == "delivered" for d in ds),
            timeout=10,
        )
        deadline = time.monotonic() + 5
        while store.processed_count() < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
    # fail-twice: every event is refused twice, then processed once, signature accepted.
    assert store.processed_count() == 5
    assert all(d["attempt_count"] == 3 for d in deliveries)
    log = store.received(limit=100)
    assert not [r for r in log if r["status"] == 401], "the receiver rejected a signature"
