"""Exact reductions of a run's log that can be computed per endpoint shard and merged.

A :class:`Tally` holds what the summary, the attempts hash and the downsampled timeline need from
one shard (a contiguous range of webhooks): counts, the busiest (webhook, second), the
time-to-delivery values as a value -> count table, per-second attempt counts, and one sha256 leaf
per webhook. :meth:`Tally.merge` adds tallies of disjoint shards in webhook order; merging is
exact (integer sums, maxima, concatenation), so a run cut into any number of shards, processed
in any number of processes, gives the same summary and hash as the run in one piece. A
single-process :class:`~whsim.sim.results.SimResult` computes its summary through a tally too.

The attempts hash is a hash tree with one leaf per webhook: the leaf of webhook ``h`` is the
sha256 of its deliveries in event order and its attempts in (event, attempt) order, as columns of
little-endian int64 (:func:`_by_groups`); the hash is the sha256 of a version tag and the leaves in webhook order. Building it sorts
nothing: an attempt's row is placed by its delivery's rank and its attempt number.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from whsim.sim import chunked
from whsim.sim.chunked import alongside, each_chunk
from whsim.sim.plan import CONNECT, DELIVERED, STATES, TIMEOUT

if TYPE_CHECKING:
    import numpy.typing as npt

    from whsim.sim.engine import RawLog
    from whsim.sim.plan import Plan

__all__ = ["HASH_TAG", "Tally", "attempts_used", "hook_major", "percentile_from_counts", "tally"]

HASH_TAG: Final = b"whsim attempts v2\n"
"""Version of the attempts hash; changes whenever the bytes it covers change meaning."""


CELLS_PER_ATTEMPT: Final = 4
FEW_CELLS: Final = 1 << 16
"""A group's busiest (webhook, second) is found by counting every cell (a bincount, 8 bytes a
cell) when there are at most ``max(CELLS_PER_ATTEMPT * attempts, FEW_CELLS)`` cells, and by
sorting its attempts' cells otherwise (a long horizon, few attempts): the same answer."""


@dataclass(frozen=True, slots=True)
class HookMajor:
    """A log's attempts in (webhook, event, attempt) order, and its deliveries in (webhook, event).

    ``order[i]`` is the log index of the ``i``-th attempt in that order; ``delivery_perm[r]`` the
    delivery of rank ``r``; ``used`` the attempts per delivery, in delivery order (any integer
    dtype).
    """

    order: npt.NDArray[np.int64]
    delivery_perm: npt.NDArray[np.int64]
    used: npt.NDArray[np.signedinteger[Any]]
    attempts_per_hook: npt.NDArray[np.int64]
    deliveries_per_hook: npt.NDArray[np.int64]


def attempts_used(n: int, log: RawLog) -> npt.NDArray[np.int64]:
    """Attempts logged per delivery (``n`` deliveries), counted a chunk of the log at a time.

    ``np.add.at`` on a chunk's deliveries: no attempt-sized temporary, and no ``n``-sized count
    array per chunk (what a chunked ``bincount`` would allocate). int64: numpy's fast path of
    ``add.at`` is for the index dtype (int32 counts take 17x as long).
    """
    used = np.zeros(n, dtype=np.int64)

    def count(rows: slice) -> None:
        np.add.at(used, log.j[rows] % n, 1)

    each_chunk(len(log.j), count, parallel=False)  # chunks would add into the same counts
    return used


