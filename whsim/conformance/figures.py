"""Inline SVG figures for conformance reports, drawn with the standard library only.

:func:`retry_timeline` draws the attempts the kit observed on one scenario path against the
bands it expected them in; the string goes into a case's ``details["figures"]`` and the HTML
report embeds it as is.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Mark", "Window", "pack_labels", "retry_timeline"]


@dataclass(frozen=True, slots=True)
class Mark:
    """An observed attempt at ``t`` seconds from the first, labelled (e.g. ``"500"``)."""

    t: float
    label: str
    bad: bool = False
    end: float | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """Where an attempt was expected: passing band ``[low, high]``, non-strict up to ``lenient``."""

    low: float
    high: float
    lenient: float
    label: str = ""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


# Label geometry, in SVG units (the page shows the SVG at 1:1 or wider): 11 px sans-serif text is
# at most this wide per character. Labels are packed into rows with this estimate, so two labels
# of one row never share a pixel however close their attempts are.
_FONT_PX = 11
_CHAR_W = 7.0
_ROW_H = 14
_TICK_MIN_GAP = 8


def _width_of(text: str) -> float:
    return _CHAR_W * len(text) + 4


def pack_labels(spans: Sequence[tuple[float, float]], *, gap: float = 4.0) -> list[int]:
    """For each ``(x, width)`` span in drawing order, the row (0, 1, ...) it goes in.

    Greedy: a label takes the first row whose last label ends at least ``gap`` before it starts,
    so no two labels of a row overlap and the number of rows stays small.
    """
    ends: list[float] = []
    rows = []
    for x0, w in spans:
        for i, end in enumerate(ends):
            if x0 >= end + gap:
                ends[i] = x0 + w
                rows.append(i)
                break
        else:
            ends.append(x0 + w)
            rows.append(len(ends) - 1)
    return rows


def retry_timeline(
    title: str,
    marks: Sequence[Mark],
    windows: Sequence[Window],
    *,
    quiet_until: float | None = None,
    width: int = 1280,
) -> str:
    """An SVG timeline: expected windows as shaded bands, observed attempts as ticks.

    ``quiet_until`` draws the window after the last observed attempt in which the kit watched for
    another one (grey). The SVG scales to the width of its container (``width`` is its drawing
    width); each attempt's label ("#2 500") sits in the first row where it overlaps no other
    label, so attempts a few milliseconds apart (an immediate retry) stay readable.
    """
    ends = [m.end for m in marks if m.end is not None]
    horizon = max(
        [1.0, *(m.t for m in marks), *ends, *(w.lenient for w in windows), quiet_until or 0.0]
    )
    horizon *= 1.03
    left, right = 12, 12
    plot = width - left - right

    def x(t: float) -> float:
        return left + plot * max(0.0, t) / horizon

    texts = [f"#{i} {m.label}" for i, m in enumerate(marks, start=1)]
    spans = []
    for m, text in zip(marks, texts, strict=True):
        wide = _width_of(text)
        spans.append((min(x(m.t) + 2, width - right - wide), wide))
    rows = pack_labels(spans)
    n_rows = max(rows, default=0) + 1
    top = 44  # title and legend above
    labels_h = n_rows * _ROW_H + 4
    lane = max(30, labels_h + 12)
    y0, y1 = top, top + lane
    axis_y = y1 + 8
    height = axis_y + 34
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" '
        f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet" role="img" '
        f'aria-label="{_e(title)}" class="timeline" '
        f'style="font:{_FONT_PX}px sans-serif;background:#fff;max-width:{width}px">',
        f'<text x="{left}" y="14" font-weight="bold">{_e(title)}</text>',
        f'<text x="{left}" y="30" fill="#555">green: expected band · orange: non-strict · '
        "grey: watched, quiet · blue: attempts · red: out of band</text>",
    ]
    for w in windows:
        parts.append(
            f'<rect x="{x(w.high):.1f}" y="{y0}" width="{max(1.0, x(w.lenient) - x(w.high)):.1f}" '
            f'height="{lane}" fill="#ffe0b2"><title>{_e(w.label)} non-strict up to '
            f"{w.lenient:.3f} s</title></rect>"
        )
        parts.append(
            f'<rect x="{x(w.low):.1f}" y="{y0}" width="{max(1.5, x(w.high) - x(w.low)):.1f}" '
            f'height="{lane}" fill="#c8e6c9" stroke="#2e7d32" stroke-width="0.5">'
            f"<title>{_e(w.label)} expected in [{w.low:.3f}, {w.high:.3f}] s</title></rect>"
        )
    if quiet_until is not None and marks:
        start = max((m.end or m.t) for m in marks)
        if quiet_until > start:
            parts.append(
                f'<rect x="{x(start):.1f}" y="{y1 - 6}" width="{x(quiet_until) - x(start):.1f}" '
                f'height="6" fill="#e0e0e0"><title>quiet window: no attempt expected until '
                f"{quiet_until:.3f} s</title></rect>"
            )
    for i, (m, text, row, span) in enumerate(zip(marks, texts, rows, spans, strict=True), 1):
        colour = "#c62828" if m.bad else "#1565c0"
        if m.end is not None and m.end > m.t:
            parts.append(
                f'<rect x="{x(m.t):.1f}" y="{y1 - 12:.1f}" '
                f'width="{max(1.0, x(m.end) - x(m.t)):.1f}" height="6" fill="{colour}" '
                f'opacity="0.35"><title>attempt {i} open until {m.end:.3f} s</title></rect>'
            )
        parts.append(
            f'<line x1="{x(m.t):.1f}" y1="{y0 - 2}" x2="{x(m.t):.1f}" y2="{y1 + 2}" '
            f'stroke="{colour}" stroke-width="2"><title>attempt {i} at {m.t:.3f} s: '
            f"{_e(m.label)}</title></line>"
        )
        parts.append(
            f'<text x="{span[0]:.1f}" y="{y0 + 12 + _ROW_H * row}" fill="{colour}">'
            f"{_e(text)}</text>"
        )
    parts.append(
        f'<line x1="{left}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}" stroke="#333"/>'
    )
    step = _tick_step(horizon, plot)
    t = 0.0
    while t <= horizon + 1e-9:
        anchor = "start" if t == 0 else "middle"
        parts.append(
            f'<line x1="{x(t):.1f}" y1="{axis_y}" x2="{x(t):.1f}" y2="{axis_y + 4}" stroke="#333"/>'
            f'<text x="{x(t):.1f}" y="{axis_y + 16}" text-anchor="{anchor}">{t:g}</text>'
        )
        t = round(t + step, 9)
    parts.append(
        f'<text x="{width - right}" y="{axis_y + 30}" text-anchor="end" fill="#555">seconds since '
        "the first attempt (kit's monotonic clock)</text></svg>"
    )
    return "".join(parts)


def _tick_step(horizon: float, plot: float = 900.0) -> float:
    """The smallest round step that leaves room for every tick label (and at most 20 ticks)."""
    room = _width_of("000.0") + _TICK_MIN_GAP
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600):
        n = horizon / step
        if n <= 20 and plot / max(n, 1) >= room:
            return float(step)
    return 1200.0
