"""Sweeps: many small simulations whose results answer one design question.

The notebooks and ``whsim demo`` ask the same questions more than once (what does one failing
event's schedule look like, how much does an outage of a given length lose, from which length on
does a policy lose anything); the scenarios that answer them live here so every caller asks them
the same way. Every function is deterministic for a given seed.

What a sender follows is a ``choice``: a :class:`~whsim.core.readings.Readings` value (the
notebooks' form: ``Readings.parse(["RETRY-1=immediate-counts", "RETRY-3=from-send"])``, or
``Readings(policy="svix")``), or, as before, a bare RETRY-1 reading or vendor policy name. A
frame labels each choice with :func:`label` (``backoff-only``, ``svix``,
``backoff-only (RETRY-4=full)``); a name is its own label, so old callers see the same frames.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from whsim.core.behaviours import Behaviour, Capacity, Latency, Outage
from whsim.core.errors import ScenarioError
from whsim.core.policy import RetryPolicy
from whsim.core.readings import Readings
from whsim.sim.scenario import Arrival, Scenario, Sender, Webhook, Workload

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "OUTAGE_LENGTHS_S",
    "Choice",
    "as_readings",
    "expiry_capped",
    "failing_attempts",
    "first_event_lost",
    "first_losses",
    "label",
    "outage_loss",
    "outage_scenario",
    "over_seeds",
    "policy_of",
    "schedule_reach_s",
    "shortest_lossy_outage",
    "spread",
    "storm_metrics",
    "storm_scenario",
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


def _seeds(seed: int, seeds: Sequence[int] | None) -> tuple[int, ...]:
    chosen = (seed,) if seeds is None else tuple(seeds)
    if not chosen:
        raise ScenarioError("a sweep needs at least one seed", field="seeds")
    return chosen


Choice = str | Readings
"""What a sweep's sender follows: a :class:`Readings` value, or a RETRY-1 reading / vendor
policy name (the older form, kept)."""


def as_readings(choice: Choice) -> Readings:
    """``choice`` as a :class:`Readings` value: a name becomes ``RETRY-1=name`` or the vendor
    policy of that name; an unknown name raises, naming the known ones."""
    if isinstance(choice, Readings):
        return choice
    from whsim.core.spec.clauses import reading_names

    if choice in reading_names("RETRY-1"):
        return Readings({"RETRY-1": choice})
    return Readings(policy=choice)  # an unknown name: SpecInputError listing the policies


def label(choice: Choice) -> str:
    """How a frame names ``choice``: a name as given; a :class:`Readings` value by its vendor
    policy or RETRY-1 reading, then its other non-default readings in parentheses."""
    if isinstance(choice, str):
        return choice
    head = choice.policy or choice["RETRY-1"]
    rest = [f"{k}={v}" for k, v in choice.non_default.items() if k != "RETRY-1"]
    return f"{head} ({', '.join(rest)})" if rest else head


def _labelled(policies: Sequence[Choice] | Mapping[str, Choice]) -> list[tuple[str, Choice]]:
    if isinstance(policies, Mapping):
        return [(str(k), v) for k, v in policies.items()]
    if isinstance(policies, str | Readings):
        raise ScenarioError("give a list of policies, not one", field="policies")
    return [(label(p), p) for p in policies]


def policy_of(choice: Choice) -> RetryPolicy:
    """The :class:`RetryPolicy` a sweep's sender follows under ``choice`` (no expiry override)."""
    if isinstance(choice, Readings):
        return choice.retry_policy()
    return RetryPolicy.named(choice)


def _sender(policy: Choice, jitter: str | None, expiry_s: float | None) -> Sender:
    # no expiry at all is an expiry longer than any sweep can run (30 days)
    expiry_ms = 31 * 86_400_000 if expiry_s is None else round(expiry_s * 1000)
    return _follow(Sender(expiry_ms=expiry_ms), policy, jitter)


