"""The virtual-clock simulator: scenarios in, tidy DataFrames out.

:func:`simulate` compiles a scenario into flat arrays (:mod:`~whsim.sim.plan`), runs them through
the reference event loop (:mod:`~whsim.sim.engine`) or the vectorised engine
(:mod:`~whsim.sim.fast`) and wraps the log in a :class:`~whsim.sim.results.SimResult`. Importing
this package loads neither numpy nor pandas; running a simulation does.

:mod:`whsim.sim.sweep` runs the many small simulations that answer one design question (one
failing event's schedule, loss against outage length, the shortest outage that loses an event).
"""

from __future__ import annotations

from collections.abc import Callable
from os import PathLike
from typing import TYPE_CHECKING, Any, Literal

from whsim.sim.scenario import Arrival, Downtime, Scenario, Sender, Webhook, Workload
from whsim.sim.scenarios import SCENARIOS, load_scenario, scenario_from_dict, scenario_names

if TYPE_CHECKING:
    from whsim.core.readings import Readings
    from whsim.sim.results import SimResult

__all__ = [
    "SCENARIOS",
    "Arrival",
    "Downtime",
    "Scenario",
    "Sender",
    "SimResult",
    "Webhook",
    "Workload",
    "load_scenario",
    "scenario_from_dict",
    "scenario_names",
    "simulate",
]


def simulate(
    scenario: Scenario | str | PathLike[str],
    seed: int = 0,
    *,
    engine: Literal["auto", "reference", "numpy"] = "auto",
    reading: str | None = None,
    progress: Callable[[float], None] | None = None,
    readings: Readings | None = None,
) -> SimResult:
    """Run ``scenario`` (a :class:`Scenario`, a named scenario or a ``.toml`` path) on a virtual clock.

    The same scenario and seed give the same result, byte for byte, in any process. ``engine``
    ``auto`` takes the numpy engine when deliveries do not interact, the reference event loop
    otherwise. ``readings`` (a :class:`whsim.Readings`) replace the scenario's readings where
    chosen; one the simulator does not implement is refused by name. ``reading`` is the older
    shorthand for one retry policy (a RETRY-1 reading or a vendor policy name). ``progress``
    receives the fraction done (reference engine only; the numpy engine finishes before a bar
    would show).
    """
    from whsim.sim.run import simulate as run

    return run(scenario, seed, engine=engine, reading=reading, progress=progress, readings=readings)


def __getattr__(name: str) -> Any:
    if name == "SimResult":
        from whsim.sim.results import SimResult

        return SimResult
    raise AttributeError(f"module 'whsim.sim' has no attribute {name!r}")
