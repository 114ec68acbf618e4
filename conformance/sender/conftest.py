"""Fixtures of the sender suite: the target (--whsim-sender-url), the kit's endpoint, scenarios.

The scenarios every selected case needs start before the first case runs, each in its own
thread on its own path, so the timing cases overlap instead of adding up.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from whsim.conformance.diagnosis import Finding
from whsim.conformance.listener import Listener, ok
from whsim.conformance.progress import Progress
from whsim.conformance.timing import profile
from whsim.pytest_plugin import WhsimSettings

from .scenarios import CASE_SCENARIOS, Scenarios
from .target import SenderTarget

REGISTRATION_PROBE_S = 15.0
"""How long the first registration may take (it runs the challenge handshake); after that the
run ends with exit 2: nothing can be graded against a sender that never answers it."""


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
    # What the kit received, as a trace `whsim check` grades offline (docs/trace-format.md).
    if whsim_settings.report is not None:
        whsim_settings.report.mkdir(parents=True, exist_ok=True)
        listener.write_trace(whsim_settings.report / "trace.jsonl")


@pytest.fixture(scope="session")
def sender(
    request: pytest.FixtureRequest,
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
        reading=whsim_settings.readings["RETRY-1"],
        timing=profile(whsim_settings.timing),
    )
    _probe_registration(target, kit_listener, whsim_report_extra, request)
    scale = target.time_scale
    kit_listener.trace_time_scale = scale  # trace.jsonl's header carries it
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
        # The run's throwaway secrets (kit-made, one per webhook, deleted above), so the trace
        # the listener writes can be graded offline exactly as this run graded it.
        if whsim_settings.report is not None:
            whsim_settings.report.mkdir(parents=True, exist_ok=True)
            (whsim_settings.report / "trace-secrets.json").write_text(
                json.dumps(target.secrets, indent=1), encoding="utf-8"
            )


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
        extra = request.getfixturevalue("whsim_report_extra")
        found = sender_findings(sender.listener, extra, runs)
        if found:
            extra["diagnosis"] = [*extra.get("diagnosis", []), *(f.as_dict() for f in found)]


def _say(request: pytest.FixtureRequest, finding: Finding) -> None:
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        for line in finding.lines():
            reporter.write_line(line, yellow=True, bold=line.startswith("LIKELY"))


def _probe_registration(
    target: SenderTarget,
    listener: Listener,
    extra: dict[str, Any],
    request: pytest.FixtureRequest,
) -> None:
    """Register one webhook before anything else; end the run (exit 2) when nothing answers."""
    if target.can_deliver is not None:
        return
    path = listener.path("probe", ok())
    body = {"url": listener.url(path), "events": ["job.failed"], "secret": target.secret()}
    ex = target.call(
        None, "POST", "/api/webhooks", body, note="registration probe", timeout=REGISTRATION_PROBE_S
    )
    status = ex.response.status
    came = listener.arrivals(path)
    findings = []
    if status is None:
        challenge = (
            "the challenge came to the kit and was echoed"
            if came
            else "no verification request reached the kit either"
        )
        finding = Finding(
            "registration-unanswered",
            f"POST {target.base}/api/webhooks got no answer within {REGISTRATION_PROBE_S:g} s "
            f"({ex.response.error}); {challenge}",
            [f"registration of {body['url']}"],
            "check that the URL is the sender's API base and that it answers registrations",
        )
        _say(request, finding)
        extra["diagnosis"] = [finding.as_dict()]
        pytest.exit(
            "whsim conformance: the sender never answered a registration: " + finding.summary,
            returncode=2,
        )
    doc = target.call(None, "GET", "/api/webhooks")
    listing = _json(doc.response.body)
    no_api = status in (404, 405) or not (isinstance(listing, dict) and "webhooks" in listing)
    if no_api and status is not None and not 200 <= status < 300:
        findings.append(
            Finding(
                "not-a-sender-api",
                f"{target.base} does not look like a webhook sender's API: POST /api/webhooks "
                f"answered {status}, GET /api/webhooks {doc.response.status}",
                [ex.response.body[:160].decode("utf-8", "replace")],
                "give the API base URL (the one whose /api/webhooks registers webhooks); to "
                "check a receiver, run 'whsim conformance receiver URL'",
            )
        )
    webhook = _json(ex.response.body)
    if isinstance(webhook, dict) and isinstance(webhook.get("id"), str):
        target.call(None, "DELETE", f"/api/webhooks/{webhook['id']}")
    if findings:
        extra["diagnosis"] = [f.as_dict() for f in findings]
        for f in findings:
            _say(request, f)


def _json(data: bytes) -> Any:
    import json

    try:
        return json.loads(data)
    except ValueError:
        return None


def sender_findings(
    listener: Listener, extra: dict[str, Any], scenarios: Scenarios
) -> list[Finding]:
    """Causes read from what arrived over the whole run (the scenarios are done)."""
    registered = [r.registered for r in scenarios.runs.values() if r.registered]
    accepted = [r for r in registered if r is not None and r.webhook_id]
    everything = listener.arrivals()
    if accepted and not everything:
        return [
            Finding(
                "sender-cannot-reach-kit",
                f"the sender accepted {len(accepted)} registration(s) but not one request reached "
                f"the kit's endpoint {listener.base_url}",
                [f"registered e.g. {accepted[0].url}"],
                "the sender must reach the kit: give --listen HOST:PORT on an address it can "
                "reach, or --public-url with a tunnel",
            )
        ]
    paths = {a.path for a in everything if not a.is_verification}
    verified = {a.path for a in everything if a.is_verification}
    unverified = sorted(paths - verified)
    if accepted and unverified and not verified:
        return [
            Finding(
                "challenge-never-came",
                f"deliveries arrived on {len(unverified)} path(s) but no verification request "
                "(webhook.verify challenge) ever did",
                unverified[:3],
                "send the challenge to the URL when a webhook is registered (VERIFY-1)",
                ["SND-VERIFY-001"],
            )
        ]
    return []
