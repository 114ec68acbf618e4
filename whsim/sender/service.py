"""The sender's operations, free of HTTP: webhooks, verification, events, the delivery log.

:class:`Sender` owns the store, the policy clock, the HTTP client and the dispatcher. Every
method either returns JSON-ready data or raises :class:`whsim.core.errors.SenderError` /
:class:`whsim.core.errors.RegistrationError`; the web layer (:mod:`whsim.sender.app`) only maps them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any, Final

import aiohttp

from whsim import __version__
from whsim.core.clock import ScaledClock
from whsim.core.delivery import DeliveryStatus, before_attempt, new_delivery
from whsim.core.errors import RegistrationError, SenderError
from whsim.core.policy import RetryPolicy
from whsim.core.registry import (
    Mode,
    WebhookStatus,
    challenge_accepted,
    status_after_url_change,
    status_after_verification,
    validate_registration,
    validate_update,
)
from whsim.core.signing import SIGNATURE_HEADER, signature_value
from whsim.core.spec.events import (
    TEST_EVENT_TYPE,
    Event,
    make_event,
    new_event_id,
    verification_body,
)
from whsim.sender import netguard
from whsim.sender.config import SenderConfig
from whsim.sender.dispatcher import USER_AGENT, Dispatcher, Outcome, new_client, wall_iso
from whsim.sender.export import trace_lines
from whsim.sender.store import CANCELLED, AttemptRecord, DeliveryRow, Store, WebhookRow, new_id

__all__ = ["DELIVERY_STATUSES", "Sender", "not_found"]

log = logging.getLogger("whsim.sender")

DELIVERY_STATUSES: Final = (*(str(s) for s in DeliveryStatus), CANCELLED)


def not_found(what: str, ident: str) -> SenderError:
    """The 404 for an unknown id."""
    return SenderError(
        f"no {what} with id {ident!r}",
        status=404,
        code="not_found",
        details={"resource": what, "id": ident},
    )


def _verification_refused(info: Mapping[str, Any]) -> RegistrationError:
    """The 422 for a failed handshake under VERIFY-3 ``reject-registration``."""
    return RegistrationError(
        f"the url did not pass verification ({info.get('detail')}); nothing was stored",
        field="url",
        code="verification_failed",
        clause="VERIFY-3",
    )


class Sender:
    """One running sender. Use ``await start()`` inside the event loop and ``await stop()``.

    Hook methods (:meth:`retry_policy`, :meth:`make_dispatcher`, :meth:`webhook_json`,
    :meth:`validation_mode`, :meth:`check_addresses`, :meth:`verify`, :meth:`subscribers`,
    :meth:`meta`) are where :mod:`whsim.sender.faults` bends a test-only broken sender.
    """

    def __init__(
        self,
        config: SenderConfig,
        *,
        resolver: netguard.Resolver = netguard.system_resolver,
    ) -> None:
        self.config = config
        self.resolver = resolver
        self.policy = self.retry_policy()
        self.store: Store
        self.clock: ScaledClock
        self.client: aiohttp.ClientSession
        self.dispatcher: Dispatcher
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._subscribers: dict[str, list[str]] = {}
        self._subscribers_version = -1
        self._rng = secrets.SystemRandom()
        self.resumed = 0

    async def start(self) -> None:
        """Open the store, continue the policy clock and resume every pending delivery."""
        self.store = Store(
            self.config.db_path, synchronous=self.config.synchronous, background_checkpoints=True
        )
        start = self.store.policy_start_ms(int(time.time() * 1000), self.config.time_scale)
        self.clock = ScaledClock(self.config.time_scale, start_ms=start)
        self.client = new_client(16)  # verification requests only
        self.dispatcher = self.make_dispatcher()
        self.resumed = self.dispatcher.start()

    async def stop(self) -> None:
        """Take no new attempt, let those in flight end and record them, close the store."""
        ended = await self.dispatcher.stop()
        if ended:
            log.info("stop: %d attempt(s) in flight ended and were recorded", ended)
        await self.client.close()
        self.store.close()

    async def sync(self) -> None:
        """Make every acknowledged write so far power-safe (see :class:`~whsim.sender.store.Durable`)."""
        await self.store.durable.sync()

    def retry_policy(self) -> RetryPolicy:
        """The retry policy deliveries follow (RETRY-1..4, EXPIRY-1, CODES-1 or a vendor policy)."""
        return self.config.readings.retry_policy()

    def make_dispatcher(self) -> Dispatcher:
        return Dispatcher(self.store, self.clock, self.policy, self.config, resolver=self.resolver)

    async def send(
        self, url: str, body: bytes, headers: Mapping[str, str], *, timeout_s: float | None
    ) -> Outcome:
        """One request outside the delivery loop (the verification handshake)."""
        return await self.dispatcher.send(self.client, url, body, headers, timeout_s=timeout_s)

    # --- time ----------------------------------------------------------------------------------

    def policy_to_wall_iso(self, policy_ms: int | None) -> str | None:
        """When a policy-time instant happens (or happened) on the wall clock."""
        if policy_ms is None:
            return None
        delta_s = (policy_ms - self.clock.now_ms()) / 1000 / self.config.time_scale
        return wall_iso(time.time() + delta_s)

    def meta(self) -> dict[str, Any]:
        return {
            "mode": str(self.config.mode),
            "reading": self.config.reading,
            **self.config.readings.as_dict(),  # "readings": every clause's reading in force; "policy"
            "time_scale": self.config.time_scale,
            "version": __version__,
            "retry": {
                "policy": self.policy.name,
                "attempt_offsets_s": list(self.policy.attempt_offsets()),
                "codes": self.policy.codes,
                "backoff_from": self.policy.backoff_from,
                "timeout_s": self.config.timeout_s,
                "expiry_s": self.policy.expiry_ms / 1000,
                "expiry_from": self.policy.expiry_from,
            },
            "limits": {
                "max_in_flight": self.config.max_in_flight,
                "max_per_endpoint": self.config.max_per_endpoint,
                "max_body_bytes": self.config.max_body_bytes,
                "slow_after_s": self.config.slow_after_s,
                "max_slow_in_flight": self.dispatcher.lanes.slow_cap,
            },
            "durability": {"sqlite_synchronous": self.config.synchronous},
        }

    # --- webhooks ------------------------------------------------------------------------------

    def webhook_json(self, hook: WebhookRow) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": hook.id,
            "url": hook.url,
            "events": list(hook.events),
            "status": hook.status,
            "created_at": hook.created_at,
            "updated_at": hook.updated_at,
            "verification": hook.verification,
        }
        return doc

    def _hook(self, webhook_id: str) -> WebhookRow:
        hook = self.store.get_webhook(webhook_id)
        if hook is None:
            raise not_found("webhook", webhook_id)
        return hook

    def get_webhook(self, webhook_id: str) -> dict[str, Any]:
        return self.webhook_json(self._hook(webhook_id))

    def list_webhooks(self) -> dict[str, Any]:
        return {"webhooks": [self.webhook_json(h) for h in self.store.list_webhooks()]}

    def validation_mode(self, body: object) -> Mode:
        """The mode a registration or update body's URL is validated in."""
        return self.config.mode

    async def check_addresses(self, url: str) -> None:
        """In production, refuse a URL whose host resolves to a forbidden address (HTTPS-2)."""
        if self.config.mode is not Mode.PRODUCTION:
            return
        try:
            await netguard.check_url(url, self.resolver)
        except netguard.Blocked as exc:
            raise RegistrationError(
                f"production mode refuses this url: {exc}",
                field="url",
                code="forbidden_address",
                clause="HTTPS-2",
            ) from None
        except OSError:
            # An unresolvable name is not refused here: the handshake fails and says why, and
            # every connection checks the address again.
            return

    async def verify(self, url: str, secret: str) -> tuple[WebhookStatus | None, dict[str, Any]]:
        """Run the challenge handshake (VERIFY-1), signed per VERIFY-5 and SIG-1.

        The answer is judged per VERIFY-2; the status follows VERIFY-3 and is None when the
        registration is to be refused.
        """
        r = self.config.readings
        checked_at = wall_iso()
        challenge = secrets.token_urlsafe(32)
        body = verification_body(challenge)
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if r["VERIFY-5"] == "signed":
            headers[SIGNATURE_HEADER] = signature_value(body, secret, r["SIG-1"])
        outcome = await self.send(url, body, headers, timeout_s=self.config.verify_timeout_s)
        ok, why = challenge_accepted(challenge, outcome.status, outcome.body, r["VERIFY-2"])
        if outcome.error is not None:
            why = f"{outcome.error}: {outcome.detail}"
        status = status_after_verification(ok, r["VERIFY-3"])
        info = {
            "checked_at": checked_at,
            "result": "passed" if ok else "failed",
            "detail": why,
            "status_code": outcome.status,
            "error": outcome.error,
            "latency_ms": round(outcome.latency_ms, 3),
        }
        log.info("verification of %s: %s (%s)", url, info["result"], why)
        return status, info

    async def create_webhook(self, body: object) -> dict[str, Any]:
        """``POST /api/webhooks``: validate, verify (synchronously, VERIFY-1), store."""
        r = self.config.readings
        reg = validate_registration(
            body,
            self.validation_mode(body),
            events_reading=r["REG-6"],
            https_reading=r["HTTPS-1"],
        )
        await self.check_addresses(reg.url)
        status, info = await self.verify(reg.url, reg.secret)
        if status is None:
            raise _verification_refused(info)
        now = wall_iso()
        hook = WebhookRow(
            id=new_id("wh"),
            url=reg.url,
            events=reg.events,
            secret=reg.secret,
            status=str(status),
            created_at=now,
            updated_at=now,
            verified_at=info["checked_at"] if status is WebhookStatus.ACTIVE else None,
            verification=info,
        )
        self.store.insert_webhook(hook)
        log.info("webhook %s registered for %s: %s", hook.id, ", ".join(hook.events), hook.status)
        return self.webhook_json(hook)

    async def update_webhook(self, webhook_id: str, body: object) -> dict[str, Any]:
        """``PUT``: partial update (REG-4); a new URL, or any URL while not active, re-verifies."""
        self._hook(webhook_id)
        r = self.config.readings
        changes = validate_update(
            body,
            self.validation_mode(body),
            put_reading=r["REG-4"],
            events_reading=r["REG-6"],
            https_reading=r["HTTPS-1"],
        )
        async with self._locks[webhook_id]:
            hook = stored = self._hook(webhook_id)
            url = str(changes.get("url", hook.url))
            events = changes.get("events", hook.events)
            secret = str(changes.get("secret", hook.secret))
            assert isinstance(events, tuple)
            hook = dataclasses.replace(hook, events=events, secret=secret, updated_at=wall_iso())
            reverify = "url" in changes and (url != hook.url or hook.status != "active")
            if reverify:
                await self.check_addresses(url)
                waiting = status_after_url_change(WebhookStatus(hook.status), r["VERIFY-4"])
                hook = dataclasses.replace(hook, url=url, status=str(waiting))
                self.store.save_webhook(hook)
                if waiting is WebhookStatus.PENDING_VERIFICATION:
                    status, info = await self.verify(url, secret)
                    if status is None:
                        if self.store.get_webhook(webhook_id) is not None:
                            self.store.save_webhook(stored)  # the change is refused whole
                        raise _verification_refused(info)
                    hook = dataclasses.replace(
                        hook,
                        status=str(status),
                        verification=info,
                        verified_at=info["checked_at"]
                        if status is WebhookStatus.ACTIVE
                        else hook.verified_at,
                        updated_at=wall_iso(),
                    )
            if self.store.get_webhook(webhook_id) is None:
                raise not_found("webhook", webhook_id)  # deleted while verifying
            self.store.save_webhook(hook)
            return self.webhook_json(hook)

    async def delete_webhook(self, webhook_id: str) -> None:
        """``DELETE``: the webhook, its pending deliveries and its log go; 404 the second time."""
        if not self.store.delete_webhook(webhook_id):
            raise not_found("webhook", webhook_id)
        self._locks.pop(webhook_id, None)
        self.dispatcher.forget(webhook_id)
        log.info("webhook %s deleted", webhook_id)

    # --- events --------------------------------------------------------------------------------

    def emit(self, event_type: str, data: Mapping[str, Any]) -> Event:
        """Create an event and queue it for every active webhook subscribed to its type."""
        event = make_event(
            event_type, data, id=new_event_id(self._rng), timestamp_ms=int(time.time() * 1000)
        )
        self._enqueue(event, self.subscribers(event_type))
        return event

    def subscribers(self, event_type: str) -> list[str]:
        """Ids of the active webhooks subscribed to ``event_type`` (REG-6, REG-8).

        Kept per event type until a webhook changes (reading and decoding every webhook per
        event was a tenth of the API's cost per event in ``benchmarks/bench_sender.py``).
        """
        version = self.store.webhooks_version
        if self._subscribers_version != version:
            self._subscribers.clear()
            self._subscribers_version = version
        ids = self._subscribers.get(event_type)
        if ids is None:
            ids = self._subscribers[event_type] = [
                h.id
                for h in self.store.list_webhooks(status=str(WebhookStatus.ACTIVE))
                if event_type in h.events
            ]
        return list(ids)

    def _enqueue(self, event: Event, webhook_ids: list[str]) -> list[str]:
        now = self.clock.now_ms()
        pending = self.store.insert_event(event, now, webhook_ids, wall_iso())
        for p in pending:
            self.dispatcher.schedule(p.id, p.webhook_id, p.next_attempt_ms)
        return [p.id for p in pending]

    def _require_active(self, hook: WebhookRow, action: str) -> None:
        if hook.status != WebhookStatus.ACTIVE:
            raise SenderError(
                f"cannot {action}: webhook {hook.id} is {hook.status}; only active webhooks "
                "receive events (PUT its url to verify it again)",
                status=409,
                code="webhook_not_active",
                details={"status": hook.status},
            )

    def send_test(self, webhook_id: str) -> dict[str, Any]:
        """``POST .../test``: a signed ``webhook.test`` event (EVENT-11), retried like any other."""
        hook = self._hook(webhook_id)
        self._require_active(hook, "send a test event")
        data = {"webhook_id": hook.id, "message": "This is a test event from whsim sender."}
        event = make_event(
            TEST_EVENT_TYPE, data, id=new_event_id(self._rng), timestamp_ms=int(time.time() * 1000)
        )
        (delivery_id,) = self._enqueue(event, [hook.id])
        return self.delivery_json(self._delivery(hook.id, delivery_id))

    def redeliver(self, webhook_id: str, delivery_id: str) -> dict[str, Any]:
        """``POST .../redeliver``: a new delivery of the same event bytes (same id)."""
        hook = self._hook(webhook_id)
        old = self._delivery(webhook_id, delivery_id)
        if old.status == DeliveryStatus.PENDING:
            raise SenderError(
                f"delivery {delivery_id} is still pending; redeliver it once it has ended",
                status=409,
                code="delivery_pending",
            )
        self._require_active(hook, "redeliver")
        now = self.clock.now_ms()
        fresh = before_attempt(new_delivery(old.state.event_ms, now), self.policy, now)
        if fresh.status is DeliveryStatus.EXPIRED:
            raise SenderError(
                f"event {old.event_id} is older than the {self.policy.expiry_ms // 3_600_000} h "
                "expiry and is not sent again",
                status=409,
                code="event_expired",
                details={"clause": "EXPIRY-1"},
            )
        new = self.store.add_delivery(
            old.event_id, webhook_id, old.state.event_ms, now, wall_iso(), redelivery_of=old.id
        )
        self.dispatcher.schedule(new.id, webhook_id, now)
        return self.delivery_json(self._delivery(webhook_id, new.id))

    # --- the delivery log --------------------------------------------------------------------

    def _delivery(self, webhook_id: str, delivery_id: str) -> DeliveryRow:
        row = self.store.get_delivery(delivery_id)
        if row is None or row.webhook_id != webhook_id:
            raise not_found("delivery", delivery_id)
        return row

    def delivery_json(self, row: DeliveryRow) -> dict[str, Any]:
        pending = row.status == DeliveryStatus.PENDING
        return {
            "id": row.id,
            "webhook_id": row.webhook_id,
            "event_id": row.event_id,
            "event_type": row.event_type,
            "status": row.status,
            "attempt_count": row.state.attempts,
            "created_at": row.created_at,
            "next_attempt_at": self.policy_to_wall_iso(row.state.next_attempt_ms)
            if pending
            else None,
            "ended_at": row.ended_at,
            "reason": row.state.reason or None,
            "redelivery_of": row.redelivery_of,
        }

    @staticmethod
    def attempt_json(a: AttemptRecord) -> dict[str, Any]:
        return {
            "number": a.number,
            "started_at": a.started_at,
            "latency_ms": a.latency_ms,
            "status_code": a.status_code,
            "error": a.error,
            "error_detail": a.error_detail,
            "response_excerpt": a.response_excerpt,
            "response_truncated": a.response_truncated,
        }

    def list_deliveries(self, webhook_id: str, *, limit: int, status: str | None) -> dict[str, Any]:
        self._hook(webhook_id)
        rows = self.store.list_deliveries(webhook_id, limit=limit, status=status)
        return {"deliveries": [self.delivery_json(r) for r in rows]}

    def export_trace(
        self, webhook_id: str, *, status: str | None = None, limit: int | None = None
    ) -> Iterator[str]:
        """``?format=jsonl``: the webhook's log as a trace ``whsim check`` grades (see
        :mod:`whsim.sender.export`), every delivery unless ``limit``; 404 first."""
        self._hook(webhook_id)
        return trace_lines(
            self.store,
            webhook_id,
            time_scale=self.config.time_scale,
            live=True,
            status=status,
            limit=limit,
        )

    def get_delivery(self, webhook_id: str, delivery_id: str) -> dict[str, Any]:
        self._hook(webhook_id)
        row = self._delivery(webhook_id, delivery_id)
        doc = self.delivery_json(row)
        doc["event"] = {
            "id": row.event_id,
            "type": row.event_type,
            "timestamp": row.event_timestamp,
            "body": row.body.decode("utf-8"),
        }
        doc["attempts"] = [self.attempt_json(a) for a in self.store.attempts(row.id)]
        return doc
