"""The delivery loop: due deliveries go out over HTTP, each attempt stepped through the core.

Each attempt POSTs the event's stored bytes unchanged, signed, with a 5 s total timeout (wall
time, at any time scale) and no redirects. :func:`whsim.core.delivery.before_attempt`,
:func:`~whsim.core.delivery.after_attempt` and :func:`~whsim.core.delivery.cancel` decide every
next state, terminal ones included; the store keeps the result.

Isolation (see :mod:`whsim.sender.isolation`): each webhook has its own queue of due
deliveries, at most ``max_per_endpoint`` attempts in flight and its own connection pool (so
one webhook's connections never crowd out another's). All attempts share ``max_in_flight``
slots, and endpoints whose circuit is open (slow or timing out) may hold at most half of them,
so a hanging endpoint slows only its own deliveries.

Stopping (:meth:`Dispatcher.stop`) takes no new attempt, lets those in flight end (at most the
attempt timeout) and records their outcomes, so a graceful stop sends nothing twice.

Hook methods (:meth:`~Dispatcher.send`, :meth:`~Dispatcher.request`,
:meth:`~Dispatcher.observed`, :meth:`~Dispatcher.attempt_timeout_s`) are where
:mod:`whsim.sender.faults` bends a test-only broken sender; this module knows no fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import logging
import random
import ssl
import time
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import certifi

from whsim import __version__
from whsim.core.clock import Clock
from whsim.core.delivery import (
    DeliveryState,
    DeliveryStatus,
    after_attempt,
    before_attempt,
    cancel,
)
from whsim.core.policy import RetryPolicy
from whsim.core.registry import Mode, WebhookStatus
from whsim.core.signing import SIGNATURE_HEADER, signature_value
from whsim.sender import netguard
from whsim.sender.config import SenderConfig
from whsim.sender.isolation import Circuit, Lanes, LanesClosed
from whsim.sender.store import CANCELLED, AttemptRecord, DeliveryRow, Store

__all__ = ["Dispatcher", "Outcome", "new_client", "post", "wall_iso"]

log = logging.getLogger("whsim.sender")

USER_AGENT = f"whsim-sender/{__version__}"
_DRAIN_LIMIT = 64 * 1024
VERIFYING_RECHECK_MS = 1_000
"""While a URL change is being verified, a due attempt looks again after this (policy ms)."""


def wall_iso(epoch_s: float | None = None) -> str:
    """Wall-clock time as ISO-8601 UTC with milliseconds and ``Z``."""
    epoch_ms = int((time.time() if epoch_s is None else epoch_s) * 1000)
    second, ms = divmod(epoch_ms, 1000)
    return f"{_iso_second(second)}.{ms:03d}Z"


@functools.lru_cache(maxsize=4)
def _iso_second(second: int) -> str:
    # Formatting a date costs more than the rest of an attempt's bookkeeping; attempts that
    # start within the same second share it.
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


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
    client: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    mode: Mode,
    timeout_s: float | None,
    resolver: netguard.Resolver = netguard.system_resolver,
    follow_redirects: bool = False,
) -> Outcome:
    """POST ``body`` to ``url`` once; never raises for network trouble.

    ``timeout_s`` bounds the whole request (connect, send, answer); None waits forever. In
    production ``mode`` the host is resolved and checked first (error kind ``blocked`` or
    ``dns``) and the connection is made to the checked address itself, the URL's host kept in
    ``Host`` and as the TLS server name (certificate checked against it), so a DNS answer that
    changes in between cannot redirect it. Redirects are not followed (a 3xx is the answer)
    unless ``follow_redirects``. Reads at most 64 KiB of the answer; a connection whose answer
    was not read to the end is closed, not reused.
    """
    started = time.perf_counter()
    send_headers = dict(headers)
    target, server_name = url, None

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
            if mode is Mode.PRODUCTION:
                try:
                    pinned = await netguard.pin(url, resolver)
                except netguard.Blocked as exc:
                    return done(None, "blocked", str(exc))
                except OSError as exc:
                    return done(None, "dns", f"cannot resolve the host: {exc}")
                target = pinned.url
                server_name = pinned.extensions.get("sni_hostname")
                send_headers["Host"] = pinned.host
            async with client.post(
                target,
                data=body,
                headers=send_headers,
                allow_redirects=follow_redirects,
                server_hostname=server_name,
            ) as response:
                data = bytearray()
                while len(data) < _DRAIN_LIMIT:
                    chunk = await response.content.read(_DRAIN_LIMIT - len(data))
                    if not chunk:
                        break
                    data += chunk
                truncated = len(data) >= _DRAIN_LIMIT
                return done(response.status, None, None, bytes(data), truncated)
    except TimeoutError:  # aiohttp's own timeouts are TimeoutErrors too
        return done(None, "timeout", f"no answer within {timeout_s} s")
    except aiohttp.ClientConnectorDNSError as exc:
        return done(None, "dns", str(exc))
    except aiohttp.ClientSSLError as exc:
        return done(None, "tls", str(exc))
    except aiohttp.ClientConnectorError as exc:
        return done(None, "connect", str(exc) or "connection failed")
    except (aiohttp.ClientError, ValueError, OSError) as exc:
        return done(
            None, "reset", f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        )


@functools.cache
def _tls() -> ssl.SSLContext:
    # One verifying context for every pool: building one loads the CA bundle (~18 ms of CPU on
    # the event loop), which for hundreds of webhooks stalled every delivery at startup.
    return ssl.create_default_context(cafile=certifi.where())


def new_client(max_connections: int) -> aiohttp.ClientSession:
    """A connection pool as every attempt uses it: no redirects, no proxies from the environment.

    aiohttp, not httpx: on loopback it makes a request for a fifth of httpx's CPU (measured in
    ``benchmarks/bench_sender.py``). Keep-alive connections, at most ``max_connections``; every
    connection gets TCP_NODELAY (aiohttp sets it). It asks for uncompressed answers and never
    decompresses, so the logged excerpt is readable and a compressed answer cannot expand past
    the 64 KiB read limit; it keeps no cookies. Every pool shares one TLS context. Call inside
    the event loop; close with ``await client.close()``.
    """
    connector = aiohttp.TCPConnector(limit=max_connections, limit_per_host=0, ssl=_tls())
    return aiohttp.ClientSession(
        connector=connector,
        trust_env=False,
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"Accept-Encoding": "identity"},
        timeout=aiohttp.ClientTimeout(total=None),  # post() bounds each request itself
    )


class _Watch:
    """Opens an endpoint's circuit when one attempt has been in flight over ``slow_after_s``.

    A timer that fires late says more about the event loop than the endpoint (a stalled loop
    delays every answer's processing too): when it is late by more than half its period it
    arms again instead of judging, so a busy sender does not mark healthy endpoints slow.
    """

    def __init__(self, dispatcher: Dispatcher, webhook_id: str, slow_after_s: float) -> None:
        self._dispatcher = dispatcher
        self._webhook_id = webhook_id
        self._period = slow_after_s
        self._loop = asyncio.get_running_loop()
        self._arm()

    def _arm(self) -> None:
        self._due = self._loop.time() + self._period
        self._timer = self._loop.call_at(self._due, self._fire)

    def _fire(self) -> None:
        if self._loop.time() - self._due > self._period / 2:
            self._arm()  # the loop was stalled: look again
            return
        why = f"an attempt is in flight over {self._period:g} s"
        self._dispatcher._slow(self._webhook_id, why)

    def cancel(self) -> None:
        self._timer.cancel()


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
        self._clients: dict[str, aiohttp.ClientSession] = {}
        self.resolver = resolver
        self.rng = rng or random.Random()
        self.lanes = Lanes(config.max_in_flight, config.max_slow_in_flight)
        self.circuits: dict[str, Circuit] = defaultdict(Circuit)
        self._heap: list[tuple[int, int, str, str]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._workers: dict[str, int] = defaultdict(int)
        self._ready: dict[str, deque[str]] = defaultdict(deque)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closers: set[asyncio.Task[None]] = set()
        self._records: list[
            tuple[str, AttemptRecord, DeliveryState, str | None, asyncio.Future[bool]]
        ] = []
        self._runner: asyncio.Task[None] | None = None
        self._scale = config.time_scale
        self._stopping = False
        self.sending = 0
        """Attempts whose request is out and whose outcome is not recorded yet."""

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

    async def stop(self, grace_s: float | None = None) -> int:
        """Take no new attempt; let those in flight end and record them; returns how many ended.

        Waits at most ``grace_s`` (default: the attempt timeout plus one second) for the
        attempts in flight; whatever is still running then is cancelled and stays pending in
        the store, to be made again after a restart. Deliveries not yet started stay pending.
        """
        self._stopping = True
        self.lanes.close()
        if self._runner is not None:
            self._runner.cancel()
        sending = self.sending
        grace = self.config.timeout_s + 1.0 if grace_s is None else grace_s
        workers = list(self._tasks)
        if workers:
            _, late = await asyncio.wait(workers, timeout=grace)
            if late:
                log.warning("stop: %d attempt(s) did not end within %g s", len(late), grace)
            for task in late:
                task.cancel()
        rest = [t for t in (self._runner, *self._tasks, *self._closers) if t is not None]
        for task in self._closers:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        return sending - self.sending

    def client(self, webhook_id: str) -> aiohttp.ClientSession:
        """The webhook's own connection pool (created on first use)."""
        client = self._clients.get(webhook_id)
        if client is None:
            client = new_client(self.config.max_per_endpoint)
            self._clients[webhook_id] = client
        return client

    def forget(self, webhook_id: str) -> None:
        """Close a deleted webhook's connections, once its attempts in flight have ended."""
        self.circuits.pop(webhook_id, None)
        client = self._clients.pop(webhook_id, None)
        if client is None:
            return
        delay = self.config.timeout_s + 1 if self._workers.get(webhook_id) else 0.0

        async def close() -> None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(delay)
            await client.close()

        task = asyncio.get_running_loop().create_task(close())
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    def schedule(self, delivery_id: str, webhook_id: str, due_ms: int) -> None:
        """Queue a pending delivery to be attempted at policy time ``due_ms``.

        Ignored while stopping: the delivery is pending in the store and resumes at restart.
        """
        if self._stopping:
            return
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
            while ready and not self._stopping:
                delivery_id = ready.popleft()
                circuit = self.circuits[webhook_id]
                slow = circuit.lane()
                circuit.busy += 1
                try:
                    await self.lanes.acquire(slow)
                except LanesClosed:
                    circuit.busy -= 1
                    return  # stopping: the delivery stays pending in the store
                except BaseException:
                    circuit.busy -= 1
                    raise
                try:
                    await self._attempt_once(delivery_id)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # A bug must not stop other deliveries; this one stays pending in the
                    # store and is retried after the next restart.
                    log.exception("delivery %s: attempt failed inside the sender", delivery_id)
                finally:
                    circuit.busy -= 1
                    self.lanes.release(slow)
        finally:
            self._workers[webhook_id] -= 1
            if self._workers[webhook_id] <= 0 and not ready:
                self._workers.pop(webhook_id, None)
                self._ready.pop(webhook_id, None)

    # --- hooks (overridden by the test-only faults layer) --------------------------------------

    def connect_mode(self) -> Mode:
        """The mode whose address rules ``send`` applies at connect time (HTTPS-1, SSRF)."""
        return self.config.mode

    def follows_redirects(self) -> bool:
        """Whether ``send`` follows a 3xx; never (RETRY-5: a redirect is a failed attempt)."""
        return False

    async def send(
        self,
        client: aiohttp.ClientSession,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        timeout_s: float | None,
    ) -> Outcome:
        """Make one HTTP request (deliveries and, through the service, verification)."""
        return await post(
            client,
            url,
            body,
            headers,
            mode=self.connect_mode(),
            timeout_s=timeout_s,
            resolver=self.resolver,
            follow_redirects=self.follows_redirects(),
        )

    def attempt_timeout_s(self) -> float | None:
        """The total timeout of one attempt, in wall seconds (TIMEOUT-2)."""
        return self.config.timeout_s

    def observed(self, outcome: Outcome, number: int) -> tuple[int | None, str | None]:
        """The (status, error) that attempt ``number`` reports to the core."""
        return outcome.status, outcome.error

    def request(self, row: DeliveryRow, number: int) -> tuple[bytes, dict[str, str]]:
        """The exact bytes and headers of attempt ``number``: stored bytes, signed per SIG-1."""
        return row.body, {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Webhook-Id": row.event_id,
            "X-Webhook-Attempt": str(number),
            SIGNATURE_HEADER: signature_value(row.body, row.secret, self.config.readings["SIG-1"]),
        }

    # --- one attempt ---------------------------------------------------------------------------

    def _slow(self, webhook_id: str, why: str) -> None:
        if webhook_id in self.circuits and self.circuits[webhook_id].slow():
            log.warning(
                "webhook %s: circuit open (%s); its attempts use the slow lane", webhook_id, why
            )

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
        if row.webhook_status == str(WebhookStatus.PENDING_VERIFICATION):
            # A URL change is being verified: the attempt waits for its outcome instead of being
            # cancelled, so a retry that falls due during the handshake survives one that passes.
            self.schedule(delivery_id, row.webhook_id, now + VERIFYING_RECHECK_MS)
            return
        if row.webhook_status != "active":
            ended = cancel(state, now, f"webhook is {row.webhook_status}, not active")
            self.store.end_delivery(delivery_id, ended, CANCELLED, wall_iso())
            return
        number = state.attempts + 1
        body, headers = self.request(row, number)
        started_at = wall_iso()
        sent_ms = self.clock.now_ms()
        slow_after = self.config.slow_after_s
        circuit = self.circuits[row.webhook_id]
        watch = _Watch(self, row.webhook_id, slow_after)
        self.sending += 1
        start_ns = time.monotonic_ns()
        try:
            outcome = await self.send(
                self.client(row.webhook_id),
                row.url,
                body,
                headers,
                timeout_s=self.attempt_timeout_s(),
            )
        except BaseException:
            self.sending -= 1
            raise
        finally:
            watch.cancel()
        sent = (body, headers, start_ns, time.monotonic_ns())
        try:
            await self._record(row, state, number, started_at, sent_ms, outcome, sent)
        finally:
            self.sending -= 1
        if outcome.error == "timeout":
            self._slow(row.webhook_id, "an attempt timed out")
        elif outcome.latency_ms < slow_after * 1000 and circuit.fast():
            log.info("webhook %s: circuit closed (answered in time)", row.webhook_id)

    async def _store_attempt(
        self, delivery_id: str, attempt: AttemptRecord, state: DeliveryState, ended_at: str | None
    ) -> bool:
        """Commit one ended attempt; True unless its delivery is gone (see Store.record_attempt).

        Attempts that end in the same turn of the event loop are committed together, in one
        transaction, at the start of the next turn (a commit per attempt was the largest cost
        of the store). The caller resumes once its attempt is committed.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._records.append((delivery_id, attempt, state, ended_at, future))
        if len(self._records) == 1:
            loop.call_soon(self._commit_records)
        return await future

    def _commit_records(self) -> None:
        batch, self._records = self._records, []
        try:
            kept = self.store.record_attempts([entry[:4] for entry in batch])
        except Exception as exc:  # every waiter sees it, as it would its own failed commit
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (*_, future), ok in zip(batch, kept, strict=True):
            if not future.done():
                future.set_result(ok)

    async def _record(
        self,
        row: DeliveryRow,
        state: DeliveryState,
        number: int,
        started_at: str,
        sent_ms: int,
        outcome: Outcome,
        sent: tuple[bytes, Mapping[str, str], int, int] | None = None,
    ) -> None:
        """Step the core and store the attempt; ``sent`` is (body, headers, start_ns, end_ns)
        of the request as it went out, kept so the log exports as a trace (``format=jsonl``)."""
        finished_ms = max(self.clock.now_ms(), sent_ms)
        status, error = self.observed(outcome, number)
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
        body, headers, start_ns, end_ns = sent if sent is not None else (None, None, None, None)
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
            url=row.url,
            headers=None if headers is None else tuple(headers.items()),
            body=None if body is None or body == row.body else body,
            start_ns=start_ns,
            end_ns=end_ns,
        )
        if not await self._store_attempt(
            row.id, attempt, new, None if not new.terminal else wall_iso()
        ):
            return  # the webhook was deleted while the attempt was in flight
        if new.next_attempt_ms is not None and not new.terminal:
            self.schedule(row.id, row.webhook_id, new.next_attempt_ms)
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
