"""``whsim sender``: run the reference sender until interrupted.

Prints one readiness line, ``whsim sender: listening on http://HOST:PORT ...``, once the
service accepts requests (``--port 0`` picks a free port and the line tells which).

SIGTERM or Ctrl-C stops it gracefully: no new attempt starts, attempts in flight end (at most
the 5 s attempt timeout) and are recorded, then the command exits 0. Test-only broken senders
run through ``python -m whsim.sender.faults`` with the same options.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from whsim.commands.readings import add_reading_flags, readings_from_args, upgrade_old_readings
from whsim.core.errors import SpecInputError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sender",
        help="run the reference webhook sender (HTTP API, SQLite store, real deliveries)",
        description="Run the guide's webhook service over real HTTP: register receivers, trigger "
        "proposals and jobs, watch signed deliveries and retries in the delivery log. "
        "API description at /openapi.json.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port (0 picks a free one)")
    parser.add_argument(
        "--db",
        default="data/whsim-sender.db",
        help="SQLite file, its folder created when missing (default: data/whsim-sender.db)",
    )
    parser.add_argument(
        "--mode",
        choices=("development", "production"),
        default="development",
        help="production: https only, no private/loopback/metadata addresses",
    )
    add_reading_flags(parser)
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="run policy time (backoff, throttle, expiry, job steps) this many times faster",
    )
    parser.add_argument("--max-in-flight", type=int, default=128, help="attempts at once, in all")
    parser.add_argument(
        "--max-per-endpoint", type=int, default=8, help="attempts at once, per webhook"
    )
    parser.add_argument(
        "--sqlite-synchronous",
        choices=("FULL", "NORMAL"),
        default="FULL",
        help="FULL (default): an acknowledged registration or event is on the disk before the "
        "answer and survives a power cut; NORMAL: it survives a crash, not a power cut",
    )
    parser.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error")
    )
    parser.add_argument("--access-log", action="store_true", help="log every API request")
    parser.set_defaults(func=run)


def run(
    args: argparse.Namespace,
    *,
    make_app: Callable[[Any], Any] | None = None,
    faults_env_ok: bool = False,
) -> int:
    """Serve until SIGTERM/SIGINT. ``make_app(config)`` replaces the production app (faults)."""
    from whsim.sender import SenderConfig, create_app
    from whsim.serve import bind, make_server, run_server

    if os.environ.get("WHSIM_SENDER_FAULTS") and not faults_env_ok:
        print(
            "whsim sender: error: WHSIM_SENDER_FAULTS is set, but the production sender has no "
            "faults; run the test-only broken sender with `python -m whsim.sender.faults` "
            "(same options), or unset the variable",
            file=sys.stderr,
        )
        return 2

    try:
        Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(
            f"whsim sender: error: cannot create the folder of --db {args.db}: {exc}",
            file=sys.stderr,
        )
        return 2
    try:
        config = SenderConfig(
            db_path=Path(args.db),
            mode=args.mode,
            readings=readings_from_args(upgrade_old_readings(args, "whsim sender")),
            time_scale=args.time_scale,
            max_in_flight=args.max_in_flight,
            max_per_endpoint=args.max_per_endpoint,
            synchronous=args.sqlite_synchronous,
        )
    except SpecInputError as exc:  # an unknown or unhonoured reading, a bad limit: one line
        print(f"whsim sender: error: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(
            f"whsim sender: error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
        )
        return 2
    port = sock.getsockname()[1]
    server = make_server(
        (make_app or create_app)(config),
        log_level=args.log_level,
        access_log=args.access_log,
        lifespan="on",
        graceful_s=None,
    )
    host = f"[{args.host}]" if ":" in args.host else args.host

    def ready() -> None:
        print(
            f"whsim sender: listening on http://{host}:{port} (mode={config.mode}, "
            f"readings={config.readings}, time-scale={config.time_scale:g}, db={config.db_path})",
            flush=True,
        )

    _stop_quietly()
    try:
        started = run_server(server, sock, on_ready=ready)
    finally:
        sock.close()
    return 0 if started else 1


def _stop_quietly() -> None:
    """Make SIGTERM and SIGINT end the command with exit status 0 after a graceful stop.

    uvicorn handles both signals while it serves (it stops accepting, waits for open requests,
    runs the lifespan shutdown: the dispatcher's drain) and afterwards raises the signal again
    under the handler it found; with the default handler that kills the process (-15, or a
    KeyboardInterrupt traceback). A handler that does nothing turns that second delivery into
    a no-op, so the command returns normally.
    """
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: None)
