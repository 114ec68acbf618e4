"""``whsim conformance ROLE URL``: run a conformance suite against a URL and write its reports."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "conformance",
        help="run a conformance suite against a URL and write reports",
        description="Run the conformance suite of ROLE against URL. Exit 0 when no case fails, 1 "
        "when one does, 2 on a usage error, a kit error, or a target that cannot be reached.",
    )
    parser.add_argument(
        "role", choices=["receiver"], metavar="ROLE", help="which side the target plays: receiver"
    )
    parser.add_argument(
        "url", metavar="URL", help="the target's webhook URL, e.g. http://127.0.0.1:8000/webhook"
    )
    parser.add_argument(
        "--secret", default=os.environ.get("WHSIM_SECRET"), help="signing secret (env WHSIM_SECRET)"
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        help="report folder (default reports/ROLE/)",
        metavar="DIR",
    )
    parser.add_argument(
        "--strict", action="store_true", help="count non-strict results as failures"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the generated cases (default: random, printed)",
    )
    parser.add_argument(
        "-k",
        dest="keyword",
        metavar="EXPR",
        help="only matching cases: a pytest -k expression over case ids and names, e.g. 'SIG and not SIG-006'",
    )
    parser.add_argument(
        "--timeout-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="bound the whole run (default 300)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="less pytest output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from whsim.conformance.runner import run as run_suite

    return run_suite(
        args.role,
        args.url,
        secret=args.secret or "",
        report_dir=args.report or Path("reports") / args.role,
        strict=args.strict,
        seed=args.seed,
        keyword=args.keyword,
        timeout_budget=args.timeout_budget,
        quiet=args.quiet,
    )
