"""Compile a scenario and a seed into flat arrays that both engines read.

Everything random is drawn here, keyed on (webhook, event, attempt) by :mod:`whsim.sim.keyed`, and
turned into the answer each attempt would get outside an outage. The engines then only do integer
arithmetic on the same arrays, which is why they agree to the byte.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import numpy as np

from whsim.core import registry
from whsim.core.behaviours import CONNECT_CODE, TIMEOUT_CODE, Behaviour, LoadMeter, Outage, respond
from whsim.core.delivery import (
    DELIVERED_C,
    EXHAUSTED_C,
    EXPIRED_C,
    PENDING_C,
    REJECT_V,
    REJECTED_C,
    RETRY_V,
    SUCCESS_V,
    verdicts_by_code,
)
from whsim.core.errors import ScenarioError
from whsim.core.policy import RetryPolicy, jitter_delay
from whsim.core.throttle import window_key
from whsim.sim import chunked, keyed
from whsim.sim.chunked import each_chunk
from whsim.sim.scenario import Scenario
from whsim.sim.workload import TYPE_CODE, Events, generate

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = [
    "CONNECT",
    "DELIVERED",
    "EXHAUSTED",
    "EXPIRED",
    "PENDING",
    "REJECTED",
    "REJECT_V",
    "RETRY_V",
    "STATES",
    "SUCCESS_V",
    "TIMEOUT",
    "DenseTables",
    "LoadedAnswers",
    "Plan",
    "answers",
    "compile_plan",
    "hook_count",
    "respond_many",
    "streams_read",
]

TIMEOUT: Final = TIMEOUT_CODE
"""Attempt code of an attempt that got no answer within the timeout (hang or slow answer)."""
CONNECT: Final = CONNECT_CODE
"""Attempt code of a refused connection (an outage of kind ``down``)."""
HANG: Final = -3  # only in respond_many's output: the receiver never answers

# the core's state codes, under the names the engines and benchmarks use
PENDING, DELIVERED, EXHAUSTED, EXPIRED, REJECTED = (
    PENDING_C,
    DELIVERED_C,
    EXHAUSTED_C,
    EXPIRED_C,
    REJECTED_C,
)
STATES: Final = ("pending", "delivered", "exhausted", "expired", "rejected")
"""Final delivery states by code; index with the engines' ``state`` array."""
_OUTAGE_KIND = {"down": CONNECT, "hang": TIMEOUT, "status": 0}


def streams_read(behaviour: Behaviour) -> tuple[bool, bool, bool]:
    """Whether :func:`respond_many` reads its (fail, latency, hang) uniforms for ``behaviour``.

    A probability of 0 or 1 decides without a draw (uniforms are in [0, 1)), and a fixed latency
    needs none; :func:`compile_plan` draws only the streams some receiver reads.
    """
    return (
        0.0 < behaviour.failure_probability < 1.0,
        behaviour.latency.kind != "fixed",
        0.0 < behaviour.hang_probability < 1.0,
    )


