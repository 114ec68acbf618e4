# %% [markdown]
# # 03 · Retry storms
#
# **Question.** When many endpoints fail together and recover together, what load do the
# guide's retries put on them, and what would jitter (which the guide does not mention,
# clause RETRY-4) change? How high is the peak, and how many attempts does each delivery cost?
#
# The named scenario `retry-storm`: fifty receivers answer 503 for the same five minutes while
# bursts of proposals arrive every minute. We run it as shipped (no jitter) and with each
# jitter kind in `JITTERS`, on the same seed, so every run sees the same events and failures.

# %% parameters
SCENARIO = "retry-storm"
READING = "immediate-plus-five"  # the scenario's reading of RETRY-1; any named policy works
JITTERS = ["none", "full", "proportional"]  # the first is the baseline; none, full, equal, proportional
SEED = 0
BIN_S = 1.0  # width of the attempts-per-second bins
ZOOM_MIN = (8, 17)  # minutes of virtual time to show

# %%
import dataclasses

import matplotlib

# Figures inline, also when MPLBACKEND=Agg is set (nbconvert --execute in CI drops them otherwise).
matplotlib.use("module://matplotlib_inline.backend_inline")
import matplotlib.pyplot as plt
import pandas as pd

import whsim
from whsim.analysis import plot

# %%
base = whsim.load_scenario(SCENARIO)
(outage,) = base.receivers[0].outages
start_ms, end_ms = outage.start_ms, outage.end_ms
results = {}
for jitter in JITTERS:
    sender = dataclasses.replace(base.sender, retry=READING, jitter=jitter)
    results[jitter] = whsim.simulate(base.replace(sender=sender), seed=SEED)

rows = []
for jitter, r in results.items():
    a = r.attempts
    per_second_all = (a["sent_ms"] // 1000).value_counts()
    before = a[a["sent_ms"] < start_ms]
    per_hook_before = before.groupby(["webhook_id", before["sent_ms"] // 1000], observed=True).size()
    d = r.deliveries
    in_outage = d[(d["event_ms"] >= start_ms) & (d["event_ms"] < end_ms)]
    rows.append(
        {
            "jitter": jitter,
            "peak attempts/s, one endpoint": r.summary["peak_attempts_per_s"],
            "peak attempts/s, one endpoint, before the outage": int(per_hook_before.max()),
            "peak attempts/s, all endpoints": int(per_second_all.max()),
            "peak attempts per 100 ms, all endpoints": int((a["sent_ms"] // 100).value_counts().max()),
            "amplification (attempts per delivery)": r.summary["amplification"],
            "amplification, outage deliveries": round(in_outage["attempts"].mean(), 2),
            "lost (%)": round(100 * r.summary["loss_rate"], 2),
        }
    )
table = pd.DataFrame(rows).set_index("jitter")
table.T

# %% [markdown]
# Without jitter every endpoint's retries of the same burst come back together: the burst's
# shape repeats 1, 3, 7, 15 and 31 s later on all fifty endpoints at once. Jitter cannot lower
# the number of attempts (the same failures are retried the same number of times), and on a
# schedule this short it does not flatten the load per second either: *full* jitter draws each
# delay from [0, d), which pulls retries towards the failure and packs them into the first
# seconds after each burst. It only evens out the load at a finer grain (the 100 ms peaks).
# Proportional jitter (±20 %) keeps the schedule's shape and desynchronises it a little.
# Jitter pays off when delays are long compared with the burst, as in the other systems'
# schedules (notebook 02), not on a 31 s window.

# %% [markdown]
# ## Answer

# %%
plain = JITTERS[0]
calm = table.loc[plain, "peak attempts/s, one endpoint, before the outage"]


def peak(j):
    return table.loc[j, "peak attempts/s, one endpoint"]


def moved(j):
    return "raises" if peak(j) > peak(plain) else "lowers" if peak(j) < peak(plain) else "keeps"


print(
    f"With jitter '{plain}', {len(base.webhooks[0].ids())} endpoints that fail together get "
    f"their retries together: one endpoint peaks at {peak(plain)} attempts/s ({peak(plain) / calm:.1f}x "
    f"its busiest second before the outage; {table.loc[plain, 'peak attempts/s, all endpoints']} "
    f"attempts/s over all endpoints) and each delivery created during the outage costs "
    f"{table.loc[plain, 'amplification, outage deliveries']:.2f} attempts. "
    + " ".join(
        f"'{j}' jitter {moved(j)} that peak ({peak(j)} attempts/s, {peak(j) / calm:.1f}x) at the same "
        f"cost per delivery ({table.loc[j, 'amplification, outage deliveries']:.2f}) and loses "
        f"{table.loc[j, 'lost (%)']:.1f} % of deliveries against {table.loc[plain, 'lost (%)']:.1f} %."
        for j in JITTERS[1:]
    )
)
# One endpoint's load per panel, on one shared scale, its peak marked: the panels differ where
# jitter moves the peak (the total over all endpoints is in the table above).
endpoint = results[plain].summary["peak_webhook"]
fig, axes = plt.subplots(len(JITTERS), 1, figsize=(11, 2.6 * len(JITTERS)), sharex=True, sharey=True, squeeze=False)
for ax, (jitter, r) in zip(axes[:, 0], results.items()):
    plot.attempts_per_second(r, [endpoint], bin_s=BIN_S, ax=ax)
    ax.set_title(f"{SCENARIO}, {READING}, jitter {jitter}: attempts per second to {endpoint}")
    ax.set_xlim(*ZOOM_MIN)
fig.tight_layout()
