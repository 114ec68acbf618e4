"""The virtual-clock simulator: scenarios in, tidy DataFrames out.

:func:`simulate` compiles a scenario into flat arrays (:mod:`~whsim.sim.plan`), runs them through
the reference event loop (:mod:`~whsim.sim.engine`) or the vectorised engine
(:mod:`~whsim.sim.fast`) and wraps the log in a :class:`~whsim.sim.results.SimResult`. Importing
this package loads neither numpy nor pandas; running a simulation does.
"""

from __future__ import annotations

from collections.abc import Callable
from os import PathLike
from typing import TYPE_CHECKING, Any, Literal

from whsim.sim.scenario import Arrival, Downtime, Scenario, Sender, Webhook, Workload
from whsim.sim.scenarios import SCENARIOS, load_scenario, scenario_from_dict, scenario_names

if TYPE_CHECKING:
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
) -> SimResult:
    """Run ``scenario`` (a :class:`Scenario`, a named scenario or a ``.toml`` path) on a virtual clock.

    The same scenario and seed give the same result, byte for byte, in any process. ``engine``
    ``auto`` takes the numpy engine when deliveries do not interact, the reference event loop
    otherwise. ``reading`` replaces the sender's retry policy (a RETRY-1 reading or any
    :meth:`whsim.RetryPolicy.named` name). ``progress`` receives the fraction done (reference
    engine only; the numpy engine finishes before a bar would show).
    """
    from whsim.sim.run import simulate as run

    return run(scenario, seed, engine=engine, reading=reading, progress=progress)


def __getattr__(name: str) -> Any:
    if name == "SimResult":
        from whsim.sim.results import SimResult

        return SimResult
    raise AttributeError(f"module 'whsim.sim' has no attribute {name!r}")
