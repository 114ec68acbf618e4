"""Headless Chromium for layout tests: page height, figure boxes and overlapping labels.

No browser driver is needed: :func:`measure` copies the page beside itself with a script
appended that, once the page and its images have loaded, writes its measurements as JSON into a
``<pre id="whsim-measure">`` element; ``chromium --dump-dom`` prints the DOM and we read it back.
``make test`` installs Debian's ``chromium`` when it is missing (``scripts/ensure-chromium``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Layout", "chromium", "measure", "screenshot"]

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)

# Runs on the page's load event (all images loaded or failed). A figure is an <svg> not inside
# another svg, an <img>, or a <figure>; its text labels are the svg's <text> elements.
_SCRIPT = r"""
<script>
window.addEventListener("load", () => {
  const box = (el) => { const r = el.getBoundingClientRect();
    return {x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height}; };
  const figures = [];
  for (const el of document.querySelectorAll("svg, img")) {
    if (el.tagName.toLowerCase() === "svg" && el.parentElement.closest("svg")) continue;
    const f = {tag: el.tagName.toLowerCase(), name: el.getAttribute("aria-label") ||
               el.getAttribute("alt") || el.getAttribute("src") || "", box: box(el)};
    if (f.tag === "img") { f.natural = [el.naturalWidth, el.naturalHeight]; }
    else { f.marks = el.querySelectorAll("line, rect, circle, path, polyline").length;
           f.labels = [...el.querySelectorAll("text")].filter((t) => t.textContent.trim())
             .map((t) => ({text: t.textContent, box: box(t)})); }
    figures.push(f);
  }
  const wide = [...document.querySelectorAll("pre, code, td, p, li")]
    .filter((el) => el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === "visible")
    .map((el) => el.tagName.toLowerCase() + ": " + el.textContent.slice(0, 80));
  const ids = {};
  for (const el of document.querySelectorAll("[id]")) { ids[el.id] = box(el).y; }
  const out = document.createElement("pre");
  out.id = "whsim-measure";
  out.textContent = JSON.stringify({
    height: document.documentElement.scrollHeight, width: document.documentElement.scrollWidth,
    viewport: innerWidth, figures, wide, ids});
  document.body.appendChild(out);
});
</script>
"""


def chromium() -> str | None:
    """The Chromium binary on PATH, or None."""
    return next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
        None,
    )


def _run(args: list[str], profile: Path, timeout: float = 120) -> str:
    binary = chromium()
    assert binary is not None, "headless Chromium is not installed (Debian package: chromium)"
    done = subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _overlaps(a: dict[str, float], b: dict[str, float], slack: float = 0.5) -> bool:
    return (
        a["x"] + slack < b["x"] + b["w"]
        and b["x"] + slack < a["x"] + a["w"]
        and a["y"] + slack < b["y"] + b["h"]
        and b["y"] + slack < a["y"] + a["h"]
    )


@dataclass(frozen=True)
class Layout:
    """What Chromium measured on one page at one window width (CSS pixels)."""

    height: int
    width: int
    viewport: int
    figures: list[dict[str, Any]]
    wide: list[str]
    ids: dict[str, float]
    """The top (y) of every element with an id."""

    def blank_figures(self) -> list[str]:
        """Figures with an empty box, an image that did not load, or an svg with nothing drawn."""
        bad = []
        for f in self.figures:
            b = f["box"]
            drawn = f["natural"][0] > 0 if f["tag"] == "img" else f["marks"] > 0
            empty = b["w"] < 20 or b["h"] < 20 or not drawn
            if empty:
                bad.append(f"{f['tag']} {f['name']!r}: {b}")
        return bad

    def overlapping_labels(self) -> list[str]:
        """Pairs of text labels, within one svg figure, whose boxes intersect."""
        pairs = []
        for f in self.figures:
            labels = f.get("labels", [])
            for i, a in enumerate(labels):
                for b in labels[i + 1 :]:
                    if _overlaps(a["box"], b["box"]):
                        pairs.append(f"{f['name']!r}: {a['text']!r} overlaps {b['text']!r}")
        return pairs


def measure(page: Path, *, width: int = 1400, height: int = 900) -> Layout:
    """Load ``page`` (a local HTML file) at ``width`` x ``height`` and measure it."""
    source = page.read_text(encoding="utf-8")
    probe = page.with_name(f".measure-{page.name}")
    probe.write_text(source.replace("</body>", _SCRIPT + "</body>", 1), encoding="utf-8")
    try:
        with tempfile.TemporaryDirectory(prefix="whsim-chromium-") as profile:
            dom = _run(
                [
                    f"--window-size={width},{height}",
                    "--virtual-time-budget=10000",
                    "--dump-dom",
                    probe.as_uri(),
                ],
                Path(profile),
            )
    finally:
        probe.unlink()
    found = re.search(r'<pre id="whsim-measure">(.*?)</pre>', dom, re.S)
    assert found, f"the measuring script did not run on {page}:\n{dom[-1500:]}"
    data = json.loads(
        found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    )
    return Layout(**data)


def screenshot(page: Path, target: Path, *, width: int = 1400, height: int | None = None) -> Path:
    """A PNG of the whole page (``height`` defaults to the page's measured height)."""
    tall = height or min(measure(page, width=width).height, 20_000)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="whsim-chromium-") as profile:
        _run(
            [
                f"--window-size={width},{tall}",
                "--virtual-time-budget=10000",
                f"--screenshot={target}",
                page.as_uri(),
            ],
            Path(profile),
        )
    return target
