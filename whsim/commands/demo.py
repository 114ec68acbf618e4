"""``whsim demo``: the main job (see :mod:`whsim.demo`); prints progress and the index path."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the main job and write reports/index.html",
        description="Simulate the named scenarios, start the reference services on free loopback "
        "ports, run the conformance suites against them, execute the notebooks into HTML, stop "
        "every process started, and write OUT/index.html linking it all. Exit 0 when every "
        "suite passes and every notebook runs, 1 otherwise.",
    )
    parser.add_argument("--out", default="reports", help="report folder (default: reports)")
    parser.add_argument(
        "--notebooks",
        type=Path,
        default=Path("notebooks"),
        metavar="DIR",
        help="folder of the NN-topic.ipynb notebooks (default: notebooks)",
    )
    parser.add_argument(
        "--no-notebooks", action="store_true", help="do not execute the notebooks into HTML"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="two scenarios, the sender at time scale 10, no notebooks: a fast check that "
        "the job works",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from whsim.demo import QUICK_SCENARIOS, run_demo

    result = run_demo(
        Path(args.out),
        scenarios=QUICK_SCENARIOS if args.quick else None,
        notebooks=args.notebooks,
        run_notebook_html=not (args.quick or args.no_notebooks),
        time_scale=10.0 if args.quick else 1.0,
        log=lambda line: print(line, flush=True),
    )
    verdict = "everything passed" if result.ok else "something failed: see the page"
    print(f"\ndone in {result.seconds:.0f} s, {verdict}.\nopen {result.index.resolve()}")
    return 0 if result.ok else 1
