"""`whsim check` on a large trace: 1 M recorded attempts graded, against a plain JSONL parse.

Writes a synthetic JSONL trace (docs/trace-format.md) into a temporary directory that is removed
at the end, then runs two fresh interpreters over the same file: the baseline reads every line
with ``json.loads`` and does nothing else; the measured one runs ``whsim check FILE --secret S``.
Each child reports its own peak RSS (``resource.getrusage``), so neither inherits the other's.
Prints one JSON object: seconds, attempts/s, peak RSS of both, and the ratios.

The trace is what a busy sender's delivery log looks like: 100 endpoints, one event every
``--spacing-ms`` (10 ms, 100 events/s), correctly signed, time-ordered; 85 % of events are
answered 200 at once, 10 % get one 500 then 200, 4 % three 500s, 1 % fail all six attempts of
the default reading (``backoff-only``: 1, 2, 4, 8, 16 s), with a few 400s, timeouts and
connection errors; a third of the events belong to jobs (created, started, progress twice 11 s
apart, completed). Target (issue 16): 1 M attempts in under 30 s, memory bounded (the grader
keeps one retry window of events, so peak RSS grows with the rate, not the file).

Run: ``.venv/bin/python benchmarks/bench_check.py [--attempts 1000000] [--keep]``.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import hmac
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from whsim.cores import usable_cores

SECRET = "bench-secret-0123456789abcdef"
DELAYS_S = (1, 2, 4, 8, 16)  # RETRY-1 backoff-only, from-failure
ANSWER_NS = 20_000_000  # each answer takes 20 ms
MAX_BYTES = 2_000_000_000  # refuse to write a trace larger than this

BASELINE = """
import json, resource, sys, time
t = time.perf_counter(); c = time.process_time(); n = 0
with open(sys.argv[1], "rb") as f:
    for line in f:
        json.loads(line); n += 1
