"""``whsim demo``, the kit's main job: simulate, serve, check, explain, and link it all on one page.

:func:`run_demo` runs the named scenarios, starts the reference services as subprocesses on free
loopback ports, runs the conformance suites against them, executes the notebooks into HTML and
writes ``index.html`` linking everything. Every process it starts is stopped before it returns,
also on an error or Ctrl-C (:class:`Processes`). A second run replaces what the first wrote.

The package is split by concern: :mod:`~whsim.demo.supervise` (subprocesses),
:mod:`~whsim.demo.steps` (simulations, suites, interop), :mod:`~whsim.demo.notebooks`,
:mod:`~whsim.demo.page` (``index.html``) and :mod:`~whsim.demo.run` (the job in order).
"""

from whsim.demo.notebooks import notebook_paths, run_notebooks
from whsim.demo.page import DemoResult, write_index
from whsim.demo.run import QUICK_SCENARIOS, run_demo
from whsim.demo.steps import run_conformance, run_interop, run_simulations
from whsim.demo.supervise import DemoError, Processes

__all__ = [
    "QUICK_SCENARIOS",
    "DemoError",
    "DemoResult",
    "Processes",
    "notebook_paths",
    "run_conformance",
    "run_demo",
    "run_interop",
    "run_notebooks",
    "run_simulations",
    "write_index",
]
