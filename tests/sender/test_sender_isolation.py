"""Isolation between endpoints: a hanging endpoint slows only its own deliveries."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sender_harness import Answer, Received, Receiver, echo_ok, running_sender

from whsim.sender.isolation import Circuit, Lanes, LanesClosed


def test_the_slow_lane_never_takes_the_whole_cap() -> None:
    async def scenario() -> None:
        lanes = Lanes(total=4)
        assert lanes.slow_cap == 2
        await lanes.acquire(True)
        await lanes.acquire(True)
        blocked = asyncio.create_task(lanes.acquire(True))
        await asyncio.sleep(0)
        assert not blocked.done()  # a third slow attempt waits ...
        await asyncio.wait_for(lanes.acquire(False), 1)  # ... a healthy one does not
        await asyncio.wait_for(lanes.acquire(False), 1)
        healthy = asyncio.create_task(lanes.acquire(False))
        await asyncio.sleep(0)
        assert not healthy.done() and lanes.used == 4
        lanes.release(True)  # a slow slot frees: the healthy waiter is served first
        await asyncio.wait_for(healthy, 1)
        assert not blocked.done()
        lanes.close()
        with pytest.raises(LanesClosed):
            await blocked
        with pytest.raises(LanesClosed):
            await lanes.acquire(False)

    asyncio.run(scenario())


def test_a_cancelled_waiter_gives_its_slot_back() -> None:
    async def scenario() -> None:
        lanes = Lanes(total=1)
        await lanes.acquire(False)
        waiter = asyncio.create_task(lanes.acquire(False))
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        lanes.release(False)
        assert lanes.used == 0
        await asyncio.wait_for(lanes.acquire(False), 1)

    asyncio.run(scenario())


def test_the_slow_lane_starts_one_attempt_per_loop_iteration() -> None:
    """A wave of slow attempts ending together must not restart together (one loop stall)."""

    async def scenario() -> None:
        lanes = Lanes(total=16, slow_cap=8)
        slow = [asyncio.ensure_future(lanes.acquire(True)) for _ in range(4)]
        healthy = [asyncio.ensure_future(lanes.acquire(False)) for _ in range(4)]
        granted = []
        for _ in range(12):
            await asyncio.sleep(0)  # one loop iteration (the loop polls its sockets between)
            granted.append(sum(f.done() for f in slow))
        assert all(f.done() for f in healthy) and lanes.fast_used == 4  # not paced
        assert granted[-1] == 4 and lanes.slow_used == 4
        steps = [b - a for a, b in zip([0, *granted], granted, strict=False)]
        assert max(steps) == 1, granted  # never two slow starts in one iteration
        wider = Lanes(total=16, slow_cap=8, slow_burst=3)
        for _ in range(3):
            await wider.acquire(True)  # within the burst: no wait at all
        assert wider.slow_used == 3

    asyncio.run(scenario())


def test_an_unproven_endpoint_gets_one_healthy_slot_until_it_answers_in_time() -> None:
    circuit = Circuit()
    assert circuit.lane() is False  # its first attempt: healthy lane
    circuit.busy = 1
    assert circuit.lane() is True  # more while the first is out: slow lane
    circuit.fast()
    assert circuit.lane() is False  # proven: all its attempts in the healthy lane
    assert circuit.slow() is True and circuit.open and circuit.lane() is True
    assert circuit.slow() is False  # already open
    assert circuit.fast() is True and not circuit.open


def hang_events(seconds: float):  # type: ignore[no-untyped-def]
    def behave(req: Received) -> Answer:
        if req.json.get("type") == "webhook.verify":
            return echo_ok(req)
        time.sleep(seconds)
        return 200, b"{}"

    return behave


def test_hanging_endpoints_do_not_delay_a_healthy_one(tmp_path: Path, receiver: Receiver) -> None:
    """Three hanging endpoints with enough due attempts to fill the global cap twice over.

    Before isolation they held all 8 global slots for the whole (here 6 s) timeout, and the
    healthy endpoint's delivery waited behind them for about 5 s.
    """
    values = dict(
        time_scale=1.0, max_in_flight=8, max_per_endpoint=4, slow_after_s=0.5, timeout_s=6.0
    )
    with running_sender(tmp_path, **values) as sender:  # type: ignore[arg-type]
        for k in range(3):
            sender.register(receiver.url(f"/dead{k}", hang_events(7.0)), ["proposal.created"])
        for _ in range(4):
            sender.proposal()  # 12 hanging attempts due at once
        receiver.wait_for(
            lambda: len(receiver.requests()) >= 3, timeout=10, what="the hanging attempts"
        )
        time.sleep(0.7)  # the circuits open (attempts in flight over slow_after_s)
        healthy = sender.register(receiver.url("/ok"), ["proposal.created"])
        started = time.monotonic()
        sender.proposal()
        sender.wait_delivery(
            healthy["id"], lambda ds: bool(ds) and ds[0]["status"] == "delivered", timeout=10
        )
        waited = time.monotonic() - started
        # The hanging attempts end at the 6 s timeout; the healthy delivery must not wait for
        # one of them to free a slot (generous bound for a loaded machine).
        assert waited < 3.0, f"the healthy delivery waited {waited:.2f} s behind hanging ones"
        meta = sender.call("GET", "/api/meta").json()
        assert meta["limits"]["max_slow_in_flight"] == 4