def respond_many(
    behaviour: Behaviour,
    attempt: int,
    u_fail: npt.NDArray[np.float64] | None,
    u_latency: npt.NDArray[np.float64] | None,
    u_hang: npt.NDArray[np.float64] | None,
    size: int | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """:func:`whsim.core.behaviours.respond` outside any outage, over arrays of uniforms.

    Returns (status or ``HANG``, latency in ms); the latency is sampled even for a hang, as an
    outage of kind ``status`` needs it. A uniform may be None where :func:`streams_read` says
    ``behaviour`` does not read it (then ``size`` gives the length, if all are None).
    """
    m = (
        size
        if size is not None
        else len(next(u for u in (u_fail, u_latency, u_hang) if u is not None))
    )
    lat = behaviour.latency
    if lat.kind == "fixed":
        latency = np.full(m, lat.ms, dtype=np.int64)
    else:
        assert u_latency is not None, "this latency is drawn"
        if lat.kind == "uniform":
            latency = lat.ms + ((lat.high_ms - lat.ms) * u_latency).astype(np.int64)
        else:
            latency = lat.ms + (-lat.mean_ms * np.log1p(-u_latency)).astype(np.int64)
    p = behaviour.failure_probability
    if attempt <= behaviour.fail_first or p >= 1.0:
        fail: npt.NDArray[np.bool_] | bool = True
    elif p <= 0.0:
        fail = False
    else:
        assert u_fail is not None, "this failure is drawn"
        fail = u_fail < p
    status = np.where(fail, behaviour.failure_status, behaviour.success_status).astype(
        np.int64, copy=False
    )
    status = status + np.zeros(m, dtype=np.int64) if status.ndim == 0 else status
    hp = behaviour.hang_probability
    if hp >= 1.0:
        status[:] = HANG
    elif hp > 0.0:
        assert u_hang is not None, "this hang is drawn"
        status[u_hang < hp] = HANG
    return status, latency


@dataclass(frozen=True, slots=True)
class Plan:
    """Flat inputs of one run. Delivery ``d`` sends event ``event[d]`` to webhook ``hook[d]``.

    Attempt ``k`` (1-based) of delivery ``d`` is named ``j = (k - 1) * n + d`` in engine logs.
    The answers are stored only for attempts an engine can reach, in *slots*: row ``k`` (attempt
    ``k``) is slots ``row_start[k - 1]:row_start[k]``; row 1 is every delivery in order (slot
    ``d`` is attempt 1 of delivery ``d``), row ``k > 1`` the deliveries ``drawn[s - n]`` whose
    attempt ``k`` was drawn, in delivery order. ``next_slot[s]`` is the slot of the same
    delivery's next attempt (-1: not drawn, so not reachable); it covers rows 1 to
    ``max_attempts - 1``, as ``delay`` does. :meth:`dense_tables` gives the same answers as
    tables indexed by ``j`` (zero where not drawn), for engines that look attempts up by name.

    ``code[s]`` is the HTTP status or ``TIMEOUT`` outside outages and ``took[s]`` the ms until
    the answer (the timeout for ``TIMEOUT``). ``delay[s]`` is the wait after a failed attempt
    (jitter included); ``verdict[code + 2]`` classifies a code. ``latency`` (clipped at the
    timeout + 1) is what an outage of kind ``status`` answers after; a plan without such an
    outage holds no latency table (``latency`` is ``took``, never read). The tables use the
    narrowest dtypes their values fit (int16 for the guide's 5 s timeout and 16 s backoff).
    ``ready_ms`` may be ``event_ms`` itself: both are read-only.
    ``outages[h]`` are webhook ``h``'s outages (the reference engine applies them with
    :func:`whsim.core.behaviours.outage_answer`); the same as flat arrays sorted by (hook,
    start), for the numpy engine: ``outage_code`` is ``CONNECT``, ``TIMEOUT`` or an HTTP status.
    """

    scenario: Scenario
    seed: int
    policy: RetryPolicy
    events: Events
    hook_ids: tuple[str, ...]
    hook_status: tuple[str, ...]
    hook_active_ms: npt.NDArray[np.int64]
    n: int
    max_attempts: int
    hook: npt.NDArray[np.int64]
    event: npt.NDArray[np.int64]
    event_ms: npt.NDArray[np.int64]
    ready_ms: npt.NDArray[np.int64]
    code: npt.NDArray[np.int16]
    took: npt.NDArray[np.signedinteger[Any]]
    latency: npt.NDArray[np.signedinteger[Any]]
    delay: npt.NDArray[np.signedinteger[Any]]
    verdict: npt.NDArray[np.int8]
    row_start: npt.NDArray[np.int64]
    drawn: npt.NDArray[np.signedinteger[Any]]
    next_slot: npt.NDArray[np.signedinteger[Any]]
    outage_hook: npt.NDArray[np.int64]
    outage_start: npt.NDArray[np.int64]
    outage_end: npt.NDArray[np.int64]
    outage_code: npt.NDArray[np.int64]
    outages: tuple[tuple[Outage, ...], ...] = ()
    first_hook: int = 0
    """Global index of webhook 0: non-zero in an endpoint shard (``compile_plan(hooks=...)``)."""

    @property
    def timeout_ms(self) -> int:
        return self.policy.timeout_ms

    @property
    def expiry_ms(self) -> int:
        return self.policy.expiry_ms

    @property
    def expiry_from_first(self) -> bool:
        return self.policy.expiry_from == "from-first-attempt"

    @property
    def backoff_from_send(self) -> bool:
        return self.policy.backoff_from == "from-send"

    def slot_deliveries(self, k: int) -> npt.NDArray[np.int64]:
        """The deliveries of row ``k`` (1-based attempt number), in slot order."""
        if k == 1:
            return np.arange(self.n, dtype=np.int64)
        lo, hi = int(self.row_start[k - 1]), int(self.row_start[k])
        return self.drawn[lo - self.n : hi - self.n].astype(np.int64)

    def slot_of(self, j: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The slots of the attempts named ``j`` (each must have been drawn)."""
        n = self.n
        k, d = np.divmod(j, n)
        out = d.copy()
        for row in range(1, self.max_attempts):  # rows 2 and up: search the row's deliveries
            sel = np.flatnonzero(k == row)
            if len(sel):
                lo, hi = int(self.row_start[row]), int(self.row_start[row + 1])
                out[sel] = lo + np.searchsorted(self.drawn[lo - n : hi - n], d[sel])
        return out

    def dense_tables(self) -> DenseTables:
        """The answers as ``max_attempts * n`` tables indexed by ``j = (k - 1) * n + d``.

        Zero where an attempt is not drawn (no engine reaches it); built on each call, in the
        plan's dtypes: for engines that look an attempt up by its name ``j`` (the reference
        event loop) rather than walk slots.
        """
        n, A = self.n, self.max_attempts

        def spread(table: npt.NDArray[Any], rows: int) -> npt.NDArray[Any]:
            dense = np.zeros(A * n, dtype=table.dtype)
            dense[:n] = table[:n]
            for k in range(2, rows + 1):
                lo, hi = int(self.row_start[k - 1]), int(self.row_start[k])
                dense[(k - 1) * n + self.drawn[lo - n : hi - n]] = table[lo:hi]
            return dense

        took = spread(self.took, A)
        latency = took if self.latency is self.took else spread(self.latency, A)
        return DenseTables(spread(self.code, A), took, latency, spread(self.delay, A - 1))


class DenseTables(NamedTuple):
    """:meth:`Plan.dense_tables`: a plan's answers indexed by attempt name ``j``."""

    code: npt.NDArray[np.int16]
    took: npt.NDArray[np.signedinteger[Any]]
    latency: npt.NDArray[np.signedinteger[Any]]
    delay: npt.NDArray[np.signedinteger[Any]]


def verdict_table(policy: RetryPolicy) -> npt.NDArray[np.int8]:
    """``policy.classify`` for every attempt code, indexed by ``code + 2``
    (:func:`whsim.core.delivery.verdicts_by_code` as an array)."""
    return np.array(verdicts_by_code(policy), dtype=np.int8)


def _narrow(most: int) -> type[np.signedinteger[Any]]:
    """The narrowest signed dtype that holds 0..``most``."""
    for dtype in (np.int16, np.int32):
        if most < np.iinfo(dtype).max:
            return dtype
    return np.int64


def _concat(rows: list[npt.NDArray[Any]], dtype: Any) -> npt.NDArray[Any]:
    """The rows as one array of ``dtype``; empties the list (each row is freed as it is copied)."""
    out = np.empty(sum(len(r) for r in rows), dtype=dtype)
    at = 0
    while rows:
        row = rows.pop(0)
        out[at : at + len(row)] = row
        at += len(row)
    return out


def _trunc(x: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    return np.trunc(x).astype(np.int64)


def jitter_delays(
    policy: RetryPolicy,
    retry: int,
    u: npt.NDArray[np.float64],
    previous: npt.NDArray[np.int64] | None = None,
) -> npt.NDArray[np.int64]:
    """``policy.retry_delay_ms(retry, u, previous)`` over arrays of uniforms: the core's
    :func:`~whsim.core.policy.jitter_delay` with numpy's truncation (same values)."""
    out = jitter_delay(
        policy.delays_ms, retry, policy.jitter, policy.jitter_ratio, u, previous, _trunc
    )
    return np.asarray(out, dtype=np.int64) + np.zeros(len(u), dtype=np.int64)


def _verify(scenario: Scenario, seed: int, index: int, behaviour: Behaviour) -> tuple[str, int]:
    """Run the handshake of a pending webhook at time 0: (status, active from ms)."""
    sender = scenario.sender
    u = keyed.uniform_py(seed, index, 2**32 - 1, 1, keyed.LATENCY)
    took = behaviour.latency.sample(u)
    # what the receiver answers, then the registry's rules (VERIFY-2, VERIFY-3) decide
    challenge = "sim-challenge"
    status: int | None = 200
    echoed = challenge if behaviour.verify == "echo" else "not-the-challenge"
    if behaviour.verify == "hang" or behaviour.outage_at(0) is not None or took > sender.timeout_ms:
        status = None
    elif behaviour.verify == "status":
        status = behaviour.failure_status
    body = json.dumps({"challenge": echoed}).encode()
    readings = sender.readings
    ok, _ = registry.challenge_accepted(challenge, status, body, readings["VERIFY-2"])
    after = registry.status_after_verification(ok, readings["VERIFY-3"])
    if after is None:  # reject-registration: the webhook was never stored
        return "rejected", 0
    return str(after), took if ok else 0


def _activations(scenario: Scenario, seed: int) -> list[tuple[str, int]]:
    """(status, active from ms) of every webhook, in registration order."""
    out: list[tuple[str, int]] = []
    index = 0
    table = scenario.receiver_table()
    for hook in scenario.webhooks:
        b = table[hook.receiver] if hook.status == "pending_verification" else None
        for _ in range(hook.count):
            out.append(_verify(scenario, seed, index, b) if b is not None else (hook.status, 0))
            index += 1
    return out


def progress_from(scenario: Scenario, seed: int) -> tuple[int, ...]:
    """The progress streams the workload is generated with (``generate(progress_from=...)``).

    Under THROTTLE-2 ``per-job`` one stream, ``(0,)``. Under ``per-webhook`` every webhook keeps
    its own window per job (:func:`whsim.core.throttle.window_key`); webhooks active from the same
    time see the same updates, so one stream per distinct activation time of the webhooks that
    take ``job.progress``. Verification is keyed on the seed, so this is what the plan finds.
    """
    if window_key(scenario.sender.readings["THROTTLE-2"], 0, 1) == 0:
        return (0,)
    times = {0}
    hooks = [hook for hook in scenario.webhooks for _ in range(hook.count)]
    for hook, (status, since) in zip(hooks, _activations(scenario, seed), strict=True):
        if status == "active" and "job.progress" in hook.events:
            times.add(since)
    return tuple(sorted(times))


def hook_count(scenario: Scenario) -> int:
    """How many webhooks ``scenario`` registers (each ``count`` of a :class:`Webhook` is one)."""
    return sum(hook.count for hook in scenario.webhooks)


def _fan_out(
    ok: npt.NDArray[np.bool_], time_ms: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The deliveries of the (events x webhooks) matrix ``ok``, event-major: each one's event,
    webhook and event time (``time_ms`` by event); ``np.nonzero(ok)`` a block of events at a time,
    on threads, each block written at its place in contiguous arrays."""
    per_event = np.count_nonzero(ok, axis=1)
    start = np.zeros(len(ok) + 1, dtype=np.int64)
    np.cumsum(per_event, out=start[1:])
    n = int(start[-1])
    event, hook, event_ms = (np.empty(n, dtype=np.int64) for _ in range(3))

    def fill(rows: slice) -> None:
        e, h = np.nonzero(ok[rows])
        e += rows.start
        at = slice(int(start[rows.start]), int(start[rows.stop]))
        event[at], hook[at], event_ms[at] = e, h, time_ms[e]

    each_chunk(len(ok), fill, step=max(1, chunked.CHUNK // max(1, ok.shape[1])))
    return event, hook, event_ms


def _keys(
    seed: int, hooks: npt.NDArray[np.int64], events: npt.NDArray[np.int64], first_hook: int
) -> npt.NDArray[np.uint64]:
    """:func:`whsim.sim.keyed.keys_np` of (``first_hook + hooks``, ``events``) a chunk at a time,
    on threads: the mixing's temporaries are a chunk's."""
    keys = np.empty(len(hooks), dtype=np.uint64)

    def mix(part: slice) -> None:
        keys[part] = keyed.keys_np(seed, hooks[part] + first_hook, events[part])

    each_chunk(len(hooks), mix)
    return keys


@dataclass(frozen=True, slots=True)
class _Draws:
    """What every row of :func:`compile_plan` draws from: its loop invariants."""

    keys: npt.NDArray[np.uint64]
    policy: RetryPolicy
    groups: list[Behaviour]
    hook_group: npt.NDArray[np.int64]
    hook_idx: npt.NDArray[np.int64]
    draw_fail: bool
    draw_lat: bool
    draw_hang: bool
    draw_jitter: bool
    timeout: int
    verdicts: npt.NDArray[Any]
    sticky: npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class _Row:
    """One row of slots (attempt ``k``) being drawn: the arrays its chunks write.

    ``live`` holds the row's deliveries (None: every delivery); ``latency`` is None when no
    outage reads latencies, ``delay`` and ``retry`` when the row is the last; ``previous_delay``
    is the row before's delays and ``kept`` its positions of this row's deliveries.
    """

    k: int
    live: npt.NDArray[np.int64] | None
    code: npt.NDArray[np.int16]
    took: npt.NDArray[Any]
    latency: npt.NDArray[Any] | None
    delay: npt.NDArray[Any] | None
    retry: npt.NDArray[np.bool_] | None
    previous_delay: npt.NDArray[Any] | None
    kept: npt.NDArray[np.int64]


def _draw_chunk(draws: _Draws, row: _Row, part: slice) -> None:
    """Draw the answers (and delays) of the slots ``part`` of ``row``; writes only those."""
    k, timeout = row.k, draws.timeout
    who: slice | npt.NDArray[np.int64] = part if row.live is None else row.live[part]
    kk = draws.keys[who]
    u_fail = keyed.uniforms_np(kk, k, keyed.FAIL) if draws.draw_fail else None
    u_lat = keyed.uniforms_np(kk, k, keyed.LATENCY) if draws.draw_lat else None
    u_hang = keyed.uniforms_np(kk, k, keyed.HANG) if draws.draw_hang else None
    groups = draws.groups
    if len(groups) == 1:
        answer, lat = respond_many(groups[0], k, u_fail, u_lat, u_hang, size=len(kk))
    else:
        answer = np.empty(len(kk), dtype=np.int64)
        lat = np.empty(len(kk), dtype=np.int64)
        g_of = draws.hook_group[draws.hook_idx[who]]
        for g, behaviour in enumerate(groups):
            sel = np.flatnonzero(g_of == g)
            got, lt = respond_many(
                behaviour,
                k,
                None if u_fail is None else u_fail[sel],
                None if u_lat is None else u_lat[sel],
                None if u_hang is None else u_hang[sel],
                size=len(sel),
            )
            answer[sel], lat[sel] = got, lt
    del u_fail, u_lat, u_hang
    slow = (answer == HANG) | (lat > timeout)
    row.code[part] = np.where(slow, TIMEOUT, answer)
    row.took[part] = np.where(slow, timeout, lat)
    if row.latency is not None:
        row.latency[part] = np.minimum(lat, timeout + 1)
    del answer, lat, slow
    if row.delay is None or row.retry is None:
        return
    # the previous attempt's delay of these deliveries (decorrelated jitter reads it)
    previous = (
        row.previous_delay[row.kept[part]].astype(np.int64)
        if row.previous_delay is not None
        else None
    )
    u_jitter = keyed.uniforms_np(kk, k, keyed.JITTER) if draws.draw_jitter else np.zeros(len(kk))
    row.delay[part] = jitter_delays(draws.policy, k, u_jitter, previous)
    again = draws.verdicts[row.code[part] + 2] == RETRY_V
    again |= draws.sticky[who]
    row.retry[part] = again


def compile_plan(
    scenario: Scenario,
    seed: int,
    *,
    hooks: tuple[int, int] | None = None,
    events: Events | None = None,
) -> Plan:
    """Generate the workload, fan events out to webhooks and draw every attempt's answer.

    ``hooks=(lo, hi)`` compiles only webhooks ``lo <= h < hi`` (in registration order), an
    endpoint shard: its draws are keyed on the global webhook index, so its deliveries get the
    answers they get in the whole plan. ``events`` passes the workload in when the caller has
    generated it already (every shard shares it).

    Only answers that an engine can read are drawn: once an attempt outside any outage is
    settled (success or rejection), the delivery's later attempts are left at zero, unless its
    receiver has outages (which can turn a success into a retry). The tables use the narrowest
    dtypes that hold their values, which is what bounds a plan's memory.
    """
    sender = scenario.sender
    policy = sender.policy()
    if events is None:
        events = generate(
            scenario.workload,
            seed,
            throttle_reading=sender.throttle,
            progress_from=progress_from(scenario, seed),
        )
    cohorts = (0,) if events.audience is None else progress_from(scenario, seed)
    total = hook_count(scenario)
    lo, hi = (0, total) if hooks is None else hooks
    if not 0 <= lo <= hi <= total:
        raise ScenarioError(f"hooks must be 0 <= lo <= hi <= {total}, got {hooks}", field="hooks")
    ids: list[str] = []
    behaviours: list[Behaviour] = []
    statuses: list[str] = []
    active_from: list[int] = []
    masks: list[npt.NDArray[np.bool_]] = []
    index = 0
    found = scenario.receiver_table()  # Scenario.behaviour scans the receivers on each call
    for hook in scenario.webhooks:
        if index >= hi:
            break
        if index + hook.count <= lo:
            index += hook.count
            continue
        b = found[hook.receiver]
        wanted = np.zeros(len(TYPE_CODE), dtype=np.bool_)
        wanted[[TYPE_CODE[t] for t in hook.events]] = True
        for one in hook.ids():
            if lo <= index < hi:
                status: str = hook.status
                since = 0
                if status == "pending_verification":
                    status, since = _verify(scenario, seed, index, b)
                ids.append(one)
                behaviours.append(b)
                statuses.append(status)
                active_from.append(since)
                masks.append(wanted)
            index += 1
    n_hooks = len(ids)
    subscribed = np.array(masks, dtype=np.bool_).reshape(n_hooks, len(TYPE_CODE))
    active = np.array([s == "active" for s in statuses], dtype=np.bool_)
    since_ms = np.array(active_from, dtype=np.int64)
    # fan-out, event-major: for each event, its webhooks in registration order
    ok = subscribed[:, events.type.astype(np.int64)].T & active[None, :]
    ok &= events.time_ms[:, None] >= since_ms[None, :]
    if events.audience is not None:  # per-webhook: a progress row is for its cohort only
        cohort = np.searchsorted(np.array(cohorts, dtype=np.int64), since_ms)
        first, last = events.audience[:, 0:1], events.audience[:, 1:2]
        ok &= (first <= cohort[None, :]) & (cohort[None, :] < last)
    ev_idx, hook_idx, event_ms = _fan_out(ok, events.time_ms)
    del ok
    n = len(ev_idx)
    A = policy.max_attempts
    ratio = abs(policy.jitter_ratio or 0.0)
    longest = max(policy.delays_ms, default=0) * (1 + ratio) + 1
    timeout = policy.timeout_ms
    # took is at most the timeout; a latency is read only against the timeout, so it is kept
    # clipped to timeout + 1 (the same answers), and only when an outage of kind ``status`` can
    # read it: otherwise the took table stands in for it, unread
    took_dtype = _narrow(timeout + 1)
    delay_dtype = _narrow(int(longest))
    reads_latency = any(o.kind == "status" for b in behaviours for o in b.outages)
    slot_dtype = np.int32 if A * n < 2**31 else np.int64
    keys = _keys(seed, hook_idx, ev_idx, lo)
    verdicts = verdict_table(policy)
    # respond_many ignores outages (the engines apply them), so receivers that differ only in
    # their outages or names share one group of draws
    group_of: dict[Behaviour, int] = {}
    group_by_id: dict[int, int] = {}  # webhooks of one receiver share its Behaviour object
    for b in behaviours:
        if id(b) not in group_by_id:
            bare = dataclasses.replace(b, name="", outages=())
            group_by_id[id(b)] = group_of.setdefault(bare, len(group_of))
    hook_group = np.array([group_by_id[id(b)] for b in behaviours], dtype=np.int64)
    groups = list(group_of)
    # only the streams some receiver reads are drawn (each draw is keyed: skipping one changes no
    # other), and jitter only under a jitter reading that reads it
    reads = [streams_read(b) for b in groups]
    draw_fail, draw_lat, draw_hang = (any(r[i] for r in reads) for i in range(3))
    draw_jitter = policy.jitter != "none"
    # an outage, or a load (capacity), can turn any planned answer into a retry
    unsettled = np.array(
        [bool(b.outages) or b.capacity is not None for b in behaviours], dtype=np.bool_
    )
    sticky = unsettled[hook_idx]
    draws = _Draws(
        keys=keys,
        policy=policy,
        groups=groups,
        hook_group=hook_group,
        hook_idx=hook_idx,
        draw_fail=draw_fail,
        draw_lat=draw_lat,
        draw_hang=draw_hang,
        draw_jitter=draw_jitter,
        timeout=timeout,
        verdicts=verdicts,
        sticky=sticky,
    )
    # one row of slots per attempt number: row 1 every delivery, row k + 1 the deliveries of row
    # k that can reach attempt k + 1 (its planned answer is a retry, or it is sticky)
    rows_code: list[npt.NDArray[Any]] = []
    rows_took: list[npt.NDArray[Any]] = []
    rows_latency: list[npt.NDArray[Any]] = []
    rows_delay: list[npt.NDArray[Any]] = []
    rows_next: list[npt.NDArray[Any]] = []
    rows_drawn: list[npt.NDArray[Any]] = []
    row_start = [0]
    live: npt.NDArray[np.int64] | None = None  # None: every delivery (attempt 1)
    kept = np.zeros(0, dtype=np.int64)
    for k in range(1, A + 1):
        m = n if live is None else len(live)
        if m == 0:
            break
        final = k == A
        row = _Row(
            k=k,
            live=live,
            code=np.empty(m, dtype=np.int16),
            took=np.empty(m, dtype=took_dtype),
            latency=np.empty(m, dtype=took_dtype) if reads_latency else None,
            delay=None if final else np.empty(m, dtype=delay_dtype),
            retry=None if final else np.empty(m, dtype=np.bool_),
            previous_delay=rows_delay[-1] if k > 1 and not final else None,
            kept=kept,
        )
        # the row in chunks of deliveries, on threads: every draw is keyed, so where a chunk
        # cuts (or which thread draws it) changes no value, and the temporaries are a chunk's
        each_chunk(m, functools.partial(_draw_chunk, draws, row))
        row_code, row_took = row.code, row.took
        row_latency = row.latency if row.latency is not None else row_took
        row_delay = row.delay if row.delay is not None else np.empty(0, dtype=delay_dtype)
        retry = row.retry if row.retry is not None else np.empty(0, dtype=np.bool_)
        rows_code.append(row_code)
        rows_took.append(row_took)
        if reads_latency:
            rows_latency.append(row_latency)
        if live is not None:
            rows_drawn.append(live.astype(slot_dtype))
        row_start.append(row_start[-1] + m)
        if not final:
            rows_delay.append(row_delay)
            kept = np.flatnonzero(retry)  # positions in this row of the next row's deliveries
            del retry
            following = np.full(m, -1, dtype=slot_dtype)
            following[kept] = np.arange(row_start[-1], row_start[-1] + len(kept), dtype=slot_dtype)
            rows_next.append(following)
            live = kept if live is None else live[kept]
    del keys, draws
    code = _concat(rows_code, np.int16)
    took = _concat(rows_took, took_dtype)
    latency = _concat(rows_latency, took_dtype) if reads_latency else took
    delay = _concat(rows_delay, delay_dtype)
    next_slot = _concat(rows_next, slot_dtype)
    drawn = _concat(rows_drawn, slot_dtype)
    row_start += [row_start[-1]] * (A + 1 - len(row_start))  # rows no delivery reaches: empty
    o_hook, o_start, o_end, o_code = [], [], [], []
    for h, b in enumerate(behaviours):
        for o in b.outages:
            o_hook.append(h)
            o_start.append(o.start_ms)
            o_end.append(o.end_ms)
            o_code.append(o.status if o.kind == "status" else _OUTAGE_KIND[o.kind])
    return Plan(
        scenario=scenario,
        seed=seed,
        policy=policy,
        events=events,
        hook_ids=tuple(ids),
        hook_status=tuple(statuses),
        hook_active_ms=since_ms,
        n=n,
        max_attempts=A,
        hook=hook_idx,
        event=ev_idx,
        event_ms=event_ms,
        ready_ms=event_ms,
        code=code,
        took=took,
        latency=latency,
        delay=delay,
        verdict=verdicts,
        row_start=np.array(row_start, dtype=np.int64),
        drawn=drawn,
        next_slot=next_slot,
        outage_hook=np.array(o_hook, dtype=np.int64),
        outage_start=np.array(o_start, dtype=np.int64),
        outage_end=np.array(o_end, dtype=np.int64),
        outage_code=np.array(o_code, dtype=np.int64),
        outages=tuple(b.outages for b in behaviours),
        first_hook=lo,
    )


class LoadedAnswers:
    """Answers of receivers whose failures depend on their load (a ``capacity``).

    The engine calls :meth:`answer` as each attempt reaches such a receiver, in time order; it
    feeds the receiver's :class:`~whsim.core.behaviours.LoadMeter` and asks
    :func:`~whsim.core.behaviours.respond` (the same function ``whsim receiver`` calls) with the
    attempt's keyed uniforms, so the planned answer of every other receiver is untouched.
    """

    def __init__(self, plan: Plan) -> None:
        self._plan = plan
        self._behaviours: list[Behaviour | None] = []
        self.meters: list[LoadMeter | None] = []
        lo, hi = plan.first_hook, plan.first_hook + len(plan.hook_ids)  # an endpoint shard
        index = 0
        table = plan.scenario.receiver_table()
        for hook in plan.scenario.webhooks:
            b = table[hook.receiver]
            for _ in range(hook.count):
                if lo <= index < hi:
                    self._behaviours.append(b if b.capacity is not None else None)
                    self.meters.append(LoadMeter(b.capacity) if b.capacity is not None else None)
                index += 1

    @property
    def any(self) -> bool:
        return any(m is not None for m in self.meters)

    def answer(self, h: int, j: int, t: int) -> tuple[int, int]:
        """(code, ms taken) of attempt ``j`` reaching receiver ``h`` at ``t`` (which has a meter)."""
        plan = self._plan
        meter, b = self.meters[h], self._behaviours[h]
        assert meter is not None and b is not None
        n, seed = plan.n, plan.seed
        d, k = j % n, j // n + 1
        e = int(plan.event[d])
        h_key = h + plan.first_hook  # draws are keyed on the global webhook index
        got = respond(
            b,
            now_ms=t,
            attempt=k,
            u_fail=keyed.uniform_py(seed, h_key, e, k, keyed.FAIL),
            u_latency=keyed.uniform_py(seed, h_key, e, k, keyed.LATENCY),
            u_hang=keyed.uniform_py(seed, h_key, e, k, keyed.HANG),
            load=meter.admit(t),
        )
        timeout = plan.timeout_ms
        if got.kind == "refused":
            return CONNECT, 0
        if got.kind == "hang" or got.latency_ms > timeout:
            return TIMEOUT, timeout
        return int(got.status or 0), got.latency_ms


_SHIFT: Final = 42  # hook << 42 | time: times stay below 2**42 ms (139 years)


def answers(
    plan: Plan,
    slot: npt.NDArray[np.signedinteger[Any]],
    delivery: npt.NDArray[np.int64],
    sent_ms: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(code, ms until the answer) of the attempts in slots ``slot`` (of deliveries
    ``delivery``) sent at ``sent_ms``, outages applied."""
    code = plan.code[slot].astype(np.int64)
    took = plan.took[slot].astype(np.int64)
    if len(plan.outage_hook) == 0 or len(slot) == 0:
        return code, took
    o_key = (plan.outage_hook << _SHIFT) | plan.outage_start
    order = np.argsort(o_key, kind="stable")
    o_key, o_hook = o_key[order], plan.outage_hook[order]
    o_end, o_code = plan.outage_end[order], plan.outage_code[order]
    h = plan.hook[delivery]
    pos = np.searchsorted(o_key, (h << _SHIFT) | sent_ms, side="right") - 1
    cand = np.maximum(pos, 0)
    hit = (pos >= 0) & (o_hook[cand] == h) & (sent_ms < o_end[cand])
    if hit.any():
        oc = o_code[cand[hit]]
        lat = plan.latency[slot[hit]].astype(np.int64)
        slow = (oc == TIMEOUT) | ((oc > 0) & (lat > plan.timeout_ms))
        code[hit] = np.where(slow, TIMEOUT, oc)
        took[hit] = np.where(slow, plan.timeout_ms, np.where(oc == CONNECT, 0, lat))
    return code, took
