"""Running simulator work on a ``dask.distributed`` client, in a deterministic order.

Dask is an optional extra (``pip install 'whsim[dask]'``): nothing here imports it; the caller
passes a ``Client``. Results are yielded in submission order whatever order the workers finish
in, and at most a bounded number of tasks is in flight, so a run of many shards keeps the client's
memory to a few results.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from whsim.core.errors import ScenarioError

__all__ = ["check_client", "ordered_map", "summaries"]

T = TypeVar("T")


def check_client(client: Any) -> int:
    """The number of worker threads of ``client``; a clear error if it is not a Dask client."""
    if not all(hasattr(client, name) for name in ("submit", "scatter", "nthreads")):
        raise ScenarioError(
            f"client must be a dask.distributed.Client, got {type(client).__name__}",
            field="client",
        )
    threads: dict[str, int] = client.nthreads()
    return max(1, sum(threads.values()))


def ordered_map(
    client: Any,
    fn: Callable[..., T],
    items: Sequence[Any],
    *,
    shared: dict[str, Any],
    fixed: dict[str, Any],
    order_arg: str,
    window: int | None = None,
) -> Iterator[T]:
    """``fn(**shared, **fixed, order_arg=item)`` for each item on ``client``, yielded in order.

    ``shared`` values are scattered to every worker once, under a key of this call's own (a key
    hashed from the content would be the previous call's key too, and that call's release could
    reach the scheduler after this call's scatter: its tasks then lose their data, or wait
    forever); ``fixed`` ones go with each task. At most ``window`` tasks (default: twice the
    worker threads, plus one) are in flight.
    """
    threads = check_client(client)
    window = window or 2 * threads + 1
    scattered = {k: client.scatter(v, broadcast=True, hash=False) for k, v in shared.items()}
    pending: deque[Any] = deque()
    todo = iter(items)

    def submit_next() -> bool:
        item = next(todo, _END)
        if item is _END:
            return False
        kwargs = {**scattered, **fixed, order_arg: item}
        pending.append(client.submit(fn, pure=False, **kwargs))
        return True

    while len(pending) < window and submit_next():
        pass
    while pending:
        future = pending.popleft()
        result: T = future.result()
        future.release()
        submit_next()
        yield result


_END = object()


def _summary(scenario: Any, seed: int, engine: str) -> dict[str, Any]:
    from whsim.sim.run import simulate

    return simulate(scenario, seed, engine=engine).summary  # type: ignore[arg-type]


def summaries(
    jobs: Iterable[tuple[Any, int]], client: Any = None, engine: str = "auto"
) -> list[dict[str, Any]]:
    """The summary of each (scenario, seed) job, in job order; on ``client`` when given."""
    jobs = list(jobs)
    if client is None:
        return [_summary(scenario, seed, engine) for scenario, seed in jobs]
    check_client(client)
    futures = [
        client.submit(_summary, scenario, seed, engine, pure=False) for scenario, seed in jobs
    ]
    out: list[dict[str, Any]] = client.gather(futures)
    return out
