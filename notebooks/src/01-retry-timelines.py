# %% [markdown]
# # 01 · Retry timelines
#
# **Question.** When one event's delivery keeps failing, when does the sender try again under
# each reading of the guide's retry clause, with and without jitter?
#
# The guide (clause RETRY-1) says: *"Immediate retry on failure · Exponential backoff (1s, 2s,
# 4s, 8s, 16s) · Maximum 5 retries"*. Those three lines cannot all hold at once, so whsim names
# three readings: `backoff-only` (the kit's default: five retries after 1, 2, 4, 8, 16 s),
# `immediate-plus-five` (an immediate retry, then the five delays: six retries) and
# `immediate-counts` (the immediate retry is one of the five, so the 16 s delay never happens).
# The guide says nothing about jitter (RETRY-4); the jittered rows show what it would change.
#
# Each row below is one simulated event to a receiver that answers 500 to every attempt.

# %% parameters
from whsim import Readings

# The readings every row follows (one value, as `--reading CLAUSE=NAME` on the command line), e.g.
# Readings.parse(["RETRY-3=from-send", "RETRY-2=only-500"]); the rows vary RETRY-1 and RETRY-4.
READINGS = Readings.parse([])
RETRY_1 = ["backoff-only", "immediate-plus-five", "immediate-counts"]  # one row each
JITTER = "full"  # the RETRY-4 reading of the jittered rows: full, equal, proportional, decorrelated
JITTER_DRAWS = 20  # seeds drawn for each jittered row
RECEIVER = "always-500"  # a built-in behaviour: "always-500", "down" (refused), "hang" (5 s timeouts)

# %%
import matplotlib

# Figures inline, also when MPLBACKEND=Agg is set (nbconvert --execute in CI drops them otherwise).
matplotlib.use("module://matplotlib_inline.backend_inline")
import matplotlib.pyplot as plt
import pandas as pd

import whsim
from whsim.analysis import plot
from whsim.sim import sweep

# %%
runs = {reading: READINGS.with_reading("RETRY-1", reading) for reading in RETRY_1}
rows = {}
colours = {}
table = []
for reading, readings in runs.items():
    plain = sweep.failing_attempts(readings.with_reading("RETRY-4", "none"), receiver=RECEIVER)
    jittered = readings.with_reading("RETRY-4", JITTER)
    draws = [
        sweep.failing_attempts(jittered, seed=s, receiver=RECEIVER) for s in range(JITTER_DRAWS)
    ]
    rows[reading] = plain
    rows[f"{reading} + {JITTER} jitter"] = draws
    colours[reading] = colours[f"{reading} + {JITTER} jitter"] = f"C{len(table)}"
    gaps = [b - a for a, b in zip(plain, plain[1:])]
    table.append(
        {
            "reading": reading,
            "attempts": len(plain),
            "retries": len(plain) - 1,
            "zero-gap retries": sum(g < 0.5 for g in gaps),
            "last attempt (s)": plain[-1],
            f"last attempt with {JITTER} jitter, min–max (s)": (
                f"{min(d[-1] for d in draws):.1f}–{max(d[-1] for d in draws):.1f}"
            ),
            "offsets (s)": ", ".join(f"{x:g}" for x in plain),
        }
    )
table = pd.DataFrame(table).set_index("reading")
table

# %% [markdown]
# The offsets are a little over 1, 3, 7, 15, 31 s because the backoff counts from when the failed
# attempt *ended* (reading `from-failure` of RETRY-3), and each 500 takes 20 ms to arrive.
# For comparison, the published schedules of other systems, as whsim models them:

# %%
pd.DataFrame(
    [
        {
            "policy": name,
            "attempts": whsim.RetryPolicy.named(name).max_attempts,
            "window": f"{whsim.RetryPolicy.named(name).window_ms() / 3_600_000:.2f} h",
            "source": whsim.RetryPolicy.named(name).source,
        }
        for name in whsim.RetryPolicy.names()
    ]
).set_index("policy")

# %% [markdown]
# ## Answer

# %%
default = table.loc["backoff-only"]
print(
    f"Under the kit's default reading (backoff-only) a failing event gets {default['attempts']} "
    f"attempts and the last one starts {default['last attempt (s)']:.1f} s after the first; "
    + "; ".join(
        f"{r} gives {table.loc[r, 'attempts']} attempts over {table.loc[r, 'last attempt (s)']:.1f} s"
        f" ({table.loc[r, 'zero-gap retries']} zero-gap)"
        for r in table.index
        if r != "backoff-only"
    )
    + f". With {JITTER} jitter the last backoff-only attempt lands anywhere from "
    f"{table.loc['backoff-only', f'last attempt with {JITTER} jitter, min–max (s)'].replace('–', ' to ')} s "
    f"({JITTER_DRAWS} draws): jitter spreads retries out but shortens the window, so under every "
    "reading a receiver that is down for more than about half a minute loses the event."
)

print(
    "Recommendation. The guide should state one reading of RETRY-1 (the kit's default, backoff-only: "
    "five retries after 1, 2, 4, 8 and 16 s) and a schedule that reaches further than half a minute "
    "(notebook 02); if it adds jitter (RETRY-4) it must say which kind, since full jitter shortens "
    "the window it spreads."
)
print(
    f"Uncertainty. Without jitter the offsets are exact (each failure takes the receiver's 20 ms, "
    f"so the last attempt is 0.1 s later than the delays add up to); the jittered range is the "
    f"min-max of {JITTER_DRAWS} draws, and which reading the guide means is the kit's interpretation "
    f"of an ambiguous clause, not the guide's word."
)
fig, ax = plt.subplots(figsize=(10, 4.2))
plot.attempt_offsets(rows, colours=colours, ax=ax)
ax.set_title(
    f"one failing event ({RECEIVER}): attempts under each reading of RETRY-1 (readings: {READINGS})"
)
fig.tight_layout()
