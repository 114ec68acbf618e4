"""Golden digests of the named scenarios: any change in behaviour shows up as a diff in review.

After an intended change, regenerate with ``WHSIM_UPDATE_GOLDEN=1 pytest tests/sim/test_golden.py``
and commit ``tests/sim/data/golden.json`` with the change that explains it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import whsim
from whsim.sim import SCENARIOS

GOLDEN = Path(__file__).parent / "data" / "golden.json"
KEYS = ("events", "deliveries", "attempts", "delivered", "exhausted", "expired", "rejected")


def _current() -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for name in SCENARIOS:
        s = whsim.simulate(name, seed=0).summary
        out[name] = {k: s[k] for k in (*KEYS, "attempts_sha256")}
    return out


def test_named_scenarios_match_their_golden_digests():
    current = _current()
    if os.environ.get("WHSIM_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    for name in SCENARIOS:
        # counts first: they say what changed; the digest catches everything else
        assert {k: current[name][k] for k in KEYS} == {k: golden[name][k] for k in KEYS}, name
        assert current[name]["attempts_sha256"] == golden[name]["attempts_sha256"], name
