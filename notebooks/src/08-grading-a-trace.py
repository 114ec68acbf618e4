# %% [markdown]
# # 08 · Grading a recorded trace
#
# **Question.** Given only a recording of what a sender sent (and the signing secrets), does it
# follow the guide, clause by clause? Which reading of the retry clause, or which other system's
# policy, does its schedule follow? And how far are its attempt times from what the model
# predicts for the same events, the same answers and the same reading?
#
# The trace is the one the kit's listener recorded during the sender conformance suite of the
# last `make demo` (`reports/sender/trace.jsonl` and its throwaway secrets, or under the folder
# in the environment variable `WHSIM_REPORTS`): every request the reference sender made to the
# kit's endpoints, with its exact bytes and times. When no demo has run (as in CI), the notebook
# reads the committed sample `notebooks/data/sample-trace.jsonl`, recorded the same way from the
# reference sender at time scale 10. Everything below is `whsim.check(...)`, the function behind
# `whsim check TRACE --secrets FILE --simulate`.

# %% parameters
import os
from pathlib import Path

from whsim import Readings

REPORTS = Path(os.environ.get("WHSIM_REPORTS", "../reports"))  # where make demo wrote
SAMPLE = Path("data/sample-trace.jsonl")  # the fallback, recorded from the reference sender
SAMPLE_SECRETS = Path("data/sample-trace-secrets.json")
READINGS = Readings.parse([])  # the readings to grade against (as --reading CLAUSE=NAME)
TIMING = "default"  # the timing profile of the bands: strict, default or lenient

# %%
import matplotlib

# Figures inline, also when MPLBACKEND=Agg is set (nbconvert --execute in CI drops them otherwise).
matplotlib.use("module://matplotlib_inline.backend_inline")
import matplotlib.pyplot as plt
import pandas as pd

import whsim

# %%
live = REPORTS / "sender" / "trace.jsonl"
if live.exists() and (REPORTS / "sender" / "trace-secrets.json").exists():
    trace, secrets, origin = live, REPORTS / "sender" / "trace-secrets.json", "this run of make demo"
else:
    trace, secrets, origin = SAMPLE, SAMPLE_SECRETS, "committed sample"
result = whsim.check(trace, secrets=secrets, readings=READINGS, timing=TIMING, simulate=True)
settings = result.report.settings
print(f"trace: {trace} ({origin}); {settings['source']}")
print(
    f"{settings['attempts']} attempts, {settings['events']} events, {settings['endpoints']} endpoints; "
    f"time scale {settings['time scale']}; graded under {settings['readings']}"
)
print(f"first line: {result.summary_line()}")

# %% [markdown]
# ## The verdict per clause
#
# Each offline case (`CHK-*`) checks what a recording can show and cites the clauses it checks,
# as the suites' cases do. A clause's verdict is its worst case's; `untestable` means nothing in
# the trace shows it (e.g. no answer took near the 5 s timeout), not that it holds.

# %%
ORDER = ["fail", "non-strict", "pass", "info", "untestable"]
cases = pd.DataFrame(
    [
        {
            "case": r.spec.id,
            "level": r.spec.level,
            "clauses": ", ".join(r.spec.clauses),
            "outcome": str(r.outcome),
            "what it found": r.message[:140],
        }
        for r in result.report.cases
    ]
).set_index("case")
per_clause = (
    cases.assign(clause=cases["clauses"].str.split(", "))
    .explode("clause")
    .assign(rank=lambda f: f["outcome"].map(ORDER.index))
    .sort_values("rank")
    .groupby("clause", sort=False)
    .agg(outcome=("outcome", "first"), cases=("outcome", "size"))
    .sort_index(key=lambda ix: ix.map(lambda c: (c.split("-")[0], int(c.split("-")[1]))))
)
cases

# %%
per_clause.T

