"""Fixtures of the receiver suite: the target, from --whsim-receiver-url and --whsim-secret."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from whsim.pytest_plugin import WhsimSettings

from .target import ReceiverTarget


@pytest.fixture(scope="session")
def receiver(whsim_settings: WhsimSettings) -> Iterator[ReceiverTarget]:
    """The receiver under test; every case is untestable without a URL and a secret."""
    if not whsim_settings.receiver_url:
        pytest.skip("no receiver URL: pass --whsim-receiver-url or set WHSIM_RECEIVER_URL")
    if not whsim_settings.secret:
        pytest.skip("no signing secret: pass --whsim-secret or set WHSIM_SECRET")
    target = ReceiverTarget(whsim_settings.receiver_url, whsim_settings.secret, whsim_settings.seed)
    yield target
    target.close()
