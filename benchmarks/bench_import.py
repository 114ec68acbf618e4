"""Start-up cost: `import whsim` and `whsim --help`, against `python -c pass` in the same run.

Prints one JSON object: the median of N fresh interpreters for each command, in seconds, and
each one's ratio to the bare interpreter. Targets (issues 13 and 15): both under 0.3 s on the
project's 2-core machine. Run: ``.venv/bin/python benchmarks/bench_import.py [N]``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "baseline_python_pass": [sys.executable, "-c", "pass"],
    "import_whsim": [sys.executable, "-c", "import whsim"],
    "whsim_help": [sys.executable, "-m", "whsim", "--help"],
}


def _median_s(argv: list[str], n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    for argv in COMMANDS.values():  # warm the bytecode caches
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    medians = {name: _median_s(argv, n) for name, argv in COMMANDS.items()}
    base = medians["baseline_python_pass"]
    out: dict[str, float | int] = {"runs": n}
    for name, value in medians.items():
        out[f"{name}_s"] = round(value, 4)
        if name != "baseline_python_pass":
            out[f"{name}_ratio_to_baseline"] = round(value / base, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
