"""Exchanges: the curl replay line reproduces the exact request bytes."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from whsim.conformance.exchange import Request, bash_bytes, curl_line
from whsim.core.signing import sign
from whsim.core.spec.events import verification_body
from whsim.receiver import ReceiverStore, ServerThread, create_app

needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


@needs_bash
@pytest.mark.parametrize(
    "data",
    [
        b"plain",
        b"it's \\ quoted",
        "caf\u00e9 \U0001f642".encode(),
        b"\xff\xfe\r\n\t\x7f",
        b'{"a":1}\n',
    ],
)
def test_bash_bytes_expands_to_the_same_bytes(data: bytes) -> None:
    out = subprocess.run(
        ["bash", "-c", f"printf '%s' {bash_bytes(data)}"], capture_output=True, check=True
    )
    assert out.stdout == data


@needs_bash
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_line_replays_against_the_reference_receiver() -> None:
    body = verification_body('ch "é" \\ \n')
    with ServerThread(create_app("k", store=ReceiverStore())) as base:
        good = Request(
            "POST",
            f"{base}/webhook",
            (("Content-Type", "application/json"), ("X-Webhook-Signature", sign(body, "k"))),
            body,
        )
        empty = Request("POST", f"{base}/webhook", (("X-Webhook-Signature", ""),), b"{}")
        answers = [
            subprocess.run(
                ["bash", "-c", curl_line(r)], capture_output=True, check=True, timeout=30
            ).stdout
            for r in (good, empty)
        ]
    assert (
        answers[0].startswith(b"HTTP/1.1 200")
        and b'"challenge":"ch \\"\xc3\xa9\\" \\\\ \\n"' in answers[0]
    )
    assert answers[1].startswith(b"HTTP/1.1 401")
