# %% [markdown]
# # 02 · Outages and lost events
#
# **Question.** How much of what happens during a receiver outage is lost, as the outage grows
# from seconds to days, under the guide's retry policy (each reading of RETRY-1) and under the
# published policies of other webhook senders? From which outage length on does the guide's
# policy lose events?
#
# Each point is one simulation: a receiver that is out from time 0 for the outage's length,
# and `EVENTS` events created evenly over the outage. An event is lost when its retries run out
# (or its 24 h expiry passes) before the receiver is back, so the loss rate is the share of the
# outage's events that never arrive. Every policy runs under the guide's 24 h expiry
# (EXPIRY-1) unless `EXPIRY_S` is `None`.

# %% parameters
GUIDE = "backoff-only"  # the reading whose threshold the answer states
POLICIES = [
    "backoff-only",
    "immediate-plus-five",
    "immediate-counts",
    "svix",
    "standard-webhooks",
    "stripe-like",
    "outpost",
    "convoy",
]
OUTAGES_S = [1, 10, 20, 30, 45, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 43200,
             86400, 172800, 259200, 345600, 604800]  # 1 s to 7 days
OUTAGE_KIND = "down"  # "down" (connection refused), "hang" (5 s timeouts) or "status" (503)
EVENTS = 200  # events per outage (at most one per 100 ms)
EXPIRY_S = 86_400  # the guide's 24 h; None lifts the expiry
SEED = 0

# %%
import matplotlib

# Figures inline, also when MPLBACKEND=Agg is set (nbconvert --execute in CI drops them otherwise).
matplotlib.use("module://matplotlib_inline.backend_inline")
import matplotlib.pyplot as plt
import pandas as pd

from whsim.analysis import plot
from whsim.sim import sweep

# %%
loss = sweep.outage_loss(
    POLICIES, OUTAGES_S, events=EVENTS, kind=OUTAGE_KIND, seed=SEED, expiry_s=EXPIRY_S
)
thresholds = {
    p: sweep.shortest_lossy_outage(p, kind=OUTAGE_KIND, seed=SEED, expiry_s=EXPIRY_S)
    for p in POLICIES
}
(100 * loss.pivot(index="outage_s", columns="policy", values="loss_rate")[POLICIES]).round(1)


# %% [markdown]
# The shortest outage (to the second) that loses an event, found by bisection on simulations with
# one event created as the outage starts (the event with the most outage ahead of it):

# %%
def human(seconds):
    if seconds is None:
        return "never (within 30 days)"
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


pd.DataFrame(
    {"shortest lossy outage (s)": thresholds, "as a duration": {p: human(t) for p, t in thresholds.items()}}
)

# %% [markdown]
# `backoff-only` and `immediate-plus-five` end their retries at the same time (31 s), so their
# lines coincide; the extra immediate retry adds load, not reach. Retrying for longer than the
# guide's 24 h expiry is pointless: a schedule that spans days is cut at 24 h (set `EXPIRY_S = None`
# to see the other systems' schedules as they run them).
#
# ## Answer

# %%
t = thresholds[GUIDE]
at = loss[loss["policy"] == GUIDE].set_index("outage_s")["loss_rate"]
longest_safe = {p: human(v) for p, v in thresholds.items() if p not in ("backoff-only", "immediate-plus-five", "immediate-counts")}
print(
    f"The guide's policy ({GUIDE}) starts losing events at an outage of {t:.0f} s "
    f"(immediate-counts at {thresholds.get('immediate-counts', float('nan')):.0f} s); "
    f"a 10 min outage loses {at.get(600.0, float('nan')):.1%} of its events and a 1 h outage "
    f"{at.get(3600.0, float('nan')):.1%}. The other systems' policies first lose events at: "
    + ", ".join(f"{p} {v}" for p, v in longest_safe.items())
    + (" (capped by the guide's 24 h expiry)." if EXPIRY_S else ".")
)
fig, ax = plt.subplots(figsize=(10, 5.5))
plot.outage_loss(loss, thresholds=thresholds, ax=ax)
ax.set_title(f"share of an outage's events lost ({OUTAGE_KIND}; dotted: shortest lossy outage)")
fig.tight_layout()
