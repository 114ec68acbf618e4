"""Live progress of a conformance run: what is running, for how long, and what is left.

Two modes, chosen by :func:`is_live`:

- **live** (a terminal, and not CI): a rich display with one line per running scenario or case,
  each with its elapsed time against its expected time (the scenario's schedule), and a line
  counting the cases done and left. Finished cases print above it, one line each.
- **lines** (a pipe, a file, or ``CI`` set): only the finished-case lines, one per case, so a CI
  log reads top to bottom.

A finished-case line is ``[ 3/33] RCV-SIG-003  pass   0.12 s  a wrong signature ... (401)``.
Everything is rendered by rich; the class only keeps which tasks are open. Its methods may be
called from any thread (the sender suite's scenarios run in threads).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import IO, Final

from rich.console import Console
from rich.progress import Progress as RichProgress
from rich.progress import ProgressColumn, SpinnerColumn, Task, TaskID, TextColumn
from rich.progress_bar import ProgressBar
from rich.table import Column
from rich.text import Text

__all__ = ["Progress", "is_ci", "is_live"]

_TRUE: Final = {"1", "true", "yes", "on"}
BAR_WIDTH: Final = 24


def is_ci(environ: dict[str, str] | None = None) -> bool:
    """True when ``CI`` says so (GitHub Actions, GitLab, CircleCI... set ``CI=true``)."""
    env = os.environ if environ is None else environ
    return env.get("CI", "").strip().lower() in _TRUE


def is_live(console: Console, environ: dict[str, str] | None = None) -> bool:
    """Whether ``console`` gets the live display (a terminal, not CI, not ``TERM=dumb``)."""
    return console.is_terminal and not console.is_dumb_terminal and not is_ci(environ)


class _Bar(ProgressColumn):
    """Cases done of all; a running task's elapsed time of its expected time (pulses if unknown)."""

    def render(self, task: Task) -> ProgressBar:
        if task.fields.get("kind") == "cases":
            return ProgressBar(total=task.total, completed=task.completed, width=BAR_WIDTH)
        expected = float(task.fields.get("expected") or 0.0)
        elapsed = task.elapsed or 0.0
        if expected <= 0:
            return ProgressBar(total=None, width=BAR_WIDTH, animation_time=elapsed)
        return ProgressBar(total=expected, completed=min(elapsed, expected), width=BAR_WIDTH)


class _Clock(ProgressColumn):
    """``12.5 s / 47.0 s expected``, ``3/33 cases done, 30 left``, ``0.4 s`` (no estimate)."""

    def render(self, task: Task) -> Text:
        if task.fields.get("kind") == "cases":
            total = int(task.total or 0)
            done = int(task.completed)
            return Text(f"{done}/{total} cases done, {total - done} left", style="bold")
        elapsed = task.elapsed or 0.0
        expected = float(task.fields.get("expected") or 0.0)
        if expected <= 0:
            return Text(f"{elapsed:6.1f} s")
        late = elapsed > expected
        return Text(f"{elapsed:6.1f} s / {expected:.1f} s expected", style="yellow" if late else "")


class Progress:
    """The progress of one suite run over ``total`` cases, on ``console``.

    ``live`` picks the mode (default: :func:`is_live`). ``get_time`` is rich's clock (monotonic
    seconds); a test passes its own to render a known elapsed time.
    """

    def __init__(
        self,
        total: int,
        console: Console,
        *,
        live: bool | None = None,
        get_time: Callable[[], float] | None = None,
    ) -> None:
        self.total = total
        self.console = console
        self.live = is_live(console) if live is None else live
        self.done = 0
        self._lock = threading.Lock()
        self._expected: dict[str, float] = {}
        self._open: dict[str, TaskID] = {}
        self._rich: RichProgress | None = None
        self._cases: TaskID | None = None
        self._owned: IO[str] | None = None
        if self.live:
            self._rich = RichProgress(
                SpinnerColumn(),
                TextColumn(
                    "{task.description}",
                    table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis"),
                ),
                _Bar(table_column=Column(no_wrap=True, width=BAR_WIDTH)),
                _Clock(table_column=Column(no_wrap=True, min_width=30)),
                console=console,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
                refresh_per_second=4,
                get_time=get_time,
            )
            self._cases = self._rich.add_task("whsim conformance", total=total, kind="cases")

    @classmethod
    def on(
        cls, total: int, stream: IO[str], *, live: bool | None = None, owned: bool = False
    ) -> Progress:
        """A progress writing to ``stream`` (rich decides colour and width from it).

        ``owned``: :meth:`stop` closes the stream (a duplicate the caller made for it).
        """
        progress = cls(total, Console(file=stream, highlight=False, soft_wrap=True), live=live)
        progress._owned = stream if owned else None
        return progress

    # --- lifetime ------------------------------------------------------------------------------

    def start(self) -> None:
        if self._rich is not None:
            self._rich.start()

    def stop(self) -> None:
        """Remove the live lines (the finished-case lines stay). Safe to call twice."""
        if self._rich is not None:
            self._rich.stop()
            self._rich = None
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    def refresh(self) -> None:
        if self._rich is not None:
            self._rich.refresh()

    # --- what runs -----------------------------------------------------------------------------

    def expect(self, key: str, seconds: float) -> None:
        """The expected duration of the case or scenario ``key``, shown while it runs."""
        with self._lock:
            self._expected[key] = seconds

    def _begin(self, key: str, description: str, expected: float | None) -> None:
        with self._lock:
            if self._rich is None or key in self._open:
                return
            seconds = self._expected.get(key, 0.0) if expected is None else expected
            self._open[key] = self._rich.add_task(description, expected=seconds, kind="running")

    def _end(self, key: str) -> None:
        with self._lock:
            task = self._open.pop(key, None)
            if task is not None and self._rich is not None:
                self._rich.remove_task(task)

    def case_started(self, case_id: str, title: str) -> None:
        self._begin(f"case {case_id}", f"{case_id} {title}", self._expected.get(case_id))

    def scenario_started(
        self, name: str, expected_s: float | None = None, cases: Sequence[str] = ()
    ) -> None:
        """A scenario (a webhook the kit watches) began; ``cases``: the cases that grade it."""
        graded = f" (for {', '.join(cases)})" if cases else ""
        self._begin(f"scenario {name}", f"scenario {name}{graded}", expected_s)

    def scenario_finished(self, name: str) -> None:
        self._end(f"scenario {name}")

    def case_finished(self, case_id: str, outcome: str, duration_s: float, title: str = "") -> None:
        """One line for the finished case; the live display counts it."""
        self._end(f"case {case_id}")
        with self._lock:
            self.done += 1
            done = self.done
            if self._rich is not None and self._cases is not None:
                self._rich.update(self._cases, completed=done)
        width = len(str(self.total))
        line = Text(f"[{done:>{width}}/{self.total}] ")
        line.append(f"{case_id:<17}", style="bold")
        line.append(f" {outcome:<10}", style=_STYLE.get(outcome, ""))
        line.append(f" {duration_s:6.2f} s  {title}")
        self.console.print(line, soft_wrap=True, highlight=False)


_STYLE: Final = {
    "pass": "green",
    "info": "cyan",
    "non-strict": "yellow",
    "untestable": "yellow",
    "fail": "bold red",
    "error": "bold red",
}
