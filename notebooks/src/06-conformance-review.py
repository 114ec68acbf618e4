# %% [markdown]
# # 06 · Conformance review
#
# **Question.** Does a real sender retry the way the guide says, and the way the simulator
# predicts for the same reading of the retry clause? And does the reference receiver answer
# well inside the guide's 5 s timeout?
#
# The notebook reads the sender conformance report that `make demo` just wrote
# (`reports/sender/report.json`, or under the folder in the environment variable
# `WHSIM_REPORTS`): its retry cases record every attempt the sender made at the kit's endpoint
# and the tolerance band each gap had to fall in. When no demo has run (as in CI), it reads the
# committed sample `notebooks/data/sample-sender-report.json` instead: the same suite's report
# against the reference sender (time scale 1), trimmed to its retry cases. The receiver section
# needs `reports/receiver/report.json` and is skipped without it.

# %% parameters
import os
from pathlib import Path

REPORTS = Path(os.environ.get("WHSIM_REPORTS", "../reports"))  # where make demo wrote
SAMPLE = Path("data/sample-sender-report.json")  # the fallback, from a real run of the suite
CASES = {  # retry cases of the sender suite, and the receiver behaviour each one plays
    "SND-RETRY-001": "always-500",  # 500 every time
    "SND-RETRY-005": "fail-twice",  # 500, 500, then 200
}

# %%
import json

import matplotlib

# Figures inline, also when MPLBACKEND=Agg is set (nbconvert --execute in CI drops them otherwise).
matplotlib.use("module://matplotlib_inline.backend_inline")
import matplotlib.pyplot as plt
import pandas as pd

import whsim
from whsim.analysis import plot
from whsim.sim import sweep

# %%
live = REPORTS / "sender" / "report.json"
source = live if live.exists() else SAMPLE
report = json.loads(source.read_text(encoding="utf-8"))
cases = {c["id"]: c for c in report["cases"]}
scale = float(cases[next(iter(CASES))]["details"].get("time_scale", 1.0))  # the sender's, as it advertised it
reading = report["readings"].get("RETRY-1", "backoff-only")
print(f"sender report: {source} ({'this run' if source == live else 'committed sample'})")
print(f"target {report['target']}; outcome {report['outcome'].upper()}; reading {reading}; time scale {scale:g}")
print(f"timing profile: {report['settings'].get('timing profile')}")

# %% [markdown]
# Times below are in the sender's policy seconds: wall seconds times its time scale (1 unless
# the sender was run faster). The band of an attempt is where the suite accepts it: the gap band
# of the retry clause counted from the end of the previous attempt (reading `from-failure`).

# %%
rows = []
views = {}
for cid, behaviour in CASES.items():
    case = cases[cid]
    d = case["details"]
    at = [a["at_s"] * scale for a in d["attempts"]]
    ended = [a["ended_s"] * scale for a in d["attempts"]]
    bands = [(ended[k] + lo * scale, ended[k] + hi * scale) for k, (lo, hi) in enumerate(d["bands_s"][: len(at) - 1])]
    schedule = list(whsim.RetryPolicy.named(reading).attempt_offsets()[: len(at)])
    predicted = sweep.failing_attempts(reading, receiver=behaviour)
    views[cid] = (case, at, bands, schedule, predicted)
    for k, t in enumerate(at):
        band = bands[k - 1] if k else (0.0, 0.0)
        rows.append(
            {
                "case": cid,
                "attempt": k + 1,
                "answer": d["attempts"][k]["answer"],
                "schedule (s)": schedule[k] if k < len(schedule) else None,
                "simulator (s)": predicted[k] if k < len(predicted) else None,
                "observed (s)": round(t, 3),
                "band (s)": f"{band[0]:.2f}–{band[1]:.2f}" if k else "",
                "in band": (band[0] <= t <= band[1]) if k else True,
            }
        )
attempts = pd.DataFrame(rows).set_index(["case", "attempt"])
attempts

