"""Benchmark the simulator against SimPy on the research baseline; prints one JSON object.

Scenario (docs: /work/shared/research/simulation.md, section 1): 1,000 endpoints x 800 events each,
every attempt fails with probability 0.2 (a 500 after 50 ms), 10 % of the endpoints have a 600 s
outage at their own time during which attempts hang until the 5 s timeout; the guide's retries
(reading backoff-only). About 1.1 million attempts.

All three engines run the same compiled plan (the same drawn answers) in this one process: the
whsim reference event loop, the whsim numpy engine, and a SimPy model in the usual SimPy style (a
process per delivery, a timeout per wait). Only the engine runs are timed; compiling the plan
(workload, fan-out, keyed draws) is reported once, as it is shared. Each engine runs --repeat
times and the median is reported. SimPy's log is hashed like the others, so all hashes should
agree. The targets are judged against SimPy as usually written (GC on); ``simpy_gc_off`` is also
reported, as the whsim reference engine turns the GC off during its loop.

    .venv/bin/python benchmarks/bench_sim.py [--scale 0.1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from typing import Any

import numpy as np

from whsim.core.behaviours import Behaviour, Latency, Outage
from whsim.sim import Arrival, Scenario, Sender, Webhook, Workload
from whsim.sim.engine import RawLog, run_reference
from whsim.sim.fast import run_fast
from whsim.sim.plan import (
    CONNECT,
    DELIVERED,
    EXHAUSTED,
    EXPIRED,
    REJECTED,
    RETRY_V,
    SUCCESS_V,
    TIMEOUT,
    Plan,
    compile_plan,
)
from whsim.sim.results import attempts_hash

SEED = 20240115


def bench_scenario(scale: float = 1.0, seed: int = SEED) -> Scenario:
    """The research baseline as a whsim scenario (``scale`` shrinks the number of endpoints)."""
    endpoints = max(10, round(1000 * scale))
    with_outage = endpoints // 10
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, 3_000_000, size=with_outage)
    base = Behaviour("flaky-500", latency=Latency("fixed", 50), failure_probability=0.2)
    receivers = [base]
    hooks = [Webhook("ep", "flaky-500", count=endpoints - with_outage)]
    for i, start in enumerate(starts.tolist()):
        name = f"outage-{i:03d}"
        receivers.append(
            Behaviour(
                name,
                latency=Latency("fixed", 50),
                failure_probability=0.2,
                outages=(Outage(start, start + 600_000, "hang"),),
            )
        )
        hooks.append(Webhook(name, name))
    return Scenario(
        name="bench-research-baseline",
        webhooks=tuple(hooks),
        receivers=tuple(receivers),
        sender=Sender(retry="backoff-only"),
        workload=Workload(duration_ms=3_600_000, arrival=Arrival("poisson", 0.025), max_events=800),
    )


def run_simpy(plan: Plan) -> RawLog:
    """The same model in the usual SimPy style: one process per delivery, a timeout per wait."""
    import simpy

    env = simpy.Environment()
    n, last_k = plan.n, plan.max_attempts
    code, took, lat, delay = (table.tolist() for table in plan.dense_tables())  # by name j
    verdict = plan.verdict.tolist()
    hook = plan.hook.tolist()
    timeout = plan.timeout_ms
    deadline = (plan.event_ms + plan.expiry_ms).tolist()
    outages: dict[int, list[tuple[int, int, int]]] = {}
    for h, s, e, c in zip(
        plan.outage_hook.tolist(),
        plan.outage_start.tolist(),
        plan.outage_end.tolist(),
        plan.outage_code.tolist(),
        strict=True,
    ):
        outages.setdefault(h, []).append((s, e, c))
    state = [0] * n
    ended = [0] * n
    log: list[tuple[int, int, int, int]] = []

    def answer(d: int, j: int, now: int) -> tuple[int, int]:
        for start, end, oc in outages.get(hook[d], ()):
            if start <= now < end:
                if oc == CONNECT:
                    return CONNECT, 0
                if oc == TIMEOUT or lat[j] > timeout:
                    return TIMEOUT, timeout
                return oc, lat[j]
        return code[j], took[j]

    def delivery(env: Any, d: int) -> Any:
        k = 1
        while True:
            now = int(env.now)
            if now > deadline[d]:
                state[d], ended[d] = EXPIRED, now
                return
            j = (k - 1) * n + d
            c, wait = answer(d, j, now)
            yield env.timeout(wait)  # waiting for the answer or the timeout
            fin = now + wait
            log.append((j, now, fin, c))
            v = verdict[c + 2]
            if v != RETRY_V:
                state[d], ended[d] = (DELIVERED if v == SUCCESS_V else REJECTED), fin
                return
            if k == last_k:
                state[d], ended[d] = EXHAUSTED, fin
                return
            nxt = max(fin + delay[j], fin)
            if nxt > deadline[d]:
                state[d], ended[d] = EXPIRED, fin
                return
            yield env.timeout(nxt - fin)  # backing off
            k += 1

    def source(env: Any) -> Any:
        for d, t in enumerate(plan.ready_ms.tolist()):
            if t > env.now:
                yield env.timeout(t - env.now)
            env.process(delivery(env, d))

    env.process(source(env))
    env.run()
    cols = np.array(log, dtype=np.int64).reshape(-1, 4)
    return RawLog(
        j=cols[:, 0].copy(),
        sent_ms=cols[:, 1].copy(),
        finished_ms=cols[:, 2].copy(),
        code=cols[:, 3].copy(),
        state=np.array(state, dtype=np.int8),
        ended_ms=np.array(ended, dtype=np.int64),
    )


def _gc_off(fn: Any) -> Any:
    """``fn`` with the cyclic GC off, as the whsim reference engine runs (a fairer baseline)."""

    def run(plan: Plan) -> RawLog:
        gc.disable()
        try:
            return fn(plan)  # type: ignore[no-any-return]
        finally:
            gc.enable()

    return run


def _time(fn: Any, plan: Plan, repeat: int) -> tuple[float, list[float], RawLog]:
    runs, log = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        log = fn(plan)
        runs.append(time.perf_counter() - started)
    assert log is not None
    return statistics.median(runs), runs, log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 1,000 endpoints")
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine (median reported)")
    parser.add_argument("--no-simpy", action="store_true", help="skip the SimPy baseline")
    args = parser.parse_args()

    scenario = bench_scenario(args.scale)
    started = time.perf_counter()
    plan = compile_plan(scenario, SEED)
    plan_s = time.perf_counter() - started
    engines: dict[str, Any] = {}
    todo = [("reference", run_reference), ("numpy", run_fast)]
    if not args.no_simpy:
        todo.append(("simpy", run_simpy))
        todo.append(("simpy_gc_off", _gc_off(run_simpy)))
    attempts = 0
    for name, fn in todo:
        median, runs, log = _time(fn, plan, args.repeat)
        attempts = len(log.j)
        engines[name] = {
            "seconds_median": round(median, 4),
            "seconds_runs": [round(r, 4) for r in runs],
            "attempts_per_s": round(attempts / median),
            "attempts_sha256": attempts_hash(plan, log),
        }
    out: dict[str, Any] = {
        "benchmark": "bench_sim",
        "scenario": scenario.name,
        "scale": args.scale,
        "endpoints": len(plan.hook_ids),
        "events": len(plan.events),
        "deliveries": plan.n,
        "attempts": attempts,
        "seed": SEED,
        "repeat": args.repeat,
        "plan_seconds": round(plan_s, 4),
        "engines": engines,
    }
    if "simpy" in engines:
        base = engines["simpy"]["seconds_median"]
        out["ratio_to_simpy"] = {
            name: round(base / e["seconds_median"], 2) for name, e in engines.items()
        }
        gc_base = engines["simpy_gc_off"]["seconds_median"]
        out["ratio_to_simpy_gc_off"] = {
            name: round(gc_base / e["seconds_median"], 2) for name, e in engines.items()
        }
        out["targets"] = {
            "reference_5x_simpy": out["ratio_to_simpy"]["reference"] >= 5,
            "reference_over_1M_attempts_per_s": engines["reference"]["attempts_per_s"] > 1_000_000,
            "numpy_50x_simpy": out["ratio_to_simpy"]["numpy"] >= 50,
        }
    hashes = {e["attempts_sha256"] for e in engines.values()}
    out["whsim_engines_identical"] = (
        engines["reference"]["attempts_sha256"] == engines["numpy"]["attempts_sha256"]
    )
    out["all_engines_identical"] = len(hashes) == 1
    out["machine"] = {
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "simpy": _version("simpy"),
    }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()
