"""``whsim check TRACE``: grade recorded deliveries (HAR 1.2 or whsim JSONL) offline.

Exit codes as the suites: 0 no case failed, 1 one did, 2 bad input or nothing could be graded.
The first line is the diagnosis (the likely root cause), then one line per case.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from whsim.commands.readings import add_reading_flags


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="grade a recorded trace of deliveries (HAR or JSONL) against the guide",
        description="Grade what a sender sent, after the fact: a HAR 1.2 file (mitmproxy, "
        "browsers, gateways) or a JSONL trace (docs/trace-format.md), per event and endpoint, "
        "with the sender suite's outcomes, reports and exit codes.",
    )
    parser.add_argument("trace", help="a .har file or a JSONL trace")
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument("--secret", help="the signing secret of every endpoint")
    keys.add_argument(
        "--secrets", help="a file: JSON {url prefix: secret}, a JSON list, or one per line"
    )
    add_reading_flags(parser)  # honoured as whsim.core.honoured.CHECK declares
    parser.add_argument("--time-scale", type=float, default=None, help="the sender's time scale")
    parser.add_argument("--timing", default="default", help="strict, default or lenient bands")
    parser.add_argument("--strict", action="store_true", help="non-strict outcomes fail")
    parser.add_argument("--report", type=Path, default=None, help="write reports into DIR")
    parser.add_argument("--format", choices=("har", "jsonl"), default=None, help="trace kind")
    parser.add_argument(
        "--workers",
        type=_workers,
        default=None,
        metavar="N",
        help="grade a JSONL trace in N processes, one shard of endpoints each, with the same "
        "verdicts (default: every usable core for a trace of 8 MB or more; 1: this process)",
    )
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="replay each event's first attempt and the receiver's recorded answers on the "
        "virtual clock under the same reading; report predicted against observed attempt times "
        "and the largest deviation (case CHK-MODEL-001, a figure per endpoint in the HTML report)",
    )
    parser.set_defaults(func=run)


def _workers(text: str) -> int:
    from whsim.conformance.grader import MAX_WORKERS

    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 1 to {MAX_WORKERS}, got {text!r}"
        )
    return n


def run(args: argparse.Namespace) -> int:
    from whsim.conformance.grader import check
    from whsim.conformance.timing import PROFILES
    from whsim.core.errors import TraceError

    if args.timing not in PROFILES:
        raise TraceError(f"must be one of {', '.join(PROFILES)}", where="--timing")
    if args.time_scale is not None and not args.time_scale > 0:
        raise TraceError("must be a positive number", where="--time-scale")
    result = check(
        args.trace,
        secret=args.secret,
        secrets=args.secrets,
        readings=args.reading,
        policy=args.policy,
        time_scale=args.time_scale,
        timing=args.timing,
        strict=args.strict,
        report_dir=args.report,
        kind=args.format,
        simulate=args.simulate,
        workers=args.workers,
    )
    report = result.report
    print(f"whsim check: {result.summary_line()}")
    for finding in report.diagnosis[1:]:
        print(f"  also ({finding['code']}): {finding['summary']}")
    for r in report.cases:
        print(f"  {r.outcome!s:<10} {r.spec.id:<17} {r.message[:160]}")
    if result.model is not None:
        model = next(r for r in report.cases if r.spec.id == "CHK-MODEL-001")
        print(f"model: {model.message}")
    s = report.settings
    print(
        f"{s['attempts']} attempt(s), {s['events']} event(s), {s['endpoints']} endpoint(s); "
        f"readings {s['readings']}; outcome {report.overall} (exit {report.exit_code})"
    )
    if result.paths:
        print(f"reports: {result.paths['html'].parent}", file=sys.stderr)
    return result.exit_code