# %% [markdown]
# The suite's verdicts on the retry clauses, and which reading of RETRY-1 the observed schedule
# fits (case SND-RETRY-003 grades it against each reading):

# %%
verdicts = pd.DataFrame(
    [{"case": c["id"], "outcome": c["outcome"], "title": c["title"], "message": c["message"]} for c in report["cases"] if c["id"].startswith("SND-RETRY")]
).set_index("case")
fits = cases.get("SND-RETRY-003", {}).get("details", {}).get("fits", {})
display(verdicts)
pd.DataFrame(fits).T if fits else "no reading fit in this report"

# %% [markdown]
# ## The reference receiver's answer times
#
# Case `RCV-TIMEOUT-001` of the receiver suite sends a batch of concurrent deliveries and
# measures how long the receiver takes to answer, against the guide's 5 s (TIMEOUT-1).

# %%
receiver_report = REPORTS / "receiver" / "report.json"
timing = None
if receiver_report.exists():
    rcv = json.loads(receiver_report.read_text(encoding="utf-8"))
    case = next((c for c in rcv["cases"] if c["id"] == "RCV-TIMEOUT-001"), None)
    if case is not None:
        timing = case.get("details", {})
        print(f"receiver suite: {rcv['outcome'].upper()} {rcv['counts']}")
        print(f"RCV-TIMEOUT-001 {case['outcome']}: {case['message']}")
if timing is None:
    print(f"no receiver report in {REPORTS}: run `make demo` to see this section")

# %% [markdown]
# ## Answer

# %%
every = attempts.loc[list(CASES)]
inside = int(every["in band"].sum())
late = (every["observed (s)"] - every["schedule (s)"]).max()
sim_late = (every["simulator (s)"] - every["schedule (s)"]).max()
best = min(fits, key=lambda r: fits[r]["error_s"]) if fits else reading
sentence = (
    f"The sender ({'this run' if source == live else 'committed sample'}, time scale {scale:g}) "
    f"made {len(every)} attempts in the retry cases {', '.join(CASES)}, {inside} of them inside "
    f"their bands; the schedule it follows is reading {best} of RETRY-1 "
    f"({', '.join(f'{x:g}' for x in whsim.RetryPolicy.named(best).attempt_offsets())} s), at most "
    f"{late:.3f} s behind it, where the simulator of the same reading predicts {sim_late:.3f} s "
    f"(its receiver takes 20 ms to fail). Suite verdict on the retry cases: "
    + ", ".join(f"{o} {n}" for o, n in verdicts["outcome"].value_counts().items())
    + "."
)
if timing is not None:
    sentence += (
        f" The reference receiver answered {timing.get('batch')} concurrent deliveries with a p95 of "
        f"{timing.get('p95_ms')} ms and a maximum of {timing.get('max_ms')} ms, "
        f"{5000 / max(float(timing.get('max_ms') or 1), 1):.0f}x inside the guide's 5 s timeout."
    )
print(sentence)
print(
    f"Recommendation. Run the sender suite against every change to the sender: the reading it "
    f"follows ({best}) is the one the guide should state, and the retry bands catch a schedule that "
    f"drifts from it."
)
print(
    f"Uncertainty. One run ({'this run' if source == live else 'the committed sample'}, time scale "
    f"{scale:g}): the lateness ({late:.3f} s at most) is one machine's scheduling on one run, not a "
    f"distribution; the bands allow for it."
)
fig, axes = plt.subplots(len(CASES), 1, figsize=(10, 2.6 * len(CASES)), sharex=True, squeeze=False)
for ax, (cid, (case, at, bands, schedule, predicted)) in zip(axes[:, 0], views.items()):
    plot.attempt_offsets(
        {f"schedule ({reading})": schedule, "simulator": predicted, "observed": at},
        bands=bands,
        band_row="observed",
        ax=ax,
    )
    ax.set_title(f"{cid} ({case['outcome']}): {case['title']}", fontsize=9)
fig.tight_layout()
