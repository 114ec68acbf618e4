"""``whsim receiver``: the reference receiver, optionally with faults from whsim.core.behaviours."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from whsim.commands.readings import add_reading_flags, readings_from_args
from whsim.core.behaviours import (
    BEHAVIOURS,
    Behaviour,
    Capacity,
    behaviour,
    behaviour_from_dict,
)
from whsim.core.errors import ScenarioError, SpecInputError
from whsim.core.honoured import RECEIVER


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0 to 65535, got {value}")
    return value


_UNITS = {"": 1, "k": 1024, "kib": 1024, "m": 1024**2, "mib": 1024**2, "g": 1024**3, "gib": 1024**3}
MAX_BODY_CEILING = 1024**3
"""The largest ``--max-body`` taken (1 GiB): the receiver reads a body into memory whole."""


def parse_byte_count(text: str) -> int:
    """``--max-body``: whole bytes, or with a binary unit (``64KiB``, ``1MiB``; ``k``, ``M``)."""
    match = re.fullmatch(r"[ ]*([0-9]+)[ ]*([a-zA-Z]*)[ ]*", text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise argparse.ArgumentTypeError(
            f"wants a whole number of bytes, optionally with KiB, MiB or GiB (e.g. 1048576 or 64KiB), "
            f"got {text!r}"
        )
    value = int(match.group(1)) * _UNITS[unit]
    if not 1 <= value <= MAX_BODY_CEILING:
        raise argparse.ArgumentTypeError(
            f"must be between 1 byte and 1 GiB (bodies are read into memory), got {text!r}"
        )
    return value


def parse_capacity(text: str) -> Capacity:
    """``RATE[:RECOVER_BELOW]``: attempts per second the receiver serves before it answers 503,
    and the load per second under which an overloaded receiver comes back (default RATE; lower
    is the metastable case). The same :class:`~whsim.core.behaviours.Capacity` the simulator uses.
    """
    rate, sep, low = text.partition(":")
    try:
        per_s = int(rate)
        recover_below = int(low) if sep else None
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"wants RATE[:RECOVER_BELOW] in whole attempts per second "
            f"(e.g. 20 or 20:10), got {text!r}"
        ) from None
    if per_s < 1:
        raise argparse.ArgumentTypeError(f"RATE must be at least 1/s, got {per_s}")
    if recover_below is not None and not 0 <= recover_below <= per_s:
        raise argparse.ArgumentTypeError(
            f"RECOVER_BELOW must be between 0 and RATE ({per_s}), got {recover_below}"
        )
    return Capacity(per_s=per_s, recover_below=recover_below)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "receiver",
        help="run the reference webhook receiver",
        description="Serve the guide's receiver done right: signature on the raw bytes, 401 on "
        "bad signatures, the challenge echoed, idempotency by event id in SQLite, 400 on bad "
        "data. --behaviour adds faults (the simulator's definitions) for demos and sender tests.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=_port, default=8000, help="port (default 8000; 0 = any free port)"
    )
    parser.add_argument(
        "--secret", default=os.environ.get("WHSIM_SECRET"), help="signing secret (env WHSIM_SECRET)"
    )
    parser.add_argument(
        "--behaviour",
        metavar="NAME|FILE",
        help=f"faults: a name ({', '.join(BEHAVIOURS)}) or a TOML/JSON file",
    )
    parser.add_argument(
        "--capacity",
        type=parse_capacity,
        metavar="RATE[:RECOVER_BELOW]",
        help="fail by load: above RATE attempts/s answer 503 until the load falls under "
        "RECOVER_BELOW/s (default RATE; the attempt itself counts, so 1 never comes back while "
        "attempts arrive); replaces the behaviour's own capacity",
    )
    parser.add_argument(
        "--db",
        type=Path,
        default=Path("data/whsim-receiver.sqlite3"),
        help="SQLite file, its folder created when missing (default data/whsim-receiver.sqlite3)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of random faults (failure_probability, hangs)"
    )
    parser.add_argument(
        "--max-body",
        type=parse_byte_count,
        metavar="BYTES",
        default=None,
        help="largest request body taken, in bytes or with KiB/MiB (default 1MiB); a larger "
        "one is answered 413 naming the limit, before it is read or stored",
    )
    parser.add_argument("--quiet", action="store_true", help="do not print one line per request")
    add_reading_flags(parser)
    parser.set_defaults(func=run)


def load_behaviour(spec: str) -> Behaviour:
    """A named behaviour, or one read from a TOML/JSON file (a ``[behaviour]`` table or the whole file)."""
    path = Path(spec)
    if spec in BEHAVIOURS or not (path.suffix in (".toml", ".json") or path.exists()):
        return behaviour(spec)
    try:
        text = path.read_text(encoding="utf-8")
        doc = tomllib.loads(text) if path.suffix != ".json" else json.loads(text)
    except OSError as exc:
        raise ScenarioError(f"cannot read: {exc.strerror}", source=spec) from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError(f"not valid {path.suffix[1:].upper()}: {exc}", source=spec) from None
    table = doc.get("behaviour", doc) if isinstance(doc, dict) else doc
    if not isinstance(table, dict):
        raise ScenarioError("a behaviour must be a table", source=spec)
    return behaviour_from_dict(table, source=spec)


def faults_from(args: argparse.Namespace) -> Behaviour | None:
    """The behaviour ``--behaviour`` names, its capacity replaced by ``--capacity`` if given
    (on its own, ``--capacity`` makes a healthy receiver that fails by its load)."""
    faults = load_behaviour(args.behaviour) if args.behaviour else None
    if args.capacity is not None:
        faults = dataclasses.replace(faults or behaviour("healthy"), capacity=args.capacity)
    return faults


def _described(faults: Behaviour | None) -> str:
    if faults is None:
        return "none"
    cap = faults.capacity
    if cap is None:
        return faults.name
    return f"{faults.name}, capacity {cap.per_s}/s, back under {cap.recovery * 1000 // cap.window_ms}/s"


def run(args: argparse.Namespace) -> int:
    from whsim.receiver.app import MAX_BODY_BYTES, create_app
    from whsim.receiver.store import ReceiverStore
    from whsim.serve import bind, make_server, run_server

    if not args.secret:
        raise SpecInputError(
            "a signing secret is needed (--secret or WHSIM_SECRET)", field="secret"
        )
    readings = RECEIVER.check(readings_from_args(args))
    faults = faults_from(args)
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        raise SpecInputError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", field="port"
        ) from None
    try:
        args.db.parent.mkdir(parents=True, exist_ok=True)
        store = ReceiverStore(args.db)
    except Exception as exc:  # sqlite3 raises several kinds for a bad path
        sock.close()
        raise SpecInputError(f"cannot open {args.db}: {exc}", field="db") from None
    say = None if args.quiet else (lambda line: print(line, flush=True))
    max_body = MAX_BODY_BYTES if args.max_body is None else args.max_body
    app = create_app(
        args.secret,
        store=store,
        behaviour=faults,
        rng=random.Random(args.seed),
        log=say,
        readings=readings,
        max_body_bytes=max_body,
    )
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host

    def ready() -> None:
        print(
            f"whsim receiver: listening on http://{host}:{port}/webhook "
            f"(behaviour {_described(faults)}, readings {readings}, db {args.db}, "
            f"max body {max_body} bytes); "
            f"GET http://{host}:{port}/received lists what arrived",
            flush=True,
        )

    try:
        run_server(make_server(app, lifespan="off"), sock, on_ready=ready)
    finally:
        sock.close()
        store.close()
    print("whsim receiver: stopped", file=sys.stderr)
    return 0