def by_hook(plan: Plan) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The plan's deliveries in (webhook, event) order, and how many each webhook has.

    Deliveries are event-major in a plan (for each event, its webhooks in order), so a stable
    sort on the webhook alone is (webhook, event) order. Reads only the plan: :func:`tally` runs
    it beside its passes over the log.
    """
    hooks = len(plan.hook_ids)
    narrow = np.uint16 if hooks <= 2**16 else np.int64  # uint16 gets numpy's radix sort
    perm = np.argsort(plan.hook.astype(narrow), kind="stable").astype(np.int64, copy=False)
    return perm, np.bincount(plan.hook, minlength=hooks).astype(np.int64)


def hook_major(
    plan: Plan,
    log: RawLog,
    used: npt.NDArray[np.signedinteger[Any]] | None = None,
    delivery_order: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None,
) -> HookMajor:
    """Hook-major order of ``log``'s attempts in O(attempts): rows are placed, not sorted.

    An attempt's place is its delivery's first row in (webhook, event) order (:func:`by_hook`)
    plus its attempt number. ``used`` is :func:`attempts_used` and ``delivery_order``
    :func:`by_hook`, when the caller has them. Works in chunks of the log: temporaries of a
    chunk, not of a log.
    """
    n, hooks = plan.n, len(plan.hook_ids)
    perm, per_hook_del = by_hook(plan) if delivery_order is None else delivery_order
    if not n or not len(log.j):
        zeros = np.zeros(hooks, dtype=np.int64)
        return HookMajor(np.zeros(0, np.int64), perm, np.zeros(n, np.int64), zeros, per_hook_del)
    if used is None:
        used = attempts_used(n, log)
    # first rows fit in int32 below 2**31 attempts: half the memory for the two delivery-sized
    # arrays of them (``order`` stays int64: numpy gathers by an int32 index a third slower)
    index = np.int32 if len(log.j) < 2**31 else np.int64
    # each delivery's first row: the exclusive running sum of ``used`` in (webhook, event) order
    first = np.cumsum(used[perm], dtype=index)
    # attempts per webhook: the running sum at each webhook's last delivery, differenced
    ends = np.cumsum(per_hook_del)
    per_hook_att = np.where(ends > 0, first[np.maximum(ends - 1, 0)], 0).astype(np.int64)
    per_hook_att[1:] -= per_hook_att[:-1].copy()
    start = np.empty(n, dtype=index)
    start[perm[0]] = 0
    start[perm[1:]] = first[:-1]
    del first
    order = np.empty(len(log.j), dtype=np.int64)

    def place(rows: slice) -> None:  # each attempt has its own place: chunks write apart
        pos, d = np.divmod(log.j[rows], n)  # attempt number from 0, delivery
        pos += start[d]
        order[pos] = np.arange(rows.start, rows.stop, dtype=np.int64)

    each_chunk(len(log.j), place)
    return HookMajor(order, perm, used, per_hook_att, per_hook_del)


def _groups(hm: HookMajor) -> list[tuple[int, int]]:
    """Ranges ``[lo, hi)`` of whole webhooks of about :data:`whsim.sim.chunked.CHUNK` rows
    (deliveries and attempts) each, at least one webhook a range: the steps of
    :func:`_by_groups`."""
    ends = np.cumsum(hm.attempts_per_hook + hm.deliveries_per_hook)
    out: list[tuple[int, int]] = []
    lo_hook, lo = 0, 0
    while lo_hook < len(ends):
        hi_hook = max(lo_hook + 1, int(np.searchsorted(ends, lo + chunked.CHUNK, side="right")))
        out.append((lo_hook, hi_hook))
        lo_hook, lo = hi_hook, int(ends[hi_hook - 1])
    return out


def _by_groups(
    plan: Plan, log: RawLog, hm: HookMajor
) -> tuple[list[bytes], int, int, npt.NDArray[np.int64]]:
    """(hash leaves, busiest webhook-second's count, its local webhook, attempts per second).

    One pass over groups of whole webhooks (:func:`_groups`), so the gathered columns are a
    group's, not a log's. A leaf (see the module docstring) covers the webhook's deliveries in
    event order as columns (event, state, ended, attempts used), then its attempts in (event,
    attempt) order as columns (sent, finished, code); a group's hashers take its columns one
    after another, which is each leaf's column order. The busiest (webhook, second) is the first
    maximum: the lowest webhook, then the earliest second (a run never spans two groups); the
    webhook is -1 when there are no attempts.
    """
    hooks = len(hm.attempts_per_hook)
    d_off = np.zeros(hooks + 1, dtype=np.int64)
    a_off = np.zeros(hooks + 1, dtype=np.int64)
    np.cumsum(hm.deliveries_per_hook, out=d_off[1:])
    np.cumsum(hm.attempts_per_hook, out=a_off[1:])
    hashers = [hashlib.sha256() for _ in range(hooks)]
    n_att = len(hm.order)
    per_second = np.zeros(int(log.sent_ms.max()) // 1000 + 1 if n_att else 0, dtype=np.int64)
    best, best_hook = 0, -1
    # numpy's gathers and sort and sha256 release the GIL: groups run on worker threads, and
    # their results are taken in webhook order
    steps = [(lo, hashers[lo:hi]) for lo, hi in _groups(hm)]
    for run, hook, counts in chunked.in_order(
        lambda step: _group(plan, log, hm, step[0], step[1], d_off, a_off), steps
    ):
        per_second[: len(counts)] += counts
        if run > best:  # the first maximum: groups are taken in webhook order
            best, best_hook = run, hook
    return [h.digest() for h in hashers], best, best_hook, per_second


def _group(
    plan: Plan,
    log: RawLog,
    hm: HookMajor,
    lo_hook: int,
    hashers: list[Any],
    d_off: npt.NDArray[np.int64],
    a_off: npt.NDArray[np.int64],
) -> tuple[int, int, npt.NDArray[np.int64]]:
    """One group of webhooks from ``lo_hook`` (as many as ``hashers``): gather its delivery
    columns and its attempt columns (``d_off``, ``a_off``: every webhook's first row in each),
    feed its hashers (in webhook order) the delivery columns, then the attempt columns, each cut
    at its webhook's rows, as little-endian int64; return its busiest (webhook, second)'s count
    and webhook (0, -1 without attempts) and its attempts per second."""
    hi_hook = lo_hook + len(hashers)
    d_cut, a_cut = d_off[lo_hook : hi_hook + 1], a_off[lo_hook : hi_hook + 1]
    perm = hm.delivery_perm[int(d_cut[0]) : int(d_cut[-1])]
    d_cols = [c[perm] for c in (plan.event, log.state, log.ended_ms, hm.used)]
    order = hm.order[int(a_cut[0]) : int(a_cut[-1])]
    a_cols = [log.sent_ms[order], log.finished_ms[order], log.code[order]]
    del perm, order
    for off, columns in ((d_cut, d_cols), (a_cut, a_cols)):
        cuts = ((off - off[0]) * 8).tolist()
        for column in columns:
            data = np.ascontiguousarray(column, dtype="<i8")
            view = memoryview(data.data).cast("B")
            for i, h in enumerate(hashers):
                h.update(view[cuts[i] : cuts[i + 1]])
    sent = a_cols[0]
    if not len(sent):
        return 0, -1, np.zeros(0, dtype=np.int64)
    bins = sent // 1000
    counts = np.bincount(bins)
    span = len(counts)
    key = np.repeat(np.arange(len(hashers), dtype=np.int64), np.diff(a_cut))
    key *= span
    key += bins
    del bins
    if len(hashers) * span <= max(CELLS_PER_ATTEMPT * len(key), FEW_CELLS):
        cells = np.bincount(key)
        at = int(np.argmax(cells))  # the first maximum: the lowest webhook, then second
        return int(cells[at]), lo_hook + at // span, counts
    # within a webhook, (event, attempt) order is nearly time order: timsort's runs
    key.sort(kind="stable")
    run, at = _longest_run(key)
    return run, lo_hook + int(key[at] // span), counts


def _longest_run(key: npt.NDArray[np.int64]) -> tuple[int, int]:
    """(length, start) of the first longest run of equal values in sorted ``key``, in chunks."""
    best, best_at, run_start, size = 0, 0, 0, len(key)
    for lo in range(0, size - 1, chunked.CHUNK):
        hi = min(size - 1, lo + chunked.CHUNK)
        edges = np.flatnonzero(key[lo + 1 : hi + 1] != key[lo:hi])
        if not len(edges):
            continue
        edges += lo + 1
        runs = np.diff(edges, prepend=run_start)
        top = int(np.argmax(runs))
        if int(runs[top]) > best:
            best, best_at = int(runs[top]), (run_start if top == 0 else int(edges[top - 1]))
        run_start = int(edges[-1])
    if size - run_start > best:
        best, best_at = size - run_start, run_start
    return best, best_at


def _value_counts(x: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Sorted distinct values of ``x`` and their counts (a bincount when the range is small)."""
    if not len(x):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lo, hi = int(x.min()), int(x.max())
    if hi - lo <= 4 * len(x):
        counts = np.bincount(x - lo)
        values = np.flatnonzero(counts)
        return (values + lo).astype(np.int64), counts[values].astype(np.int64)
    values, counts = np.unique(x, return_counts=True)
    return values.astype(np.int64), counts.astype(np.int64)


def _time_to_delivery(
    plan: Plan, log: RawLog
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Sorted distinct times to delivery of the delivered deliveries, and their counts; a chunk
    of deliveries at a time, the chunks' tables merged (exact)."""
    tables = []

    def count(part: slice) -> None:
        ttd = log.ended_ms[part] - plan.event_ms[part]
        tables.append(_value_counts(ttd[log.state[part] == DELIVERED]))

    each_chunk(plan.n, count, parallel=False)  # one thread: the tables in chunk order
    return _merge_counts(tables)


def _merge_counts(
    tables: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Value -> count tables (each of sorted distinct values) as one, in one pass."""
    tables = [t for t in tables if len(t[0])]
    if len(tables) <= 1:
        return tables[0] if tables else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    values, inverse = np.unique(np.concatenate([v for v, _ in tables]), return_inverse=True)
    counts = np.zeros(len(values), dtype=np.int64)
    np.add.at(counts, inverse.reshape(-1), np.concatenate([c for _, c in tables]))
    return values.astype(np.int64, copy=False), counts


def percentile_from_counts(
    values: npt.NDArray[np.int64], counts: npt.NDArray[np.int64], q: float
) -> float:
    """``np.percentile(data, q)`` (linear method) from sorted distinct values and their counts."""
    total = int(counts.sum())
    vi = np.true_divide(q, 100) * (total - 1)
    lo = int(np.floor(vi))
    hi = min(lo + 1, total - 1)
    cum = np.cumsum(counts)
    a = float(values[int(np.searchsorted(cum, lo, side="right"))])
    b = float(values[int(np.searchsorted(cum, hi, side="right"))])
    t = float(vi - lo)
    # numpy's _lerp, including its switch to the upper end for t >= 0.5
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


@dataclass
class Tally:
    """Mergeable reductions of one shard's log (see the module docstring)."""

    first_hook: int
    deliveries: int = 0
    attempts: int = 0
    states: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(len(STATES), np.int64))
    timeouts: int = 0
    refused: int = 0
    failed_verification: int = 0
    peak: int = 0
    peak_hook: int = -1  # global webhook index of the first webhook reaching ``peak``
    virtual_end_ms: int = 0
    ttd_values: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    ttd_counts: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    per_second: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    leaves: list[bytes] = field(default_factory=list)

    def merge(self, other: Tally) -> Tally:
        """This tally followed by ``other``, whose webhooks all come after this one's."""
        if other.first_hook < self.first_hook + len(self.leaves):
            raise ValueError("tallies must be merged in webhook order, without overlap")
        if other.peak > self.peak or (other.peak == self.peak and self.peak_hook < 0):
            peak, peak_hook = other.peak, other.peak_hook
        else:
            peak, peak_hook = self.peak, self.peak_hook
        values, counts = _merge_counts(
            [(self.ttd_values, self.ttd_counts), (other.ttd_values, other.ttd_counts)]
        )
        size = max(len(self.per_second), len(other.per_second))
        per_second = np.zeros(size, dtype=np.int64)
        per_second[: len(self.per_second)] += self.per_second
        per_second[: len(other.per_second)] += other.per_second
        gap = other.first_hook - self.first_hook - len(self.leaves)
        empty = hashlib.sha256().digest()  # a webhook with no deliveries
        return Tally(
            first_hook=self.first_hook,
            deliveries=self.deliveries + other.deliveries,
            attempts=self.attempts + other.attempts,
            states=self.states + other.states,
            timeouts=self.timeouts + other.timeouts,
            refused=self.refused + other.refused,
            failed_verification=self.failed_verification + other.failed_verification,
            peak=peak,
            peak_hook=peak_hook,
            virtual_end_ms=max(self.virtual_end_ms, other.virtual_end_ms),
            ttd_values=values.astype(np.int64),
            ttd_counts=np.asarray(counts, dtype=np.int64),
            per_second=per_second,
            leaves=self.leaves + [empty] * gap + other.leaves,
        )

    def digest(self) -> str:
        """The attempts hash of the merged run (leaves must start at webhook 0)."""
        if self.first_hook != 0:
            raise ValueError("the attempts hash needs the tally of every webhook from the first")
        h = hashlib.sha256(HASH_TAG)
        h.update(len(self.leaves).to_bytes(8, "little"))
        h.update(b"".join(self.leaves))
        return h.hexdigest()

    def timeline(self, bin_s: int = 60) -> npt.NDArray[np.int64]:
        """Attempts sent per ``bin_s`` seconds of virtual time, from time 0 (exact)."""
        if bin_s < 1:
            raise ValueError("bin_s must be at least 1")
        per = self.per_second
        bins = -(-len(per) // bin_s)
        padded = np.zeros(bins * bin_s, dtype=np.int64)
        padded[: len(per)] = per
        out: npt.NDArray[np.int64] = padded.reshape(bins, bin_s).sum(axis=1)
        return out

    def percentile_ttd(self, q: float) -> int | None:
        if not len(self.ttd_values):
            return None
        return int(percentile_from_counts(self.ttd_values, self.ttd_counts, q))


def tally(
    plan: Plan,
    log: RawLog,
    first_hook: int = 0,
    used: npt.NDArray[np.signedinteger[Any]]
    | Callable[[], npt.NDArray[np.signedinteger[Any]]]
    | None = None,
) -> Tally:
    """The tally of one run (or shard) whose webhook 0 is global webhook ``first_hook``.

    ``used`` is :func:`attempts_used` of the log when the caller has it, or a function that
    gives it (called on this thread while the plan's delivery order is sorted beside it).
    """
    n = plan.n
    n_att = len(log.j)

    def counts() -> tuple[npt.NDArray[np.signedinteger[Any]], Tally]:
        """The log's per-delivery attempts, and every field that needs no hook-major order."""
        got = attempts_used(n, log) if used is None else used() if callable(used) else used
        ttd_values, ttd_counts = _time_to_delivery(plan, log)
        states = [np.count_nonzero(log.state == s) for s in range(len(STATES))]
        return got, Tally(
            first_hook=first_hook,
            deliveries=n,
            attempts=n_att,
            states=np.array(states, np.int64),
            timeouts=int(np.count_nonzero(log.code == TIMEOUT)),
            refused=int(np.count_nonzero(log.code == CONNECT)),
            failed_verification=sum(1 for s in plan.hook_status if s == "verification_failed"),
            virtual_end_ms=int(log.ended_ms.max()) if n else 0,
            ttd_values=ttd_values,
            ttd_counts=ttd_counts,
        )

    order, (got, partial) = alongside(lambda: by_hook(plan), counts, parallel=n > chunked.CHUNK)
    hm = hook_major(plan, log, got, order)
    leaves, peak, peak_hook, per_second = _by_groups(plan, log, hm)
    return dataclasses.replace(
        partial,
        peak=peak,
        peak_hook=peak_hook + first_hook if peak_hook >= 0 else -1,
        per_second=per_second,
        leaves=leaves,
    )
