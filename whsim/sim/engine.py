"""The reference engine: a lean event loop on integer milliseconds.

First attempts stream from the delivery table, which is sorted by time; only retries (and, when
deliveries interact, completions) go through a heap. Heap entries order by ``(t_ms, j)`` or
``(t_ms, phase, j)`` where ``j = (k - 1) * n + d`` names attempt ``k`` of delivery ``d``, so ties
break on (phase, attempt, delivery) and never on insertion order. In the independent loop,
retries due at one instant that arrive in increasing ``j`` wait as one batch behind one heap
entry, so the heap stays small however many endpoints fail at once; the order is the heap's.

Every attempt goes through the core's delivery kernel (:func:`whsim.core.delivery.may_start`
before it is sent, :func:`whsim.core.delivery.settle` when it ended) and outages through
:func:`whsim.core.behaviours.outage_answer`, the functions the reference sender's state machine
uses; the loops only keep the time order, the slots and the log. They look those functions up
on their modules at each run (one attribute lookup per run, then a local), so a rule changed in the
core is the rule both loops run.
"""

from __future__ import annotations

import gc
import heapq
import itertools
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from whsim.core import behaviours, delivery
from whsim.core.behaviours import Outage
from whsim.core.delivery import EXPIRED_C
from whsim.sim.plan import LoadedAnswers, Plan

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["RawLog", "run_reference"]

Progress = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class RawLog:
    """What an engine produced: one entry per attempt, one per delivery.

    Attempts are in the engine's processing order; ``code`` is an HTTP status, ``TIMEOUT`` or
    ``CONNECT``, in any signed integer dtype (int16 where an engine keeps the plan's).
    ``state``/``ended_ms`` give each delivery's final state and when it was reached.
    """

    j: npt.NDArray[np.int64]
    sent_ms: npt.NDArray[np.int64]
    finished_ms: npt.NDArray[np.int64]
    code: npt.NDArray[np.signedinteger[Any]]
    state: npt.NDArray[np.int8]
    ended_ms: npt.NDArray[np.int64]


def _view(array: npt.NDArray[Any]) -> memoryview:
    """Fast scalar indexing into a numpy array (about list speed, no copy)."""
    return memoryview(array)  # type: ignore[arg-type]


def _outage_table(plan: Plan) -> list[tuple[Outage, ...] | None]:
    """Each webhook's outages (sorted), or None for a webhook without any."""
    return [outs or None for outs in plan.outages]


def _int_list(values: npt.NDArray[np.int64]) -> list[int]:
    """``values.tolist()``, but runs of equal values share one int object.

    Deliveries of one event have the same ready time and deadline: a list of 10 M distinct int
    objects costs ~400 MB and the cache misses of walking them; shared ones cost the pointers.
    """
    if len(values) < 2:
        return [int(v) for v in values]
    starts = np.flatnonzero(values[1:] != values[:-1])
    starts += 1
    if len(starts) * 4 > len(values):  # short runs: nothing to share
        return list(values.tolist())
    bounds = np.concatenate([[0], starts, [len(values)]])
    runs = zip(values[bounds[:-1]].tolist(), np.diff(bounds).tolist(), strict=True)
    return list(itertools.chain.from_iterable(itertools.repeat(v, c) for v, c in runs))


def _ms_column(n: int) -> array[int]:
    """``n`` zero milliseconds as an ``array('q')``: storing into it keeps no int object alive.

    A list would keep every delivery's end time as its own int object (10 M of them at the
    benchmark's largest size: ~320 MB the loop allocates and walks as it runs).
    """
    return array("q", bytes(8 * n))


def _per_delivery(
    table: list[tuple[Outage, ...] | None], hook: npt.NDArray[np.integer[Any]]
) -> list[tuple[Outage, ...] | None]:
    """``[table[h] for h in hook]``, gathered in C (no int object per delivery on the way)."""
    if not any(table):
        return [None] * len(hook)
    objects = np.empty(len(table), dtype=object)
    for h, outs in enumerate(table):  # one by one: numpy would read a tuple as a row
        objects[h] = outs
    return objects[hook].tolist()  # type: ignore[no-any-return]


