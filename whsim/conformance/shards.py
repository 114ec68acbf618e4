"""Grade a JSONL trace in endpoint shards, one process each, with the verdicts of one process.

Everything :class:`~whsim.conformance.grader.Grader` keeps is per endpoint (the URL): events by
(url, event id), jobs by (url, job id), content fingerprints, signature counts, secrets. Only
three things are global: the attempt count (when to sweep), and the latest start and end seen
(which events a sweep closes; whether a missing retry was due). So the parent reads the file
line by line, parses each line for its url and times (:func:`~whsim.conformance.trace.line_fields`),
and sends the raw line to the worker that owns its endpoint (endpoints dealt out in order of first
appearance); wherever the one-process grader sweeps, it sends every worker the count and both
times, so each shard closes the same events at the same point with the same knowledge.

Each example or attempt a case keeps carries a :data:`~whsim.conformance.grader.Key` saying where
the one-process grader would have made it; the parent adds the counts up and keeps the first
examples by key, so outcomes, messages, details, example order and counts are those of one
process (``tests/test_check_shards.py`` compares them case by case).

Memory stays bounded: the parent holds one batch of lines per worker, each worker one retry
window of its endpoints. A worker ignores Ctrl-C (the parent stops it); one that dies or fails
makes :func:`grade_file` raise :class:`GradingError`, one line, after stopping the others. HAR
files, DataFrames, ``--simulate`` and traces smaller than :data:`MIN_PARALLEL_BYTES` are graded in
one process; so is a trace with one endpoint, in effect (all its lines go to one worker).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final

from whsim.conformance.grader import (
    _EXAMPLES,
    _KEEP_EXCHANGES,
    _SWEEP_EVERY,
    MAX_WORKERS,
    Grader,
    without_cycle_collector,
)
from whsim.conformance.trace import MAX_LINE, UNPARSED, TraceMeta, line_attempt, line_fields
from whsim.core.errors import TraceError, WhsimError
from whsim.core.readings import Readings

__all__ = ["MAX_WORKERS", "MIN_PARALLEL_BYTES", "GradingError", "grade_file"]

MIN_PARALLEL_BYTES: Final = 8 << 20
"""Below this (about 16 k attempts) starting processes costs more than it saves: one process."""
BATCH: Final = 1024
"""Lines sent to a worker at once (about 0.5 MB): few messages, little memory in flight."""


class GradingError(WhsimError):
    """A grading worker died or failed: the grade is abandoned (one line, exit 2)."""


def _worker(conn: _Duplex, config: dict[str, Any]) -> None:
    """One shard: lines in, the grader's state out."""
    g = Grader(**config)
    g.auto_sweep = False
    failed = False
    number = 0
    try:
        with without_cycle_collector():
            while True:
                kind, payload = conn.recv()
                if kind == "finish":
                    if failed:
                        conn.send(("stopped", None))
                    else:
                        g.count, g.end_ns = payload
                        g.drain()
                        conn.send(("done", _state(g)))
                    return
                if failed:
                    continue
                for item in payload:
                    if len(item) == 3:
                        count, number, line = item
                        try:
                            a = line_attempt(line, number)
                        except TraceError as exc:
                            failed = True
                            conn.send(("error", (number, str(exc), exc.where, exc.field)))
                            break
                        assert a is not None  # the parent sends no header line
                        g.count = count - 1
                        g.add(a)
                    else:  # where the one-process grader sweeps
                        g.count, g.max_start, g.end_ns, _ = item
                        g._sweep()
    except (EOFError, BrokenPipeError, ConnectionResetError):  # the parent went away
        return
    except Exception as exc:
        last = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{Path(last.filename).name}:{last.lineno}"
        conn.send(("crash", f"{type(exc).__name__}: {exc} (line {number}; at {where})"))


