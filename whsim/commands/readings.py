"""The one flag syntax for readings, shared by every command: ``--reading CLAUSE=NAME``
(repeatable) and ``--policy NAME`` (another vendor's retry policy)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from whsim.core.policy import VENDOR_POLICIES
from whsim.core.readings import Readings

__all__ = ["add_reading_flags", "readings_from_args", "upgrade_old_readings"]


def add_reading_flags(parser: Any) -> None:
    """Add ``--reading`` and ``--policy`` to an argparse parser."""
    parser.add_argument(
        "--reading",
        action="append",
        default=[],
        metavar="CLAUSE=NAME",
        help="follow a named reading of an ambiguous clause, e.g. RETRY-1=immediate-counts "
        "(repeatable; `whsim spec` lists them and which tools honour each)",
    )
    parser.add_argument(
        "--policy",
        metavar="NAME",
        help=f"another vendor's retry policy: {', '.join(VENDOR_POLICIES)}",
    )


def readings_from_args(args: argparse.Namespace) -> Readings:
    """The :class:`Readings` the flags name (errors name the bad flag value)."""
    return Readings.parse(args.reading or (), policy=args.policy)


def upgrade_old_readings(args: argparse.Namespace, tool: str) -> argparse.Namespace:
    """Accept the old ``--reading NAME`` (a RETRY-1 name) of ``tool`` as ``--reading
    RETRY-1=NAME``, with a deprecation notice on stderr; it goes in a later release."""
    from whsim.core.spec.clauses import reading_names

    old = reading_names("RETRY-1")
    texts = []
    for text in args.reading or ():
        if "=" not in text and text in old:
            print(
                f"{tool}: warning: --reading {text} is deprecated; use --reading RETRY-1={text}",
                file=sys.stderr,
            )
            text = f"RETRY-1={text}"
        texts.append(text)
    return argparse.Namespace(**{**vars(args), "reading": texts})