print(json.dumps({"s": time.perf_counter() - t, "cpu_s": time.process_time() - c, "lines": n,
                  "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

MEASURED = """
import contextlib, io, json, resource, sys, time
from whsim.cli import main
t = time.perf_counter(); c = time.process_time(); out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(["check", sys.argv[1], "--secret", sys.argv[2], *sys.argv[3:]])
kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # the grading workers, when there are any
print(json.dumps({"s": time.perf_counter() - t, "cpu_s": time.process_time() - c, "exit": code,
                  "workers_cpu_s": kids.ru_utime + kids.ru_stime, "tail": out.getvalue()[-3000:],
                  "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "workers_rss_kb": kids.ru_maxrss}))
"""


def _stamp(ns: int) -> str:
    moment = datetime.fromtimestamp(ns / 1e9, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _answers(rng: random.Random) -> list[tuple[int | None, str | None]]:
    """The answers one event gets, in order: (status, error)."""
    r = rng.random()
    if r < 0.85:
        return [(200, None)]
    if r < 0.95:
        first = rng.choice([(500, None), (503, None), (None, "timeout"), (None, "connect")])
        return [first, (200, None)]
    if r < 0.99:
        return [(500, None)] * 3 + [(200, None)]
    if r < 0.995:
        return [(400, None)]
    return [(500, None)] * 6


def write_trace(path: Path, attempts: int, spacing_ms: float, seed: int) -> int:
    """A time-ordered, signed JSONL trace of about ``attempts`` attempts; returns the count."""
    rng = random.Random(seed)
    key = SECRET.encode()
    t0 = 1_700_000_000 * 10**9
    pending: list[tuple[int, int, str]] = []  # (start_ns, seq, line) not yet written
    written = seq = events = 0
    jobs: list[tuple[int, str, int, int]] = []  # planned job events (start_ns, type, job, step)
    with open(path, "w", encoding="utf-8") as out:
        out.write(json.dumps({"whsim_trace": 1, "source": "bench_check", "time_scale": 1}) + "\n")
        while written + len(pending) < attempts:
            now = t0 + int(events * spacing_ms * 1e6)
            events += 1
            url = f"https://hooks.example/{events % 100}/webhook"
            if events % 9 == 0:  # a new job: five events over 25 s
                job = events
                for dt, kind in (
                    (0, "job.created"),
                    (0.1, "job.started"),
                    (1, "job.progress"),
                    (12, "job.progress"),
                    (25, "job.completed"),
                ):
                    heapq.heappush(jobs, (now + int(dt * 1e9), kind, job, 0))
            if jobs and jobs[0][0] <= now:
                _, kind, job, _ = heapq.heappop(jobs)
                jid = f"job_{job}"
                data: dict[str, object] = {
                    "job.created": {"job_id": jid, "proposal_id": "prop_1", "status": "pending"},
                    "job.started": {"job_id": jid, "status": "processing"},
                    "job.progress": {
                        "job_id": jid,
                        "progress": {"completed": 1, "total": 2, "percentage": 50},
                    },
                    "job.completed": {
                        "job_id": jid,
                        "proposal_id": "prop_1",
                        "document_id": "doc_1",
                        "status": "completed",
                    },
                }[kind]
                url = f"https://hooks.example/{job % 100}/webhook"
            else:
                kind = "proposal.created"
                data = {"proposal_id": f"prop_{events}", "title": "Quarterly plan"}
            doc = {"id": f"evt_{events:012d}", "type": kind, "timestamp": _stamp(now), "data": data}
            body = json.dumps(doc, separators=(",", ":"))
            sig = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
            headers = [["Content-Type", "application/json"], ["X-Webhook-Signature", sig]]
            start = now
            for k, (status, error) in enumerate(_answers(rng)):
                took = 5_000_000_000 if error == "timeout" else ANSWER_NS
                row = {
                    "url": url,
                    "headers": headers,
                    "body": body,
                    "start_ns": start,
                    "end_ns": start + took,
                    "started": _stamp(start),
                }
                row["status" if status is not None else "error"] = status or error
                heapq.heappush(pending, (start, seq, json.dumps(row)))
                seq += 1
                start = start + took + DELAYS_S[min(k, 4)] * 10**9
            while pending and pending[0][0] <= now:
                out.write(heapq.heappop(pending)[2] + "\n")
                written += 1
            if written % 65536 == 0 and out.tell() > MAX_BYTES:
                raise SystemExit(f"trace larger than {MAX_BYTES} bytes: lower --attempts")
        while pending:
            out.write(heapq.heappop(pending)[2] + "\n")
            written += 1
    return written


def _child(script: str, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        raise SystemExit(f"child failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--spacing-ms", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="print the trace's path, keep it")
    parser.add_argument(
        "--trace", type=Path, default=None, help="grade this trace instead of writing one"
    )
    parser.add_argument(
        "--workers", default=None, help="passed to whsim check (default: its own default)"
    )
    args = parser.parse_args()
    if not 1 <= args.attempts <= 5_000_000:
        raise SystemExit("--attempts must be 1..5000000")
    tmp = Path(tempfile.mkdtemp(prefix="bench_check_"))
    try:
        trace = tmp / "trace.jsonl"
        started = time.perf_counter()
        if args.trace is not None:  # one written earlier with --keep (same seed and size)
            trace = args.trace
            with open(trace, "rb") as f:
                n = sum(1 for _ in f) - 1
        else:
            n = write_trace(trace, args.attempts, args.spacing_ms, args.seed)
        gen_s = time.perf_counter() - started
        load_before = os.getloadavg()[0]
        base = _child(BASELINE, str(trace))
        extra = ["--workers", args.workers] if args.workers else []
        graded = _child(MEASURED, str(trace), SECRET, *extra)
        g_s, b_s = float(graded["s"]), float(base["s"])  # type: ignore[arg-type]
        cpu = float(graded["cpu_s"]) + float(graded["workers_cpu_s"])  # type: ignore[arg-type]
        out = {
            "attempts": n,
            "trace_mb": round(trace.stat().st_size / 1e6, 1),
            "generate_s": round(gen_s, 1),
            "baseline_json_lines_s": round(b_s, 2),
            "baseline_peak_rss_mb": round(int(base["rss_kb"]) / 1024, 1),  # type: ignore[call-overload]
            "baseline_cpu_s": round(float(base["cpu_s"]), 2),  # type: ignore[arg-type]
            "check_s": round(g_s, 2),
            "check_cpu_s": round(cpu, 2),
            "check_parent_cpu_s": round(float(graded["cpu_s"]), 2),  # type: ignore[arg-type]
            "check_workers_cpu_s": round(float(graded["workers_cpu_s"]), 2),  # type: ignore[arg-type]
            "check_workers": args.workers or "default",
            "usable_cores": usable_cores(),  # what the default --workers uses
            "check_attempts_per_s": round(n / g_s),
            "check_peak_rss_mb": round(int(graded["rss_kb"]) / 1024, 1),  # type: ignore[call-overload]
            "check_worker_peak_rss_mb": round(int(graded["workers_rss_kb"]) / 1024, 1),  # type: ignore[call-overload]
            "check_exit": graded["exit"],
            "ratio_check_to_baseline": round(g_s / b_s, 1),
            "ratio_check_to_baseline_cpu": round(cpu / float(base["cpu_s"]), 1),  # type: ignore[arg-type]
            "load_average_1min_before": round(load_before, 1),
            "load_average_1min": round(os.getloadavg()[0], 1),
            "target_s": 30,
        }
        if args.keep:
            out["trace"] = str(trace)
        print(json.dumps(out, indent=2))
        if graded["exit"] != 0:
            print(graded["tail"], file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
