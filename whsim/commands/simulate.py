"""``whsim simulate``: run a scenario on the virtual clock and write its tables and a timeline."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from whsim.commands.readings import add_reading_flags, readings_from_args
from whsim.core.errors import ScenarioError


def register(subparsers: Any) -> None:
    from whsim.sim.scenarios import SCENARIOS

    parser = subparsers.add_parser(
        "simulate",
        help="run a scenario on a virtual clock; write attempts, deliveries, summary, timeline",
        description="Run a named scenario or a scenario .toml file on a virtual clock and write "
        "attempts.csv, deliveries.csv, summary.json and timeline.png into --out. "
        f"Named scenarios: {', '.join(SCENARIOS)}.",
    )
    parser.add_argument(
        "--scenario", required=True, metavar="NAME|FILE.toml", help="named scenario or TOML file"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_reading_flags(parser)
    parser.add_argument("--out", default="out", help="output folder (default: out)")
    parser.add_argument(
        "--engine",
        choices=("auto", "reference", "numpy"),
        default="auto",
        help="auto (default): numpy when deliveries do not interact, else the event loop",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="force the progress bar on or off (default: on a terminal, for runs over 1 s)",
    )
    parser.set_defaults(func=run)


class ProgressBar:
    """A plain stderr progress line that appears only once a run has taken ``delay_s``.

    Stages name the phase; ``update`` takes the fraction done within it. Off when the stream is
    not a terminal, unless forced.
    """

    def __init__(
        self, stream: TextIO | None = None, *, enabled: bool | None = None, delay_s: float = 1.0
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.delay_s = delay_s
        self.started = time.monotonic()
        self.stage_name = ""
        self.shown = False
        self._last = -1

    def stage(self, name: str) -> None:
        self.stage_name = name
        self._last = -1
        self.update(0.0)

    def update(self, fraction: float) -> None:
        if not self.enabled or time.monotonic() - self.started < self.delay_s:
            return
        pct = int(fraction * 100)
        if pct == self._last:
            return
        self._last = pct
        filled = pct * 30 // 100
        bar = "#" * filled + "." * (30 - filled)
        self.stream.write(f"\r{self.stage_name:<12} [{bar}] {pct:3d}%")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()


def summary_table(summary: dict[str, Any]) -> str:
    """The summary as two aligned columns."""
    keys = [
        "scenario",
        "seed",
        "policy",
        "engine",
        "webhooks",
        "events",
        "deliveries",
        "attempts",
        "delivered",
        "exhausted",
        "expired",
        "rejected",
        "loss_rate",
        "amplification",
        "timeouts",
        "refused",
        "peak_attempts_per_s",
        "p50_time_to_delivery_ms",
        "p99_time_to_delivery_ms",
    ]
    width = max(len(k) for k in keys)
    return "\n".join(f"{k:<{width}}  {summary[k]}" for k in keys if k in summary)


def run(args: argparse.Namespace) -> int:
    from whsim.sim.run import simulate
    from whsim.sim.scenarios import load_scenario

    if args.seed < 0:
        raise ScenarioError("must be a non-negative integer", field="--seed")
    readings = readings_from_args(args)
    scenario = load_scenario(args.scenario)
    bar = ProgressBar(enabled=args.progress)
    try:
        bar.stage("simulating")
        result = simulate(
            scenario, args.seed, engine=args.engine, readings=readings, progress=bar.update
        )
        bar.stage("writing")
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        result.attempts.to_csv(out / "attempts.csv", index=False)
        bar.update(0.4)
        result.deliveries.to_csv(out / "deliveries.csv", index=False)
        bar.update(0.7)
        summary = dict(result.summary)
        summary["description"] = scenario.description
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        _timeline(result, out / "timeline.png")
        bar.update(1.0)
    finally:
        bar.close()
    print(summary_table(result.summary))
    print(f"\nwrote {', '.join(str(out / f) for f in _FILES)}")
    return 0


_FILES = ("attempts.csv", "deliveries.csv", "summary.json", "timeline.png")


def _timeline(result: Any, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from whsim.analysis import plot

    fig = plot.overview(result)
    fig.savefig(path, dpi=110)
    plt.close(fig)
