"""Runs too big for one plan: endpoint shards streamed through the engine, reduced as they come.

Deliveries to different webhooks never interact (a concurrency cap is per webhook, the sender's
downtime is a fixed window), and every draw is keyed on the global webhook index, so a run cut into
contiguous ranges of webhooks and run shard by shard logs exactly the attempts of the run in one
piece. Each shard's log is reduced to a :class:`~whsim.sim.tally.Tally` and dropped; tallies merge
exactly, in webhook order. Memory is bounded by one shard (plus the merged tally: value counts,
per-second counts, 32 bytes per webhook), whatever the size of the run.

With a ``dask.distributed`` client the shards run on its workers, and the result is the same, hash
for hash, as in one process: shard boundaries do not depend on the number of workers, and the merge
happens in webhook order whatever order the shards finish in. The full attempts table, when asked
for, is written as one Parquet file per shard (pyarrow), each in the order of
:attr:`~whsim.sim.results.SimResult.attempts`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from os import PathLike, fspath
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whsim.core.errors import ScenarioError
from whsim.sim.scenario import Scenario

if TYPE_CHECKING:
    import pandas as pd

    from whsim.sim.run import EngineName
    from whsim.sim.tally import Tally
    from whsim.sim.workload import Events

__all__ = ["DEFAULT_SHARD_DELIVERIES", "ShardedResult", "run_shard", "shards", "simulate_sharded"]

DEFAULT_SHARD_DELIVERIES = 1_000_000
"""Deliveries per shard by default: about 300 MB of plan, log and tally at their peak."""


def shards(scenario: Scenario, events: int, shard_deliveries: int) -> list[tuple[int, int]]:
    """Contiguous webhook ranges of at most ``shard_deliveries`` deliveries each (an upper bound:
    every webhook counted as receiving every event). Depends on the scenario only, never on the
    number of workers."""
    from whsim.sim.plan import hook_count

    total = hook_count(scenario)
    per = max(1, shard_deliveries // max(1, events))
    return [(lo, min(lo + per, total)) for lo in range(0, total, per)]


def run_shard(
    scenario: Scenario,
    seed: int,
    hooks: tuple[int, int],
    events: Events,
    engine: EngineName = "auto",
    parquet_dir: str | None = None,
) -> tuple[Tally, str, float]:
    """Compile and run webhooks ``hooks`` of ``scenario``; (tally, engine that ran, seconds).

    With ``parquet_dir`` the shard's attempts table is written to
    ``parquet_dir/attempts-<first webhook>.parquet``.
    """
    from whsim.sim.plan import compile_plan
    from whsim.sim.results import SimResult
    from whsim.sim.run import run_plan

    started = time.perf_counter()
    plan = compile_plan(scenario, seed, hooks=hooks, events=events)
    name, log = run_plan(plan, engine)
    result = SimResult(plan=plan, log=log, engine=name)
    if parquet_dir is not None:
        write_parquet(result.attempts, Path(parquet_dir) / f"attempts-{hooks[0]:09d}.parquet")
    return result.tally, name, time.perf_counter() - started


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` as Parquet; a clear error when pyarrow is not installed."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ScenarioError(
            "writing the attempts table needs pyarrow: pip install 'whsim[parquet]'",
            field="parquet",
        ) from None
    frame.to_parquet(path, index=False)


@dataclass(frozen=True)
class ShardedResult:
    """What :func:`simulate_sharded` hands back: the summary and timeline, exact, and no log.

    ``shards`` lists each shard's (first webhook, end, seconds it took); ``parquet`` the
    directory of per-shard attempts tables, if one was asked for.
    """

    scenario: Scenario
    seed: int
    engine: str
    tally: Tally
    events: int
    webhook_ids: Callable[[int], str]
    shards: tuple[tuple[int, int, float], ...]
    seconds: float
    parquet: Path | None = None

    @property
    def summary(self) -> dict[str, Any]:
        """The same dict as :attr:`whsim.sim.results.SimResult.summary` of the unsharded run."""
        from whsim.sim.results import summary_of

        t = self.tally
        return summary_of(
            t,
            scenario=self.scenario.name,
            seed=self.seed,
            engine=self.engine,
            policy=self.scenario.sender.policy().name,
            webhooks=len(t.leaves),
            events=self.events,
            peak_webhook=self.webhook_ids(t.peak_hook) if t.peak_hook >= 0 else "",
        )

    def attempts_hash(self) -> str:
        return self.tally.digest()

    def timeline(self, bin_s: int = 60) -> pd.DataFrame:
        """Attempts sent per ``bin_s`` seconds of virtual time: columns ``start_s``, ``attempts``."""
        import numpy as np
        import pandas as pd

        counts = self.tally.timeline(bin_s)
        return pd.DataFrame(
            {"start_s": np.arange(len(counts), dtype=np.int64) * bin_s, "attempts": counts}
        )


def _webhook_id(scenario: Scenario) -> Callable[[int], str]:
    def name(index: int) -> str:
        base = 0
        for hook in scenario.webhooks:
            if index < base + hook.count:
                if hook.count == 1:
                    return hook.id
                width = len(str(hook.count))
                return f"{hook.id}-{index - base + 1:0{width}d}"
            base += hook.count
        raise IndexError(index)

    return name


def simulate_sharded(
    scenario: Scenario | str | PathLike[str],
    seed: int = 0,
    *,
    engine: EngineName = "auto",
    reading: str | None = None,
    shard_deliveries: int = DEFAULT_SHARD_DELIVERIES,
    client: Any = None,
    parquet: str | PathLike[str] | None = None,
    progress: Callable[[float], None] | None = None,
) -> ShardedResult:
    """Run ``scenario`` in endpoint shards of at most ``shard_deliveries`` deliveries each.

    The summary and hash equal :func:`whsim.simulate`'s for the same scenario and seed, for any
    ``shard_deliveries`` and any client. ``client`` is a ``dask.distributed.Client``: shards run
    on its workers (the workload is generated once here and sent to each worker once). ``parquet``
    names a directory (created) to receive the attempts table, one file per shard. ``progress``
    receives the fraction of shards merged.
    """
    from whsim.sim.plan import progress_from
    from whsim.sim.run import prepare
    from whsim.sim.workload import generate

    started = time.perf_counter()
    scenario = prepare(scenario, seed, reading)
    if engine not in ("auto", "reference", "numpy"):
        raise ScenarioError(
            f"unknown engine {engine!r}; use auto, reference or numpy", field="engine"
        )
    if not isinstance(shard_deliveries, int) or shard_deliveries < 1:
        raise ScenarioError(
            f"shard_deliveries must be a positive integer, got {shard_deliveries!r}",
            field="shard_deliveries",
        )
    out: str | None = None
    if parquet is not None:
        Path(parquet).mkdir(parents=True, exist_ok=True)
        out = fspath(Path(parquet).resolve())
    events = generate(
        scenario.workload,
        seed,
        throttle_reading=scenario.sender.throttle,
        progress_from=progress_from(scenario, seed),
    )
    ranges = shards(scenario, len(events), shard_deliveries)
    merged: Tally | None = None
    engines: set[str] = set()
    timings: list[tuple[int, int, float]] = []
    for i, (hooks, (t, name, took)) in enumerate(
        zip(ranges, _results(scenario, seed, ranges, events, engine, out, client), strict=True)
    ):
        merged = t if merged is None else merged.merge(t)
        engines.add(name)
        timings.append((hooks[0], hooks[1], round(took, 4)))
        if progress is not None:
            progress((i + 1) / len(ranges))
    if merged is None:
        from whsim.sim.tally import Tally

        merged = Tally(first_hook=0)
    return ShardedResult(
        scenario=scenario,
        seed=seed,
        engine="+".join(sorted(engines)) or (engine if engine != "auto" else "numpy"),
        tally=merged,
        events=len(events),
        webhook_ids=_webhook_id(scenario),
        shards=tuple(timings),
        seconds=time.perf_counter() - started,
        parquet=None if out is None else Path(out),
    )


def _results(
    scenario: Scenario,
    seed: int,
    ranges: list[tuple[int, int]],
    events: Events,
    engine: EngineName,
    out: str | None,
    client: Any,
) -> Iterator[tuple[Tally, str, float]]:
    """Each shard's result, in shard order; on a client, a bounded window of shards in flight."""
    if client is None:
        for hooks in ranges:
            yield run_shard(scenario, seed, hooks, events, engine, out)
        return
    from whsim.sim.distributed import ordered_map

    yield from ordered_map(
        client,
        run_shard,
        ranges,
        shared={"scenario": scenario, "seed": seed, "events": events},
        fixed={"engine": engine, "parquet_dir": out},
        order_arg="hooks",
    )
