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
    parser.add_argument(
        "--tools",
        action="store_true",
        help="per reading, what every whsim command does with it: honours it, refuses it by "
        "name, or (a command without --reading) follows the default only",
    )
    parser.set_defaults(func=run)


def _walk(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, bool]]:
    """(command, takes --reading) for ``parser`` and every subcommand under it."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        takes = any("--reading" in a.option_strings for a in parser._actions)
        # A command with a ROLE positional (``whsim conformance receiver|sender``) is one tool
        # per role: each role's suite honours its own readings.
        roles = next((a.choices for a in parser._actions if a.dest == "role" and a.choices), None)
        if roles:
            return [(f"{path} {role}", takes) for role in roles]
        return [(path, takes)]
    out: list[tuple[str, bool]] = []
    for name, sub in subs[0].choices.items():
        out.extend(_walk(sub, f"{path} {name}"))
    return out


def tools() -> list[tuple[str, bool]]:
    """Every ``whsim`` command that delivers, receives or grades (not ``spec``), from the CLI
    parser itself: (name, takes ``--reading``). A command that takes it has a declaration in
    :mod:`whsim.core.honoured` under the same name."""
    from whsim.cli import build_parser

    return [t for t in _walk(build_parser(), "whsim") if t[0] != "whsim spec"]


def tool_matrix() -> list[dict[str, Any]]:
    """One row per reading: ``{clause, reading, default, tools: {command: verdict}}`` where the
    verdict is ``honours``, ``refuses`` or, for a command without ``--reading``, ``default``
    (it follows the default reading) or ``no flag``; ``undeclared`` for a command that takes a
    ``--reading`` of its own but has no declaration yet."""
    from whsim.core.honoured import TOOLS, table

    rows = []
    for row in table():
        verdicts: dict[str, str] = {}
        for name, takes in tools():
            decl = TOOLS.get(name)
            if decl is not None:
                ok = decl.honours(str(row["clause"]), str(row["reading"]))
                verdicts[name] = "honours" if ok else "refuses"
            elif takes:  # a --reading of its own, not yet the shared one
                verdicts[name] = "undeclared"
            else:
                verdicts[name] = "default" if row["default"] else "no flag"
        rows.append({**row, "tools": verdicts})
    return rows


def column_label(name: str) -> str:
    """The column heading of command ``name`` in ``whsim spec --tools``: the command without
    ``whsim``, a suite per role named by its role (``receiver suite``, ``sender suite``), so no
    two columns read the same."""
    short = name.removeprefix("whsim ")
    if short.startswith("conformance "):
        return f"{short.removeprefix('conformance ')} suite"
    return short


def _matrix_text(rows: list[dict[str, Any]]) -> str:
    names = [name for name, _ in tools()]
    labels = [column_label(name) for name in names]
    widths = [max(len(label), len("default"), len("refused")) + 2 for label in labels]
    head = f"{'READING':<34}" + "".join(f"{s:<{w}}" for s, w in zip(labels, widths, strict=True))
    mark = {
        "honours": "yes",
        "refuses": "refused",
        "default": "default",
        "no flag": "-",
        "undeclared": "?",
    }
    lines = [head, "-" * len(head)]
    for row in rows:
        label = f"{row['clause']}={row['reading']}{'*' if row['default'] else ''}"
        cells = "".join(f"{mark[row['tools'][n]]:<{w}}" for n, w in zip(names, widths, strict=True))
        lines.append(f"{label:<34}" + cells)
    suites = [f"{lab}: {n}" for n, lab in zip(names, labels, strict=True) if lab.endswith(" suite")]
    lines.append(
        "yes: implemented; refused: refused by name; default: follows this (the default) reading "
        "only; -: takes no --reading; ?: a --reading of its own, not declared. * the kit's default."
        + (f" Suites: {'; '.join(suites)}." if suites else "")
    )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    selected = [c for c in clauses() if args.area is None or c.area == args.area.upper()]
    if not selected:
        areas = sorted({c.area for c in clauses()})
        print(
            f"whsim spec: error: no clauses in area {args.area!r}; areas: {', '.join(areas)}",
            file=sys.stderr,
        )
        return 2
    if args.tools:
        rows = tool_matrix()
        print(json.dumps(rows, indent=2) if args.json else _matrix_text(rows))
        return 0
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
