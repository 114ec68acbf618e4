"""Fixtures of the sender suite: the target (--whsim-sender-url), the kit's endpoint, scenarios.

The scenarios every selected case needs start before the first case runs, each in its own
thread on its own path, so the timing cases overlap instead of adding up.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from whsim.conformance.listener import Listener
from whsim.conformance.progress import Progress
from whsim.conformance.timing import profile
from whsim.pytest_plugin import WhsimSettings

from .scenarios import CASE_SCENARIOS, Scenarios
from .target import SenderTarget


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) as a pair; raises ValueError."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--whsim-listen must be HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


@pytest.fixture(scope="session")
def kit_listener(whsim_settings: WhsimSettings) -> Iterator[Listener]:
    """The kit's receiving endpoint (--whsim-listen, --whsim-public-url)."""
    host, port = parse_listen(whsim_settings.listen)
    with Listener(host, port, whsim_settings.public_url) as listener:
        yield listener


@pytest.fixture(scope="session")
def sender(
    whsim_settings: WhsimSettings,
    kit_listener: Listener,
    whsim_report_extra: dict[str, Any],
) -> Iterator[SenderTarget]:
    """The sender under test; every case is untestable without a URL."""
    if not whsim_settings.sender_url:
        pytest.skip("no sender URL: pass --whsim-sender-url or set WHSIM_SENDER_URL")
    target = SenderTarget(
        whsim_settings.sender_url,
        kit_listener,
        trigger=whsim_settings.trigger,
        seed=whsim_settings.seed,
        mode=whsim_settings.mode,
        reading=whsim_settings.reading,
        timing=profile(whsim_settings.timing),
    )
    scale = target.time_scale
    bands = [target.timing.band(g) for g in target.gaps()]
    whsim_report_extra.update(
        {
            "kit endpoint": kit_listener.base_url,
            "trigger": whsim_settings.trigger,
            "sender mode": target.mode,
            "RETRY-1 reading": target.reading,
            "time scale": f"{scale:g}"
            + (
                " (advertised by GET /api/meta: expected delays are scaled)"
                if target.scaled
                else ""
            ),
            "timing profile": target.timing.describe(),
            "retry bands (s, wall)": ", ".join(
                f"gap {k}: {b.expected:.3f} in [{b.low:.3f}, {b.high:.3f}]"
                for k, b in enumerate(bands, start=1)
            ),
            "readings": {"RETRY-1": target.reading},
        }
    )
    if target.scaled:
        whsim_report_extra.setdefault("notes", []).append(
            f"scaled: the sender advertises time scale {scale:g}; expected retry gaps and the "
            "throttle window are divided by it (the 5 s attempt timeout stays wall time)"
        )
    try:
        yield target
    finally:
        target.close()


@pytest.fixture(scope="session", autouse=True)
def scenarios(
    request: pytest.FixtureRequest, sender: SenderTarget, whsim_progress: Progress | None
) -> Iterator[Scenarios]:
    """Start every scenario the selected cases need, at once."""
    needed: set[str] = set()
    for item in request.session.items:
        marker = item.get_closest_marker("whsim_case")
        if marker is not None and marker.args:
            needed.update(CASE_SCENARIOS.get(marker.args[0].id, ()))
    runs = Scenarios(sender, whsim_progress)
    runs.start(needed)
    try:
        yield runs
    finally:
        runs.join(timeout=30)