def _state(g: Grader) -> dict[str, Any]:
    for ep in g.endpoints.values():
        ep.fingerprints = {}  # only needed while attempts come
    return {
        "tally": g.tally,
        "endpoints": g.endpoints,
        "fits": g.fits,
        "fit_events": g.fit_events,
    }


def _merge(g: Grader, states: Sequence[dict[str, Any]]) -> None:
    """Fill ``g`` (fresh, same settings) with the shards' states as one process would have."""
    for cid, t in g.tally.items():
        parts = [s["tally"][cid] for s in states]
        t.checked = sum(p.checked for p in parts)
        t.bad = sum(p.bad for p in parts)
        t.unobserved = sum(p.unobserved for p in parts)
        # Python's sort is stable and equal keys come from one shard, in its own order.
        examples = sorted(
            ((k, e) for p in parts for k, e in zip(p.example_at, p.examples, strict=True)),
            key=lambda ke: ke[0],
        )[:_EXAMPLES]
        t.examples = [e for _, e in examples]
        t.example_at = [k for k, _ in examples]
        # Before any failure a case keeps the first attempt that held; after, the failing ones.
        kept = sorted(
            (
                (k, a)
                for p in parts
                if bool(p.bad) == bool(t.bad)
                for k, a in zip(p.attempt_at, p.attempts, strict=True)
            ),
            key=lambda ka: ka[0],
        )[: _KEEP_EXCHANGES if t.bad else 1]
        t.attempts = [a for _, a in kept]
        t.attempt_at = [k for k, _ in kept]
    endpoints = [ep for s in states for ep in s["endpoints"].values()]
    g.endpoints = {ep.url: ep for ep in sorted(endpoints, key=lambda ep: ep.first)}
    for pol in g.candidates:
        rows = [s["fits"][pol.name] for s in states if pol.name in s["fits"]]
        if rows:
            g.fits[pol.name] = [sum(r[0] for r in rows), sum(r[1] for r in rows)]
    g.fit_events = sum(s["fit_events"] for s in states)


def _trace_error(number: int, text: str, where: str, field: str | None) -> TraceError:
    message = text[len(where) + 2 :] if where and text.startswith(where + ": ") else text
    return TraceError(message, where=where, field=field)


_BOOT: Final = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from whsim.conformance.shards import _main; _main(int(sys.argv[2]), int(sys.argv[3]))"
)
"""A worker's whole command line: this whsim, then the shard loop on two inherited pipes."""


