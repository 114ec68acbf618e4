"""Matplotlib figures of simulation results; each function draws on ``ax`` (or a new figure)
and returns the Axes.

matplotlib is imported when a function is called, never by ``import whsim``. Set a non-interactive
backend (``MPLBACKEND=Agg``) for scripts and CI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from whsim.sim.results import SimResult

__all__ = [
    "OUTCOME_COLOURS",
    "attempt_offsets",
    "attempts_per_second",
    "delivery_age",
    "latency_distribution",
    "outage_loss",
    "overview",
    "retry_timeline",
    "time_unit",
    "title",
]

OUTCOME_COLOURS: Final = {
    "delivered": "#2ca02c",
    "retry": "#ff7f0e",
    "rejected": "#9467bd",
    "exhausted": "#d62728",
    "expired": "#7f7f7f",
}
_OUTAGE_COLOUR: Final = "#d62728"
_DOWNTIME_COLOUR: Final = "#1f77b4"


def _axes(ax: Axes | None, size: tuple[float, float] = (10, 5)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=size)
    return new


def _windows(result: SimResult, webhook: str | None) -> tuple[list[tuple[int, int]], list[Any]]:
    """Outage windows of ``webhook``'s receiver (all receivers if None) and sender downtime."""
    plan = result.plan
    spans: set[tuple[int, int]] = set()
    for h, s, e in zip(
        plan.outage_hook.tolist(), plan.outage_start.tolist(), plan.outage_end.tolist(), strict=True
    ):
        if webhook is None or plan.hook_ids[h] == webhook:
            spans.add((s, e))
    return sorted(spans), list(plan.scenario.sender.downtime)


def _shade(ax: Axes, result: SimResult, webhook: str | None, scale: float) -> None:
    outages, downtime = _windows(result, webhook)
    for i, (s, e) in enumerate(outages):
        ax.axvspan(
            s / scale,
            e / scale,
            color=_OUTAGE_COLOUR,
            alpha=0.12,
            label="receiver outage" if i == 0 else None,
        )
    for i, w in enumerate(downtime):
        ax.axvspan(
            w.start_ms / scale,
            w.end_ms / scale,
            color=_DOWNTIME_COLOUR,
            alpha=0.12,
            label="sender downtime" if i == 0 else None,
        )


def _thin(items: list[Any], count: int) -> list[Any]:
    """``count`` items spread evenly over ``items`` (all of them if there are fewer)."""
    if count <= 0:
        return []
    if len(items) <= count:
        return items
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def _busiest_webhook(result: SimResult) -> str:
    """The webhook with the most failed attempts (the most interesting timeline)."""
    att = result.attempts
    failed = att[att["outcome"] != "delivered"]
    source = failed if len(failed) else att
    if not len(source):
        return result.plan.hook_ids[0]
    return str(source["webhook_id"].value_counts().idxmax())


def time_unit(span_ms: float) -> tuple[float, str]:
    """The unit (milliseconds per unit, name) in which a span of ``span_ms`` reads best."""
    if span_ms <= 180_000:
        return 1_000.0, "s"
    if span_ms <= 3 * 3_600_000:
        return 60_000.0, "min"
    return 3_600_000.0, "h"


def title(ax: Axes, text: str, *, width: int = 70, fontsize: float = 9) -> None:
    """Set a title wrapped onto as many lines as it needs (never cut)."""
    import textwrap

    ax.set_title("\n".join(textwrap.wrap(text, width)) or text, fontsize=fontsize)