def _kernel(plan: Plan) -> tuple[delivery.Kernel, Any, Any, Any]:
    """The core's delivery rule for ``plan``'s policy, built now (so a rule changed in the core is
    the rule this run executes), and the core's expiry and outage functions."""
    return (
        delivery.kernel(plan.policy),
        delivery.may_start,
        delivery.expiry_deadline,
        behaviours.outage_answer,
    )


def _tables(plan: Plan) -> tuple[memoryview, memoryview, memoryview, memoryview]:
    """Scalar views of the plan's answers indexed by attempt name ``j``: code, took, latency,
    delay (:meth:`~whsim.sim.plan.Plan.dense_tables`, built for this run)."""
    code, took, latency, delay = plan.dense_tables()
    return _view(code), _view(took), _view(latency), _view(delay)


def _log() -> tuple[array[int], array[int], array[int], array[int]]:
    """The attempt log's columns j, sent, finished, code: 8 bytes an entry, no int objects kept
    (a list of ints would hold one object per entry, ~5x the memory, and slow a long run down)."""
    return array("q"), array("q"), array("q"), array("q")


def _column(col: array[int]) -> npt.NDArray[np.int64]:
    return np.frombuffer(col, dtype=np.int64) if len(col) else np.zeros(0, dtype=np.int64)


def _finish(
    log: tuple[array[int], array[int], array[int], array[int]],
    state: bytearray,
    ended: array[int],
) -> RawLog:
    j, sent, fin, code = log
    return RawLog(
        j=_column(j),
        sent_ms=_column(sent),
        finished_ms=_column(fin),
        code=_column(code),
        state=np.frombuffer(bytes(state), dtype=np.int8).copy(),
        ended_ms=_column(ended).copy(),
    )


