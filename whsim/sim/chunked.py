"""Passes over a run's arrays a chunk at a time, on as many threads as the process may use.

A pass over a 10 M-attempt log that makes attempt-sized temporaries at every step pays for fresh
pages at every step (the allocator maps arrays that large anew each time and unmaps them when
freed); in chunks of :data:`CHUNK` rows the temporaries are a chunk's, and the allocator hands the
same memory back and forth. numpy releases the GIL inside its loops, so chunks run on threads.
A body writes only its own rows of its outputs: the result is the same on any number of threads.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final, TypeVar

from whsim.core.errors import ScenarioError
from whsim.cores import usable_cores

__all__ = ["CHUNK", "alongside", "each_chunk", "in_order", "threads"]

T = TypeVar("T")
U = TypeVar("U")

CHUNK: Final = 1 << 18
"""Rows per step of a chunked pass: 2 MB arrays of int64, under numpy's 4 MB hugepage threshold, and
small enough that a thread's allocator arena keeps little after a pass (1 Mi rows: peak RSS 1,374-1,399
MB at 10 M attempts, 1,465 MB after warm runs; 256 Ki: 1,285-1,288 and 1,328-1,354)."""

MAX_THREADS: Final = 4
"""Threads per pass at most: each holds a chunk's temporaries."""


def threads() -> int:
    """Threads a chunked pass uses: the usable cores, at most :data:`MAX_THREADS`, and at most
    ``WHSIM_THREADS`` when that is set (``WHSIM_THREADS=1`` keeps the simulator on one thread)."""
    limit = os.environ.get("WHSIM_THREADS", "").strip()
    if limit:
        if not limit.isdigit() or int(limit) < 1:
            raise ScenarioError(
                f"must be a whole number of threads, 1 or more, got {limit!r}",
                field="WHSIM_THREADS",
            )
        return min(MAX_THREADS, usable_cores(), int(limit))
    return min(MAX_THREADS, usable_cores())


def each_chunk(
    size: int, body: Callable[[slice], None], *, parallel: bool = True, step: int = 0
) -> None:
    """Call ``body(rows)`` for every chunk of ``step`` rows (:data:`CHUNK` when 0) of
    ``range(size)``, in threads when ``parallel`` and there is more than one chunk.

    ``body`` must write only the given rows of its outputs (and read nothing another chunk
    writes). The first exception a chunk raises is raised here, after every chunk has ended.
    """
    step = step or CHUNK
    parts = [slice(lo, min(size, lo + step)) for lo in range(0, size, step)]
    workers = threads() if parallel else 1
    if workers == 1 or len(parts) <= 1:
        for part in parts:
            body(part)
        return
    with ThreadPoolExecutor(min(workers, len(parts)), thread_name_prefix="whsim-chunk") as pool:
        futures = [pool.submit(body, part) for part in parts]
    for future in futures:
        future.result()


def alongside(
    work: Callable[[], T], main: Callable[[], U], *, parallel: bool = True
) -> tuple[T, U]:
    """``(work(), main())``, with ``work`` on a thread of its own while ``main`` runs on this one
    (both here, ``main`` first, when not ``parallel`` or :func:`threads` is 1). The two must not
    write what the other reads. An exception of either is raised here, once neither runs."""
    if not parallel or threads() == 1:
        got = main()
        return work(), got
    with ThreadPoolExecutor(1, thread_name_prefix="whsim-beside") as pool:
        beside = pool.submit(work)
        got = main()  # should it raise, leaving the block still waits for ``work``
    return beside.result(), got


def in_order(fn: Callable[[T], U], items: Sequence[T]) -> Iterator[U]:
    """``fn(item)`` for each item, yielded in the items' order, with up to :func:`threads` calls
    in flight on worker threads (one after another here when that is 1 or there is one item).

    Where each result must be taken in order (a first maximum, hashers fed in webhook order) and
    at most a few results may be held at once. An exception of a call is raised when its result
    is due; leaving early waits for the calls in flight and cancels the rest.
    """
    workers = threads() if len(items) > 1 else 1
    if workers == 1:
        for item in items:
            yield fn(item)
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="whsim-ordered")
    pending: deque[Future[U]] = deque()
    try:
        for item in items:
            if len(pending) >= workers:
                yield pending.popleft().result()
            pending.append(pool.submit(fn, item))
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