def _follow(sender: Sender, policy: Choice, jitter: str | None) -> Sender:
    """``sender`` under ``policy``; ``jitter`` (when set) overrides its RETRY-4 reading."""
    if isinstance(policy, Readings):
        sender = sender.with_readings(policy)  # a reading the simulator refuses raises, by name
        return sender if jitter is None else dataclasses.replace(sender, jitter=jitter)
    return dataclasses.replace(sender, retry=policy, jitter=jitter)


def failing_attempts(
    policy: Choice,
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
        name=f"one-failing-event-{label(policy)}",
        webhooks=(Webhook("wh", receiver=receiver, events=("proposal.created",)),),
        sender=_sender(policy, jitter, expiry_s),
        workload=Workload(duration_ms=1, arrival=Arrival("constant", 1.0), jobs_per_proposal=0),
    )
    sent = simulate(scenario, seed=seed).attempts["sent_ms"].to_numpy()
    return [float(t - sent[0]) / 1000 for t in sent]


def outage_scenario(
    outage_s: float,
    policy: Choice,
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
        name=f"outage-{outage_s:g}s-{label(policy)}",
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
    policies: Sequence[Choice] | Mapping[str, Choice],
    outages_s: Sequence[float] = OUTAGE_LENGTHS_S,
    *,
    events: int = 200,
    kind: str = "down",
    seed: int = 0,
    seeds: Sequence[int] | None = None,
    expiry_s: float | None = 86_400,
    client: Any = None,
) -> pd.DataFrame:
    """Share of an outage's events lost, per policy, outage length and seed (one run each;
    a policy without jitter against a refusing or hanging receiver is simulated once and its
    counts repeated over the seeds, since no seed changes them).

    Columns: ``policy``, ``outage_s``, ``seed``, ``events``, ``delivered``, ``exhausted``,
    ``expired``, ``lost``, ``loss_rate`` (lost / events), ``attempts``, ``amplification``
    (attempts per event). ``seeds`` (default: just ``seed``) is a dimension of the frame; summarise
    it with :func:`spread`. ``expiry_s`` is the event expiry every policy runs under (the guide's
    24 h by default; None lifts it, to see another system's schedule as that system runs it).
    ``client`` (a ``dask.distributed.Client``) runs the simulations on its workers; the frame is
    the same. ``policies`` is a list of choices (each labelled by :func:`label` in the ``policy``
    column) or a ``{label: choice}`` mapping.
    """
    import pandas as pd

    from whsim.sim.distributed import summaries

    chosen = _seeds(seed, seeds)
    # a seed-free run is simulated on the first seed only and its counts repeated
    runs = [
        (name, policy, float(length), chosen[:1] if _seed_free(policy, kind) else chosen)
        for (name, policy), length in itertools.product(_labelled(policies), outages_s)
    ]
    jobs = [
        (outage_scenario(length, policy, events=events, kind=kind, expiry_s=expiry_s), one)
        for _, policy, length, simulated in runs
        for one in simulated
    ]
    done = iter(summaries(jobs, client))
    rows = []
    for name, _, length, simulated in runs:
        got = {one: next(done) for one in simulated}
        for one in chosen:
            rows.append(_loss_row(name, length, one, got.get(one, got[chosen[0]])))
    return pd.DataFrame(rows)


def _seed_free(policy: Choice, kind: str) -> bool:
    """Whether an outage run's counts are the same for every seed: no jitter, and a receiver
    that refuses or hangs (its answers then take no random latency)."""
    return policy_of(policy).jitter == "none" and kind in ("down", "hang")


def _loss_row(name: str, length: float, one: int, s: Mapping[str, Any]) -> dict[str, Any]:
    lost = int(s["deliveries"]) - int(s["delivered"])
    return {
        "policy": name,
        "outage_s": length,
        "seed": one,
        "events": int(s["events"]),
        "delivered": int(s["delivered"]),
        "exhausted": int(s["exhausted"]),
        "expired": int(s["expired"]),
        "lost": lost,
        "loss_rate": lost / int(s["deliveries"]) if s["deliveries"] else 0.0,
        "attempts": int(s["attempts"]),
        "amplification": float(s["amplification"]),
    }


