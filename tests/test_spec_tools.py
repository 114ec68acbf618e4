"""`whsim spec --tools`: per reading, what every whsim command does with it, from the code."""

from __future__ import annotations

import json
import subprocess
import sys

from whsim.cli import build_parser
from whsim.commands.spec import tool_matrix, tools
from whsim.core import honoured


def test_every_command_is_a_column_and_every_declared_tool_is_a_command():
    names = {name for name, _ in tools()}
    top = {f"whsim {c}" for c in build_parser()._subparsers._group_actions[0].choices}  # type: ignore[union-attr]
    assert {n.split(" ")[0] + " " + n.split(" ")[1] for n in names} == top - {"whsim spec"}
    assert set(honoured.TOOLS) <= names
    for row in tool_matrix():
        assert set(row["tools"]) == names


def test_verdicts_follow_the_declarations():
    for row in tool_matrix():
        for name, verdict in row["tools"].items():
            decl = honoured.TOOLS.get(name)
            if decl is not None:
                assert verdict == (
                    "honours" if decl.honours(row["clause"], row["reading"]) else "refuses"
                )
            else:
                assert verdict in ("default", "no flag", "undeclared")


def test_commands_with_the_shared_flag_are_declared():
    # a command that parses --reading through whsim/commands/readings.py must declare what it honours
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name, p in sub.items():
        shared = [
            a
            for a in p._actions
            if "--reading" in a.option_strings
            and a.metavar == "CLAUSE=NAME"
            and "which tools honour each" in (a.help or "")
        ]
        if shared:
            # a command with a ROLE (whsim conformance receiver|sender) declares once per role
            from whsim.commands.spec import tools

            names = [
                t for t, _ in tools() if t == f"whsim {name}" or t.startswith(f"whsim {name} ")
            ]
            assert names and all(t in honoured.TOOLS for t in names), name


def test_the_command_prints_it():
    out = subprocess.run(
        [sys.executable, "-m", "whsim", "spec", "--tools", "--json"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    rows = {(r["clause"], r["reading"]): r["tools"] for r in json.loads(out)}
    assert rows[("THROTTLE-2", "per-webhook")]["whsim simulate"] == "honours"
    assert rows[("SIG-2", "tolerant")]["whsim receiver"] == "honours"
    assert rows[("SIG-2", "tolerant")]["whsim simulate"] == "refuses"
    assert rows[("RETRY-1", "immediate-counts")]["whsim receiver"] == "refuses"


def test_every_command_with_a_reading_flag_is_declared():
    # no "?" in the table: `whsim check` and the suites declare what they honour
    undeclared = {n for row in tool_matrix() for n, v in row["tools"].items() if v == "undeclared"}
    assert undeclared == set()
    assert "whsim check" in honoured.TOOLS


def test_the_text_table_names_every_column_apart():
    from whsim.commands.spec import _matrix_text, column_label

    names = [name for name, _ in tools()]
    labels = [column_label(n) for n in names]
    assert len(set(labels)) == len(labels), labels
    head = _matrix_text(tool_matrix()).splitlines()[0]
    for label in labels:
        assert label in head  # whole, not cut to a prefix another column shares
    suites = [n for n in names if n.startswith("whsim conformance ")]
    assert len(suites) == 2
    assert {column_label(n) for n in suites} == {"receiver suite", "sender suite"}
