"""Named scenarios and TOML loading.

A scenario file is TOML with times in seconds (``*_s`` keys); see the named scenarios in
``whsim/sim/named/`` for complete examples. Every error is a :class:`ScenarioError` naming the
field as a dotted path (``receivers[1].failure_probability``) and the file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any, Final

from whsim.core.behaviours import Behaviour, behaviour_from_dict
from whsim.core.errors import ScenarioError
from whsim.sim.scenario import Arrival, Downtime, Scenario, Sender, Webhook, Workload

__all__ = ["SCENARIOS", "load_scenario", "scenario_from_dict", "scenario_names"]

SCENARIOS: Final = (
    "healthy",
    "flaky",
    "outage-10min",
    "outage-2h",
    "retry-storm",
    "slow-receiver",
    "progress-heavy",
)
"""Names of the scenarios shipped with whsim (``whsim/sim/named/NAME.toml``)."""

_TOP = {"name", "description", "sender", "receivers", "webhooks", "workload"}
_SENDER = {
    "retry",
    "jitter",
    "jitter_ratio",
    "codes",
    "backoff_from",
    "expiry_from",
    "throttle",
    "timeout_s",
    "expiry_s",
    "concurrency",
    "downtime",
}
_WEBHOOK = {"id", "receiver", "events", "status", "url", "count"}
_WORKLOAD = {
    "duration_s",
    "arrival",
    "rate_per_s",
    "burst_size",
    "burst_every_s",
    "burst_spread_s",
    "every_s",
    "jobs_per_proposal",
    "start_delay_s",
    "job_duration_s",
    "progress_every_s",
    "job_failure_probability",
    "max_events",
}


def scenario_names() -> tuple[str, ...]:
    return SCENARIOS


def _table(doc: object, where: str) -> Mapping[str, Any]:
    if not isinstance(doc, Mapping):
        raise ScenarioError(f"must be a table, got {type(doc).__name__}", field=where)
    return doc


def _check_keys(doc: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in doc:
        if key not in allowed:
            raise ScenarioError(
                f"unknown field; allowed: {', '.join(sorted(allowed))}",
                field=f"{where}.{key}" if where else str(key),
            )


def _ms(doc: Mapping[str, Any], key: str, where: str, default: int) -> int:
    """A ``*_s`` value in seconds as integer ms."""
    if key not in doc:
        return default
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ScenarioError(
            f"must be a number of seconds >= 0, got {value!r}", field=f"{where}.{key}"
        )
    return round(value * 1000)


def _int(doc: Mapping[str, Any], key: str, where: str, default: int) -> int:
    if key not in doc:
        return default
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(f"must be an integer, got {value!r}", field=f"{where}.{key}")
    return value


def _num(doc: Mapping[str, Any], key: str, where: str, default: float) -> float:
    if key not in doc:
        return default
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"must be a number, got {value!r}", field=f"{where}.{key}")
    return float(value)


def _str(doc: Mapping[str, Any], key: str, where: str, default: Any) -> Any:
    if key not in doc:
        return default
    value = doc[key]
    if not isinstance(value, str):
        raise ScenarioError(f"must be a string, got {value!r}", field=f"{where}.{key}")
    return value


def _sender(doc: Mapping[str, Any]) -> Sender:
    _check_keys(doc, _SENDER, "sender")
    downtime = []
    raw = doc.get("downtime", [])
    if not isinstance(raw, list):
        raise ScenarioError("must be a list of {start_s, end_s} tables", field="sender.downtime")
    for i, item in enumerate(raw):
        where = f"sender.downtime[{i}]"
        table = _table(item, where)
        _check_keys(table, {"start_s", "end_s"}, where)
        try:
            downtime.append(
                Downtime(_ms(table, "start_s", where, -1), _ms(table, "end_s", where, -1))
            )
        except ScenarioError as exc:
            raise ScenarioError(exc.detail, field=where) from None
    ratio = doc.get("jitter_ratio")
    if ratio is not None:
        ratio = _num(doc, "jitter_ratio", "sender", 0.0)
    return Sender(
        retry=_str(doc, "retry", "sender", "backoff-only"),
        jitter=_str(doc, "jitter", "sender", None),
        jitter_ratio=ratio,
        codes=_str(doc, "codes", "sender", None),
        backoff_from=_str(doc, "backoff_from", "sender", None),
        expiry_from=_str(doc, "expiry_from", "sender", None),
        throttle=_str(doc, "throttle", "sender", "coalesce"),
        timeout_ms=_ms(doc, "timeout_s", "sender", 5_000),
        expiry_ms=_ms(doc, "expiry_s", "sender", 86_400_000),
        concurrency=_int(doc, "concurrency", "sender", 0),
        downtime=tuple(downtime),
    )


def _webhook(doc: Mapping[str, Any], where: str) -> Webhook:
    _check_keys(doc, _WEBHOOK, where)
    if "id" not in doc:
        raise ScenarioError("a webhook needs an id", field=f"{where}.id")
    events = doc.get("events")
    if events is not None and (
        not isinstance(events, list) or not all(isinstance(e, str) for e in events)
    ):
        raise ScenarioError("must be a list of event types", field=f"{where}.events")
    kwargs: dict[str, Any] = {
        "id": _str(doc, "id", where, ""),
        "receiver": _str(doc, "receiver", where, "healthy"),
        "status": _str(doc, "status", where, "active"),
        "url": _str(doc, "url", where, ""),
        "count": _int(doc, "count", where, 1),
    }
    if events is not None:
        kwargs["events"] = tuple(events)
    return Webhook(**kwargs)


def _workload(doc: Mapping[str, Any]) -> Workload:
    w = "workload"
    _check_keys(doc, _WORKLOAD, w)
    base = Workload()
    arrival = Arrival(
        kind=_str(doc, "arrival", w, "poisson"),
        rate_per_s=_num(doc, "rate_per_s", w, 0.05),
        burst_size=_int(doc, "burst_size", w, 20),
        burst_every_ms=_ms(doc, "burst_every_s", w, 600_000),
        burst_spread_ms=_ms(doc, "burst_spread_s", w, 1_000),
        every_ms=_ms(doc, "every_s", w, 0) if "every_s" in doc else None,
    )
    max_events = doc.get("max_events")
    if max_events is not None:
        max_events = _int(doc, "max_events", w, 0)
    return Workload(
        duration_ms=_ms(doc, "duration_s", w, base.duration_ms),
        arrival=arrival,
        jobs_per_proposal=_int(doc, "jobs_per_proposal", w, base.jobs_per_proposal),
        start_delay_ms=_ms(doc, "start_delay_s", w, base.start_delay_ms),
        job_duration_ms=_ms(doc, "job_duration_s", w, base.job_duration_ms),
        progress_every_ms=_ms(doc, "progress_every_s", w, base.progress_every_ms),
        job_failure_probability=_num(
            doc, "job_failure_probability", w, base.job_failure_probability
        ),
        max_events=max_events,
    )


def _field_in(section: str, exc: ScenarioError) -> str:
    field = exc.field or section
    if field.startswith(section.split("[")[0]):
        return field
    return f"{section}.{field}"


def scenario_from_dict(doc: Mapping[str, Any], *, source: str | None = None) -> Scenario:
    """A scenario from a decoded TOML document; errors name the field and ``source``."""
    try:
        doc = _table(doc, "scenario")
        _check_keys(doc, _TOP, "")
        receivers: list[Behaviour] = []
        raw_receivers = doc.get("receivers", [])
        if not isinstance(raw_receivers, list):
            raise ScenarioError("must be an array of tables ([[receivers]])", field="receivers")
        for i, item in enumerate(raw_receivers):
            where = f"receivers[{i}]"
            table = dict(_table(item, where))
            if "name" not in table:
                raise ScenarioError("a receiver needs a name", field=f"{where}.name")
            try:
                receivers.append(behaviour_from_dict(table))
            except ScenarioError as exc:
                raise ScenarioError(exc.detail, field=f"{where}.{exc.field or 'name'}") from None
        raw_hooks = doc.get("webhooks", [{"id": "wh"}])
        if not isinstance(raw_hooks, list) or not raw_hooks:
            raise ScenarioError(
                "must be a non-empty array of tables ([[webhooks]])", field="webhooks"
            )
        hooks = []
        for i, item in enumerate(raw_hooks):
            where = f"webhooks[{i}]"
            try:
                hooks.append(_webhook(_table(item, where), where))
            except ScenarioError as exc:
                raise ScenarioError(
                    exc.detail, field=_field_in(where, exc).replace("webhooks.", f"{where}.")
                ) from None
        try:
            sender = _sender(_table(doc.get("sender", {}), "sender"))
        except ScenarioError as exc:
            raise ScenarioError(exc.detail, field=_field_in("sender", exc)) from None
        try:
            workload = _workload(_table(doc.get("workload", {}), "workload"))
        except ScenarioError as exc:
            raise ScenarioError(exc.detail, field=_field_in("workload", exc)) from None
        return Scenario(
            name=_str(doc, "name", "", "custom"),
            description=_str(doc, "description", "", ""),
            webhooks=tuple(hooks),
            receivers=tuple(receivers),
            sender=sender,
            workload=workload,
        )
    except ScenarioError as exc:
        raise ScenarioError(exc.detail, field=exc.field, source=source) from None


def load_scenario(name_or_path: str | PathLike[str]) -> Scenario:
    """A named scenario (see :data:`SCENARIOS`) or a scenario from a ``.toml`` file."""
    text: str
    source: str
    name = str(name_or_path)
    if name in SCENARIOS:
        source = f"whsim/sim/named/{name}.toml"
        text = resources.files("whsim.sim").joinpath("named", f"{name}.toml").read_text("utf-8")
    else:
        path = Path(name_or_path)
        if path.suffix != ".toml" or not path.is_file():
            raise ScenarioError(
                f"no such scenario {name!r}: give a .toml file or one of: {', '.join(SCENARIOS)}",
                field="scenario",
            )
        source = str(path)
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"cannot read: {exc}", source=source) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"not valid TOML: {exc}", source=source) from None
    return scenario_from_dict(doc, source=source)
