"""``whsim export-trace --db FILE --webhook ID``: the sender's delivery log as a JSONL trace.

The offline twin of ``GET /api/webhooks/{id}/deliveries?format=jsonl``: reads the reference
sender's SQLite store (the sender may be running; WAL lets both read) and writes what
``whsim check`` grades (``docs/trace-format.md``). Without ``--webhook`` every webhook's log
is written, one after another. The header carries the time scale the sender last ran at and
no ``end_ns``: the recording ends at its last attempt, so a retry the sender was never
running to make is graded as missing.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export-trace",
        help="write the reference sender's delivery log as a JSONL trace for whsim check",
        description="Export the reference sender's delivery log (its SQLite --db) as the JSONL "
        "trace `whsim check` grades: one line per attempt, with the headers and exact bytes sent.",
    )
    parser.add_argument("--db", required=True, help="the sender's SQLite file (whsim sender --db)")
    parser.add_argument("--webhook", action="append", default=[], help="a webhook id (repeatable)")
    parser.add_argument("--output", "-o", type=Path, default=None, help="a file (default stdout)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from whsim.core.errors import TraceError
    from whsim.sender.export import trace_lines
    from whsim.sender.store import Store

    db = Path(args.db)
    if not db.is_file():
        raise TraceError(f"no such file: {db}", where="--db")
    try:
        probe = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in probe.execute("SELECT name FROM sqlite_master")}
        finally:
            probe.close()
    except sqlite3.DatabaseError as exc:
        raise TraceError(f"{db} is not an SQLite database ({exc})", where="--db") from None
    if not {"webhooks", "deliveries", "attempts"} <= tables:
        raise TraceError(f"{db} is not a whsim sender database", where="--db")
    store = Store(db, synchronous="NORMAL")
    try:
        known = [h.id for h in store.list_webhooks()]
        ids = args.webhook or known
        missing = [w for w in ids if w not in known]
        if missing:
            raise TraceError(f"no webhook {missing[0]!r} in {db}", where="--webhook")
        scale = store.saved_scale() or 1.0
        out = sys.stdout if args.output is None else open(args.output, "w", encoding="utf-8")  # noqa: SIM115
        try:
            for n, wid in enumerate(ids):
                for k, line in enumerate(trace_lines(store, wid, time_scale=scale, live=False)):
                    if k == 0 and n > 0:
                        continue  # one header line per file
                    out.write(line)
        finally:
            if out is not sys.stdout:
                out.close()
    finally:
        store.close()
    return 0
