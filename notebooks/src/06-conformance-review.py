# %% [markdown]
# # 06 · Conformance review
#
# **Question.** Does a real sender retry the way the guide says, and the way the simulator
# predicts for the same reading of the retry clause? And does the reference receiver answer
# well inside the guide's 5 s timeout?
#
# The notebook reads what `make demo` just wrote under `reports/` (or the folder in the
# environment variable `WHSIM_REPORTS`): the observed attempts of the reference sender
# delivering to a receiver that fails each event's first two attempts (`sender/interop.json`),
# and the receiver conformance report (`receiver/report.json`). When no demo has run (as in CI),
# it falls back to the committed sample `notebooks/data/sample-interop.json`, written by a real
# `make demo` run, and skips the receiver section.

# %% parameters
import os
from pathlib import Path

REPORTS = Path(os.environ.get("WHSIM_REPORTS", "../reports"))  # where make demo wrote
SAMPLE = Path("data/sample-interop.json")  # the fallback, from a real run
TOLERANCE_S = 0.5  # how late an attempt may start and still be on schedule

# %%
import json

import matplotlib.pyplot as plt
import pandas as pd

import whsim
from whsim import plot
from whsim.sim import sweep

# %%
live = REPORTS / "sender" / "interop.json"
source = live if live.exists() else SAMPLE
interop = json.loads(source.read_text(encoding="utf-8"))
reading = interop["reading"]
expected = list(interop["expected_offsets_s"])
faults = len(expected) - 1  # the receiver fails this many attempts per event
predicted = sweep.failing_attempts(reading, receiver="fail-twice")
print(f"observed attempts from {source} ({'this run' if source == live else 'committed sample'})")
print(f"sender {interop['sender']}, reading {reading}; receiver {interop['receiver_faults']}")

rows = []
for d, offsets in zip(interop["deliveries"], interop["observed_offsets_s"]):
    late = [round(o - e, 3) for o, e in zip(offsets, expected)]
    rows.append(
        {
            "event": d["event_type"],
            "status": d["status"],
            "attempts": len(offsets),
            "observed offsets (s)": ", ".join(f"{x:.3f}" for x in offsets),
            "latest vs schedule (s)": max(late) if late else None,
            "on schedule": len(offsets) == len(expected) and all(-0.05 <= x <= TOLERANCE_S for x in late),
        }
    )
observed = pd.DataFrame(rows).set_index("event")
observed

# %% [markdown]
# Expected: the guide's schedule under the reading (`attempt_offsets` of the retry policy,
# attempts failing instantly) with a band `TOLERANCE_S` wide after each attempt. Predicted: the
# simulator's run of the same reading against the same fault (`fail-twice`), where each 500
# takes 20 ms, so backoff (counted from the end of the failed attempt) starts a little later.

# %%
pd.DataFrame(
    {
        "schedule (s)": expected,
        "simulator (s)": predicted,
        "observed mean (s)": [
            round(sum(o[i] for o in interop["observed_offsets_s"]) / len(interop["observed_offsets_s"]), 3)
            for i in range(len(expected))
        ],
        "observed max (s)": [max(o[i] for o in interop["observed_offsets_s"]) for i in range(len(expected))],
    },
    index=[f"attempt {i + 1}" for i in range(len(expected))],
)

# %% [markdown]
# ## The reference receiver's answer times
#
# Case `RCV-TIMEOUT-001` of the receiver suite sends a batch of concurrent deliveries and
# measures how long the receiver takes to answer, against the guide's 5 s (TIMEOUT-1).

# %%
receiver_report = REPORTS / "receiver" / "report.json"
timing = None
if receiver_report.exists():
    report = json.loads(receiver_report.read_text(encoding="utf-8"))
    case = next((c for c in report["cases"] if c["id"] == "RCV-TIMEOUT-001"), None)
    if case is not None:
        timing = case.get("details", {})
        print(f"receiver suite: {report['outcome'].upper()} {report['counts']}")
        print(f"RCV-TIMEOUT-001 {case['outcome']}: {case['message']}")
        print(pd.Series({k: timing.get(k) for k in ("batch", "concurrency", "p50_ms", "p95_ms", "max_ms", "over_5s")}).to_string())
if timing is None:
    print(f"no receiver report in {REPORTS}: run `make demo` to see this section")

# %% [markdown]
# ## Answer

# %%
on = int(observed["on schedule"].sum())
worst = observed["latest vs schedule (s)"].max()
sentence = (
    f"The reference sender (reading {reading}) delivered {int((observed['status'] == 'delivered').sum())} "
    f"of {len(observed)} events to a receiver failing each event's first {faults} attempts; "
    f"{on} of {len(observed)} followed the schedule {', '.join(f'{x:g}' for x in expected)} s "
    f"within {TOLERANCE_S} s (worst {worst:.3f} s late, where the simulator predicts "
    f"{predicted[-1] - expected[-1]:.3f} s from the receiver's 20 ms answers)."
)
if timing is not None:
    sentence += (
        f" The reference receiver answered {timing.get('batch')} concurrent deliveries with a p95 of "
        f"{timing.get('p95_ms')} ms and a maximum of {timing.get('max_ms')} ms, "
        f"{5000 / max(float(timing.get('max_ms') or 1), 1):.0f}x inside the guide's 5 s timeout."
    )
print(sentence)
fig, ax = plt.subplots(figsize=(10, 0.5 * (len(observed) + 2) + 1.6))
rows = {"schedule": expected, "simulator": predicted}
for event, offsets in zip(observed.index, interop["observed_offsets_s"]):
    rows[f"observed: {event}"] = offsets
plot.attempt_offsets(rows, bands=[(t - 0.05, t + TOLERANCE_S) for t in expected], ax=ax)
ax.set_title(f"reference sender ({reading}) against a receiver that fails twice: attempts per event")
fig.tight_layout()
