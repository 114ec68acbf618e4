"""The delivery loop: due deliveries go out over HTTP through the core's state machine.

Each attempt POSTs the event's stored bytes unchanged, signed, with a 5 s total timeout (wall
time, at any time scale) and no redirects. :func:`whsim.core.delivery.before_attempt` and
:func:`whsim.core.delivery.after_attempt` decide what happens next; the store keeps the result.

Isolation: at most ``max_per_endpoint`` attempts per webhook are in flight, the rest of that
webhook's due deliveries wait in its own queue, and at most ``max_in_flight`` attempts run in
all. A slow or dead endpoint so holds at most its own slots, never the others' queues. Each
webhook has its own connection pool: one shared httpx pool slows down sharply with many
concurrent requests (measured: 1 pool x 128 in flight is ~8x slower than 16 pools x 8).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import heapq
import itertools
import json
import logging
import random
import time
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from whsim import __version__
from whsim.core.clock import Clock
from whsim.core.delivery import DeliveryStatus, after_attempt, before_attempt
from whsim.core.policy import RetryPolicy
from whsim.core.registry import Mode
from whsim.core.signing import SIGNATURE_HEADER, sign
from whsim.core.spec.events import new_event_id
from whsim.sender import netguard
from whsim.sender.config import SenderConfig
from whsim.sender.store import CANCELLED, AttemptRecord, DeliveryRow, Store

__all__ = ["Dispatcher", "Outcome", "new_client", "policy_for", "post", "wall_iso"]

log = logging.getLogger("whsim.sender")

USER_AGENT = f"whsim-sender/{__version__}"
_DRAIN_LIMIT = 64 * 1024


def wall_iso(epoch_s: float | None = None) -> str:
    """Wall-clock time as ISO-8601 UTC with milliseconds and ``Z``."""
    moment = datetime.fromtimestamp(time.time() if epoch_s is None else epoch_s, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one HTTP request ended: a status, or an error kind from ``NETWORK_ERRORS``.

    ``body`` is the start of the answer (at most 64 KiB); ``truncated`` says there was more.
    """

    status: int | None
    error: str | None
    detail: str | None
    body: bytes
    truncated: bool
    latency_ms: float


async def post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    config: SenderConfig,
    timeout_s: float | None,
    resolver: netguard.Resolver = netguard.system_resolver,
) -> Outcome:
    """POST ``body`` to ``url`` once; never raises for network trouble.

    ``timeout_s`` bounds the whole request (connect, send, answer); None waits forever. In
    production the host is resolved, checked and pinned first (error kind ``blocked`` or
    ``dns``). Redirects are not followed: a 3xx is the answer. Reads at most 64 KiB of the answer.
    """
    started = time.perf_counter()
    send_headers = dict(headers)
    target, extensions = url, {}
    follow = "follow-redirects" in config.faults

    def done(
        status: int | None,
        error: str | None,
        detail: str | None,
        data: bytes = b"",
        truncated: bool = False,
    ) -> Outcome:
        return Outcome(
            status, error, detail, data, truncated, (time.perf_counter() - started) * 1000
        )

    try:
        async with asyncio.timeout(timeout_s):
            if config.mode is Mode.PRODUCTION and "ssrf" not in config.faults:
                try:
                    pinned = await netguard.pin(url, resolver)
                except netguard.Blocked as exc:
                    return done(None, "blocked", str(exc))
                except OSError as exc:
                    return done(None, "dns", f"cannot resolve the host: {exc}")
                target, extensions = pinned.url, pinned.extensions
                send_headers["Host"] = pinned.host
            request = client.build_request(
                "POST",
                target,
                content=body,
                headers=send_headers,
                extensions=extensions,
                timeout=None if timeout_s is None else httpx.Timeout(timeout_s),
            )
            response = await client.send(request, stream=True, follow_redirects=follow)
            try:
                data = bytearray()
                truncated = False
                async for chunk in response.aiter_raw():
                    data += chunk
                    if len(data) >= _DRAIN_LIMIT:
                        truncated = True
                        break
            finally:
                await response.aclose()
            return done(response.status_code, None, None, bytes(data), truncated)
    except (TimeoutError, httpx.TimeoutException):
        return done(None, "timeout", f"no answer within {timeout_s} s")
    except httpx.ConnectError as exc:
        text = str(exc)
        lowered = text.lower()
        if "name or service" in lowered or "nodename" in lowered or "getaddrinfo" in lowered:
            return done(None, "dns", text)
        if "ssl" in lowered or "certificate" in lowered:
            return done(None, "tls", text)
        return done(None, "connect", text or "connection failed")
    except httpx.HTTPError as exc:
        return done(
            None, "reset", f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        )


