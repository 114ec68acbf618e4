"""Benchmark: wall time of ``whsim conformance receiver`` against the reference receiver.

The receiver runs in-process (uvicorn in a thread); the suite runs as the CLI a user would run.
Prints one JSON object. Run: ``python benchmarks/receiver_suite.py``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from whsim.receiver import ReceiverStore, ServerThread, create_app


def main(runs: int = 3) -> None:
    times, cases, requests = [], 0, 0
    for seed in range(runs):
        with (
            tempfile.TemporaryDirectory() as tmp,
            ServerThread(create_app("bench", store=ReceiverStore())) as base,
        ):
            command = [
                sys.executable,
                "-m",
                "whsim.cli",
                "conformance",
                "receiver",
                f"{base}/webhook",
            ]
            command += ["--secret", "bench", "--seed", str(seed), "--report", tmp]
            start = time.perf_counter()
            code = subprocess.run(command, stdout=subprocess.DEVNULL, check=False).returncode
            times.append(time.perf_counter() - start)
            report = json.loads((Path(tmp) / "report.json").read_text())
            if code != 0:
                raise SystemExit(f"the suite failed the reference receiver: {report['counts']}")
            cases = len(report["cases"])
            requests = sum(c["exchange_count"] for c in report["cases"])
    figures = {
        "benchmark": "receiver_suite",
        "runs": runs,
        "cases": cases,
        "requests": requests,
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
