# %% [markdown]
# # 07 · Spec exploration
#
# **Question.** Which assumptions a designer might make about the guide's webhooks are false,
# and what is the smallest situation that shows it?
#
# Each assumption below is a check on a simulation result. `whsim.analysis.explore` searches a space of
# scenarios with hypothesis, and when one breaks the check it shrinks it to a minimal
# counterexample (the shortest outage, the smallest burst, ...). A search that finds nothing
# within its budget is evidence, not proof, that the assumption holds.

# %% parameters
PROPERTIES = [
    "no-loss-short-outages",
    "nothing-expires",
    "final-progress-seen",
    "job-events-in-order",
    "calm-after-recovery",
    "attempts-within-reading",
    "no-attempt-after-expiry",
]
MAX_EXAMPLES = 200  # scenarios tried per property
TIME_BUDGET_S = 8  # search + shrink budget per property
SEED = 0  # seeds the search: the same seed finds the same counterexample

# %%
import math

import matplotlib

# Figures inline, also when MPLBACKEND=Agg is set (nbconvert --execute in CI drops them otherwise).
matplotlib.use("module://matplotlib_inline.backend_inline")
import matplotlib.pyplot as plt
import pandas as pd

from whsim.analysis.explore import PROPERTIES as CATALOGUE
from whsim.analysis import plot
from whsim.analysis.explore import explore_named

# %%
found = {}
rows = []
for name in PROPERTIES:
    prop = CATALOGUE[name]
    cx = explore_named(name, max_examples=MAX_EXAMPLES, seed=SEED, time_budget_s=TIME_BUDGET_S)
    found[name] = cx
    rows.append(
        {
            "property": name,
            "assumption": prop.assumption,
            "expected": prop.verdict,
            "found": "counterexample" if cx else "none",
            "violation": cx.message if cx else "",
            "scenarios tried": cx.examples if cx else "",
        }
    )
pd.set_option("display.max_colwidth", 120)
summary = pd.DataFrame(rows).set_index("property")
summary

# %% [markdown]
# Each counterexample, as the scenario that breaks the assumption and what it means for the guide:

# %%
for name, cx in found.items():
    prop = CATALOGUE[name]
    print(f"## {name}: {prop.assumption}")
    if cx is None:
        print(f"   no counterexample in {MAX_EXAMPLES} scenarios / {TIME_BUDGET_S} s. {prop.meaning}\n")
        continue
    print(cx.describe())
    print(f"   minimal: {prop.minimal}")
    print(f"   meaning: {prop.meaning}\n")

# %% [markdown]
# ## Answer

# %%
broken = [n for n, cx in found.items() if cx is not None]
facts = []
if found.get("no-loss-short-outages"):
    (o,) = found["no-loss-short-outages"].scenario.receivers[0].outages
    facts.append(f"an outage of {(o.end_ms - o.start_ms) / 1000:g} s loses an event")
if found.get("nothing-expires"):
    (d,) = found["nothing-expires"].scenario.sender.downtime
    facts.append(f"a sender downtime of {d.end_ms - d.start_ms:,} ms (24 h + {d.end_ms - d.start_ms - 86_400_000} ms) expires one")
if found.get("calm-after-recovery"):
    facts.append(f"a burst of {found['calm-after-recovery'].scenario.workload.arrival.burst_size} events during an outage comes back as more than 10 attempts in one second")
if found.get("final-progress-seen"):
    w = found["final-progress-seen"].scenario.workload
    facts.append(f"a job of {w.job_duration_ms // w.progress_every_ms} steps of {w.progress_every_ms / 1000:g} s never shows its last step")
if found.get("job-events-in-order"):
    facts.append("one failed attempt is enough to deliver a job's events out of order")
held = [n for n, cx in found.items() if cx is None]
print(
    f"Hypothesis broke {len(broken)} of the {len(found)} assumptions "
    f"({', '.join(broken) or 'none'}) with minimal counterexamples: " + "; ".join(facts) + ". "
    + (f"No counterexample was found for {', '.join(held)}, as expected." if held else "")
)
shown = list(broken)
cols = 2
print(
    "Recommendation. Each broken assumption names a clause to tighten (outage reach, expiry, throttling "
    "of the final step, ordering, load after recovery); its minimal counterexample is a regression "
    "scenario for the suite."
)
print(
    f"Uncertainty. Hypothesis tried up to {MAX_EXAMPLES} scenarios per property ({TIME_BUDGET_S} s "
    f"budget, seed {SEED}): a counterexample is certain, 'no counterexample' is evidence, not proof."
)
fig, axes = plt.subplots(math.ceil(len(shown) / cols), cols, figsize=(13, 3.6 * math.ceil(len(shown) / cols)), squeeze=False)
for ax, name in zip(axes.flat, shown):
    found[name].plot(ax=ax)
    plot.title(ax, f"{name}: {found[name].message}", width=75)
for ax in list(axes.flat)[len(shown):]:
    ax.axis("off")
fig.tight_layout()
