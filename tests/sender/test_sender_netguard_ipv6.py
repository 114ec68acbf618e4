"""Production mode against IPv6 spellings of internal IPv4 addresses: refused at registration
(literal and resolved) and at connection time (the rule is the core's ``address_refusal``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sender_harness import SECRET, running_sender

from whsim.sender import netguard

FORMS = {
    "6to4": "2002:7f00:1::",
    "NAT64": "64:ff9b::7f00:1",
    "local-use NAT64": "64:ff9b:1::7f00:1",
    "Teredo": "2001:0:4136:e378:8000:63bf:80ff:fffe",
    "IPv4-compatible": "::7f00:1",
    "IPv4-mapped": "::ffff:7f00:1",
}


async def _dns_to(address: str) -> netguard.Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        return [address]

    return resolve


@pytest.mark.parametrize("form", FORMS)
def test_a_name_resolving_to_the_form_is_blocked(form: str) -> None:
    resolver = asyncio.run(_dns_to(FORMS[form]))
    with pytest.raises(netguard.Blocked, match=r"NAT64|embeds 127\.0\.0\.1"):
        asyncio.run(netguard.check_url("https://hooks.example/in", resolver))


def test_production_registration_refuses_every_form(tmp_path: Path) -> None:
    with running_sender(tmp_path, mode="production", time_scale=20.0) as live:
        for form, address in FORMS.items():
            response = live.call(
                "POST",
                "/api/webhooks",
                json={
                    "url": f"https://[{address}]/in",
                    "events": ["job.completed"],
                    "secret": SECRET,
                },
            )
            assert response.status_code == 422, (form, response.text)
            error = response.json()["error"]
            assert error["code"] == "forbidden_address", form
            assert error["details"]["field"] == "url"
        assert live.call("GET", "/api/webhooks").json()["webhooks"] == []
