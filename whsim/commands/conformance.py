"""``whsim conformance ROLE URL [-- PYTEST_ARGS]``: run a conformance suite against a URL, write reports.

``-x`` and ``--junit-xml FILE`` are pytest's own and mean what they mean there; anything after
``--`` goes to pytest unchanged (``-- --tb=line -p no:randomly``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from whsim.commands.readings import add_reading_flags, readings_from_args, upgrade_old_readings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "conformance",
        help="run a conformance suite against a URL and write reports",
        usage="whsim conformance ROLE URL [options] [-- PYTEST_ARGS]",
        epilog="Arguments after -- go to pytest unchanged, e.g. -- --tb=line --maxfail=3.",
        description="Run the conformance suite of ROLE against URL. Exit 0 when no case fails, 1 "
        "when one does, 2 on a usage error, a kit error, or a target that cannot be reached.",
    )
    parser.add_argument(
        "role",
        choices=["receiver", "sender"],
        metavar="ROLE",
        help="which side the target plays: receiver or sender",
    )
    parser.add_argument(
        "url",
        metavar="URL",
        help="receiver: its webhook URL, e.g. http://127.0.0.1:8000/webhook; sender: its API "
        "base URL, e.g. http://127.0.0.1:8000",
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
    # --reading CLAUSE=NAME (repeatable) and --policy, as every command takes them; each
    # suite honours the readings whsim.core.honoured declares for it and refuses others by name.
    add_reading_flags(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="less pytest output")
    parser.add_argument(
        "-x", "--exitfirst", action="store_true", help="stop at the first failed case (pytest -x)"
    )
    parser.add_argument(
        "--junit-xml",
        "--junitxml",
        dest="junit_xml",
        type=Path,
        metavar="FILE",
        help="also write pytest's own JUnit XML here (pytest --junitxml); the kit's junit.xml "
        "is in the report folder either way",
    )
    # Anything after `--` is split off by whsim.cli.main into args.passthrough.
    parser.set_defaults(passthrough=[], accepts_passthrough=True)
    sender = parser.add_argument_group("sender suite")
    sender.add_argument(
        "--mode",
        choices=("development", "production"),
        default=None,
        help="the sender's mode (default: what GET /api/meta says, else development)",
    )
    sender.add_argument(
        "--trigger",
        default=os.environ.get("WHSIM_TRIGGER", "http"),
        metavar="http|none|CMD_TEMPLATE",
        help="how to make job, document and proposal events: http (the reference sender's event "
        "source API), none (only /test; cases that need events are untestable), or a command "
        "with {event_type} and {webhook_id}",
    )
    sender.add_argument(
        "--listen",
        default=os.environ.get("WHSIM_LISTEN", "127.0.0.1:0"),
        metavar="HOST:PORT",
        help="where the kit's receiving endpoint listens (default 127.0.0.1:0, a free port)",
    )
    sender.add_argument(
        "--public-url",
        default=os.environ.get("WHSIM_PUBLIC_URL"),
        metavar="URL",
        help="the base URL the sender reaches the kit's endpoint at, when not --listen itself",
    )
    sender.add_argument(
        "--timing",
        default="default",
        metavar="strict|default|lenient",
        help="tolerance bands of the timing checks (printed in the report)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from whsim.conformance.runner import run as run_suite
    from whsim.conformance.runner import sender_options
    from whsim.core.honoured import RECEIVER_SUITE, SENDER_SUITE

    suite = RECEIVER_SUITE if args.role == "receiver" else SENDER_SUITE
    if args.role == "sender":  # the sender suite's old --reading NAME meant RETRY-1=NAME
        args = upgrade_old_readings(args, "whsim conformance sender")
    readings = suite.check(readings_from_args(args))
    sender: list[str] = []
    if args.role == "sender":
        sender = sender_options(
            trigger=args.trigger,
            listen=args.listen,
            public_url=args.public_url,
            mode=args.mode,
            timing=args.timing,
        )
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
        readings=readings,
        sender=sender,
        pytest_args=[
            *(["-x"] if args.exitfirst else []),
            *([f"--junitxml={args.junit_xml}"] if args.junit_xml else []),
            *args.passthrough,
        ],
    )
