"""Sharded runs: a 100 M-attempt scenario in bounded memory, the same run on Dask, and what one day
of an internet-scale sender would take on N workers.

The scenario is ``bench_sim.py``'s research baseline with ``--scale`` times its 1,000 endpoints
(800 events each, ~1.33 attempts per delivery): ``--scale 100`` is about 106 M attempts and
``--scale 1000`` (1 M endpoints, ~1.06e9 attempts) is the internet-scale day. Each measurement runs
in its own subprocess, so its peak RSS is its own:

- ``streamed``: :func:`whsim.sim.shard.simulate_sharded` in one process at ``--scale``;
- ``dask``: the same at ``--dask-scale`` on a ``LocalCluster`` of 1 and ``--workers`` workers
  (one thread each), with the single-process sharded run at that scale as the baseline; every
  hash must be equal. The workers run with Dask's default environment, which sets
  ``MALLOC_TRIM_THRESHOLD_=65536`` (``distributed.nanny.pre-spawn-environ``), and the largest
  cluster once more with that variable unset, as ``docs/scale.md`` advises (``_glibc_malloc``):
  set, it fixes glibc's thresholds, so every chunk's temporaries are mapped and faulted in anew.

``projection`` multiplies the measured cost per attempt (shard compute, from the streamed run) by
the internet-scale day's attempts and divides by N workers, with the parallel efficiency measured
here on the largest cluster (on a shared 2-core machine that efficiency is a floor, not an
estimate of a real cluster). Prints one JSON object.

    .venv/bin/python benchmarks/bench_sim_shards.py [--scale 100] [--dask-scale 5] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DAY_ATTEMPTS = 1.06e9  # bench_scenario(1000): 1 M endpoints x 800 events, ~1.33 attempts each


def _child(scale: float, workers: int, shard_deliveries: int, glibc_malloc: bool = False) -> None:
    sys.path.insert(0, str(HERE))
    from bench_sim import SEED, bench_scenario

    from whsim.sim.shard import simulate_sharded

    scenario = bench_scenario(scale)
    out: dict[str, Any] = {"scale": scale, "workers": workers, "glibc_malloc": glibc_malloc}
    client = cluster = None
    if workers:
        import dask
        from distributed import Client, LocalCluster

        if glibc_malloc:  # the workers keep glibc's own (dynamic) allocator thresholds
            dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})

        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            dashboard_address=None,
            host="127.0.0.1",
            memory_limit="2GiB",
        )
        client = Client(cluster)
        # the workers import the simulator before the clock starts, as this process did: a
        # day-long run pays that once per worker, not per shard
        client.run(_import_simulator)
    try:
        started = time.perf_counter()
        result = simulate_sharded(scenario, SEED, shard_deliveries=shard_deliveries, client=client)
        wall = time.perf_counter() - started
    finally:
        if client is not None and cluster is not None:
            client.close()
            cluster.close()
    summary = result.summary
    per_shard = [s for _, _, s in result.shards]
    out.update(
        {
            "wall_s": round(wall, 3),
            "attempts": summary["attempts"],
            "deliveries": summary["deliveries"],
            "webhooks": summary["webhooks"],
            "shards": len(result.shards),
            "shard_s_median": round(statistics.median(per_shard), 4),
            "shard_s_sum": round(sum(per_shard), 3),
            "compute_us_per_attempt": round(1e6 * sum(per_shard) / summary["attempts"], 4),
            "wall_us_per_attempt": round(1e6 * wall / summary["attempts"], 4),
            "attempts_sha256": summary["attempts_sha256"],
            "loss_rate": summary["loss_rate"],
            "peak_rss_mb_client": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
            ),
        }
    )
    json.dump(out, sys.stdout)


def _import_simulator() -> None:
    import whsim.sim.shard  # noqa: F401


def _run(
    scale: float, workers: int, shard_deliveries: int, glibc_malloc: bool = False
) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", "--scale", str(scale), "--workers", str(workers)]
    cmd += ["--shard-deliveries", str(shard_deliveries)]
    cmd += ["--glibc-malloc"] if glibc_malloc else []
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"scale": scale, "workers": workers, "error": done.stderr[-2000:]}
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=100.0, help="streamed run's scale")
    parser.add_argument("--dask-scale", type=float, default=5.0, help="Dask runs' scale")
    parser.add_argument("--workers", type=int, default=2, help="largest LocalCluster")
    parser.add_argument("--shard-deliveries", type=int, default=1_000_000)
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask runs")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--glibc-malloc", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.scale, args.workers, args.shard_deliveries, args.glibc_malloc)
        return
    out: dict[str, Any] = {"benchmark": "bench_sim_shards"}
    streamed = _run(args.scale, 0, args.shard_deliveries)
    out["streamed"] = streamed
    efficiency = 1.0
    if not args.no_dask:
        base = _run(args.dask_scale, 0, args.shard_deliveries // 4)
        runs = {"single_process": base}
        for n in sorted({1, args.workers}):
            runs[f"workers_{n}"] = _run(args.dask_scale, n, args.shard_deliveries // 4)
        advised = f"workers_{args.workers}_glibc_malloc"
        runs[advised] = _run(args.dask_scale, args.workers, args.shard_deliveries // 4, True)
        out["dask"] = runs
        hashes = {r.get("attempts_sha256") for r in runs.values()}
        out["dask_hash_identical_to_single_process"] = len(hashes) == 1 and None not in hashes
        for suffix, key in (("", advised), ("_dask_default_env", f"workers_{args.workers}")):
            big = runs[key]
            if "wall_s" in big and "wall_s" in base:
                speedup = base["wall_s"] / big["wall_s"]
                out[f"dask_speedup_vs_single_process{suffix}"] = round(speedup, 2)
                out[f"parallel_efficiency_measured{suffix}"] = round(speedup / args.workers, 2)
                if not suffix:  # the projection assumes the configuration docs/scale.md advises
                    efficiency = min(1.0, speedup / args.workers)
    if "compute_us_per_attempt" in streamed:
        per_attempt = streamed["compute_us_per_attempt"] / 1e6
        out["projection"] = {
            "scenario": "1 M endpoints x 800 events, ~1.06e9 attempts (bench_scenario(1000))",
            "cpu_hours": round(per_attempt * DAY_ATTEMPTS / 3600, 2),
            "hours_on_n_workers": {
                str(n): round(per_attempt * DAY_ATTEMPTS / (n * max(efficiency, 0.5)) / 3600, 3)
                for n in (1, 8, 32, 128, 512)
            },
            "efficiency_assumed": round(max(efficiency, 0.5), 2),
            "client_memory": "32 bytes of hash leaf per endpoint plus the value-count tables",
        }
    out["machine"] = {
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
