# %% [markdown]
# # 05 · Expiry and backlog
#
# **Question.** The guide drops "events older than 24 hours" (EXPIRY-1), yet its retries end
# after about 31 s: when does the expiry ever drop anything, and how much? Two ways for events to
# grow old while waiting: the **sender itself is down** (due deliveries queue until it restarts),
# and a **per-endpoint concurrency limit** in front of a receiver that hangs (every attempt waits
# for the 5 s timeout, so due attempts queue behind each other). The expiry is checked when an
# attempt is about to start (reading `from-event-timestamp`).

# %% parameters
DOWNTIMES_H = [1, 6, 12, 23, 24, 25, 30, 36, 48, 72]  # sender downtime lengths
DOWNTIME_RATE_PER_S = 1 / 300  # events created while the sender is down: one per 5 min
HANGS_H = [2, 6, 12, 18, 24, 30, 36, 48]  # receiver hang lengths, concurrency-limited sender
HANG_RATE_PER_S = 0.2  # events per second to the hanging receiver
CONCURRENCY = 1  # attempts in flight per endpoint
EXAMPLE_H = 36  # the downtime and hang drawn in the figures
EXPIRY_S = 86_400  # the guide's 24 h
SEED = 0

# %%
import matplotlib

# Figures inline, also when MPLBACKEND=Agg is set (nbconvert --execute in CI drops them otherwise).
matplotlib.use("module://matplotlib_inline.backend_inline")
import matplotlib.pyplot as plt
import pandas as pd

import whsim
from whsim.analysis import plot

H = 3_600_000  # ms per hour


def sender_down(hours):
    """A healthy receiver; the sender is down for ``hours`` from time 0 while events keep coming."""
    return whsim.Scenario(
        name=f"sender-down-{hours:g}h",
        webhooks=(whsim.Webhook("wh", receiver="healthy", events=("proposal.created",)),),
        sender=whsim.Sender(downtime=(whsim.Downtime(0, round(hours * H)),), expiry_ms=EXPIRY_S * 1000),
        workload=whsim.Workload(
            duration_ms=round((hours + 1) * H),
            arrival=whsim.Arrival("constant", DOWNTIME_RATE_PER_S),
            jobs_per_proposal=0,
        ),
    )


def receiver_hangs(hours):
    """A receiver that hangs for ``hours`` from time 0; the sender caps attempts in flight."""
    receiver = whsim.Behaviour(
        "hangs",
        latency=whsim.Latency("uniform", 20, 120),
        outages=(whsim.Outage(0, round(hours * H), "hang"),),
    )
    return whsim.Scenario(
        name=f"receiver-hangs-{hours:g}h",
        webhooks=(whsim.Webhook("wh", receiver="hangs", events=("proposal.created",)),),
        receivers=(receiver,),
        sender=whsim.Sender(concurrency=CONCURRENCY, expiry_ms=EXPIRY_S * 1000),
        workload=whsim.Workload(
            duration_ms=round((hours + 2) * H),
            arrival=whsim.Arrival("constant", HANG_RATE_PER_S),
            jobs_per_proposal=0,
        ),
    )


def tally(kind, hours, result):
    s = result.summary
    d = result.deliveries
    return {
        "cause": kind,
        "hours": hours,
        "events": s["events"],
        "delivered": s["delivered"],
        "exhausted": s["exhausted"],
        "expired": s["expired"],
        "expired (%)": round(100 * s["expired"] / s["deliveries"], 1),
        "oldest delivery (h)": round(float((d["ended_ms"] - d["event_ms"]).max()) / H, 1),
    }


# %%
rows = [tally("sender down", h, whsim.simulate(sender_down(h), seed=SEED)) for h in DOWNTIMES_H]
rows += [tally(f"receiver hangs, concurrency {CONCURRENCY}", h, whsim.simulate(receiver_hangs(h), seed=SEED)) for h in HANGS_H]
table = pd.DataFrame(rows).set_index(["cause", "hours"])
table

# %% [markdown]
# A sender that restarts finds every delivery that fell due while it was down; those whose event
# is older than 24 h are dropped, the rest are sent at once. With a concurrency cap, a hanging
# receiver is served one 5 s timeout at a time: the queue grows faster than it drains, events
# wait — and so, unlike notebook 02, they are *not* lost after 31 s; they are sent when the
# receiver comes back, until the queue's oldest event passes 24 h. From then on the expiry drops
# everything at the head of the queue.

# %% [markdown]
# ## Answer

# %%
down = table.loc["sender down"]
hangs = table.loc[f"receiver hangs, concurrency {CONCURRENCY}"]


def edge(frame):
    """The longest length on the grid that expires nothing and the shortest that expires some."""
    return int(frame[frame["expired"] == 0].index.max()), int(frame[frame["expired"] > 0].index.min())


safe_down, first_down = edge(down)
safe_hang, first_hang = edge(hangs)
ex_down, ex_hang = down.loc[EXAMPLE_H].astype(int), hangs.loc[EXAMPLE_H]
exhausted_safe = 100 * hangs.loc[safe_hang, "exhausted"] / hangs.loc[safe_hang, "events"]
print(
    f"The 24 h expiry drops events only when deliveries queue. A sender that is down drops "
    f"nothing after {safe_down} h of downtime and drops events after {first_down} h: down "
    f"{EXAMPLE_H} h, it drops {ex_down['expired']} of the {ex_down['events']} events "
    f"({down.loc[EXAMPLE_H, 'expired (%)']:.0f} %), those created more than 24 h before it restarts. "
    f"Behind a concurrency cap of {CONCURRENCY}, a receiver that hangs while {HANG_RATE_PER_S:g} "
    f"events/s arrive loses only {exhausted_safe:.1f} % (exhausted retries) after {safe_hang} h, "
    f"because queued events wait out the hang instead of running through their 31 s of retries; "
    f"after {first_hang} h the expiry starts dropping them (a {EXAMPLE_H} h hang expires "
    f"{int(ex_hang['expired'])} of {int(ex_hang['events'])} events, {ex_hang['expired (%)']:.0f} %)."
)
print(
    "Recommendation. A sender must keep its queue across restarts and measure the expiry from an "
    "event's creation: the guide's 24 h then costs nothing until an outage outlasts it, so the expiry "
    "should be set from the longest outage a system means to recover from; a concurrency cap keeps a "
    "hanging receiver from exhausting events' retries."
)
print(
    f"Uncertainty. The edges are on the notebook's grid (a sender downtime loses nothing at "
    f"{safe_down} h and something at {first_down} h; a hang at {safe_hang} h and {first_hang} h), "
    f"from one seed ({SEED}) at {DOWNTIME_RATE_PER_S * 3600:g} and {HANG_RATE_PER_S * 3600:g} events/h; "
    f"the exact edge lies between grid points."
)
fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
plot.delivery_age(whsim.simulate(sender_down(EXAMPLE_H), seed=SEED), ax=left)
plot.delivery_age(whsim.simulate(receiver_hangs(EXAMPLE_H), seed=SEED), ax=right)
left.set_title(f"sender down {EXAMPLE_H} h: age of each delivery when it ended")
right.set_title(f"receiver hangs {EXAMPLE_H} h, concurrency {CONCURRENCY}: age when it ended")
fig.tight_layout()
