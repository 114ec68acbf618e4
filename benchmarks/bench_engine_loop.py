"""The reference engine's loop against the loop it replaced, on one plan, in one process.

Before the delivery rule moved into the core (issue 12), the reference engine's independent loop
had the rule written inline (commit 8029745); that loop is kept here, frozen, as the speed
baseline, as ``bench_sim.py`` keeps a SimPy model. Both run the research-baseline plan of
``bench_sim.py`` alternately, ``--repeat`` times each; the medians and their ratio are printed as
JSON, with both attempts hashes (they must be equal). ``ratio_reference_to_inlined`` below 1 means
the engine is faster than the inlined loop was.

    .venv/bin/python benchmarks/bench_engine_loop.py [--scale 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import heapq
import json
import os
import platform
import statistics
import sys
import time
from typing import Any

import numpy as np
from bench_sim import SEED, bench_scenario  # this directory is on sys.path when run as a script

from whsim.core.behaviours import outage_answer
from whsim.sim.engine import RawLog, run_reference
from whsim.sim.plan import (
    DELIVERED,
    EXHAUSTED,
    EXPIRED,
    REJECTED,
    RETRY_V,
    SUCCESS_V,
    Plan,
    answers,
    compile_plan,
)
from whsim.sim.results import attempts_hash


def run_inlined(plan: Plan) -> RawLog:
    """The independent loop as it was at 8029745, the rule inline (frozen: a baseline only)."""
    gc.disable()
    try:
        return _inlined(plan)
    finally:
        gc.enable()


def _inlined(plan: Plan) -> RawLog:
    n, A = plan.n, plan.max_attempts
    tables = plan.dense_tables()  # answers by attempt name j, as the loop read them then
    code_mv = memoryview(tables.code)  # type: ignore[arg-type]
    took_mv = memoryview(tables.took)  # type: ignore[arg-type]
    lat_mv = memoryview(tables.latency)  # type: ignore[arg-type]
    delay_mv = memoryview(tables.delay)  # type: ignore[arg-type]
    verdict = plan.verdict.tolist()
    arr_t = plan.ready_ms.tolist()
    arr_t.append(2**62)
    table = [outs or None for outs in plan.outages]
    outages = [table[h] for h in plan.hook.tolist()] if any(table) else [None] * n
    expiry = plan.expiry_ms
    timeout = plan.timeout_ms
    from_first = plan.expiry_from_first
    from_send = plan.backoff_from_send
    deadline = [2**62] * n if from_first else (plan.event_ms + expiry).tolist()
    state = bytearray(n)
    ended = [0] * n
    log_j: list[int] = []
    log_t: list[int] = []
    add_j, add_t = log_j.append, log_t.append
    heap: list[tuple[int, int]] = []
    push, pop = heapq.heappush, heapq.heappop
    last_k = (A - 1) * n
    i = 0
    while True:
        t = arr_t[i]
        if heap and heap[0][0] <= t:
            t, j = pop(heap)
            d = j % n
        elif i < n:
            j = d = i
            i += 1
            if from_first:
                deadline[d] = t + expiry
        else:
            break
        dl = deadline[d]
        if t > dl:
            state[d] = EXPIRED
            ended[d] = t
            continue
        c = code_mv[j]
        took = took_mv[j]
        outs = outages[d]
        if outs is not None:
            c, took = outage_answer(outs, t, c, took, lat_mv[j], timeout)
        f = t + took
        add_j(j)
        add_t(t)
        v = verdict[c + 2]
        if v == SUCCESS_V:
            state[d] = DELIVERED
            ended[d] = f
        elif v == RETRY_V:
            if j >= last_k:
                state[d] = EXHAUSTED
                ended[d] = f
                continue
            nxt = (t if from_send else f) + delay_mv[j]
            if nxt < f:
                nxt = f
            if nxt > dl:
                state[d] = EXPIRED
                ended[d] = f
                continue
            push(heap, (nxt, j + n))
        else:
            state[d] = REJECTED
            ended[d] = f
    j_arr = np.array(log_j, dtype=np.int64)
    t_arr = np.array(log_t, dtype=np.int64)
    code, took_arr = answers(plan, plan.slot_of(j_arr), j_arr % n, t_arr)
    return RawLog(
        j=j_arr,
        sent_ms=t_arr,
        finished_ms=t_arr + took_arr,
        code=code,
        state=np.frombuffer(bytes(state), dtype=np.int8).copy(),
        ended_ms=np.array(ended, dtype=np.int64),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 1,000 endpoints")
    parser.add_argument("--repeat", type=int, default=3, help="runs per loop (median reported)")
    args = parser.parse_args()
    plan = compile_plan(bench_scenario(args.scale), SEED)
    runs: dict[str, list[float]] = {"reference": [], "inlined": []}
    logs: dict[str, RawLog] = {}
    for _ in range(args.repeat):  # alternate, so load drifts hit both alike
        for name, fn in (("reference", run_reference), ("inlined", run_inlined)):
            started = time.perf_counter()
            logs[name] = fn(plan)
            runs[name].append(time.perf_counter() - started)
    med = {name: statistics.median(r) for name, r in runs.items()}
    hashes = {name: attempts_hash(plan, log) for name, log in logs.items()}
    out: dict[str, Any] = {
        "benchmark": "bench_engine_loop",
        "scale": args.scale,
        "attempts": len(logs["reference"].j),
        "repeat": args.repeat,
        "seconds_median": {k: round(v, 4) for k, v in med.items()},
        "seconds_runs": {k: [round(x, 4) for x in v] for k, v in runs.items()},
        "ratio_reference_to_inlined": round(med["reference"] / med["inlined"], 3),
        "hashes_equal": hashes["reference"] == hashes["inlined"],
        "attempts_sha256": hashes["reference"],
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
        },
    }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
