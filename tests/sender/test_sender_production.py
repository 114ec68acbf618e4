"""Production mode: https only, and no loopback/private/link-local/CGNAT/metadata targets (SSRF)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sender_harness import SECRET, LiveSender, assert_error, running_sender

from whsim.sender import netguard


class FakeDNS:
    """Answers from a table; a list of answers is consumed one lookup at a time (rebinding)."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        answer = self.table.get(host)
        if answer is None:
            raise OSError(f"[Errno -2] Name or service not known: {host!r}")
        if answer and isinstance(answer[0], list):
            return list(answer.pop(0) if len(answer) > 1 else answer[0])
        return list(answer)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.mark.parametrize(
    ("url", "answer"),
    [
        ("https://hooks.example/x", ["93.184.216.34"]),
        ("https://93.184.216.34/x", None),
        ("https://[2606:2800:220:1:248:1893:25c8:1946]/x", None),
    ],
)
def test_public_addresses_pass(url: str, answer: list[str] | None) -> None:
    dns = FakeDNS({"hooks.example": answer} if answer else {})
    assert run(netguard.check_url(url, dns))


@pytest.mark.parametrize(
    ("url", "answer"),
    [
        ("https://a.example/", ["127.0.0.1"]),
        ("https://a.example/", ["93.184.216.34", "10.0.0.7"]),  # any bad address refuses
        ("https://a.example/", ["169.254.169.254"]),
        ("https://a.example/", ["100.64.1.1"]),
        ("https://a.example/", ["::1"]),
        ("https://a.example/", ["fe80::1"]),
        ("https://a.example/", ["::ffff:169.254.169.254"]),
        ("https://a.example/", ["fd00:ec2::254"]),
        ("https://192.168.1.1/", None),
        ("https://[::ffff:10.0.0.1]/", None),
    ],
)
def test_forbidden_addresses_are_blocked(url: str, answer: list[str] | None) -> None:
    dns = FakeDNS({"a.example": answer} if answer else {})
    with pytest.raises(netguard.Blocked):
        run(netguard.check_url(url, dns))


def test_unresolvable_names_raise_oserror() -> None:
    with pytest.raises(OSError):
        run(netguard.check_url("https://nowhere.example/", FakeDNS({})))


def test_pin_aims_at_the_checked_address_and_keeps_the_name() -> None:
    pinned = run(
        netguard.pin(
            "https://hooks.example:8443/in?x=1", FakeDNS({"hooks.example": ["93.184.216.34"]})
        )
    )
    assert pinned.url == "https://93.184.216.34:8443/in?x=1"
    assert pinned.host == "hooks.example:8443"
    assert pinned.extensions == {"sni_hostname": "hooks.example"}
    v6 = run(netguard.pin("http://v6.example/", FakeDNS({"v6.example": ["2606:4700::1"]})))
    assert v6.url == "http://[2606:4700::1]/" and v6.extensions == {}


@pytest.fixture
def production(tmp_path: Path) -> Iterator[tuple[LiveSender, FakeDNS]]:
    dns = FakeDNS(
        {
            "internal.example": ["10.1.2.3"],
            "metadata.example": ["169.254.169.254"],
            # Public when registered, loopback when connected to: DNS rebinding.
            "rebind.example": [["93.184.216.34"], ["127.0.0.1"]],
        }
    )
    with running_sender(tmp_path, mode="production", time_scale=20.0, resolver=dns) as live:
        yield live, dns


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://hooks.example/x", "https_required"),
        ("http://127.0.0.1:8000/x", "https_required"),
        ("https://127.0.0.1/x", "forbidden_address"),
        ("https://localhost/x", "forbidden_address"),
        ("https://169.254.169.254/latest/meta-data", "forbidden_address"),
        ("https://100.64.0.1/x", "forbidden_address"),
        ("https://[::ffff:10.0.0.1]/x", "forbidden_address"),
        ("https://internal.example/x", "forbidden_address"),
        ("https://metadata.example/x", "forbidden_address"),
    ],
)
def test_production_refuses_at_registration(
    production: tuple[LiveSender, FakeDNS], url: str, code: str
) -> None:
    live, _ = production
    response = live.call(
        "POST", "/api/webhooks", json={"url": url, "events": ["job.completed"], "secret": SECRET}
    )
    assert_error(response, 422, code)
    assert response.json()["error"]["details"]["field"] == "url"
    assert live.call("GET", "/api/meta").json()["mode"] == "production"


def test_production_checks_again_at_connection_time(
    production: tuple[LiveSender, FakeDNS],
) -> None:
    live, dns = production
    hook = live.register("https://rebind.example/hook")
    assert hook["status"] == "verification_failed"
    assert hook["verification"]["error"] == "blocked"
    assert "127.0.0.1" in hook["verification"]["detail"]
    assert dns.lookups.count("rebind.example") == 2


def test_production_refuses_http_on_update(
    production: tuple[LiveSender, FakeDNS],
) -> None:
    live, _ = production
    hook = live.register("https://rebind.example/hook")
    response = live.call("PUT", f"/api/webhooks/{hook['id']}", json={"url": "http://a.example/"})
    assert_error(response, 422, "https_required")
    response = live.call(
        "PUT", f"/api/webhooks/{hook['id']}", json={"url": "https://internal.example/"}
    )
    assert_error(response, 422, "forbidden_address")
