"""Production-mode address checks: resolve a URL's host, refuse forbidden addresses, pin the rest.

The core judges one address (:func:`whsim.core.registry.address_refusal`); this module resolves names
and asks it for every address, at registration and again right before each connection. The
connection then goes to the checked address itself (the URL's host kept in ``Host`` and, for
https, in the TLS server name), so a DNS answer that changes in between (rebinding) cannot
redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from whsim.core.errors import Blocked
from whsim.core.registry import address_refusal

__all__ = ["Blocked", "PinnedTarget", "Resolver", "check_url", "pin", "system_resolver"]

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Resolves (host, port) to IP address strings; raises OSError when the name does not resolve."""


@dataclass(frozen=True, slots=True)
class PinnedTarget:
    """Where to connect: ``url`` names the checked IP; send ``host`` as Host and TLS name."""

    url: str
    host: str
    extensions: dict[str, str] = field(default_factory=dict)


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver, run without blocking the event loop."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return host, port


async def check_url(url: str, resolver: Resolver = system_resolver) -> list[str]:
    """The addresses ``url``'s host resolves to, all allowed; raises :class:`Blocked`.

    Raises OSError when the name does not resolve (the caller decides what that means).
    """
    host, port = _host_port(url)
    try:
        addresses = [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        addresses = await resolver(host, port)
    if not addresses:
        raise OSError(f"{host!r} resolves to no address")
    for address in addresses:
        reason = address_refusal(address)
        if reason:
            raise Blocked(f"{host} resolves to {address}: {reason}")
    return addresses


async def pin(url: str, resolver: Resolver = system_resolver) -> PinnedTarget:
    """Resolve and check ``url`` (see :func:`check_url`) and aim it at the first address."""
    addresses = await check_url(url, resolver)
    parts = urlsplit(url)
    host = parts.hostname or ""
    ip = ipaddress.ip_address(addresses[0])
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    netloc = literal + (f":{parts.port}" if parts.port else "")
    host_header = host + (f":{parts.port}" if parts.port else "")
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    pinned = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return PinnedTarget(url=pinned, host=host_header, extensions=extensions)