def new_client(max_connections: int) -> httpx.AsyncClient:
    """An httpx client as every attempt uses it: no redirects, no proxies from the environment.

    It asks for uncompressed answers, so the logged excerpt is readable and a compressed
    answer cannot expand past the 64 KiB read limit.
    """
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return httpx.AsyncClient(
        limits=limits,
        follow_redirects=False,
        trust_env=False,
        headers={"Accept-Encoding": "identity"},
    )


def _reserialized(body: bytes) -> bytes:
    # Fault resign-body: what a sender that re-encodes its payload dict would sign.
    return json.dumps(json.loads(body)).encode("utf-8")


def _with_new_id(body: bytes, rng: random.Random) -> bytes:
    # Fault new-id-per-retry: same envelope, fresh id, same compact encoding.
    doc = json.loads(body)
    doc["id"] = new_event_id(rng)
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Dispatcher:
    """Runs due deliveries. Call :meth:`start` once, :meth:`schedule` per new delivery, :meth:`stop`."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        policy: RetryPolicy,
        config: SenderConfig,
        *,
        resolver: netguard.Resolver = netguard.system_resolver,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.policy = policy
        self.config = config
        self._clients: dict[str, httpx.AsyncClient] = {}
        self.resolver = resolver
        self.rng = rng or random.Random()
        self._heap: list[tuple[int, int, str, str]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._workers: dict[str, int] = defaultdict(int)
        self._ready: dict[str, deque[str]] = defaultdict(deque)
        self._global = asyncio.Semaphore(config.max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._scale = config.time_scale

    @property
    def in_flight(self) -> int:
        """Attempts running or waiting for a global slot (one per busy worker)."""
        return sum(self._workers.values())

    def start(self) -> int:
        """Queue every pending delivery in the store and start the loop; returns how many."""
        pending = self.store.pending_deliveries()
        for p in pending:
            self.schedule(p.id, p.webhook_id, p.next_attempt_ms)
        self._runner = asyncio.get_running_loop().create_task(self._run(), name="dispatcher")
        return len(pending)

    async def stop(self) -> None:
        """Stop the loop and cancel attempts in flight (they stay pending in the store)."""
        tasks = [t for t in (self._runner, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)

    def client(self, webhook_id: str) -> httpx.AsyncClient:
        """The webhook's own connection pool (created on first use)."""
        client = self._clients.get(webhook_id)
        if client is None:
            client = new_client(self.config.max_per_endpoint)
            self._clients[webhook_id] = client
        return client

    def forget(self, webhook_id: str) -> None:
        """Close a deleted webhook's connections, once its attempts in flight have ended."""
        client = self._clients.pop(webhook_id, None)
        if client is None:
            return
        delay = self.config.timeout_s + 1 if self._workers.get(webhook_id) else 0.0

        async def close() -> None:
            await asyncio.sleep(delay)
            await client.aclose()

        task = asyncio.get_running_loop().create_task(close())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def schedule(self, delivery_id: str, webhook_id: str, due_ms: int) -> None:
        """Queue a pending delivery to be attempted at policy time ``due_ms``."""
        heapq.heappush(self._heap, (due_ms, next(self._seq), delivery_id, webhook_id))
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            now = self.clock.now_ms()
            while self._heap and self._heap[0][0] <= now:
                _, _, delivery_id, webhook_id = heapq.heappop(self._heap)
                self._admit(delivery_id, webhook_id)
            timeout = None
            if self._heap:
                timeout = (self._heap[0][0] - now) / self._scale / 1000 + 0.0005
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _admit(self, delivery_id: str, webhook_id: str) -> None:
        self._ready[webhook_id].append(delivery_id)
        if self._workers[webhook_id] < self.config.max_per_endpoint:
            self._workers[webhook_id] += 1
            task = asyncio.get_running_loop().create_task(self._worker(webhook_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _worker(self, webhook_id: str) -> None:
        # Long-lived workers, one per concurrent attempt of a webhook: a fresh task per attempt
        # costs ~0.15 ms of CPU (anyio keeps per-task state), a quarter of a plain request.
        ready = self._ready[webhook_id]
        try:
            while ready:
                delivery_id = ready.popleft()
                try:
                    async with self._global:
                        await self._attempt_once(delivery_id)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # A bug must not stop other deliveries; this one stays pending in the
                    # store and is retried after the next restart.
                    log.exception("delivery %s: attempt failed inside the sender", delivery_id)
        finally:
            self._workers[webhook_id] -= 1
            if self._workers[webhook_id] <= 0 and not ready:
                self._workers.pop(webhook_id, None)
                self._ready.pop(webhook_id, None)

    async def _attempt_once(self, delivery_id: str) -> None:
        row = self.store.get_delivery(delivery_id)
        if row is None or row.status != DeliveryStatus.PENDING:
            return  # deleted with its webhook, or already ended
        now = self.clock.now_ms()
        state = before_attempt(row.state, self.policy, now)
        if state.terminal:
            self.store.end_delivery(delivery_id, state, str(state.status), wall_iso())
            log.info("delivery %s %s %s: expired, not sent", row.id, row.event_id, row.event_type)
            return
        if row.webhook_status != "active":
            reason = f"webhook is {row.webhook_status}, not active"
            ended = dataclasses.replace(
                state,
                status=DeliveryStatus.REJECTED,
                next_attempt_ms=None,
                ended_ms=now,
                reason=reason,
            )
            self.store.end_delivery(delivery_id, ended, CANCELLED, wall_iso())
            return
        number = state.attempts + 1
        body, headers = self._request(row, number)
        started_at = wall_iso()
        sent_ms = self.clock.now_ms()
        timeout = None if "no-timeout" in self.config.faults else self.config.timeout_s
        outcome = await post(
            self.client(row.webhook_id),
            row.url,
            body,
            headers,
            config=self.config,
            timeout_s=timeout,
            resolver=self.resolver,
        )
        finished_ms = max(self.clock.now_ms(), sent_ms)
        status, error = outcome.status, outcome.error
        if (
            "retry-after-2xx" in self.config.faults
            and status is not None
            and 200 <= status < 300
            and number == 1
        ):
            status, error = None, "reset"
        new = after_attempt(
            state,
            self.policy,
            sent_ms=sent_ms,
            finished_ms=finished_ms,
            status=status,
            error=error,
            jitter_u=self.rng.random(),
        )
        excerpt = outcome.body[: self.config.excerpt_bytes]
        attempt = AttemptRecord(
            number=number,
            started_at=started_at,
            sent_ms=sent_ms,
            finished_ms=finished_ms,
            latency_ms=round(outcome.latency_ms, 3),
            status_code=outcome.status,
            error=outcome.error,
            error_detail=outcome.detail,
            response_excerpt=excerpt.decode("utf-8", "replace") if excerpt else None,
            response_truncated=outcome.truncated or len(outcome.body) > len(excerpt),
        )
        if not self.store.record_attempt(
            delivery_id, attempt, new, None if not new.terminal else wall_iso()
        ):
            return  # the webhook was deleted while the attempt was in flight
        if new.next_attempt_ms is not None and not new.terminal:
            self.schedule(delivery_id, row.webhook_id, new.next_attempt_ms)
        if log.isEnabledFor(logging.INFO):
            answer = f"HTTP {outcome.status}" if outcome.status is not None else outcome.error
            if new.terminal:
                then = f"{new.status}: {new.reason}"
            else:
                wait_s = ((new.next_attempt_ms or finished_ms) - finished_ms) / 1000
                then = f"retry in {wait_s:g} s policy time"
            log.info(
                "delivery %s %s %s attempt %d -> %s in %.0f ms; %s",
                row.id,
                row.event_id,
                row.event_type,
                number,
                answer,
                outcome.latency_ms,
                then,
            )

    def _request(self, row: DeliveryRow, number: int) -> tuple[bytes, dict[str, str]]:
        """The exact bytes and headers of one attempt (faults bend them here)."""
        faults = self.config.faults
        body = row.body
        if "new-id-per-retry" in faults and number > 1:
            body = _with_new_id(body, self.rng)
        signed = _reserialized(body) if "resign-body" in faults else body
        secret = row.secret + "-wrong" if "wrong-secret" in faults else row.secret
        event_id = row.event_id if body is row.body else str(json.loads(body)["id"])
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Webhook-Id": event_id,
            "X-Webhook-Attempt": str(number),
        }
        if "no-signature" not in faults:
            headers[SIGNATURE_HEADER] = sign(signed, secret)
        return body, headers


def policy_for(config: SenderConfig) -> RetryPolicy:
    """The retry policy a config runs: the RETRY-1 reading, bent by the retry faults."""
    policy = RetryPolicy.seed(config.reading)
    faults = config.faults
    if "no-retry" in faults:
        return RetryPolicy(name=policy.name + "+no-retry", delays_ms=())
    if "wrong-backoff" in faults:
        return RetryPolicy(
            name=policy.name + "+wrong-backoff", delays_ms=(1000,) * policy.max_retries
        )
    if "too-many-retries" in faults:
        return RetryPolicy(
            name=policy.name + "+too-many-retries",
            delays_ms=(*policy.delays_ms, 16000, 16000, 16000),
        )
    return policy
