"""Property-based spec exploration: search scenarios for a minimal counterexample.

State what you assume about the guide's webhooks as a check on a simulation result, give a space
of scenarios, and :func:`explore` searches it with hypothesis, shrinks the first failure to a
minimal scenario, and hands back that scenario with its result::

    from whsim.analysis.explore import explore
    from whsim.analysis.strategies import scenarios

    cx = explore(lambda r: r.summary["loss_rate"] == 0, scenarios(max_outage_s=120))
    if cx:
        print(cx.describe()); cx.plot()

A check returns True (or None) when the property holds, False or a message when it does not.
Searches are seeded and bounded by examples and time. The named :data:`PROPERTIES` are
assumptions a designer might make; some are false under the guide's rules, and their minimal
counterexamples say why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from whsim.core.delivery import expiry_deadline
from whsim.core.errors import PropertyViolation, UnknownReadingError
from whsim.core.honoured import EXPLORE
from whsim.core.readings import Readings

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from whsim.sim import Scenario, SimResult

__all__ = [
    "PROPERTIES",
    "Counterexample",
    "NamedProperty",
    "explore",
    "explore_named",
    "property_names",
]

Check = Callable[["SimResult"], "bool | str | None"]


@dataclass(frozen=True)
class Counterexample:
    """A minimal scenario that breaks a property, the simulation of it, and the violation."""

    message: str
    scenario: Scenario
    result: SimResult
    seed: int
    examples: int
    seconds: float

    def describe(self) -> str:
        """A few lines a reviewer can read: what broke, and the scenario that breaks it."""
        s = self.scenario
        lines = [f"violation: {self.message}", f"scenario: {s.name} (sim seed {self.seed})"]
        lines.append(
            f"  sender: retry={s.sender.retry} throttle={s.sender.throttle} "
            f"concurrency={s.sender.concurrency} downtime="
            f"{[(d.start_ms, d.end_ms) for d in s.sender.downtime]}"
        )
        for r in s.receivers:
            outages = [(o.start_ms, o.end_ms, o.kind) for o in r.outages]
            lines.append(
                f"  receiver {r.name}: failure_p={r.failure_probability} "
                f"fail_first={r.fail_first} latency={r.latency.kind}:{r.latency.ms}ms "
                f"outages={outages}"
            )
        w = s.workload
        lines.append(
            f"  workload: duration={w.duration_ms}ms arrival={w.arrival.kind} "
            f"jobs/proposal={w.jobs_per_proposal} job_duration={w.job_duration_ms}ms "
            f"progress_every={w.progress_every_ms}ms max_events={w.max_events}"
        )
        summary = self.result.summary
        lines.append(
            f"  result: events={summary['events']} attempts={summary['attempts']} "
            f"delivered={summary['delivered']} exhausted={summary['exhausted']} "
            f"expired={summary['expired']}"
        )
        lines.append(f"  found after {self.examples} examples in {self.seconds:.1f} s")
        return "\n".join(lines)

    def plot(self, ax: Axes | None = None) -> Axes:
        """The retry timeline of the counterexample (events as rows, outages shaded).

        A counterexample with no attempt at all (every delivery expired before its first
        attempt) shows each delivery's age against the expiry instead.
        """
        from whsim.analysis.plot import delivery_age, retry_timeline

        if not len(self.result.attempts):
            return delivery_age(self.result, ax=ax)
        return retry_timeline(self.result, ax=ax)


def _verdict(outcome: bool | str | None) -> str | None:
    if outcome is True or outcome is None:
        return None
    if outcome is False:
        return "the property does not hold"
    return str(outcome)


def explore(
    check: Check,
    scenarios: st.SearchStrategy[Scenario],
    *,
    max_examples: int = 200,
    seed: int = 0,
    sim_seed: int = 0,
    time_budget_s: float = 60.0,
    readings: Readings | None = None,
) -> Counterexample | None:
    """Search ``scenarios`` for one whose simulation breaks ``check``; None if none was found.

    ``readings`` are applied to every scenario searched (where chosen, they override what the
    search space draws); a reading the simulator does not implement is refused by name.

    The first failure is shrunk by hypothesis; the returned scenario is the minimal one it
    reached within ``time_budget_s`` (the budget covers search and shrinking). ``seed`` seeds the
    search, ``sim_seed`` every simulation, so the same call finds the same counterexample.
    """
    from whsim.sim import simulate

    if readings is not None:
        EXPLORE.check(readings)
    started = time.monotonic()
    deadline = started + time_budget_s
    failing: dict[str, str] = {}
    last: list[tuple[Scenario, SimResult, str]] = []
    tried = 0

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        print_blob=False,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis_seed(seed)
    @given(scenarios)
    def search(scenario: Scenario) -> None:
        nonlocal tried
        key = repr(scenario)
        if key not in failing:
            if time.monotonic() > deadline:
                # out of time: stop searching (reject) or stop shrinking (treat as passing)
                assume(bool(failing))
                return
            tried += 1
            result = simulate(scenario, seed=sim_seed, readings=readings)
            message = _verdict(check(result))
            if message is None:
                return
            failing[key] = message
            last.append((scenario, result, message))
        else:
            result = simulate(scenario, seed=sim_seed, readings=readings)
            last.append((scenario, result, failing[key]))
        raise PropertyViolation(failing[key])

    try:
        search()
    except PropertyViolation:
        scenario, result, message = last[-1]
        return Counterexample(
            message, scenario, result, sim_seed, tried, time.monotonic() - started
        )
    except Exception as exc:  # hypothesis gives up when the budget rejected everything
        if type(exc).__name__ == "Unsatisfiable":
            return None
        raise
    return None


# --- named properties ----------------------------------------------------------------------


@dataclass(frozen=True)
class NamedProperty:
    """A designer's assumption, the scenarios to search, and what the kit found about it.

    ``verdict`` is the outcome under the guide's default readings (``holds`` or ``fails``);
    ``meaning`` says what a counterexample means for the guide; ``minimal`` says in what sense
    the shrunk counterexample is minimal.
    """

    name: str
    assumption: str
    check: Check
    space: Callable[[], st.SearchStrategy[Scenario]]
    verdict: str
    meaning: str
    minimal: str = ""


def _no_loss(result: SimResult) -> str | None:
    lost = int(result.summary["deliveries"]) - int(result.summary["delivered"])
    if lost:
        d = result.deliveries
        first = d[d["state"] != "delivered"].iloc[0]
        return (
            f"{lost} of {result.summary['deliveries']} deliveries lost "
            f"(first: {first['event_id']} ended {first['state']} after "
            f"{first['attempts']} attempts)"
        )
    return None


def _attempts_within_reading(result: SimResult) -> str | None:
    policy = result.scenario.sender.policy()
    worst = int(result.deliveries["attempts"].max()) if len(result.deliveries) else 0
    if worst > policy.max_attempts:
        return f"a delivery used {worst} attempts; {policy.name} allows {policy.max_attempts}"
    return None


def _no_attempt_after_expiry(result: SimResult) -> str | None:
    policy = result.scenario.sender.policy()
    a = result.attempts
    if not len(a):
        return None
    keys = [k for k in ("event_id", "webhook_id") if k in a and k in result.deliveries]
    per = a.groupby(keys, sort=False)["sent_ms"].agg(first_ms="min", last_ms="max").reset_index()
    events = result.deliveries[[*keys, "event_ms"]].drop_duplicates(keys)
    merged = per.astype({k: str for k in keys}).merge(
        events.astype({k: str for k in keys}), on=keys
    )
    # the core's rule, on columns: the deadline from the event or from the first attempt
    late = merged["last_ms"] - expiry_deadline(policy, merged["event_ms"], merged["first_ms"])
    worst = int(late.idxmax())
    if late[worst] > 0:
        return (
            f"an attempt started at {int(merged['last_ms'][worst])} ms, {int(late[worst])} ms "
            f"after its expiry deadline ({policy.expiry_from}, {policy.expiry_ms} ms)"
        )
    return None


def _nothing_expires(result: SimResult) -> str | None:
    expired = int(result.summary["expired"])
    return f"{expired} deliveries expired (dropped as older than 24 h)" if expired else None


def _final_progress_seen(result: SimResult) -> str | None:
    events = result.events
    delivered = result.deliveries
    got = set(delivered.loc[delivered["state"] == "delivered", "event_id"].astype(str))
    for job, rows in events[events["job_id"].notna()].groupby("job_id", observed=True):
        types = set(rows["type"].astype(str))
        if "job.completed" not in types:
            continue
        total = int(rows["progress_total"].max())
        if total < 2:
            continue  # no progress update is produced for a one-step job
        progress = rows[(rows["type"] == "job.progress") & rows["event_id"].astype(str).isin(got)]
        seen = int(progress["progress_completed"].max()) if len(progress) else 0
        if seen < total - 1:
            return (
                f"job {job} completed, but the last progress its receiver saw was "
                f"{seen}/{total}; the job reported {total - 1}/{total} before completing"
            )
    return None


def _in_order(result: SimResult) -> str | None:
    d = result.deliveries
    d = d[d["state"] == "delivered"]
    events = result.events.set_index("event_id")
    d = d.join(events[["job_id", "time_ms"]], on="event_id")
    d = d[d["job_id"].notna()]
    for (hook, job), rows in d.groupby(["webhook_id", "job_id"], observed=True):
        rows = rows.sort_values(["time_ms", "event_id"])
        ended = rows["ended_ms"].to_numpy()
        for i in range(1, len(ended)):
            if ended[i] < ended[i - 1]:
                a, b = rows.iloc[i - 1], rows.iloc[i]
                return (
                    f"{hook} received {b['event_type']} of job {job} before "
                    f"{a['event_type']}, which happened first"
                )
    return None


def _peak_after_recovery(limit: int) -> Check:
    def check(result: SimResult) -> str | None:
        a = result.attempts
        for receiver in result.scenario.receivers:
            if not receiver.outages:
                continue
            end = receiver.outages[-1].end_ms
            after = a[a["sent_ms"] >= end]
            if not len(after):
                continue
            per_second = (after["sent_ms"] // 1000).value_counts()
            peak = int(per_second.max())
            if peak > limit:
                return f"{peak} attempts in one second after the receiver recovered (limit {limit})"
        return None

    return check


def _one_hook(
    receiver: Any, events: tuple[str, ...], *, sender: Any = None, workload: Any = None, name: str
) -> Scenario:
    from whsim.sim import Scenario, Sender, Webhook

    return Scenario(
        name=name,
        webhooks=(Webhook("hook", receiver=receiver.name, events=events),),
        receivers=(receiver,),
        sender=sender or Sender(),
        workload=workload,
    )


def _outage_space(max_outage_s: int = 60) -> st.SearchStrategy[Scenario]:
    """One webhook, one proposal.created a second, one outage of up to ``max_outage_s``."""
    from whsim.core.behaviours import Behaviour, Outage
    from whsim.sim import Arrival, Workload

    @st.composite
    def build(draw: st.DrawFn) -> Scenario:
        start = draw(st.integers(0, 60)) * 1000
        length = draw(st.integers(1, max_outage_s)) * 1000
        kind: Any = draw(st.sampled_from(["down", "status", "hang"]))
        receiver = Behaviour("receiver", outages=(Outage(start, start + length, kind),))
        workload = Workload(
            duration_ms=draw(st.integers(1, 120)) * 1000,
            arrival=Arrival("constant", rate_per_s=1.0),
            jobs_per_proposal=0,
        )
        return _one_hook(receiver, ("proposal.created",), workload=workload, name="outage")

    return build()


def _expiry_space() -> st.SearchStrategy[Scenario]:
    """One event at time 0 and a sender that is down for up to three days."""
    from whsim.core.behaviours import Behaviour
    from whsim.sim import Arrival, Downtime, Sender, Workload

    @st.composite
    def build(draw: st.DrawFn) -> Scenario:
        down = draw(st.integers(1, 3 * 86_400_000))
        sender = Sender(downtime=(Downtime(0, down),))
        workload = Workload(
            duration_ms=1000, arrival=Arrival("constant", rate_per_s=1.0), jobs_per_proposal=0
        )
        return _one_hook(
            Behaviour("receiver"),
            ("proposal.created",),
            sender=sender,
            workload=workload,
            name="sender-downtime",
        )

    return build()


def _progress_space() -> st.SearchStrategy[Scenario]:
    """One job on a healthy receiver: its length and progress rate vary."""
    from whsim.core.behaviours import Behaviour
    from whsim.sim import Arrival, Workload

    @st.composite
    def build(draw: st.DrawFn) -> Scenario:
        every = draw(st.integers(1, 20)) * 1000
        steps = draw(st.integers(2, 20))
        workload = Workload(
            duration_ms=1000,
            arrival=Arrival("constant", rate_per_s=1.0),
            jobs_per_proposal=1,
            job_duration_ms=every * steps,
            progress_every_ms=every,
            job_failure_probability=0.0,
        )
        return _one_hook(
            Behaviour("receiver"),
            ("job.progress", "job.completed"),
            workload=workload,
            name="progress",
        )

    return build()


def _flaky_job_space() -> st.SearchStrategy[Scenario]:
    """A few jobs to a receiver that fails at random."""
    from whsim.core.behaviours import Behaviour
    from whsim.sim import Arrival, Workload

    @st.composite
    def build(draw: st.DrawFn) -> Scenario:
        p = draw(st.integers(0, 10)) / 10
        receiver = Behaviour("receiver", failure_probability=p)
        workload = Workload(
            duration_ms=draw(st.integers(1, 5)) * 20_000,
            arrival=Arrival("constant", rate_per_s=0.05),
            job_duration_ms=draw(st.integers(1, 30)) * 1000,
            start_delay_ms=draw(st.integers(0, 5)) * 1000,
            job_failure_probability=0.0,
        )
        events = ("job.created", "job.started", "job.completed")
        return _one_hook(receiver, events, workload=workload, name="flaky-jobs")

    return build()


def _storm_space() -> st.SearchStrategy[Scenario]:
    """A burst of events during an outage; the receiver recovers; jitter on or off."""
    from whsim.core.behaviours import Behaviour, Outage
    from whsim.sim import Arrival, Sender, Workload

    @st.composite
    def build(draw: st.DrawFn) -> Scenario:
        size = draw(st.integers(1, 60))
        spread = draw(st.integers(0, 10)) * 1000
        outage = draw(st.integers(1, 30)) * 1000
        receiver = Behaviour("receiver", outages=(Outage(0, outage, "down"),))
        workload = Workload(
            duration_ms=1000,
            arrival=Arrival(
                "bursts", burst_size=size, burst_every_ms=10**9, burst_spread_ms=spread
            ),
            jobs_per_proposal=0,
        )
        sender = Sender(jitter=draw(st.sampled_from([None, "full"])))
        return _one_hook(
            receiver, ("proposal.created",), sender=sender, workload=workload, name="retry-storm"
        )

    return build()


def _any_space() -> st.SearchStrategy[Scenario]:
    from whsim.analysis.strategies import scenarios

    return scenarios()


PROPERTIES: Final[dict[str, NamedProperty]] = {
    p.name: p
    for p in (
        NamedProperty(
            "no-loss-short-outages",
            "No event is lost when every receiver outage is shorter than 60 s.",
            _no_loss,
            _outage_space,
            "fails",
            "The guide's retries span 31 s (backoff-only), so an outage just longer than that "
            "loses the events sent at its start: RETRY-1 gives no protection against ordinary "
            "restarts or deploys.",
            "the outage is the shortest (in whole seconds) that still loses an event",
        ),
        NamedProperty(
            "nothing-expires",
            "The 24 h expiry never drops an event (retries end after 31 s anyway).",
            _nothing_expires,
            _expiry_space,
            "fails",
            "When the sender itself is down (or queues behind a concurrency cap) for more than "
            "24 h, queued events are dropped on restart: EXPIRY-1 only matters when events "
            "queue, which the guide never mentions.",
            "the downtime is the shortest (in ms) that expires the event: 24 h + 1 ms",
        ),
        NamedProperty(
            "final-progress-seen",
            "A receiver sees the final progress of every completed job.",
            _final_progress_seen,
            _progress_space,
            "fails",
            "Throttling holds or drops the last job.progress when the job completes within "
            "10 s of the previous one (THROTTLE-1/THROTTLE-3): receivers must not rely on "
            "progress reaching its last step; job.completed is the signal.",
            "the job with the fewest steps and the shortest step that loses its last progress",
        ),
        NamedProperty(
            "job-events-in-order",
            "No two events of one job arrive out of order.",
            _in_order,
            _flaky_job_space,
            "fails",
            "A failed attempt is retried seconds later while newer events of the same job go "
            "through: the guide promises no ordering (EVENT-12), so receivers must order by "
            "the event timestamp, not by arrival.",
            "the lowest failure probability and smallest workload that reorder a job",
        ),
        NamedProperty(
            "calm-after-recovery",
            "No endpoint receives more than 10 attempts per second after it recovers.",
            _peak_after_recovery(10),
            _storm_space,
            "fails",
            "Without jitter, events that failed together retry together: a burst during an "
            "outage comes back as a burst after it (RETRY-4).",
            "the smallest burst that exceeds the limit",
        ),
        NamedProperty(
            "attempts-within-reading",
            "No delivery uses more attempts than the retry reading allows.",
            _attempts_within_reading,
            _any_space,
            "holds",
            "The delivery state machine caps attempts at the reading's maximum in every scenario.",
        ),
        NamedProperty(
            "no-attempt-after-expiry",
            "No attempt starts more than 24 h after its event.",
            _no_attempt_after_expiry,
            _expiry_space,
            "holds",
            "Queued deliveries are checked against the expiry before every attempt.",
        ),
    )
}


def property_names() -> tuple[str, ...]:
    return tuple(PROPERTIES)


def explore_named(
    name: str,
    *,
    max_examples: int = 200,
    seed: int = 0,
    time_budget_s: float = 60.0,
    readings: Readings | None = None,
) -> Counterexample | None:
    """:func:`explore` for one of the named :data:`PROPERTIES`."""
    if name not in PROPERTIES:
        raise UnknownReadingError("property", name, property_names())
    prop = PROPERTIES[name]
    return explore(
        prop.check,
        prop.space(),
        max_examples=max_examples,
        seed=seed,
        time_budget_s=time_budget_s,
        readings=readings,
    )
