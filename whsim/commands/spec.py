"""``whsim spec``: the clause registry as a table or as JSON."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
from typing import Any

from whsim.core.spec.clauses import Clause, clauses


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "spec",
        help="print the guide's clauses, their levels and readings",
        description="Print every normative statement of the guide as a clause, with the named "
        "readings of ambiguous ones (* marks the kit's default).",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--area", help="only clauses of this area (REG, VERIFY, RETRY, ...)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    selected = [c for c in clauses() if args.area is None or c.area == args.area.upper()]
    if not selected:
        areas = sorted({c.area for c in clauses()})
        print(
            f"whsim spec: error: no clauses in area {args.area!r}; areas: {', '.join(areas)}",
            file=sys.stderr,
        )
        return 2
    if args.json:
        docs = []
        for c in selected:
            doc = c.as_dict()
            for r in doc["readings"]:  # type: ignore[attr-defined]
                r["honoured_by"] = honoured_by(c.id, r["name"])
            docs.append(doc)
        print(json.dumps(docs, indent=2, ensure_ascii=False))
    else:
        print(clause_table(selected))
    return 0


def honoured_by(clause_id: str, name: str) -> list[str]:
    """The tools whose declaration (:mod:`whsim.core.honoured`) says they implement the reading."""
    from whsim.core.honoured import TOOLS

    return [t.tool for t in TOOLS.values() if name in t.readings.get(clause_id, ())]


def clause_table(items: list[Clause], width: int | None = None) -> str:
    """A plain-text table of clauses, wrapped to the terminal width."""
    width = width or max(80, min(shutil.get_terminal_size((120, 24)).columns, 160))
    head = f"{'ID':<11}{'LEVEL':<7}{'PARTY':<9}{'CHECKED BY':<36}TEXT / READINGS"
    lines = [head, "-" * min(width, len(head) + 40)]
    indent = " " * 63
    for c in items:
        body = textwrap.wrap(c.text, max(20, width - 63)) or [""]
        lines.append(f"{c.id:<11}{c.level!s:<7}{c.party!s:<9}{','.join(c.checked_by):<36}{body[0]}")
        lines.extend(indent + part for part in body[1:])
        for r in c.readings:
            mark = "*" if r.default else " "
            tools = honoured_by(c.id, r.name)
            who = f" [honoured by: {', '.join(tools) or 'no tool yet'}]"
            text = textwrap.wrap(f"{mark} {r.name}: {r.summary}{who}", max(20, width - 65))
            lines.append(indent + "  " + text[0])
            lines.extend(indent + "    " + part for part in text[1:])
        if c.finding:
            for i, part in enumerate(textwrap.wrap("FINDING: " + c.finding, max(20, width - 65))):
                lines.append(indent + ("  " if i == 0 else "    ") + part)
    return "\n".join(lines)
