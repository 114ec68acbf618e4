"""The ``whsim`` command. Each subcommand lives in ``whsim/commands/<name>.py``.

A command module provides ``register(subparsers)``, which adds its parser and sets
``func(args) -> int`` as the default. Commands import what they need inside ``func``, so
``whsim --help`` stays fast. Errors whsim raises on purpose print one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from whsim import __version__
from whsim.core.errors import WhsimError

COMMANDS = (
    "whsim.commands.spec",
    "whsim.commands.demo",
    "whsim.commands.explore",
    "whsim.commands.simulate",
    "whsim.commands.receiver",
    "whsim.commands.listen",
    "whsim.commands.sender",
    "whsim.commands.conformance",
    "whsim.commands.check",
    "whsim.commands.export_trace",
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (and exit 2), never a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="whsim",
        description="Make the Proposal Generator webhook spec executable.",
    )
    parser.add_argument("--version", action="version", version=f"whsim {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    # `--` ends whsim's own arguments; what follows goes to a command that takes it (conformance
    # passes it to pytest). Split here: argparse would bind it to no positional in between.
    passthrough: list[str] = []
    if "--" in words:
        cut = words.index("--")
        words, passthrough = words[:cut], words[cut + 1 :]
    args = parser.parse_args(words)
    if passthrough and not getattr(args, "accepts_passthrough", False):
        parser.error(f"whsim {args.command} takes no arguments after --")
    args.passthrough = passthrough
    try:
        code: int = args.func(args)
    except WhsimError as exc:
        print(f"whsim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"whsim {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`whsim ... | head`): stop quietly, as Unix tools do. stdout is
        # pointed at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return code


if __name__ == "__main__":
    raise SystemExit(main())
