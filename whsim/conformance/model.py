"""``whsim check --simulate``: a trace's attempt times against what the model predicts.

For every recorded delivery (one event to one endpoint) :class:`ModelCheck` takes when its first
attempt was made and how the receiver answered each attempt, in order, replays them on the
virtual clock under the same reading (:func:`whsim.sim.replay.replay_event`, which steps the
core's delivery state machine) and pairs each observed attempt with the predicted one. Times are
offsets from the event's first attempt, in trace seconds (policy time divided by the time
scale). An attempt is *within the band* when its observed offset lies in the timing profile's
band around the predicted offset (:meth:`whsim.conformance.timing.Profile.band`), the tolerance
the suites grade gaps with.

Observed attempts the model does not make (after it delivered, rejected or gave up) are
*unpredicted*; attempts the model makes that the trace lacks, although it runs past their band,
are *missing*. The largest deviation is over the paired attempts.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from whsim.conformance.timing import Profile
from whsim.conformance.trace import Attempt
from whsim.core.behaviours import Recorded
from whsim.core.policy import RetryPolicy
from whsim.sim.replay import replay_event

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ModelCheck", "Paired"]

_KEEP_ROWS: Final = 500
_FIGURE_ENDPOINTS: Final = 6
_SERIES_ENDPOINTS: Final = 256  # endpoints whose points are kept for the figure
_SERIES_POINTS: Final = 4_000  # points kept per endpoint: memory stays bounded on huge traces


@dataclass(frozen=True, slots=True)
class Paired:
    """One observed attempt beside its prediction (offsets from the event's first attempt, s)."""

    endpoint: str
    event: str
    attempt: int
    answer: str
    observed_s: float
    predicted_s: float | None  # None: the model makes no such attempt (unpredicted)
    low_s: float | None = None
    high_s: float | None = None

    @property
    def deviation_s(self) -> float | None:
        return None if self.predicted_s is None else self.observed_s - self.predicted_s

    @property
    def within(self) -> bool:
        return (
            self.low_s is not None
            and self.high_s is not None
            and self.low_s <= self.observed_s <= self.high_s
        )

    def as_dict(self) -> dict[str, Any]:
        dev = self.deviation_s
        return {
            "endpoint": self.endpoint,
            "event": self.event,
            "attempt": self.attempt,
            "answer": self.answer,
            "observed_s": round(self.observed_s, 4),
            "predicted_s": None if self.predicted_s is None else round(self.predicted_s, 4),
            "deviation_s": None if dev is None else round(dev, 4),
            "band_s": None
            if self.low_s is None
            else [round(self.low_s, 4), round(self.high_s or 0, 4)],
            "within_band": self.within,
        }


@dataclass
class _Series:
    observed: list[float] = field(default_factory=list)
    predicted: list[float] = field(default_factory=list)


@dataclass
class ModelCheck:
    """Collects recorded deliveries (:meth:`add`) and sums up the comparison (:meth:`summary`)."""

    policy: RetryPolicy
    time_scale: float
    prof: Profile
    compared: int = 0
    within: int = 0
    events: int = 0
    largest: Paired | None = None
    unpredicted: list[Paired] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    rows: list[Paired] = field(default_factory=list)
    series: dict[str, _Series] = field(default_factory=dict)
    _missing_count: int = 0
    _unpredicted_count: int = 0

    def _s(self, policy_ms: float) -> float:
        return policy_ms / 1000 / self.time_scale

    def add(self, endpoint: str, event: str, tries: Sequence[Attempt], trace_end_ns: int) -> None:
        """One delivery's attempts, in the order they were made."""
        if not tries:
            return
        self.events += 1
        t0 = tries[0].start_ns
        scale = self.time_scale
        recorded = Recorded.from_observed(
            [(a.status, a.error, round((a.end_ns - a.start_ns) / 1e6 * scale)) for a in tries]
        )
        got = replay_event(recorded, 0, self.policy, key=event)
        series = self.series.get(endpoint)
        if series is None and len(self.series) < _SERIES_ENDPOINTS:
            series = self.series[endpoint] = _Series()
        for k, a in enumerate(tries, start=1):
            observed = (a.start_ns - t0) / 1e9
            if k <= len(got.attempts):
                predicted = self._s(got.attempts[k - 1].sent_ms)
                band = self.prof.band(predicted)
                row = Paired(endpoint, event, k, a.answer, observed, predicted, band.low, band.high)
                self.compared += 1
                self.within += row.within
                if series is not None and len(series.observed) < _SERIES_POINTS:
                    series.observed.append(observed)
                    series.predicted.append(predicted)
                dev = abs(row.deviation_s or 0.0)
                if self.largest is None or dev > abs(self.largest.deviation_s or 0.0):
                    self.largest = row
                if len(self.rows) < _KEEP_ROWS or not row.within:
                    self._keep(row)
            else:
                row = Paired(endpoint, event, k, a.answer, observed, None)
                self._unpredicted_count += 1
                if len(self.unpredicted) < _KEEP_ROWS // 10:
                    self.unpredicted.append(row)
        if got.status == "pending" and got.next_ms is not None and len(tries) == len(got.attempts):
            predicted = self._s(got.next_ms)
            if trace_end_ns >= t0 + self.prof.band(predicted).high * 1e9:
                self._missing_count += 1
                if len(self.missing) < _KEEP_ROWS // 10:
                    self.missing.append(
                        {
                            "endpoint": endpoint,
                            "event": event,
                            "attempt": len(tries) + 1,
                            "predicted_s": round(predicted, 4),
                        }
                    )

    def _keep(self, row: Paired) -> None:
        if len(self.rows) >= _KEEP_ROWS:  # keep the rows outside the band, drop a within one
            for i, old in enumerate(self.rows):
                if old.within:
                    del self.rows[i]
                    break
            else:
                return
        self.rows.append(row)

    # -- results -----------------------------------------------------------------------------

    def headline(self) -> str:
        """One line: the largest deviation, named, and how many attempts fall in the band."""
        if self.largest is None:
            return "no attempt to compare with the model (an empty trace)"
        big = self.largest
        text = (
            f"largest deviation {big.deviation_s:+.3f} s at {big.endpoint} event {big.event} "
            f"attempt {big.attempt} (observed {big.observed_s:.3f} s after the first, predicted "
            f"{big.predicted_s:.3f} s, band [{big.low_s:.3f}, {big.high_s:.3f}] s); "
            f"{self.within} of {self.compared} attempt(s) within the band"
        )
        if self._unpredicted_count:
            first = self.unpredicted[0]
            text += (
                f"; {self._unpredicted_count} attempt(s) the model does not make (first: "
                f"{first.endpoint} event {first.event} attempt {first.attempt})"
            )
        if self._missing_count:
            m = self.missing[0]
            text += (
                f"; {self._missing_count} predicted attempt(s) missing (first: {m['endpoint']} "
                f"event {m['event']} attempt {m['attempt']} at {m['predicted_s']:.3f} s)"
            )
        return text

    @property
    def holds(self) -> bool:
        """Every paired attempt within its band, none unpredicted, none missing."""
        return (
            self.compared > 0
            and self.within == self.compared
            and not self._unpredicted_count
            and not self._missing_count
        )

    def summary(self) -> dict[str, Any]:
        """JSON-ready: what ``report.json`` carries under the model case's details."""
        return {
            "policy": self.policy.name,
            "time_scale": self.time_scale,
            "events": self.events,
            "attempts_compared": self.compared,
            "within_band": self.within,
            "largest": None if self.largest is None else self.largest.as_dict(),
            "largest_deviation_s": None
            if self.largest is None
            else round(abs(self.largest.deviation_s or 0.0), 4),
            "unpredicted": self._unpredicted_count,
            "unpredicted_examples": [r.as_dict() for r in self.unpredicted],
            "missing": self._missing_count,
            "missing_examples": list(self.missing),
            "attempts": [r.as_dict() for r in self.rows],
        }

    def figure_svg(self) -> str:
        """:meth:`figure` as inline SVG for the HTML report ("" when nothing was compared)."""
        fig = self.figure()
        if fig is None:
            return ""
        out = io.StringIO()
        fig.savefig(out, format="svg")
        svg = out.getvalue()
        return svg[svg.index("<svg") :]

    def figure(
        self, endpoints: Sequence[str] | None = None, *, fig: Figure | None = None
    ) -> Figure | None:
        """Predicted against observed attempt offsets, one panel per endpoint (the six most
        retried, or ``endpoints``), on the timing band; None when nothing was compared.

        Imports matplotlib here, only when a figure is drawn: a bare ``Figure`` (no pyplot, no
        backend switch), or ``fig`` when given (e.g. ``plt.figure()`` in a notebook, drawn into
        and resized).
        """
        from matplotlib.figure import Figure

        if endpoints is None:  # the endpoints with most retries, then largest deviation
            endpoints = sorted(
                self.series,
                key=lambda n: (
                    -sum(p > 0 for p in self.series[n].predicted),
                    -max(
                        abs(o - p)
                        for o, p in zip(
                            self.series[n].observed, self.series[n].predicted, strict=True
                        )
                    ),
                ),
            )
            retried = [n for n in endpoints if any(p > 0 for p in self.series[n].predicted)]
            endpoints = retried or endpoints  # an endpoint never retried is one dot at 0
        names = [n for n in endpoints if n in self.series][:_FIGURE_ENDPOINTS]
        if not names:
            return None
        size = (max(6.0, 4.2 * min(3, len(names))), 3.8 * ((len(names) + 2) // 3))
        if fig is None:
            fig = Figure(figsize=size)
        else:
            fig.set_size_inches(*size)
        cols = min(3, len(names))
        for i, name in enumerate(names, start=1):
            ax = fig.add_subplot((len(names) + 2) // 3, cols, i)
            s = self.series[name]
            top = max([*s.observed, *s.predicted, 0.1]) * 1.08
            grid = [top * k / 50 for k in range(51)]
            ax.fill_between(
                grid,
                [self.prof.band(g).low for g in grid],
                [self.prof.band(g).high for g in grid],
                color="C0",
                alpha=0.15,
                label="timing band",
            )
            ax.plot([0, top], [0, top], color="0.4", lw=0.8, ls="--", label="observed = predicted")
            ax.scatter(s.predicted, s.observed, s=14, color="C3", zorder=3, label="attempts")
            ax.set_xlim(0, top)
            ax.set_ylim(0, top)
            ax.set_xlabel("predicted, s after the first attempt")
            ax.set_ylabel("observed, s after the first attempt")
            short = name if len(name) <= 56 else "..." + name[-53:]
            ax.set_title(short, fontsize=8)
            if i == 1:
                ax.legend(fontsize=7, loc="upper left")
        fig.suptitle(
            f"attempt times, the trace against the model\n({self.policy.name}, "
            f"time scale {self.time_scale:g})",
            fontsize=9,
        )
        fig.tight_layout()
        return fig
