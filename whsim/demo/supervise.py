"""Subprocesses of ``whsim demo``: start a service, wait for its URL, stop it (and only it)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from whsim.core.errors import DemoError

__all__ = ["DemoError", "Log", "Processes", "whsim_command"]

_URL = re.compile(r"(https?://[\w.\-\[\]:]+(?::\d+)?(?:/\S*)?)")

Log = Callable[[str], None]


class Processes:
    """Subprocesses the demo starts; leaving the ``with`` block stops every one still running.

    Children run in their own session, so a Ctrl-C in the terminal reaches only the demo, which
    then stops them here: SIGTERM, then SIGKILL after ``grace_s``.
    """

    def __init__(self, grace_s: float = 5.0) -> None:
        self.grace_s = grace_s
        self.started: list[subprocess.Popen[bytes]] = []
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()

    def _popen(
        self, cmd: Sequence[str], stdout: Any, env: dict[str, str] | None
    ) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            list(cmd),
            stdout=stdout,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        self.started.append(proc)
        return proc

    def serve(
        self,
        cmd: Sequence[str],
        log_path: Path,
        *,
        ready: re.Pattern[str] = _URL,
        timeout_s: float = 30.0,
        env: dict[str, str] | None = None,
    ) -> tuple[subprocess.Popen[bytes], str]:
        """Start a service and wait for the line announcing its URL; returns (process, URL).

        Everything the service prints goes to ``log_path``.
        """
        log_path.parent.mkdir(parents=True, exist_ok=True)
        proc = self._popen(cmd, subprocess.PIPE, env)
        assert proc.stdout is not None
        found: list[str] = []
        seen = threading.Event()
        log = log_path.open("w", encoding="utf-8")

        def pump(stream: IO[bytes]) -> None:
            with log:
                for raw in iter(stream.readline, b""):
                    line = raw.decode("utf-8", errors="replace")
                    log.write(line)
                    log.flush()
                    if not found:
                        m = ready.search(line)
                        if m:
                            found.append(m.group(1))
                            seen.set()
            seen.set()  # the service ended (or closed its output) before announcing itself

        thread = threading.Thread(target=pump, args=(proc.stdout,), daemon=True)
        thread.start()
        self._threads.append(thread)
        if not seen.wait(timeout_s) or not found:
            self.stop(proc)
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-800:]
            raise DemoError(
                f"{' '.join(cmd[:4])} did not announce a URL within {timeout_s:g} s "
                f"(see {log_path}):\n{tail}"
            )
        return proc, found[0]

    def run(
        self,
        cmd: Sequence[str],
        log_path: Path,
        *,
        timeout_s: float = 600.0,
        env: dict[str, str] | None = None,
    ) -> int:
        """Run a command to its end, its output in ``log_path``; returns its exit code."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            proc = self._popen(cmd, log, env)
            try:
                return proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.stop(proc)
                raise DemoError(f"{' '.join(cmd[:4])} took more than {timeout_s:g} s") from None

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        """Stop one process (and its session): SIGTERM, then SIGKILL after the grace period."""
        if proc.poll() is None:
            self._signal(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=self.grace_s)
            except subprocess.TimeoutExpired:
                self._signal(proc, signal.SIGKILL)
                proc.wait(timeout=self.grace_s)
        if proc.stdout is not None:
            proc.stdout.close()

    @staticmethod
    def _signal(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)  # its own session: the group id is its pid

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            self.stop(proc)
        for thread in self._threads:
            thread.join(timeout=2)

    @property
    def running(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.started if p.poll() is None]


def whsim_command(*args: str) -> list[str]:
    """The command line of ``whsim ARGS`` run by this interpreter (no PATH lookup)."""
    return [sys.executable, "-m", "whsim.cli", *args]
