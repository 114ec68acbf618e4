"""whsim: the Proposal Generator webhook spec, executable.

The public API is what ``__all__`` lists; everything else may change. Heavy parts (pandas,
matplotlib, the HTTP services) are imported only by the modules that need them.
"""

import typing as _typing

from whsim.core.behaviours import Behaviour, Latency, Outage
from whsim.core.clock import Clock, ScaledClock, VirtualClock, WallClock
from whsim.core.delivery import DeliveryState, DeliveryStatus, after_attempt, before_attempt
from whsim.core.errors import (
    EventDataError,
    RegistrationError,
    ScenarioError,
    SignatureFormatError,
    SpecInputError,
    UnknownReadingError,
    WhsimError,
)
from whsim.core.policy import RetryPolicy, Verdict
from whsim.core.readings import Readings
from whsim.core.registry import Mode, Registration, WebhookStatus
from whsim.core.signing import sign, standard_sign, standard_verify, verify
from whsim.core.spec.clauses import Clause, Reading, clauses, findings
from whsim.core.spec.events import EVENT_TYPES, Event, make_event, parse_event
from whsim.sim import (
    Arrival,
    Downtime,
    Scenario,
    Sender,
    Webhook,
    Workload,
    load_scenario,
    simulate,
)

if _typing.TYPE_CHECKING:
    from whsim.sim.results import SimResult

__version__ = "0.1.0"

__all__ = [
    "EVENT_TYPES",
    "Arrival",
    "Behaviour",
    "Clause",
    "Clock",
    "DeliveryState",
    "DeliveryStatus",
    "Downtime",
    "Event",
    "EventDataError",
    "Latency",
    "Mode",
    "Outage",
    "Reading",
    "Readings",
    "Registration",
    "RegistrationError",
    "RetryPolicy",
    "ScaledClock",
    "Scenario",
    "ScenarioError",
    "Sender",
    "SignatureFormatError",
    "SimResult",
    "SpecInputError",
    "UnknownReadingError",
    "Verdict",
    "VirtualClock",
    "WallClock",
    "Webhook",
    "WebhookStatus",
    "WhsimError",
    "Workload",
    "__version__",
    "after_attempt",
    "before_attempt",
    "check",
    "clauses",
    "findings",
    "load_scenario",
    "make_event",
    "parse_event",
    "sign",
    "simulate",
    "standard_sign",
    "standard_verify",
    "verify",
]


def __getattr__(name: str) -> object:
    # SimResult lives with numpy-backed code; load it only when asked for.
    if name == "check":
        from whsim.conformance.grader import check

        return check
    if name == "SimResult":
        from whsim.sim.results import SimResult

        return SimResult
    raise AttributeError(f"module 'whsim' has no attribute {name!r}")