def _main(read_fd: int, write_fd: int) -> None:
    """A worker process: its settings, then :func:`_worker` (started by :class:`_Pool`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's
    inbox = Connection(read_fd, writable=False)
    outbox = Connection(write_fd, readable=False)
    try:
        config = inbox.recv()
    except (EOFError, OSError):
        return
    _worker(_Duplex(inbox, outbox), config)


class _Duplex:
    """Two one-way pipes as the one connection :func:`_worker` reads and writes."""

    def __init__(self, inbox: Connection, outbox: Connection) -> None:
        self.inbox, self.outbox = inbox, outbox

    def recv(self) -> Any:
        return self.inbox.recv()

    def send(self, obj: Any) -> None:
        self.outbox.send(obj)

    def poll(self) -> bool:
        return self.inbox.poll()

    def close(self) -> None:
        self.inbox.close()
        self.outbox.close()


class _Pool:
    """The worker processes and their pipes; :meth:`close` stops whatever still runs.

    Each worker is a fresh interpreter (``sys.executable``) importing this whsim, in its own
    process group so a Ctrl-C at the terminal reaches the parent only; the parent stops it.
    Not multiprocessing: its spawn re-imports the caller's main script (a script without a
    ``__main__`` guard would start graders forever), and fork copies a parent's threads' locks.
    A worker's stderr goes to a temporary file, whose last line explains an unexpected exit.
    """

    def __init__(self, n: int, config: dict[str, Any]) -> None:
        import whsim

        here = str(Path(whsim.__file__).resolve().parent.parent)
        self.conns: list[_Duplex] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Any] = []
        self.errors: list[tuple[int, TraceError]] = []
        try:
            for _ in range(n):
                down_r, down_w = os.pipe()
                up_r, up_w = os.pipe()
                log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
                self.logs.append(log)
                try:
                    proc = subprocess.Popen(
                        [sys.executable, "-c", _BOOT, here, str(down_r), str(up_w)],
                        pass_fds=(down_r, up_w),
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                        process_group=0,
                    )
                finally:
                    os.close(down_r)
                    os.close(up_w)
                self.procs.append(proc)
                conn = _Duplex(Connection(up_r, writable=False), Connection(down_w, readable=False))
                self.conns.append(conn)
                try:
                    conn.send(config)
                except OSError:  # it died at once (BrokenPipeError is one)
                    raise self._lost(len(self.conns) - 1) from None
        except BaseException:
            self.close()
            raise

    def _lost(self, i: int) -> GradingError:
        conn = self.conns[i]
        try:
            while conn.poll():  # its last words, when it had any
                self._take(i, conn.recv())
        except (EOFError, OSError):
            pass
        proc = self.procs[i]
        try:
            code: int | None = proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        how = f"exit code {code}" if code is None or code >= 0 else f"signal {-code}"
        log = self.logs[i]
        log.seek(0)
        said = [line for line in log.read().decode("utf-8", "replace").splitlines() if line]
        why = f": {said[-1][:200]}" if said else ""
        return GradingError(
            f"grading worker {i + 1} of {len(self.procs)} stopped unexpectedly ({how}){why}; "
            "nothing was graded (--workers 1 grades in this process)"
        )

    def _take(self, i: int, message: tuple[str, Any]) -> Any:
        kind, payload = message
        if kind == "error":
            number, text, where, field = payload
            self.errors.append((number, _trace_error(number, text, where, field)))
            return None
        if kind == "crash":
            raise GradingError(
                f"grading worker {i + 1} of {len(self.procs)} failed: {payload} "
                "(--workers 1 grades in this process)"
            )
        return payload

    def send(self, i: int, items: list[tuple[Any, ...]]) -> None:
        conn = self.conns[i]
        try:
            while conn.poll():  # an early error: keep it, the worker drains what comes
                self._take(i, conn.recv())
            conn.send(("lines", items))
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
            raise self._lost(i) from None

    def finish(self, count: int, end_ns: int) -> list[dict[str, Any]]:
        for i, conn in enumerate(self.conns):
            try:
                conn.send(("finish", (count, end_ns)))
            except (BrokenPipeError, ConnectionResetError, OSError):
                raise self._lost(i) from None
        states = []
        for i, conn in enumerate(self.conns):
            while True:
                try:
                    message = conn.recv()
                except (EOFError, ConnectionResetError, OSError):
                    if self.errors:  # a worker that reported an error and stopped
                        break
                    raise self._lost(i) from None
                state = self._take(i, message)
                if message[0] == "done":
                    states.append(state)
                    break
                if message[0] == "stopped":
                    break
        return states

    def close(self) -> None:
        for conn in self.conns:
            conn.close()  # a worker still reading sees the end and exits
        for proc in self.procs:
            try:
                proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=2)
                except subprocess.TimeoutExpired:  # pragma: no cover - ignores SIGTERM
                    proc.kill()
                    proc.wait()
        for log in self.logs:
            log.close()


def grade_file(
    path: str | Path,
    *,
    workers: int,
    readings: Readings,
    secrets: Mapping[str, list[str]] | Sequence[str] | None,
    time_scale: float | None,
    timing: str,
    meta: list[TraceMeta],
) -> tuple[Grader, float]:
    """Grade the JSONL trace at ``path`` in ``workers`` processes; the grader holding the merged
    state (drained: call :meth:`Grader.finish` for the results) and the time scale used (the
    given one, else the header line's, else 1). ``meta`` receives the header lines.

    Raises :class:`TraceError` for the first bad line, as reading in one process does.
    """
    with open(path, "rb") as stream:
        readline = stream.readline
        number = 0
        first: tuple[int, bytes, Any] | None = None
        while first is None:  # header lines come before the scale is fixed
            line = readline(MAX_LINE + 1)
            if not line:
                break
            number += 1
            if len(line) > MAX_LINE:
                raise TraceError(f"longer than {MAX_LINE} bytes", where=f"line {number}")
            if line.isspace():
                continue
            doc = line_fields(line, number, meta)
            if doc is not UNPARSED:
                first = (number, line, doc)
        scale = time_scale or (meta[0].time_scale if meta else 1.0)
        if not scale > 0:
            raise TraceError("the time scale must be positive", where="--time-scale")
        config: dict[str, Any] = {
            "readings": readings,
            "secrets": secrets,
            "time_scale": scale,
            "timing": timing,
        }
        merged = Grader(**config)
        if first is None:
            return merged, scale
        pool = _Pool(workers, config)
        try:
            count, max_start, end_ns, stopped = _route(stream, pool, workers, first, meta)
            final_end = end_ns
            if meta and meta[0].end_ns is not None:
                final_end = max(final_end, meta[0].end_ns)
            states = pool.finish(count, final_end)
            errors = list(pool.errors)
            if stopped is not None:
                errors.append(stopped)
            if errors:
                raise min(errors, key=lambda e: e[0])[1]
        finally:
            pool.close()
    _merge(merged, states)
    merged.count, merged.max_start, merged.end_ns = count, max_start, end_ns
    return merged, scale


def _route(
    stream: Any,
    pool: _Pool,
    n: int,
    first: tuple[int, bytes, Any],
    meta: list[TraceMeta],
) -> tuple[int, int, int, tuple[int, TraceError] | None]:
    """Send every attempt line to its endpoint's worker and the sweeps to all; the count, the
    latest start and end, and the parent's own first error (a line that is not JSON)."""
    readline = stream.readline
    owner: dict[Any, int] = {}
    buffers: list[list[tuple[Any, ...]]] = [[] for _ in range(n)]
    count = max_start = end_ns = 0
    number, line, doc = first
    with without_cycle_collector():
        while True:
            if type(doc) is dict:
                url = doc.get("url")
                start = doc.get("start_ns")
                end = doc.get("end_ns")
                if type(start) is int and start > max_start:
                    max_start = start
                if type(end) is int and end > end_ns:
                    end_ns = end
            else:
                url = None  # not an object: its worker says so, naming the line
            try:
                shard = owner.get(url)
            except TypeError:  # an unhashable url: refused by its worker
                shard = 0
            if shard is None:
                shard = owner[url] = len(owner) % n
            count += 1
            buf = buffers[shard]
            buf.append((count, number, line))
            if len(buf) >= BATCH:
                pool.send(shard, buf)
                buffers[shard] = []
            if count % _SWEEP_EVERY == 0:
                for b in buffers:
                    b.append((count, max_start, end_ns, 0))
            if pool.errors:  # a worker refused a line: later lines cannot matter
                break
            while True:  # the next attempt line
                line = readline(MAX_LINE + 1)
                if not line:
                    doc = None
                    break
                number += 1
                try:
                    if len(line) > MAX_LINE:
                        raise TraceError(f"longer than {MAX_LINE} bytes", where=f"line {number}")
                    if line.isspace():
                        continue
                    doc = line_fields(line, number, meta)
                except TraceError as exc:
                    _flush(pool, buffers)
                    return count, max_start, end_ns, (number, exc)
                if doc is not UNPARSED:
                    break
            if not line:
                break
    _flush(pool, buffers)
    return count, max_start, end_ns, None


def _flush(pool: _Pool, buffers: list[list[tuple[Any, ...]]]) -> None:
    for i, buf in enumerate(buffers):
        if buf:
            pool.send(i, buf)
            buffers[i] = []
