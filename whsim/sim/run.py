"""``simulate``: compile a scenario, pick an engine, run it, wrap the result."""

from __future__ import annotations

import time
from collections.abc import Callable
from os import PathLike
from typing import Literal

from whsim.core.errors import ScenarioError
from whsim.core.readings import Readings
from whsim.sim.engine import RawLog, run_reference
from whsim.sim.fast import applicable, run_fast
from whsim.sim.plan import Plan, compile_plan
from whsim.sim.results import SimResult
from whsim.sim.scenario import Scenario

__all__ = ["EngineName", "prepare", "run_plan", "simulate"]

EngineName = Literal["auto", "reference", "numpy"]


def run_plan(
    plan: Plan, engine: EngineName = "auto", progress: Callable[[float], None] | None = None
) -> tuple[str, RawLog]:
    """Run a compiled plan; returns the engine that ran and its raw log."""
    if engine not in ("auto", "reference", "numpy"):
        raise ScenarioError(
            f"unknown engine {engine!r}; use auto, reference or numpy", field="engine"
        )
    if engine == "numpy" or (engine == "auto" and applicable(plan)):
        return "numpy", run_fast(plan)
    return "reference", run_reference(plan, progress)


def simulate(
    scenario: Scenario | str | PathLike[str],
    seed: int = 0,
    *,
    engine: EngineName = "auto",
    reading: str | None = None,
    progress: Callable[[float], None] | None = None,
    readings: Readings | None = None,
) -> SimResult:
    """Run ``scenario`` (a :class:`Scenario`, a named scenario or a ``.toml`` path) on a virtual clock.

    The same scenario and seed give the same result, byte for byte, in any process. ``engine``
    ``auto`` takes the numpy engine when deliveries do not interact, the reference event loop
    otherwise. ``readings`` (a :class:`whsim.Readings`) replace the scenario's readings where
    chosen; a reading the simulator does not implement is refused by name
    (:data:`whsim.core.honoured.SIMULATE`). ``reading`` is the older shorthand for one retry
    policy: a RETRY-1 reading or a vendor policy name. ``progress`` receives the fraction done
    (reference engine only; the numpy engine is done before a bar would show).
    """
    scenario = prepare(scenario, seed, reading, readings)
    plan = compile_plan(scenario, seed)
    started = time.perf_counter()
    name, log = run_plan(plan, engine, progress)
    return SimResult(plan=plan, log=log, engine=name, seconds=time.perf_counter() - started)


def prepare(
    scenario: Scenario | str | PathLike[str],
    seed: int,
    reading: str | None,
    readings: Readings | None = None,
) -> Scenario:
    """The scenario ``simulate`` runs: loaded if named, ``seed`` checked, readings applied."""
    from whsim.sim.scenarios import load_scenario

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ScenarioError(f"seed must be a non-negative integer, got {seed!r}", field="seed")
    if reading is not None:
        if readings is not None:
            raise ScenarioError("give readings or reading, not both", field="reading")
        from whsim.core.policy import VENDOR_POLICIES

        readings = (
            Readings(policy=reading)
            if reading in VENDOR_POLICIES
            else Readings({"RETRY-1": reading})
        )
    if readings is not None:
        scenario = scenario.replace(sender=scenario.sender.with_readings(readings))
    return scenario
