"""Fixtures of the receiver suite: the target, from --whsim-receiver-url and --whsim-secret."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from whsim.conformance.progress import Progress
from whsim.pytest_plugin import WhsimSettings

from .target import ReceiverTarget
from .test_07_timeout import LIMIT_S


@pytest.fixture(scope="session", autouse=True)
def expected_times(whsim_progress: Progress | None) -> None:
    """Cases that take long, with how long: shown live next to their elapsed time."""
    if whsim_progress is not None:
        whsim_progress.expect("RCV-TIMEOUT-001", LIMIT_S)


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
