# %% [markdown]
# # 02 · Outages and lost events
#
# **Question.** How much of what happens during a receiver outage is lost, as the outage grows
# from seconds to days, under the guide's retry policy (each reading of RETRY-1) and under the
# published policies of other webhook senders? From which outage length on does the guide's
# policy lose events, when the receiver refuses connections and when it hangs?
#
# Each point is one simulation: a receiver that is out from time 0 for the outage's length,
# and `EVENTS` events created evenly over the outage (whole-millisecond arrivals). An event is
# lost when its retries run out (or its 24 h expiry passes) before the receiver is back, so the
# loss rate is the share of the outage's events that never arrive. Every policy runs under the
# guide's 24 h expiry (EXPIRY-1) unless `EXPIRY_S` is `None`.
#
# An answer that depends on a random draw (a jittered policy: svix) is computed over `SEEDS`
# seeds and given as the median with its 5-95 % band; a policy without jitter against a refusing
# or hanging receiver gives one answer whatever the seed.

# %% parameters
from whsim import Readings

# The readings every policy runs under besides its schedule (one value, as `--reading CLAUSE=NAME`
# on the command line), e.g. Readings.parse(["RETRY-2=all-non-2xx"]); leave RETRY-1 unchosen: the
# rows are the guide's RETRY-1 readings and other systems' policies (`--policy NAME`).
READINGS = Readings.parse([])
GUIDE = "backoff-only"  # the reading whose threshold the answer states
RETRY_1 = ["backoff-only", "immediate-plus-five", "immediate-counts"]
VENDORS = ["svix", "standard-webhooks", "stripe-like", "outpost", "convoy"]
OUTAGES_S = [1, 10, 20, 30, 45, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 43200,
             86400, 172800, 259200, 345600, 604800]  # 1 s to 7 days
OUTAGE_KIND = "down"  # the figure's kind: "down" (refused), "hang" (5 s timeouts) or "status" (503)
KINDS = ["down", "hang"]  # kinds whose first loss the table compares
EVENTS = 200  # events per outage (at most one per 100 ms)
EXPIRY_S = 86_400  # the guide's 24 h; None lifts the expiry
SEEDS = 30  # seeds per random answer (median and 5-95 % band)

# %%
import matplotlib

# Figures inline, also when MPLBACKEND=Agg is set (nbconvert --execute in CI drops them otherwise).
matplotlib.use("module://matplotlib_inline.backend_inline")
import matplotlib.pyplot as plt
import pandas as pd

from whsim.analysis import plot
from whsim.sim import sweep

# %%
# one Readings value per row, labelled by its schedule's name
CHOICES = {r: READINGS.with_reading("RETRY-1", r) for r in RETRY_1} | {
    p: Readings(READINGS.chosen, policy=p) for p in VENDORS
}
POLICIES = list(CHOICES)
seeds = range(SEEDS)
loss = sweep.outage_loss(
    CHOICES, OUTAGES_S, events=EVENTS, kind=OUTAGE_KIND, seeds=seeds, expiry_s=EXPIRY_S
)
median_loss = sweep.spread(loss, "loss_rate", ["outage_s", "policy"])
(100 * median_loss.pivot(index="outage_s", columns="policy", values="median")[POLICIES]).round(1)


# %% [markdown]
# The shortest outage (to the second) that loses an event, found by bisection on simulations with
# one event created as the outage starts (the event with the most outage ahead of it), for a
# receiver that refuses connections (`down`: each failed attempt takes no time) and one that
# hangs until the sender's 5 s timeout (`hang`: each failed attempt takes 5 s, so the same
# schedule reaches further). A policy is *capped* when the 24 h expiry, not its own schedule,
# ends its retries: its number measures the guide's cap, and the last column gives its own
# schedule's answer without the cap.

# %%
def human(seconds):
    if seconds is None or seconds != seconds:
        return "never (within 30 days)"
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def banded(row):
    if row["p5"] == row["p95"]:
        return human(row["median"])
    return f"{human(row['median'])} [{human(row['p5'])}-{human(row['p95'])}]"


