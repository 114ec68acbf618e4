"""Test-only broken senders: the reference sender with one or more rules of the guide broken.

A conformance suite is only worth something if it fails a sender that breaks a rule, so the kit's
own tests and the broken-sender matrix run the reference sender with named faults. The faults
live here, as subclasses of the production :class:`~whsim.sender.service.Sender` and
:class:`~whsim.sender.dispatcher.Dispatcher` that override their hook methods; the production
modules never look at a fault name. Install them with :func:`create_faulty_app` (in process) or
run ``python -m whsim.sender.faults [whsim sender options]`` with ``WHSIM_SENDER_FAULTS`` (a
comma-separated list of names) in the environment. Never run them for anything but testing a
test suite: every one breaks the guide on purpose, and says so on startup and in
``GET /api/meta`` (``faults``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
from collections.abc import Mapping
from typing import Any, Final

from starlette.applications import Starlette

from whsim.core.errors import UnknownReadingError
from whsim.core.policy import RetryPolicy
from whsim.core.registry import Mode, WebhookStatus
from whsim.core.signing import SIGNATURE_HEADER, sign
from whsim.core.spec.events import new_event_id
from whsim.core.throttle import WINDOW_MS, ThrottleState
from whsim.sender import netguard
from whsim.sender.app import create_app
from whsim.sender.config import SenderConfig
from whsim.sender.dispatcher import Dispatcher, Outcome, wall_iso
from whsim.sender.service import Sender
from whsim.sender.source import EventSource
from whsim.sender.store import DeliveryRow, WebhookRow

__all__ = [
    "FAULTS",
    "FAULTS_ENV",
    "FaultyDispatcher",
    "FaultySender",
    "FaultySource",
    "create_faulty_app",
    "faulty_policy",
    "parse_faults",
]

log = logging.getLogger("whsim.sender")

FAULTS_ENV: Final = "WHSIM_SENDER_FAULTS"

FAULTS: Final[Mapping[str, str]] = {
    "no-retry": "never retries: every delivery gets one attempt (RETRY-1)",
    "wrong-backoff": "retries every 1 s instead of the reading's backoff (RETRY-1)",
    "too-many-retries": "three extra retries after the schedule ends (RETRY-1)",
    "retry-after-2xx": "retries once more after a 2xx answer (CODES-1)",
    "resign-body": "signs a re-serialized body but sends the original bytes (SIG-1)",
    "wrong-secret": "signs with a secret other than the registered one (SIG-1)",
    "no-signature": "sends no X-Webhook-Signature header (SIG-1)",
    "no-verification": "sends no verification request; webhooks are active at once (VERIFY-1)",
    "unsubscribed-events": "delivers every event type to every active webhook (REG-6)",
    "new-id-per-retry": "gives each retry a new event id (EVENT-9)",
    "follow-redirects": "follows 3xx answers (RETRY-5)",
    "no-timeout": "waits for an answer forever (TIMEOUT-2)",
    "return-secret": "returns the secret in webhook responses (REG-7)",
    "http-in-production": "accepts http URLs in production mode (HTTPS-1)",
    "ssrf": "skips the production address checks at registration and connection (HTTPS-2)",
    "fast-progress": "throttles job.progress to one per 2.5 s instead of 10 s (THROTTLE-1)",
}
"""Every fault name and the one rule it breaks."""


def parse_faults(text: str | None) -> frozenset[str]:
    """Fault names from a comma-separated string; raises :class:`UnknownReadingError`."""
    names = frozenset(part.strip() for part in (text or "").split(",") if part.strip())
    for name in sorted(names):
        if name not in FAULTS:
            raise UnknownReadingError("sender fault", name, tuple(FAULTS))
    return names


def faulty_policy(policy: RetryPolicy, faults: frozenset[str]) -> RetryPolicy:
    """``policy`` bent by the retry faults (no-retry, wrong-backoff, too-many-retries)."""
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


def _reserialized(body: bytes) -> bytes:
    # resign-body: what a sender that re-encodes its payload dict would sign.
    return json.dumps(json.loads(body)).encode("utf-8")


def _with_new_id(body: bytes, rng: random.Random) -> bytes:
    # new-id-per-retry: same envelope, fresh id, same compact encoding.
    doc = json.loads(body)
    doc["id"] = new_event_id(rng)
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class FaultyDispatcher(Dispatcher):
    """A dispatcher whose attempts break the delivery, signature and timeout rules named."""

    faults: frozenset[str] = frozenset()

    def connect_mode(self) -> Mode:
        return Mode.DEVELOPMENT if "ssrf" in self.faults else super().connect_mode()

    def follows_redirects(self) -> bool:
        return "follow-redirects" in self.faults

    def attempt_timeout_s(self) -> float | None:
        return None if "no-timeout" in self.faults else super().attempt_timeout_s()

    def observed(self, outcome: Outcome, number: int) -> tuple[int | None, str | None]:
        status, error = super().observed(outcome, number)
        ok = status is not None and 200 <= status < 300
        if "retry-after-2xx" in self.faults and ok and number == 1:
            return None, "reset"
        return status, error

    def request(self, row: DeliveryRow, number: int) -> tuple[bytes, dict[str, str]]:
        body, headers = super().request(row, number)
        faults = self.faults
        if "new-id-per-retry" in faults and number > 1:
            body = _with_new_id(body, self.rng)
            headers["X-Webhook-Id"] = str(json.loads(body)["id"])
        signed = _reserialized(body) if "resign-body" in faults else body
        secret = row.secret + "-wrong" if "wrong-secret" in faults else row.secret
        if "no-signature" in faults:
            headers.pop(SIGNATURE_HEADER, None)
        elif signed is not row.body or secret != row.secret:
            headers[SIGNATURE_HEADER] = sign(signed, secret)
        return body, headers


class FaultySender(Sender):
    """The reference sender with ``faults`` switched on (see :data:`FAULTS`)."""

    def __init__(
        self,
        config: SenderConfig,
        faults: frozenset[str],
        *,
        resolver: netguard.Resolver = netguard.system_resolver,
    ) -> None:
        self.faults = parse_faults(",".join(faults))
        super().__init__(config, resolver=resolver)

    def retry_policy(self) -> RetryPolicy:
        return faulty_policy(super().retry_policy(), self.faults)

    def make_dispatcher(self) -> Dispatcher:
        dispatcher = FaultyDispatcher(
            self.store, self.clock, self.policy, self.config, resolver=self.resolver
        )
        dispatcher.faults = self.faults
        return dispatcher

    def meta(self) -> dict[str, Any]:
        return {**super().meta(), "faults": sorted(self.faults)}

    def webhook_json(self, hook: WebhookRow) -> dict[str, Any]:
        doc = super().webhook_json(hook)
        if "return-secret" in self.faults:
            doc["secret"] = hook.secret
        return doc

    def validation_mode(self, body: object) -> Mode:
        mode = super().validation_mode(body)
        url = body.get("url") if isinstance(body, Mapping) else None
        if mode is not Mode.PRODUCTION or not isinstance(url, str):
            return mode
        is_http = url.startswith("http://")
        if "http-in-production" in self.faults and is_http:
            return Mode.DEVELOPMENT  # accept http; the address checks still run
        if "ssrf" in self.faults and not is_http:
            return Mode.DEVELOPMENT  # accept literal private addresses
        return mode

    async def check_addresses(self, url: str) -> None:
        if "ssrf" not in self.faults:
            await super().check_addresses(url)

    async def verify(self, url: str, secret: str) -> tuple[WebhookStatus | None, dict[str, Any]]:
        if "no-verification" in self.faults:
            return WebhookStatus.ACTIVE, {"checked_at": wall_iso(), "result": "skipped"}
        return await super().verify(url, secret)

    def subscribers(self, event_type: str) -> list[str]:
        if "unsubscribed-events" in self.faults:
            return [h.id for h in self.store.list_webhooks(status=str(WebhookStatus.ACTIVE))]
        return super().subscribers(event_type)


class FaultySource(EventSource):
    """The event source of a :class:`FaultySender`: fast-progress shrinks the throttle window."""

    def new_throttle(self) -> ThrottleState[dict[str, int]]:
        faults: frozenset[str] = getattr(self.sender, "faults", frozenset())
        if "fast-progress" in faults:
            return ThrottleState(window_ms=WINDOW_MS // 4)
        return super().new_throttle()


def create_faulty_app(
    config: SenderConfig,
    faults: frozenset[str],
    *,
    resolver: netguard.Resolver = netguard.system_resolver,
) -> Starlette:
    """The sender app with ``faults`` on; with no faults, the production app itself."""
    names = parse_faults(",".join(faults))
    if not names:
        return create_app(config, resolver=resolver)
    log.warning(
        "TEST-ONLY FAULTS ARE ON (%s): this sender breaks the guide on purpose",
        ", ".join(sorted(names)),
    )
    return create_app(
        config,
        resolver=resolver,
        sender=FaultySender(config, names, resolver=resolver),
        make_source=FaultySource,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m whsim.sender.faults [whsim sender options]``: faults from the environment."""
    from whsim.commands import sender as command

    try:
        faults = parse_faults(os.environ.get(FAULTS_ENV))
    except UnknownReadingError as exc:
        print(f"whsim sender (faults): error: {exc}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(
        prog="python -m whsim.sender.faults",
        description=f"Run a broken reference sender with the faults named in {FAULTS_ENV}.",
    )
    subparsers = parser.add_subparsers()
    command.register(subparsers)
    args = parser.parse_args(["sender", *(sys.argv[1:] if argv is None else argv)])
    return command.run(
        args,
        make_app=lambda config: create_faulty_app(config, faults),
        faults_env_ok=True,
    )


if __name__ == "__main__":
    sys.exit(main())
