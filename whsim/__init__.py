"""whsim: the Proposal Generator webhook spec, executable.

The public API is what ``__all__`` lists; everything else may change. Heavy parts (pandas,
matplotlib, the HTTP services) are imported only by the modules that need them.
"""

from whsim.clock import Clock, ScaledClock, VirtualClock, WallClock
from whsim.delivery import DeliveryState, DeliveryStatus, after_attempt, before_attempt
from whsim.errors import (
    EventDataError,
    RegistrationError,
    ScenarioError,
    SignatureFormatError,
    SpecInputError,
    UnknownReadingError,
    WhsimError,
)
from whsim.policy import RetryPolicy, Verdict
from whsim.registry import Mode, Registration, WebhookStatus
from whsim.signing import sign, standard_sign, standard_verify, verify
from whsim.spec.clauses import Clause, Reading, clauses, findings
from whsim.spec.events import EVENT_TYPES, Event, make_event, parse_event

__version__ = "0.1.0"

__all__ = [
    "EVENT_TYPES",
    "Clause",
    "Clock",
    "DeliveryState",
    "DeliveryStatus",
    "Event",
    "EventDataError",
    "Mode",
    "Reading",
    "Registration",
    "RegistrationError",
    "RetryPolicy",
    "ScaledClock",
    "ScenarioError",
    "SignatureFormatError",
    "SpecInputError",
    "UnknownReadingError",
    "Verdict",
    "VirtualClock",
    "WallClock",
    "WebhookStatus",
    "WhsimError",
    "__version__",
    "after_attempt",
    "before_attempt",
    "clauses",
    "findings",
    "make_event",
    "parse_event",
    "sign",
    "standard_sign",
    "standard_verify",
    "verify",
]
