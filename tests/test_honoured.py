"""The honoured-readings declarations: the mechanism (tools' own checks are tested with them)."""

import pytest

from whsim import Readings
from whsim.core import honoured
from whsim.core.errors import ReadingNotHonouredError, SpecInputError
from whsim.core.readings import AMBIGUOUS


def _tool(*items, policy=False):
    name = f"test tool {len(honoured.TOOLS)}"
    try:
        return honoured.declare(name, *items, policy=policy)
    finally:
        honoured.TOOLS.pop(name, None)


def test_a_tool_refuses_a_reading_it_does_not_honour_by_name():
    tool = _tool("RETRY-1", "CODES-1=any-2xx")
    tool.check(Readings.parse(["RETRY-1=immediate-counts", "CODES-1=any-2xx"]))
    with pytest.raises(ReadingNotHonouredError) as exc:
        tool.check(Readings.parse(["CODES-1=200-only"]))
    assert "CODES-1=200-only" in str(exc.value) and tool.tool in str(exc.value)
    assert exc.value.honoured == ("any-2xx",)
    with pytest.raises(ReadingNotHonouredError, match="SIG-1=sha256-prefix"):
        tool.check(Readings.parse(["SIG-1=sha256-prefix"]))


def test_defaults_of_clauses_a_tool_does_not_model_pass():
    _tool().check(Readings.parse(["SIG-1=bare-hex"]))


def test_policy_is_refused_unless_declared():
    with pytest.raises(SpecInputError, match="--policy svix"):
        _tool("RETRY-1").check(Readings(policy="svix"))
    _tool("RETRY-1", policy=True).check(Readings(policy="svix"))


def test_declarations_are_checked_against_the_registry():
    with pytest.raises(SpecInputError):
        _tool("SIG-3")
    with pytest.raises(SpecInputError):
        _tool("RETRY-1=sometimes")


def test_table_lists_every_reading_and_who_honours_it():
    rows = honoured.table()
    assert {r["clause"] for r in rows} == set(AMBIGUOUS)
    row = next(r for r in rows if (r["clause"], r["reading"]) == ("RETRY-1", "immediate-counts"))
    assert "whsim simulate" in row["tools"]
