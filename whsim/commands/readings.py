"""The one flag syntax for readings, shared by every command: ``--reading CLAUSE=NAME``
(repeatable) and ``--policy NAME`` (another vendor's retry policy)."""

from __future__ import annotations

import argparse
from typing import Any

from whsim.core.policy import VENDOR_POLICIES
from whsim.core.readings import Readings

__all__ = ["add_reading_flags", "readings_from_args"]


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