def first_event_lost(
    outage_s: float,
    policy: Choice,
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
    policy: Choice,
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


def schedule_reach_s(
    policy: Choice, *, kind: str = "down", expiry_s: float | None = 86_400
) -> float:
    """When, without jitter, the last attempt an event gets starts (s after the first).

    Each failed attempt takes 0 s (``down``: refused) or the timeout (``hang``); the expiry cuts
    the schedule. An outage longer than this loses the event created as it starts.
    """
    p = policy_of(policy)
    took = p.timeout_ms if kind == "hang" else 0
    expiry = None if expiry_s is None else round(expiry_s * 1000)
    sent = [round(o * 1000) + k * took for k, o in enumerate(p.attempt_offsets())]
    reached = [t for t in sent if expiry is None or t <= expiry]
    return reached[-1] / 1000


def expiry_capped(policy: Choice, *, kind: str = "down", expiry_s: float | None = 86_400) -> bool:
    """Whether the expiry, not the policy's own schedule, ends an event's retries."""
    if expiry_s is None:
        return False
    return schedule_reach_s(policy, kind=kind, expiry_s=None) > expiry_s


def first_losses(
    policies: Sequence[Choice] | Mapping[str, Choice],
    *,
    kinds: Sequence[str] = ("down",),
    seeds: Sequence[int] = (0,),
    expiry_s: float | None = 86_400,
    resolution_s: float = 1.0,
) -> pd.DataFrame:
    """:func:`shortest_lossy_outage` per policy, outage kind and seed, as a tidy frame.

    Columns: ``policy``, ``kind``, ``seed``, ``first_loss_s`` (NaN: none within 30 days),
    ``jittered``, ``expiry_capped`` (the expiry, not the schedule, ends the retries). A policy
    without jitter against a refusing or hanging receiver gives the same answer for every seed,
    so it is simulated once and repeated over the seeds. ``policies``: as for
    :func:`outage_loss`.
    """
    import pandas as pd

    rows = []
    for (name, policy), kind in itertools.product(_labelled(policies), kinds):
        jittered = policy_of(policy).jitter != "none"
        fixed: float | str | None = "unset"
        for one in _seeds(0, seeds):
            if not _seed_free(policy, kind) or fixed == "unset":
                found = shortest_lossy_outage(
                    policy, kind=kind, seed=one, expiry_s=expiry_s, resolution_s=resolution_s
                )
                if _seed_free(policy, kind):
                    fixed = found
            else:
                found = fixed  # type: ignore[assignment]
            rows.append(
                {
                    "policy": name,
                    "kind": kind,
                    "seed": one,
                    "first_loss_s": float("nan") if found is None else float(found),
                    "jittered": jittered,
                    "expiry_capped": expiry_capped(policy, kind=kind, expiry_s=expiry_s),
                }
            )
    return pd.DataFrame(rows)


def over_seeds(
    scenarios: Mapping[str, Scenario],
    seeds: Sequence[int],
    *,
    keys: Sequence[str] = (),
    client: Any = None,
) -> pd.DataFrame:
    """Each labelled scenario run once per seed: one row per (``label``, ``seed``).

    Columns are the label, the seed and every numeric entry of ``SimResult.summary`` (or only
    ``keys``); summarise with :func:`spread`. ``client`` (a ``dask.distributed.Client``) runs the
    simulations on its workers; the frame is the same.
    """
    import pandas as pd

    from whsim.sim.distributed import summaries

    rows: list[dict[str, Any]] = []
    grid = list(itertools.product(scenarios.items(), _seeds(0, seeds)))
    done = summaries([(scenario, one) for (_, scenario), one in grid], client)
    for ((label, _), one), summary in zip(grid, done, strict=True):
        wanted = keys or [
            k for k, v in summary.items() if isinstance(v, int | float) and k != "seed"
        ]
        rows.append({"label": label, "seed": one, **{k: summary[k] for k in wanted}})
    return pd.DataFrame(rows)


def spread(frame: pd.DataFrame, value: str, by: str | Sequence[str]) -> pd.DataFrame:
    """Median and 5-95 % band of ``value`` over the seeds, per group ``by``.

    Columns: the group keys, ``median``, ``p5``, ``p95``, ``seeds`` (runs in the group).
    """
    groups = frame.groupby(list([by] if isinstance(by, str) else by), sort=False)[value]
    out = groups.quantile(0.5).rename("median").to_frame()
    out["p5"] = groups.quantile(0.05)
    out["p95"] = groups.quantile(0.95)
    out["seeds"] = groups.size()
    return out.reset_index()


def storm_scenario(
    policy: Choice = "immediate-plus-five",
    *,
    jitter: str | None = None,
    rate_per_s: float = 2.0,
    per_s: int = 10,
    recover_below: int | None = 5,
    outage_s: float = 30,
    start_s: float = 60,
    duration_s: float = 600,
) -> Scenario:
    """A receiver whose failures depend on its load, knocked over by a short outage.

    Events arrive at ``rate_per_s`` (Poisson; a fifth of ``per_s`` by default, so the healthy
    receiver is far from full). It serves ``per_s`` attempts per second, and once over it comes
    back only when the load falls under ``recover_below`` (see
    :class:`~whsim.core.behaviours.Capacity`). An outage (503) of ``outage_s`` from ``start_s``
    makes every event fail and be retried; whether the receiver comes back when the outage ends
    depends on how much load the retries keep on it. ``outage_s = 0``: no outage (the control).
    """
    start_ms = round(start_s * 1000)
    outages = (Outage(start_ms, start_ms + round(outage_s * 1000), "status"),) if outage_s else ()
    receiver = Behaviour(
        "fragile",
        latency=Latency("uniform", 20, 120),
        capacity=Capacity(per_s=per_s, recover_below=recover_below),
        outages=outages,
    )
    return Scenario(
        name=f"storm-{label(policy)}-{jitter or 'default'}",
        webhooks=(Webhook("wh", receiver="fragile", events=("proposal.created",)),),
        receivers=(receiver,),
        sender=_follow(Sender(), policy, jitter),
        workload=Workload(
            duration_ms=round(duration_s * 1000),
            arrival=Arrival("poisson", rate_per_s),
            jobs_per_proposal=0,
        ),
    )


def storm_metrics(result: Any) -> dict[str, float]:
    """What a storm cost, from a run of :func:`storm_scenario`.

    ``peak_after``: most attempts in one second after the outage ended; ``work``: attempts per
    event; ``down_after_s``: how long after the outage's end the receiver kept refusing (its last
    503 minus the end; 0 if it came straight back); ``lost``: share of events never delivered;
    ``lost_after``: the same for events created after the outage; ``mean_delay_s``: mean time to
    delivery of the delivered ones; ``drain_s``: how long after the outage's end the last retry
    was sent (from then on every event gets through at its first attempt: the backlog of
    failures is drained; 0 if no retry followed the end).
    """
    scenario = result.scenario
    outages = scenario.receivers[0].outages
    end = outages[0].end_ms if outages else 0
    a, d = result.attempts, result.deliveries
    after = a[a["sent_ms"] >= end]
    refused = after[after["status"] == 503] if "status" in after else after.iloc[:0]
    later = d[d["event_ms"] >= end]
    delivered = d[d["state"] == "delivered"]
    retries = after[after["attempt"] > 1]
    return {
        "peak_after": float((after["sent_ms"] // 1000).value_counts().max()) if len(after) else 0.0,
        "work": len(a) / max(1, len(d)),
        "down_after_s": float(refused["sent_ms"].max() - end) / 1000 if len(refused) else 0.0,
        "lost": float((d["state"] != "delivered").mean()) if len(d) else 0.0,
        "lost_after": float((later["state"] != "delivered").mean()) if len(later) else 0.0,
        "mean_delay_s": float(delivered["time_to_delivery_ms"].mean()) / 1000
        if len(delivered)
        else float("nan"),
        "drain_s": float(retries["sent_ms"].max() - end) / 1000 if len(retries) else 0.0,
    }
