"""The virtual-clock simulator: scenarios in, tidy DataFrames out.

``simulate`` compiles a scenario into flat arrays (:mod:`~whsim.sim.plan`), runs them through the
reference event loop (:mod:`~whsim.sim.engine`) or the vectorised engine (:mod:`~whsim.sim.fast`)
and wraps the log in a :class:`~whsim.sim.results.SimResult`. pandas is imported only when a
table is asked for.
"""

from whsim.sim.results import SimResult
from whsim.sim.run import simulate
from whsim.sim.scenario import Arrival, Downtime, Scenario, Sender, Webhook, Workload
from whsim.sim.scenarios import SCENARIOS, load_scenario, scenario_from_dict, scenario_names

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