def retry_timeline(
    result: SimResult,
    webhook: str | None = None,
    *,
    max_rows: int = 60,
    unit: tuple[float, str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Events as rows, attempts as marks coloured by outcome, outage windows shaded.

    Shows one webhook (default: the one with the most failed attempts) and at most
    ``max_rows`` of its deliveries, those around the first failures first. Rows are labelled
    by event type (and the event's position among events of that type); time is in the unit
    that suits the span shown (``unit`` = (ms per unit, name) to choose), never before 0.
    """
    ax = _axes(ax, (11, 6))
    hook = webhook or _busiest_webhook(result)
    att = result.attempts
    att = att[att["webhook_id"] == hook]
    if not len(att):
        ax.set_title(f"retry timeline: no attempts for {hook}")
        return ax
    per_event = att.groupby("event_id", observed=True)["attempt"].max()
    troubled = att[att["event_id"].isin(per_event[per_event > 1].index)]
    pool = att
    if len(troubled):
        # the span where retries happened, with two minutes either side
        lo, hi = troubled["sent_ms"].min() - 120_000, troubled["sent_ms"].max() + 120_000
        pool = att[(att["sent_ms"] >= lo) & (att["sent_ms"] <= hi)]
    every = list(dict.fromkeys(pool.sort_values("sent_ms")["event_id"].tolist()))
    if len(every) > max_rows:
        # keep retried events first (thinned evenly if too many), then fill with the others
        retried = set(troubled["event_id"].unique())
        bad = [e for e in every if e in retried]
        good = [e for e in every if e not in retried]
        bad = _thin(bad, max(max_rows * 2 // 3, max_rows - len(good)))
        keep = set(bad) | set(_thin(good, max_rows - len(bad)))
        every = [e for e in every if e in keep]
    events = every
    rows = {e: i for i, e in enumerate(events)}
    shown = att[att["event_id"].isin(rows)]
    span = float(shown["sent_ms"].max() - shown["sent_ms"].min())
    scale, unit_name = unit or time_unit(span)
    y = shown["event_id"].map(rows).astype(float).to_numpy()
    x = shown["sent_ms"].to_numpy() / scale
    for ev, grp in shown.groupby("event_id", observed=True):
        xs = grp["sent_ms"].to_numpy() / scale
        ax.plot([xs.min(), xs.max()], [rows[ev]] * 2, color="#bbbbbb", lw=0.8, zorder=1)
    for outcome, colour in OUTCOME_COLOURS.items():
        mask = (shown["outcome"] == outcome).to_numpy()
        if mask.any():
            ax.scatter(x[mask], y[mask], s=22, color=colour, label=outcome, zorder=2)
    _shade(ax, result, hook, scale)
    lo, hi = float(x.min()), float(x.max())
    pad = max((hi - lo) * 0.05, 0.2)
    ax.set_xlim(max(0.0, lo - pad), hi + pad)
    ax.set_yticks(range(len(events)))
    ax.set_yticklabels(
        _event_labels(result, events) if len(events) <= 25 else [""] * len(events), fontsize=7
    )
    ax.set_ylim(max(len(events), 4) - 0.5, -0.5)  # a few rows stay rows, not a stretched band
    ax.set_xlabel(f"virtual time ({unit_name})")
    ax.set_ylabel("event")
    ax.set_title(
        f"{result.scenario.name}: attempts to {hook} (policy {result.plan.policy.name}, "
        f"seed {result.seed})"
    )
    ax.legend(loc="best", fontsize=8)
    return ax


def _event_labels(result: SimResult, events: Sequence[str]) -> list[str]:
    """Row labels: "job.progress #3" (the event's type and its rank among that type)."""
    d = result.deliveries
    types = dict(zip(d["event_id"].astype(str), d["event_type"].astype(str), strict=False))
    order = sorted(types, key=lambda e: e)
    rank: dict[str, int] = {}
    seen: dict[str, int] = {}
    for e in order:
        seen[types[e]] = seen.get(types[e], 0) + 1
        rank[e] = seen[types[e]]
    return [f"{types.get(str(e), str(e))} #{rank.get(str(e), 0)}" for e in events]


def attempts_per_second(
    result: SimResult,
    webhooks: Sequence[str] | None = None,
    *,
    bin_s: float = 1.0,
    unit: tuple[float, str] = (60_000.0, "min"),
    ax: Axes | None = None,
) -> Axes:
    """Attempts each receiver gets per second of virtual time (its load), outages shaded.

    Default: the total over all webhooks plus the busiest webhook. ``unit`` = (ms per unit,
    name) of the time axis.
    """
    ax = _axes(ax)
    att = result.attempts
    width = int(bin_s * 1000)
    end = int(att["sent_ms"].max()) + width if len(att) else width
    edges = np.arange(0, end + width, width)
    scale, unit_name = unit
    centres = edges[:-1] / scale
    series: list[tuple[str, Any]] = []
    if webhooks is None:
        series.append(("all webhooks", att["sent_ms"].to_numpy()))
        busiest = _busiest_webhook(result)
        series.append((busiest, att.loc[att["webhook_id"] == busiest, "sent_ms"].to_numpy()))
    else:
        for hook in webhooks:
            series.append((hook, att.loc[att["webhook_id"] == hook, "sent_ms"].to_numpy()))
    # The total over all webhooks is often 100x one webhook's load: it gets its own scale (right
    # axis), so neither line lies flat. Each line's peak is marked with its value.
    handles = []
    for i, (label, sent) in enumerate(series):
        counts, _ = np.histogram(sent, bins=edges)
        rate = counts / bin_s
        on = ax.twinx() if (webhooks is None and i == 0 and len(series) > 1) else ax
        colour = "#7f7f7f" if on is not ax else f"C{i}"
        (line,) = on.plot(centres, rate, lw=0.8, color=colour, label=label)
        line.sticky_edges.y.append(0.0)  # no margin below 0; shared axes still autoscale up
        handles.append(line)
        if len(rate) and rate.max() > 0:
            k = int(rate.argmax())
            on.scatter([centres[k]], [rate[k]], s=16, color=colour, zorder=3)
            on.annotate(
                f"peak {rate[k]:g}/s",
                (centres[k], rate[k]),
                xytext=(5, -2),
                textcoords="offset points",
                fontsize=7,
                color=colour,
                va="top",
            )
        if on is not ax:
            on.set_ylabel(f"{label}: attempts per second", color=colour, fontsize=8)
    _shade(ax, result, None, scale)
    ax.set_xlabel(f"virtual time ({unit_name})")
    ax.set_ylabel("attempts per second" + (f" ({series[-1][0]})" if webhooks is None else ""))
    ax.set_title(f"{result.scenario.name}: load on receivers ({bin_s:g} s bins)")
    ax.legend(handles=handles, loc="upper right", fontsize=8)
    return ax


def latency_distribution(result: SimResult, *, ax: Axes | None = None) -> Axes:
    """Distribution of time from event to delivery (delivered deliveries), log scale."""
    ax = _axes(ax)
    ttd = result.deliveries["time_to_delivery_ms"].dropna().to_numpy(dtype=float)
    if len(ttd):
        low = max(1.0, float(ttd.min()))
        bins = np.logspace(np.log10(low), np.log10(max(float(ttd.max()), low * 10)), 50)
        ax.hist(np.maximum(ttd, low), bins=bins.tolist(), color="#1f77b4")
        ax.set_xscale("log")
        for q, style in ((50, "--"), (99, ":")):
            value = float(np.percentile(ttd, q))
            ax.axvline(value, color="black", ls=style, lw=1, label=f"p{q} = {value / 1000:.3g} s")
        ax.legend(fontsize=8)
    ax.set_xlabel("time from event to delivery (ms)")
    ax.set_ylabel("deliveries")
    ax.set_title(f"{result.scenario.name}: delivery latency ({len(ttd)} delivered)")
    return ax


def _duration(seconds: float) -> str:
    """A length of time for an axis tick: 30 s, 5 min, 2 h, 3 d."""
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def _series(value: Sequence[float] | Sequence[Sequence[float]]) -> list[Sequence[float]]:
    """A row's value as a list of series (a single series is a list of one)."""
    if len(value) and isinstance(value[0], Sequence):
        return [list(v) for v in value]  # type: ignore[arg-type]
    return [list(value)]  # type: ignore[arg-type]


def _coincident(xs: Sequence[float], close: float) -> list[tuple[float, int]]:
    """Groups of attempts within ``close`` of the group's first: (offset, count) for count > 1."""
    out: list[tuple[float, int]] = []
    start, n = None, 0
    for x in sorted(xs):
        if start is not None and x - start <= close:
            n += 1
            continue
        if start is not None and n > 1:
            out.append((start, n))
        start, n = x, 1
    if start is not None and n > 1:
        out.append((start, n))
    return out


def _stacked(xs: Sequence[float], y: float, close: float) -> list[float]:
    """Row positions for ``xs``: attempts that coincide are spread above and below the row."""
    ys = []
    previous, k = None, 0
    for x in xs:
        k = k + 1 if previous is not None and abs(x - previous) <= close else 0
        previous = x if k == 0 else previous
        ys.append(y + (0.0 if k == 0 else (-0.22 if k % 2 else 0.22) * ((k + 1) // 2)))
    return ys


def attempt_offsets(
    rows: Mapping[str, Sequence[float] | Sequence[Sequence[float]]],
    *,
    bands: Sequence[tuple[float, float]] | None = None,
    band_row: str | None = None,
    colours: Mapping[str, str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """One row per label, a mark per attempt at its offset (s) after the first attempt.

    A row may hold several series (e.g. one per jitter draw); they are drawn faint on the same
    row. ``bands`` are (low, high) windows where attempts are expected, shaded across all rows,
    or as boxes on row ``band_row`` only (clearer when bands overlap); ``colours`` maps labels
    to colours (default: one per row).
    """
    ax = _axes(ax, (10, 0.6 * len(rows) + 1.5))
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    labels = list(rows)
    for i, (band_lo, band_hi) in enumerate(bands or ()):
        label = "expected" if i == 0 else None
        if band_row is not None and band_row in rows:
            y = labels.index(band_row)
            # alternate the box heights so overlapping bands stay apart
            half = 0.32 if i % 2 == 0 else 0.22
            ax.fill_between(
                [band_lo, band_hi], y - half, y + half, color="#2ca02c", alpha=0.18, label=label
            )
        else:
            ax.axvspan(band_lo, band_hi, color="#2ca02c", alpha=0.12, label=label)
    every = [float(x) for label in labels for xs in _series(rows[label]) for x in xs]
    # attempts closer than this are drawn apart (stacked) so none hides another
    close = (max(every) - min(every)) / 150 if every else 0.0
    right = max(every) if every else 0.0
    for y, label in enumerate(labels):
        series = _series(rows[label])
        alpha = 1.0 if len(series) == 1 else max(0.25, 1.5 / len(series))
        colour = (colours or {}).get(label, palette[y % len(palette)])
        for xs in series:
            xs = [float(x) for x in xs]
            if not xs:
                continue
            ax.plot([min(xs), max(xs)], [y, y], color="#bbbbbb", lw=0.8, zorder=1)
            if len(series) > 1:
                ax.scatter(xs, [y] * len(xs), s=30, color=colour, alpha=alpha, zorder=2)
                continue
            ys = _stacked(xs, y, close)
            ax.scatter(xs, ys, s=30, color=colour, zorder=2)
            for x0, n in _coincident(xs, close):
                ax.annotate(
                    f"{n} attempts at {x0:g} s",
                    (x0, y - 0.3),
                    fontsize=7,
                    color=colour,
                    ha="left",
                    va="bottom",
                    xytext=(4, 0),
                    textcoords="offset points",
                )
            ax.annotate(
                f"{len(xs)} attempts",
                (right, y),
                xytext=(10, 0),
                textcoords="offset points",
                fontsize=8,
                va="center",
                color=colour,
                annotation_clip=False,
            )
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_xlabel("seconds after the first attempt")
    ax.grid(axis="x", alpha=0.3)
    if bands:
        ax.legend(loc="lower right", fontsize=8)
    return ax


def outage_loss(
    frame: pd.DataFrame,
    *,
    thresholds: Mapping[str, float | tuple[float, float, float] | None] | None = None,
    labels: Mapping[str, str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Loss rate against outage length from :func:`whsim.sim.sweep.outage_loss`, a line per policy.

    Over several seeds (a ``seed`` column) each line is the median and a shaded band spans the
    5-95 % of the seeds. ``thresholds`` (policy -> shortest lossy outage, s, or its
    (p5, median, p95)) are marked on each line's x axis, a band as a shaded span. ``labels``
    renames policies in the legend (e.g. to mark those an expiry cuts).
    """
    import pandas as pd

    ax = _axes(ax, (10, 5.5))
    # Policies whose loss is the same at every outage are one line, the legend naming all of
    # them, instead of lines drawn on top of each other.
    curves: dict[tuple[tuple[float, float, float, float], ...], list[str]] = {}
    data: dict[str, Any] = {}
    for policy, rows in frame.groupby("policy", sort=False):
        by = rows.groupby("outage_s")["loss_rate"]
        band = pd.DataFrame(
            {"median": by.quantile(0.5), "p5": by.quantile(0.05), "p95": by.quantile(0.95)}
        ).sort_index()
        key = tuple(
            (round(float(o), 6), *(round(100 * float(v), 6) for v in r))
            for o, r in zip(band.index, band.to_numpy(), strict=True)
        )
        curves.setdefault(key, []).append(str(policy))  # type: ignore[arg-type]
        data[str(policy)] = band
    markers = "osD^vP*X"
    names_of = labels or {}
    for i, names in enumerate(curves.values()):
        band = data[names[0]]
        shown = [names_of.get(n, n) for n in names]
        label = " = ".join(shown) + (" (identical)" if len(names) > 1 else "")
        (line,) = ax.plot(
            band.index,
            100 * band["median"],
            "-" if i < 3 else "--",
            marker=markers[i % len(markers)],
            ms=4,
            label=label,
        )
        if (band["p95"] > band["p5"]).any():
            ax.fill_between(
                band.index, 100 * band["p5"], 100 * band["p95"], color=line.get_color(), alpha=0.2
            )
        for policy in names:
            cut = (thresholds or {}).get(policy)
            if isinstance(cut, tuple):
                lo, mid, hi = cut
                ax.axvspan(lo, hi, color=line.get_color(), alpha=0.12, lw=0)
                ax.axvline(mid, color=line.get_color(), lw=0.8, ls=":")
            elif cut is not None:
                ax.axvline(cut, color=line.get_color(), lw=0.8, ls=":")
    ax.set_xscale("log")
    ticks = [1, 10, 60, 600, 3_600, 21_600, 86_400, 604_800]
    ax.set_xticks(ticks)
    ax.set_xticklabels([_duration(t) for t in ticks])
    ax.set_xlabel("receiver outage length")
    ax.set_ylabel("events created during the outage that are lost (%)")
    ax.set_ylim(-3, 103)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return ax


_STATE_COLOURS: Final = {
    "delivered": OUTCOME_COLOURS["delivered"],
    "exhausted": OUTCOME_COLOURS["exhausted"],
    "expired": OUTCOME_COLOURS["expired"],
    "rejected": OUTCOME_COLOURS["rejected"],
    "pending": "#17becf",
}


def delivery_age(result: SimResult, *, ax: Axes | None = None) -> Axes:
    """Each delivery's age when it ended (delivered, given up or expired) against when its event
    was created, coloured by final state, with the expiry as a line; sender downtime and
    receiver outages shaded. Hours on both axes.
    """
    ax = _axes(ax)
    d = result.deliveries
    scale = 3_600_000.0
    created = d["event_ms"].to_numpy(dtype=float) / scale
    age = (d["ended_ms"] - d["event_ms"]).to_numpy(dtype=float) / scale
    state = d["state"].astype(str).to_numpy()
    for name, colour in _STATE_COLOURS.items():
        mask = state == name
        if mask.any():
            ax.scatter(
                created[mask], age[mask], s=6, color=colour, label=f"{name} ({int(mask.sum())})"
            )
    expiry = result.plan.policy.expiry_ms / scale
    ax.axhline(expiry, color="black", ls="--", lw=1, label=f"expiry ({expiry:g} h)")
    _shade(ax, result, None, scale)
    ax.set_xlabel("event created (h of virtual time)")
    ax.set_ylabel("age when its delivery ended (h)")
    ax.set_title(f"{result.scenario.name}: how old deliveries were when they ended")
    ax.legend(fontsize=8, loc="upper left", markerscale=2)
    return ax


def overview(result: SimResult) -> Figure:
    """One run on one figure: its retry timeline above, the load on receivers below.

    The figure is not shown; save it (``fig.savefig``) and close it (``plt.close(fig)``).
    """
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(11, 9), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    span_ms = float(result.log.sent_ms.max()) if len(result.log.sent_ms) else 1000.0
    unit = time_unit(span_ms)
    retry_timeline(result, unit=unit, ax=top)
    shown = top.get_xlim()
    attempts_per_second(result, ax=bottom, bin_s=max(1.0, round(span_ms / 600_000)), unit=unit)
    bottom.set_xlim(shown)  # one time range for both panels (sharex keeps them together)
    top.tick_params(labelbottom=True)
    fig.tight_layout()
    return fig
