"""One HTTP exchange as the kit saw it: the exact request and response bytes, and a curl replay.

Bodies are kept as bytes. In JSON they are written twice: as text (UTF-8, undecodable bytes as
``\\xHH``) for people, and as base64 for an exact copy. Only the headers the kit chose are kept on
the request (the HTTP client adds Host, Content-Length and the like on its own).
"""

from __future__ import annotations

import base64
import shlex
from dataclasses import dataclass
from typing import Any

__all__ = ["Exchange", "Request", "Response", "bash_bytes", "curl_line"]


def _text(body: bytes) -> str:
    return body.decode("utf-8", errors="backslashreplace")


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "headers": [list(h) for h in self.headers],
            "body": _text(self.body),
            "body_base64": base64.b64encode(self.body).decode("ascii"),
        }


@dataclass(frozen=True, slots=True)
class Response:
    """An answer; ``status`` is None when none came (``error`` says why: timeout, refused, ...)."""

    status: int | None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    elapsed_s: float = 0.0
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "headers": [list(h) for h in self.headers],
            "body": _text(self.body),
            "body_base64": base64.b64encode(self.body).decode("ascii"),
            "elapsed_s": round(self.elapsed_s, 4),
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class Exchange:
    request: Request
    response: Response
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "note": self.note,
            "request": self.request.as_dict(),
            "response": self.response.as_dict(),
            "curl": curl_line(self.request),
        }


def bash_bytes(data: bytes) -> str:
    """``data`` as a bash ``$'...'`` word that expands to exactly these bytes."""
    out = []
    for byte in data:
        ch = chr(byte)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif 0x20 <= byte <= 0x7E:
            out.append(ch)
        else:
            out.append(f"\\x{byte:02x}")
    return "$'" + "".join(out) + "'"


def curl_line(request: Request) -> str:
    """A bash command that replays ``request`` byte for byte and prints the answer with headers."""
    parts = ["curl", "-sS", "-i", "-X", request.method, shlex.quote(request.url)]
    for name, value in request.headers:
        # curl drops a header given as "Name:"; "Name;" sends it with an empty value.
        header = f"{name}: {value}" if value else f"{name};"
        parts += ["-H", shlex.quote(header)]
    if request.body or request.method == "POST":
        parts += ["--data-binary", bash_bytes(request.body)]
    return " ".join(parts)
