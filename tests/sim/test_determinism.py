"""Same scenario and seed: the same log, byte for byte, across runs, engines and processes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import whsim
from whsim.sim import SCENARIOS
from whsim.sim.fast import run_fast
from whsim.sim.plan import compile_plan
from whsim.sim.results import attempts_hash

CODE = (
    "import sys, whsim; "
    "print(whsim.simulate(sys.argv[1], seed=int(sys.argv[2]), engine=sys.argv[3]).attempts_hash())"
)


def _hash_in_subprocess(name: str, seed: int, engine: str, hashseed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    out = subprocess.run(
        [sys.executable, "-c", CODE, name, str(seed), engine],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return out.stdout.strip()


@pytest.mark.parametrize(("name", "engine"), [("flaky", "numpy"), ("outage-2h", "reference")])
def test_same_seed_same_hash_across_processes(name, engine):
    here = whsim.simulate(name, seed=11, engine=engine).attempts_hash()
    assert _hash_in_subprocess(name, 11, engine, "1") == here
    assert _hash_in_subprocess(name, 11, engine, "2") == here


def test_same_seed_same_tables_within_a_process():
    a = whsim.simulate("outage-10min", seed=5)
    b = whsim.simulate("outage-10min", seed=5)
    assert a.attempts.equals(b.attempts)
    assert a.deliveries.equals(b.deliveries)
    assert a.attempts.to_csv(index=False) == b.attempts.to_csv(index=False)


def test_different_seeds_differ():
    assert (
        whsim.simulate("flaky", seed=1).attempts_hash()
        != whsim.simulate("flaky", seed=2).attempts_hash()
    )


@pytest.mark.parametrize("name", [n for n in SCENARIOS if n != "outage-2h"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_engines_agree_on_every_named_independent_scenario(name, seed):
    plan = compile_plan(whsim.load_scenario(name), seed)
    fast = whsim.simulate(name, seed=seed, engine="reference")
    assert fast.attempts_hash() == attempts_hash(plan, run_fast(plan))


def test_policies_compared_on_one_seed_see_the_same_failures():
    """Keyed randomness: the first attempts' answers do not depend on the retry policy."""
    a = whsim.simulate("flaky", seed=3, reading="backoff-only").attempts
    b = whsim.simulate("flaky", seed=3, reading="svix").attempts
    first_a = a[a["attempt"] == 1].sort_values(["event_id", "webhook_id"])
    first_b = b[b["attempt"] == 1].sort_values(["event_id", "webhook_id"])
    assert first_a["status"].tolist() == first_b["status"].tolist()
    assert first_a["latency_ms"].tolist() == first_b["latency_ms"].tolist()


def test_importing_the_simulator_stays_light():
    code = (
        "import sys, whsim, whsim.sim; "
        "print(','.join(m for m in ('numpy', 'pandas', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
