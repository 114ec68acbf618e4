"""Sweeps: many small simulations whose results answer one design question.

The notebooks and ``whsim demo`` ask the same questions more than once (what does one failing
event's schedule look like, how much does an outage of a given length lose, from which length on
does a policy lose anything); the scenarios that answer them live here so every caller asks them
the same way. Every function is deterministic for a given seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from whsim.core.behaviours import Behaviour, Latency, Outage
from whsim.core.errors import ScenarioError
from whsim.sim.scenario import Arrival, Scenario, Sender, Webhook, Workload

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "OUTAGE_LENGTHS_S",
    "failing_attempts",
    "first_event_lost",
    "outage_loss",
    "outage_scenario",
    "shortest_lossy_outage",
]

_MIN, _H, _D = 60, 3_600, 86_400
OUTAGE_LENGTHS_S: Final = (
    1,
    10,
    30,
    60,
    2 * _MIN,
    5 * _MIN,
    10 * _MIN,
    30 * _MIN,
    _H,
    2 * _H,
    6 * _H,
    12 * _H,
    _D,
    2 * _D,
    3 * _D,
    4 * _D,
    7 * _D,
)
"""Receiver outage lengths (s) from a second to a week: the default grid of :func:`outage_loss`."""


def _sender(policy: str, jitter: str | None, expiry_s: float | None) -> Sender:
    # no expiry at all is an expiry longer than any sweep can run (30 days)
    expiry_ms = 31 * 86_400_000 if expiry_s is None else round(expiry_s * 1000)
    return Sender(retry=policy, jitter=jitter, expiry_ms=expiry_ms)


def failing_attempts(
    policy: str,
    *,
    jitter: str | None = None,
    seed: int = 0,
    receiver: str = "always-500",
    expiry_s: float | None = 86_400,
) -> list[float]:
    """When one event's attempts start, in seconds after the first, against ``receiver``.

    ``policy`` is a RETRY-1 reading or a named policy; ``jitter`` overrides its jitter (``none``,
    ``full``, ``equal``, ``proportional``); ``receiver`` names a built-in behaviour (default
    ``always-500``: every attempt fails with a 500 after 20 ms, so backoff counts from a failure
    20 ms after the send; ``fail-twice`` succeeds on the third). Different seeds draw different
    jitter.
    """
    from whsim.sim.run import simulate

    scenario = Scenario(
        name=f"one-failing-event-{policy}",
        webhooks=(Webhook("wh", receiver=receiver, events=("proposal.created",)),),
        sender=_sender(policy, jitter, expiry_s),
        workload=Workload(duration_ms=1, arrival=Arrival("constant", 1.0), jobs_per_proposal=0),
    )
    sent = simulate(scenario, seed=seed).attempts["sent_ms"].to_numpy()
    return [float(t - sent[0]) / 1000 for t in sent]


def outage_scenario(
    outage_s: float,
    policy: str,
    *,
    events: int = 200,
    kind: str = "down",
    jitter: str | None = None,
    expiry_s: float | None = 86_400,
) -> Scenario:
    """One webhook whose receiver is out for ``outage_s`` from time 0, and ``events`` events
    spread evenly over the outage (at most one per 100 ms).

    Every event is created while the receiver is out, so the share lost is the share of the
    outage's events that the retry policy does not carry past its end. ``kind`` is the outage's
    kind: ``down`` (connection refused), ``hang`` (each attempt times out) or ``status`` (503).
    """
    if not outage_s > 0:
        raise ScenarioError("an outage must last more than 0 s", field="outage_s")
    if events < 1:
        raise ScenarioError("a sweep needs at least one event", field="events")
    length_ms = max(1, round(outage_s * 1000))
    count = min(events, max(1, length_ms // 100))
    # a whole-ms step, and arrivals during count * step <= length_ms: exactly `count` events,
    # all created while the receiver is out
    step_ms = length_ms // count
    receiver = Behaviour(
        "outage",
        latency=Latency("uniform", 20, 120),
        outages=(Outage(0, length_ms, kind),),  # type: ignore[arg-type]
    )
    return Scenario(
        name=f"outage-{outage_s:g}s-{policy}",
        webhooks=(Webhook("wh", receiver="outage", events=("proposal.created",)),),
        receivers=(receiver,),
        sender=_sender(policy, jitter, expiry_s),
        workload=Workload(
            duration_ms=count * step_ms,
            arrival=Arrival("constant", rate_per_s=1000 / step_ms, every_ms=step_ms),
            jobs_per_proposal=0,
        ),
    )


def outage_loss(
    policies: Sequence[str],
    outages_s: Sequence[float] = OUTAGE_LENGTHS_S,
    *,
    events: int = 200,
    kind: str = "down",
    seed: int = 0,
    expiry_s: float | None = 86_400,
) -> pd.DataFrame:
    """Share of an outage's events lost, per policy and outage length (one simulation each).

    Columns: ``policy``, ``outage_s``, ``events``, ``delivered``, ``exhausted``, ``expired``,
    ``lost``, ``loss_rate`` (lost / events), ``attempts``, ``amplification`` (attempts per event).
    ``expiry_s`` is the event expiry every policy runs under (the guide's 24 h by default; None
    lifts it, to see another system's schedule as that system runs it).
    """
    import pandas as pd

    from whsim.sim.run import simulate

    rows = []
    for policy in policies:
        for length in outages_s:
            scenario = outage_scenario(
                float(length), policy, events=events, kind=kind, expiry_s=expiry_s
            )
            s = simulate(scenario, seed=seed).summary
            lost = int(s["deliveries"]) - int(s["delivered"])
            rows.append(
                {
                    "policy": policy,
                    "outage_s": float(length),
                    "events": int(s["events"]),
                    "delivered": int(s["delivered"]),
                    "exhausted": int(s["exhausted"]),
                    "expired": int(s["expired"]),
                    "lost": lost,
                    "loss_rate": lost / int(s["deliveries"]) if s["deliveries"] else 0.0,
                    "attempts": int(s["attempts"]),
                    "amplification": float(s["amplification"]),
                }
            )
    return pd.DataFrame(rows)


def first_event_lost(
    outage_s: float,
    policy: str,
    *,
    kind: str = "down",
    seed: int = 0,
    expiry_s: float | None = 86_400,
) -> bool:
    """Whether an event created as an outage of ``outage_s`` starts is never delivered.

    That event has the most outage ahead of it; the answer grows monotonically with the outage's
    length (every attempt that failed in a shorter outage fails in a longer one).
    """
    from whsim.sim.run import simulate

    scenario = outage_scenario(outage_s, policy, events=1, kind=kind, expiry_s=expiry_s)
    return int(simulate(scenario, seed=seed).summary["delivered"]) == 0


def shortest_lossy_outage(
    policy: str,
    *,
    kind: str = "down",
    seed: int = 0,
    max_s: float = 30 * 86_400 - 1,
    resolution_s: float = 1.0,
    expiry_s: float | None = 86_400,
) -> float | None:
    """The shortest outage (to ``resolution_s``) that loses an event; None if none up to ``max_s``.

    Found by bisection on :func:`outage_scenario` with one event, created when the outage starts:
    that event has the most outage ahead of it, so it is the first lost as outages grow, and
    whether it is lost grows monotonically with the outage's length.
    """

    def loses(length_s: float) -> bool:
        return first_event_lost(length_s, policy, kind=kind, seed=seed, expiry_s=expiry_s)

    steps = int(max_s / resolution_s)
    if not loses(steps * resolution_s):
        return None
    lo, hi = 0, steps  # loses(lo) is False (no outage), loses(hi) is True
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if loses(mid * resolution_s):
            hi = mid
        else:
            lo = mid
    return hi * resolution_s