first = sweep.first_losses(CHOICES, kinds=KINDS, seeds=seeds, expiry_s=EXPIRY_S)
first_spread = sweep.spread(first, "first_loss_s", ["policy", "kind"]).set_index(["policy", "kind"])
capped = {p: sweep.expiry_capped(CHOICES[p], kind=OUTAGE_KIND, expiry_s=EXPIRY_S) for p in POLICIES}
own = sweep.first_losses({p: CHOICES[p] for p in POLICIES if capped[p]}, kinds=[OUTAGE_KIND], seeds=seeds, expiry_s=None)
own_spread = sweep.spread(own, "first_loss_s", ["policy", "kind"]).set_index(["policy", "kind"])

table = pd.DataFrame(
    {
        **{f"first loss, {kind}": {p: banded(first_spread.loc[(p, kind)]) for p in POLICIES} for kind in KINDS},
        "capped by the expiry": {p: "yes" if capped[p] else "" for p in POLICIES},
        f"own schedule, no expiry ({OUTAGE_KIND})": {
            p: banded(own_spread.loc[(p, OUTAGE_KIND)]) if capped[p] else "" for p in POLICIES
        },
    }
)
table

# %% [markdown]
# `backoff-only` and `immediate-plus-five` end their retries at the same time against a refusing
# receiver (31 s), so their lines coincide; the extra immediate retry adds load, not reach (against
# a hanging receiver it adds one more 5 s timeout: 62 s against 57 s). Retrying for longer than
# the guide's 24 h expiry is pointless: a schedule that spans days is cut at 24 h, which is why
# the capped policies' numbers say more about the guide than about those systems. The shaded
# band around a line and around its dotted threshold spans the 5-95 % of the seeds.
#
# ## Answer

# %%
def at(policy, kind):
    return first_spread.loc[(policy, kind)]


guide = {kind: at(GUIDE, kind)["median"] for kind in KINDS}
share = median_loss[median_loss["policy"] == GUIDE].set_index("outage_s")["median"]
others = [p for p in POLICIES if p not in RETRY_1]
print(
    f"Answer. The guide's policy ({GUIDE}) starts losing events at an outage of "
    f"{guide['down']:.0f} s when the receiver refuses connections and at {guide.get('hang', float('nan')):.0f} s "
    f"when each attempt hangs until its 5 s timeout (immediate-counts at "
    f"{at('immediate-counts', 'down')['median']:.0f} s / {at('immediate-counts', KINDS[-1])['median']:.0f} s); "
    f"a 10 min outage loses {share.get(600.0, float('nan')):.1%} of its events and a 1 h outage "
    f"{share.get(3600.0, float('nan')):.1%}. The other systems' policies first lose events at: "
    + ", ".join(
        f"{p} {banded(at(p, OUTAGE_KIND))}" + (" (the 24 h cap; own schedule " + banded(own_spread.loc[(p, OUTAGE_KIND)]) + ")" if capped[p] else "")
        for p in others
    )
    + f" [median, 5-95 % over {SEEDS} seeds where jittered]."
)
print(
    "Recommendation. The guide's 31 s of retries lose every event of an outage longer than about "
    "half a minute (a minute when the receiver hangs), shorter than a deploy or a restart. Every "
    "published schedule here reaches further (convoy's least, 15 min; the others hours); the guide "
    "should state one that reaches hours and ends before its 24 h expiry, since retries beyond it "
    "are cut."
)
print(
    f"Uncertainty. Policies without jitter have exact thresholds (to the 1 s bisection step, equal to "
    f"the closed form of their offsets); svix's jitter spreads its threshold over "
    f"{banded(at('svix', OUTAGE_KIND))} (5-95 % of {SEEDS} seeds). The model's outages are total and end "
    f"at once; a receiver that comes back slowly or partly (notebook 03) loses more."
)
fig, ax = plt.subplots(figsize=(10, 5.5))
thresholds = {
    p: (lambda r: r["median"] if r["p5"] == r["p95"] else (r["p5"], r["median"], r["p95"]))(at(p, OUTAGE_KIND))
    for p in POLICIES
}
labels = {p: f"{p} (cut by the 24 h expiry)" for p in POLICIES if capped[p]}
plot.outage_loss(loss, thresholds=thresholds, labels=labels, ax=ax)
ax.set_title(
    f"share of an outage's events lost ({OUTAGE_KIND}; median over {SEEDS} seeds, 5-95 % shaded; "
    "dotted: shortest lossy outage)"
)
fig.tight_layout()