# %% [markdown]
# ## Which reading the schedule follows
#
# Every retried event's gaps are fitted against each reading of RETRY-1 and each named policy
# of another system; the best fit has the most events within its bands, then the least total
# deviation from its expected gaps. If it is not the reading graded under, the trace is graded
# again under the best fit.

# %%
fit_case = next(r for r in result.report.cases if r.spec.id == "CHK-RETRY-002")
fits = pd.DataFrame(fit_case.details.get("fits", [])).set_index("name") if fit_case.details.get("fits") else pd.DataFrame()
best = fits.index[0] if len(fits) and fits.iloc[0]["events_within_bands"] else None
graded = READINGS.policy or READINGS["RETRY-1"]
regraded = None
if best is not None and best != graded:
    from whsim.sim import sweep

    regraded = whsim.check(trace, secrets=secrets, readings=sweep.as_readings(best), timing=TIMING)
print(fit_case.message)
fits

# %% [markdown]
# ## Predicted against observed
#
# With `simulate=True` each recorded delivery is replayed on the virtual clock: its first attempt
# when the trace has it, the receiver's answers in the order it gave them, the reading it is
# graded under. The model's attempt times (offsets from the first attempt, in trace seconds) are
# set beside the observed ones; the shaded band is the tolerance the bands of the suites use.

# %%
model = result.model
attempts = pd.DataFrame(model["attempts"])
retried = attempts[attempts["attempt"] > 1].copy()
retried["path"] = retried["endpoint"].str.replace(r"^https?://[^/]+", "", regex=True)
retried["abs deviation (s)"] = retried["deviation_s"].abs()
worst = retried.sort_values("abs deviation (s)", ascending=False).head(10)
worst[["path", "event", "attempt", "answer", "predicted_s", "observed_s", "deviation_s", "within_band"]]

# %% [markdown]
# ## Answer

# %%
failed = [c for c, row in per_clause.iterrows() if row["outcome"] == "fail"]
soft = [c for c, row in per_clause.iterrows() if row["outcome"] == "non-strict"]
largest = model["largest"]
print(
    f"Answer. Graded offline under {settings['readings']}, the trace ({origin}) breaks "
    + (f"{len(failed)} clause(s): {', '.join(failed)}" if failed else "no MUST clause it can show")
    + (f", and bends {', '.join(soft)} (non-strict)" if soft else "")
    + f"; {sum(per_clause['outcome'] == 'untestable')} clause(s) cannot be judged from a recording. "
    + (
        f"Its schedule follows {best} ({fits.loc[best, 'events_within_bands']} retried events within "
        "its bands)"
        if best
        else "No named schedule fits it"
    )
    + (f"; graded under {best} instead, it gets exit code {regraded.exit_code}" if regraded is not None else "")
    + f". Replayed on the model, {model['within_band']} of {model['attempts_compared']} attempts fall in "
    f"the timing band; the largest deviation is {largest['deviation_s']:+.3f} s at attempt "
    f"{largest['attempt']} of event {largest['event']} ({largest['endpoint']}), "
    f"{model['unpredicted']} attempt(s) the model would not make and {model['missing']} it expected but "
    "the trace lacks."
)
print(
    "Recommendation. Grade a sender's recording (a HAR from mitmproxy or a gateway, or this JSONL) "
    "with `whsim check TRACE --secrets FILE --simulate` before trusting its retries: a schedule "
    "that passes its bands but drifts from the model in one direction is the first sign of a "
    "scheduler running late under load, and a best fit other than the reading you meant names "
    "the reading the sender actually implements."
)
print(
    f"Uncertainty. Offsets are in trace seconds at time scale {settings['time scale']}, measured "
    "by the listener on one monotonic clock; the model takes each event to be created at its "
    "first attempt and replays jitter at the middle of its range, so a jittered sender deviates "
    "by up to half its jitter without being wrong. Clauses about registration, verification and "
    "addresses are not in a delivery trace; the live suite grades them."
)
result.model_figure(fig=plt.figure());
