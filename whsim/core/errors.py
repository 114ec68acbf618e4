"""Every error whsim raises on purpose.

One base class, :class:`WhsimError`. Errors about bad input also subclass :class:`ValueError`, so
callers that already catch ``ValueError`` keep working. Each error carries data (the field that was
wrong, the clause it breaks) so tools can report it without parsing the message.
"""

from __future__ import annotations

__all__ = [
    "Blocked",
    "CaseError",
    "ConformanceUsageError",
    "DemoError",
    "EventDataError",
    "PropertyViolation",
    "ReadingNotHonouredError",
    "RegistrationError",
    "ScenarioError",
    "SenderError",
    "SignatureFormatError",
    "SpecInputError",
    "ThrottleInputError",
    "TraceError",
    "TriggerError",
    "UnknownReadingError",
    "WhsimError",
]


class WhsimError(Exception):
    """Base class of every error whsim raises on purpose."""


class Blocked(WhsimError):
    """The URL's host resolves to an address production mode must not reach (the sender's
    network guard, :mod:`whsim.sender.netguard`)."""


class DemoError(WhsimError):
    """A demo step could not run at all (a service did not start, a tool is missing)."""


class PropertyViolation(WhsimError, AssertionError):
    """Raised inside a property search when a scenario breaks the property
    (:mod:`whsim.analysis.explore`); an AssertionError, so hypothesis counts it as a failure."""


class TriggerError(WhsimError):
    """The sender suite's trigger could not make the sender emit an event."""


class ThrottleInputError(WhsimError, ValueError):
    """Progress updates given to :func:`whsim.core.throttle.throttle` out of time order."""


class SpecInputError(WhsimError, ValueError):
    """Input that the spec model refuses; ``field`` names the offending field (dotted path)."""

    def __init__(self, message: str, *, field: str | None = None, clause: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.clause = clause


class EventDataError(SpecInputError):
    """An event (type, timestamp, id or data) that breaks the event's schema."""


class RegistrationError(SpecInputError):
    """A webhook registration or update that the registry refuses.

    ``code`` is a short machine name (``invalid_url``, ``unknown_event_type``, ...) that the
    reference sender returns in its error body.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str = "invalid_request",
        clause: str | None = None,
    ):
        super().__init__(message, field=field, clause=clause)
        self.code = code


class UnknownReadingError(SpecInputError):
    """A reading (or named policy) that the clause does not define; lists the valid names."""

    def __init__(self, what: str, name: str, choices: tuple[str, ...]):
        super().__init__(
            f"unknown {what} {name!r}; choose one of: {', '.join(choices)}", field=what
        )
        self.name = name
        self.choices = choices


class SignatureFormatError(SpecInputError):
    """A signing secret that cannot be used (e.g. a Standard Webhooks secret that is not base64)."""


class ScenarioError(SpecInputError):
    """A simulation scenario that cannot be run; ``source`` names the file when it came from one."""

    def __init__(self, message: str, *, field: str | None = None, source: str | None = None):
        where = f"{source}: " if source else ""
        at = f"{field}: " if field else ""
        super().__init__(f"{where}{at}{message}", field=field)
        self.detail = message
        self.source = source


class ConformanceUsageError(SpecInputError):
    """A conformance run that cannot start: bad URL, missing secret, unknown role, bad budget."""


class CaseError(WhsimError):
    """The kit could not grade a conformance case (network failure, budget spent, a kit bug).

    ``case_id`` names the case. It is graded ``error``, never ``fail``: the target is not to blame.
    """

    def __init__(self, message: str, *, case_id: str | None = None):
        super().__init__(message)
        self.case_id = case_id


class SenderError(WhsimError):
    """A request the reference sender refuses, with the HTTP status and error body it answers.

    ``code`` is the machine name in ``{"error": {"code", "message", "details"}}``; ``details``
    is JSON-ready data (the field, the clause, the allowed values).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str,
        details: dict[str, object] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details or {}


class ReadingNotHonouredError(SpecInputError):
    """A tool was given a reading it does not implement; names the tool, the reading, and what
    the tool does honour for that clause (see :mod:`whsim.core.honoured`)."""

    def __init__(self, tool: str, clause: str, reading: str, honoured: tuple[str, ...]):
        can = f"it honours {', '.join(honoured)}" if honoured else "it honours no reading of it"
        super().__init__(
            f"{tool} does not honour {clause}={reading}; {can}", field="reading", clause=clause
        )
        self.tool = tool
        self.reading = reading
        self.honoured = honoured


class TraceError(SpecInputError):
    """A recorded trace (HAR or JSONL of attempts) that cannot be read.

    ``where`` names the place (``"line 12"``, ``"entry 3"``, ``"row 7"``) and ``field`` the field
    that was wrong, so a tool prints one line a user can act on.
    """

    def __init__(self, message: str, *, where: str = "", field: str | None = None):
        text = f"{where}: {message}" if where else message
        super().__init__(text, field=field)
        self.where = where
