"""``whsim explore PROPERTY``: search for a minimal counterexample to a named property."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import Any

from whsim.commands.readings import add_reading_flags, readings_from_args
from whsim.core.honoured import EXPLORE


def register(subparsers: Any) -> None:
    # The property names live with hypothesis (~0.1 s to import): they are checked in run(), so
    # `whsim --help` does not pay for them.
    parser = subparsers.add_parser(
        "explore",
        help="search scenarios for a minimal counterexample to a named property",
        description="Search simulated scenarios with hypothesis for one that breaks PROPERTY and "
        "print the shrunk, minimal counterexample. Exit 1 when one is found, 0 when none was "
        "found within the bounds, 2 on bad input.",
    )
    parser.add_argument(
        "property",
        nargs="?",
        metavar="PROPERTY",
        help="a named property (see --list)",
    )
    parser.add_argument("--list", action="store_true", help="list the named properties")
    parser.add_argument("--max-examples", type=int, default=200, metavar="N")
    parser.add_argument("--seed", type=int, default=0, metavar="S")
    parser.add_argument("--time-budget", type=float, default=60.0, metavar="SECONDS")
    parser.add_argument(
        "--plot", type=Path, metavar="FILE.png", help="save the counterexample's retry timeline"
    )
    add_reading_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from whsim.analysis.explore import PROPERTIES, explore_named

    if args.list or args.property is None:
        for prop in PROPERTIES.values():
            print(f"{prop.name:<26} {prop.verdict:<6} {prop.assumption}")
        if not args.list:
            print("whsim explore: error: name a PROPERTY (or --list)", file=sys.stderr)
            return 2
        return 0
    if args.max_examples < 1 or args.time_budget <= 0:
        print(
            "whsim explore: error: --max-examples and --time-budget must be positive",
            file=sys.stderr,
        )
        return 2
    if args.property not in PROPERTIES:
        print(
            f"whsim explore: error: unknown property {args.property!r}; known: "
            + ", ".join(PROPERTIES),
            file=sys.stderr,
        )
        return 2
    readings = EXPLORE.check(readings_from_args(args))
    prop = PROPERTIES[args.property]
    print(f"property: {prop.assumption}")
    print(f"searching (max {args.max_examples} examples, {args.time_budget:g} s, seed {args.seed})")
    cx = explore_named(
        prop.name,
        max_examples=args.max_examples,
        seed=args.seed,
        time_budget_s=args.time_budget,
        readings=readings,
    )
    if cx is None:
        print("no counterexample found within the bounds")
        return 0
    print("minimal counterexample:")
    print(textwrap.indent(cx.describe(), "  "))
    if prop.minimal:
        print(f"minimal in this sense: {prop.minimal}")
    print("what it means for the guide: " + prop.meaning)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(10, 4))
        cx.plot(ax=ax)
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot, dpi=110, bbox_inches="tight")
        plt.close(fig)
        print(f"wrote {args.plot}")
    return 1
