"""The ``unsubscribed-events`` broken sender's retry timing when it floods an endpoint, on a
loaded machine: the evidence behind running that verdict test ``alone``.

That fault delivers every event to every webhook, so the suite's ``retry-500`` endpoint gets
about 125 attempts besides its own test event. Run ``--suites`` suites at once beside ``--hogs``
busy processes and print, per run, SND-RETRY-002's outcome and the gaps between the test event's
attempts (the schedule at ``--time-scale 10`` wants 0.1, 0.2, 0.4, 0.8, 1.6 s). A sender whose
CPU per delivery is high arrives late and SND-RETRY-002 fails: a true verdict on what the kit
saw, caused by the load. About 1-2 min.

    python benchmarks/flood_under_load.py --suites 3 --hogs 2
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_conformance_sender import cpu_hogs, run_against


def _gaps(report_dir: Path) -> list[float]:
    """Gaps (s) between the arrivals of the retry-500 endpoint's test event, from trace.jsonl."""
    starts = []
    with (report_dir / "trace.jsonl").open() as lines:
        for line in lines:
            row = json.loads(line)
            if "retry-500" in row.get("url", "") and '"webhook.test"' in (row.get("body") or ""):
                starts.append(row["start_ns"] / 1e9)
    starts.sort()
    return [round(b - a, 2) for a, b in itertools.pairwise(starts)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", type=int, default=3, help="suites run at once")
    parser.add_argument("--hogs", type=int, default=2, help="busy processes beside them")
    parser.add_argument("--fault", default="unsubscribed-events")
    args = parser.parse_args()
    runs = []
    with (
        cpu_hogs(args.hogs, limit_s=600),
        tempfile.TemporaryDirectory() as tmp,
        ThreadPoolExecutor(args.suites) as pool,
    ):
        futures = [
            pool.submit(
                run_against, Path(tmp) / str(i), (), ("-k", "EVENT or RETRY-002"), args.fault
            )
            for i in range(args.suites)
        ]
        for i, future in enumerate(futures):
            _code, report, _text = future.result()
            case = next(c for c in report["cases"] if c["id"] == "SND-RETRY-002")
            runs.append(
                {
                    "outcome": case["outcome"],
                    "message": case["message"],
                    "gaps_s": _gaps(Path(tmp) / str(i) / "report"),
                }
            )
    print(
        json.dumps(
            {"fault": args.fault, "suites": args.suites, "hogs": args.hogs,
             "load_average": list(os.getloadavg()), "runs": runs},
            indent=1,
        )
    )  # fmt: skip


if __name__ == "__main__":
    main()