def run_reference(plan: Plan, progress: Progress | None = None) -> RawLog:
    """Run ``plan`` through the event loop; ``progress`` is called with the fraction done.

    The cyclic GC is off during the loop (it only allocates acyclic ints and tuples).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        if plan.scenario.coupled:
            return _run_coupled(plan, progress)
        return _run_independent(plan, progress)
    finally:
        if was_enabled:
            gc.enable()


def _run_independent(plan: Plan, progress: Progress | None) -> RawLog:
    """Deliveries that never interact: an attempt's outcome is settled when it is sent.

    A first attempt starts when its delivery is ready, so whether it may start (and, under
    ``from-first-attempt``, the deadline) is worked out for all of them at once with the core's
    ``may_start`` and ``expiry_deadline`` on arrays; a retry was checked against the deadline by
    the kernel's retry rule when it was scheduled, and starts exactly when due. The loop logs
    (j, sent) of every attempt and (code, ms taken) only where ``outage_answer`` ran; the other
    attempts got the plan's answer, filled in from its tables afterwards.
    """
    rule, may_start, expiry_deadline, outage_answer = _kernel(plan)
    ends, retry = rule.ends, rule.retry
    n, policy = plan.n, plan.policy
    code_mv, took_mv, lat_mv, delay_mv = _tables(plan)
    ready = plan.ready_ms
    basis = expiry_deadline(policy, plan.event_ms, None)
    dl = expiry_deadline(policy, plan.event_ms, ready) if basis is None else basis
    ok = np.asarray(may_start(ready, dl), dtype=np.bool_) & np.ones(n, dtype=np.bool_)
    state = bytearray(n)
    ended = _ms_column(n)
    # first attempts the rule does not let start expire unsent, when they are due
    late = bytearray((~ok).astype(np.uint8).tobytes())
    blocked = not ok.all()
    if blocked:
        for d in np.flatnonzero(~ok).tolist():
            state[d], ended[d] = EXPIRED_C, int(ready[d])
    arr_t = _int_list(ready)
    arr_t.append(2**62)  # sentinel: the stream never runs dry while the heap has work
    deadline = _int_list(dl)
    outages = _per_delivery(_outage_table(plan), plan.hook)
    timeout = plan.timeout_ms
    log_j, log_t, out_at, out_code, out_took = (array("q") for _ in range(5))
    add_j, add_t = log_j.append, log_t.append
    # Retries wait in a heap of plain ints ``(due << shift | j) << 1 | batch``, in (due, j)
    # order: int comparisons only, no tuple per entry. Retries due at the same instant whose j
    # come in increasing order (one event's deliveries failing alike) are a *batch*: the first
    # goes to the heap as it is, the others to a list whose head alone is in the heap (flag 1),
    # taken one after another while nothing in the heap comes first. A heap as large as the
    # pending retries costs log(size) cache-missing steps per retry; a batch costs an append.
    shift = (rule.max_attempts * n + 1).bit_length()
    s1 = shift + 1
    mask = (1 << shift) - 1
    never = 1 << (s1 + 64)  # after any key
    heap: list[int] = []
    batches: dict[int, tuple[list[int], int]] = {}  # head key -> (list of j, where its rest starts)
    push, pop = heapq.heappush, heapq.heappop
    cur: list[int] = []  # the batch being taken: cur[ci:], due ``base >> s1``; y the next key
    ci = base = 0
    y = never
    open_due, open_last, opened = -1, 0, cur  # the batch that retries may still join
    last_due = -1  # the due time of the last retry pushed alone: a second one opens a batch
    step = max(1, n // 100)
    next_report = step if progress is not None else -1
    i = 0
    while True:
        lim = (arr_t[i] + 1) << s1
        if heap and heap[0] < lim and heap[0] < y:
            x = pop(heap)
            t = x >> s1
            j = x >> 1 & mask
            d = j % n
            if x & 1:  # the head of a batch: take it, then its rest
                if y != never:  # another batch was being taken: it waits in the heap
                    push(heap, y | 1)
                    batches[y | 1] = (cur, ci)
                cur, ci = batches.pop(x)
                base = t << s1
                ci += 1
                if ci < len(cur):
                    y = base | cur[ci] << 1
                else:
                    y = never
                    if opened is cur:
                        open_due = -1
        elif y < lim:
            t = base >> s1
            j = cur[ci]
            d = j % n
            ci += 1
            if ci < len(cur):
                y = base | cur[ci] << 1
            else:
                y = never
                if opened is cur:
                    open_due = -1
        elif i < n:
            t = arr_t[i]
            j = d = i
            i += 1
            if i == next_report:
                progress(i / n)  # type: ignore[misc]
                next_report += step
            if blocked and late[d]:
                continue
        else:
            break
        c = code_mv[j]
        took = took_mv[j]
        outs = outages[d]
        if outs is not None:
            c, took = outage_answer(outs, t, c, took, lat_mv[j], timeout)
            out_at.append(len(log_j))
            out_code.append(c)
            out_took.append(took)
        f = t + took
        add_j(j)
        add_t(t)
        end = ends[c + 2]
        if end:
            state[d] = end
            ended[d] = f
            continue
        due = retry(j // n + 1, t, f, delay_mv[j], deadline[d])
        if due < 0:
            state[d] = -due
            ended[d] = f
            continue
        j += n
        if due == open_due and j > open_last:
            opened.append(j)
            open_last = j
        elif due == last_due:
            opened = [j]
            open_due, open_last = due, j
            x = (due << shift | j) << 1 | 1
            push(heap, x)
            batches[x] = (opened, 0)
        else:
            push(heap, (due << shift | j) << 1)
            last_due = due
    j_arr, sent = _column(log_j), _column(log_t)
    code = np.frombuffer(code_mv, dtype=plan.code.dtype)[j_arr]  # int16, as in the plan
    took_arr = np.frombuffer(took_mv, dtype=plan.took.dtype)[j_arr].astype(np.int64)
    at = _column(out_at)
    code[at] = _column(out_code)
    took_arr[at] = _column(out_took)
    took_arr += sent
    return RawLog(
        j=j_arr,
        sent_ms=sent,
        finished_ms=took_arr,
        code=code,
        state=np.frombuffer(bytes(state), dtype=np.int8).copy(),
        ended_ms=_column(ended).copy(),
    )


def _run_coupled(plan: Plan, progress: Progress | None) -> RawLog:
    """Deliveries that share per-webhook concurrency slots and the sender's downtime.

    Heap entries are ``(t, 0, j)`` for attempt ``j`` finishing and ``(t, 1, j)`` for attempt ``j``
    falling due; at one instant, completions free their slots before anything starts. A due
    attempt that finds no free slot waits in its webhook's FIFO queue; one due during downtime
    waits for the window's end. The expiry is checked when the attempt actually starts.
    """
    rule, may_start, expiry_deadline, outage_answer = _kernel(plan)
    ends, retry = rule.ends, rule.retry
    n, policy = plan.n, plan.policy
    code_mv, took_mv, lat_mv, delay_mv = _tables(plan)
    arr_t = plan.ready_ms.tolist()
    event_t = plan.event_ms.tolist()
    hook = plan.hook.tolist()
    outages = _outage_table(plan)
    timeout = plan.timeout_ms
    cap = plan.scenario.sender.concurrency or n + 1
    downtime = [(w.start_ms, w.end_ms) for w in plan.scenario.sender.downtime]
    loaded = LoadedAnswers(plan)  # receivers with a capacity answer by their load
    basis = expiry_deadline(policy, plan.event_ms, None)
    from_first = basis is None
    deadline = [2**62] * n if basis is None else basis.tolist()
    state = bytearray(n)
    ended = _ms_column(n)
    inflight = [0] * len(plan.hook_ids)
    queues: list[deque[int]] = [deque() for _ in plan.hook_ids]
    log = _log()
    log_j, log_t, log_f, log_c = log
    heap: list[tuple[int, int, int]] = []
    push, pop = heapq.heappush, heapq.heappop
    report = max(1, n // 100)

    def sender_down(t: int) -> int | None:
        for start, end in downtime:
            if start <= t < end:
                return end
            if start > t:
                break
        return None

    def start(t: int, j: int) -> bool:
        """Send attempt ``j`` at ``t``; False when it expired instead (the slot stays free)."""
        d = j % n
        if from_first and j < n:
            deadline[d] = expiry_deadline(policy, event_t[d], t)
        if not may_start(t, deadline[d]):
            state[d] = EXPIRED_C
            ended[d] = t
            return False
        c = code_mv[j]
        took = took_mv[j]
        outs = outages[hook[d]]
        if loaded.meters[hook[d]] is not None:
            c, took = loaded.answer(hook[d], j, t)
        elif outs is not None:
            c, took = outage_answer(outs, t, c, took, lat_mv[j], timeout)
        log_j.append(j)
        log_t.append(t)
        log_f.append(t + took)
        log_c.append(c)
        inflight[hook[d]] += 1
        push(heap, (t + took, 0, len(log_j) - 1))
        return True

    def due(t: int, j: int) -> None:
        resume = sender_down(t)
        if resume is not None:
            push(heap, (resume, 1, j))
            return
        h = hook[j % n]
        if inflight[h] >= cap:
            queues[h].append(j)
            return
        start(t, j)

    i = 0
    while True:
        if heap and (i >= n or heap[0] <= (arr_t[i], 1, i)):
            t, phase, x = pop(heap)
        elif i < n:
            t, phase, x = arr_t[i], 1, i
            i += 1
            if progress is not None and i % report == 0:
                progress(i / n)
        else:
            break
        if phase == 1:
            due(t, x)
            continue
        # completion of the attempt logged at position x
        j = log_j[x]
        d = j % n
        h = hook[d]
        inflight[h] -= 1
        end = ends[log_c[x] + 2]
        if end:
            state[d], ended[d] = end, t
        else:
            nxt = retry(j // n + 1, log_t[x], t, delay_mv[j], deadline[d])
            if nxt >= 0:
                push(heap, (nxt, 1, j + n))
            else:
                state[d], ended[d] = -nxt, t
        queue = queues[h]
        while queue and inflight[h] < cap:
            resume = sender_down(t)
            if resume is not None:
                while queue:
                    push(heap, (resume, 1, queue.popleft()))
                break
            start(t, queue.popleft())
    return _finish(log, state, ended)
