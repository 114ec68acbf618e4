"""What memory freed a while ago costs on this machine: the attempts table built at once, and
after a pause.

The simulator's phases reuse memory the phase before freed. On a VM whose guest hands free 2 MB
blocks back to its host (Linux free page reporting, ``page_reporting_order`` 9, after about 2 s),
memory freed longer ago than that is faulted in from the host again. This runs one 10 M-attempt
plan once, then builds ``SimResult(...).attempts`` ``--repeat`` times right after its summary
(``pause 0``) and as many times ``--pause`` seconds later, alternating, and prints the median
system CPU and wall seconds of each, and their ratio (the baseline is the build at once, in the
same process). Prints one JSON object.

    .venv/bin/python benchmarks/fresh_pages.py [--scale 10] [--pause 3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _page_reporting_order() -> int | None:
    try:
        return int(Path("/sys/module/page_reporting/parameters/page_reporting_order").read_text())
    except (OSError, ValueError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=10.0, help="bench_sim scale (10: 10.6 M)")
    parser.add_argument("--pause", type=float, default=3.0, help="seconds before the late build")
    parser.add_argument("--repeat", type=int, default=3, help="builds of each kind")
    args = parser.parse_args()
    if args.pause < 0 or args.repeat < 1 or args.scale <= 0:
        parser.error("--pause must be >= 0, --repeat >= 1 and --scale > 0")
    sys.path.insert(0, str(HERE))
    import pandas  # noqa: F401  (imported before timing)
    from bench_sim import SEED, bench_scenario

    from whsim.sim.plan import compile_plan
    from whsim.sim.results import SimResult
    from whsim.sim.run import run_plan

    plan = compile_plan(bench_scenario(args.scale), SEED)
    _, log = run_plan(plan, "numpy")
    runs: dict[str, list[tuple[float, float]]] = {"at_once": [], "after_pause": []}
    for i in range(2 * args.repeat):
        kind = "after_pause" if i % 2 else "at_once"
        result = SimResult(plan=plan, log=log, engine="numpy")
        result.summary  # noqa: B018  (frees its temporaries just before the table is built)
        if kind == "after_pause":
            time.sleep(args.pause)
        use, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        result.attempts  # noqa: B018
        wall = time.perf_counter() - started
        runs[kind].append((resource.getrusage(resource.RUSAGE_SELF).ru_stime - use.ru_stime, wall))
        del result
        gc.collect()
    out: dict[str, Any] = {
        "benchmark": "fresh_pages",
        "attempts": len(log.j),
        "pause_s": args.pause,
    }
    for kind, rows in runs.items():
        out[f"{kind}_sys_s"] = round(statistics.median(r[0] for r in rows), 3)
        out[f"{kind}_wall_s"] = round(statistics.median(r[1] for r in rows), 3)
        out[f"{kind}_sys_runs_s"] = [round(r[0], 3) for r in rows]
    out["ratio_sys_after_pause_to_at_once"] = round(
        out["after_pause_sys_s"] / max(out["at_once_sys_s"], 1e-3), 1
    )
    out["ratio_wall_after_pause_to_at_once"] = round(
        out["after_pause_wall_s"] / max(out["at_once_wall_s"], 1e-3), 2
    )
    out["page_reporting_order"] = _page_reporting_order()
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
