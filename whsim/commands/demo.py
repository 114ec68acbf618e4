"""``whsim demo``: the main job. For now: the retry schedules and the clause registry."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from whsim.policy import RetryPolicy
from whsim.spec.clauses import clauses


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="run the main job and write reports/")
    parser.add_argument("--out", default="reports", help="report folder (default: reports)")
    parser.set_defaults(func=run)


def schedule_table() -> str:
    """Each retry policy's attempt offsets (seconds after the first attempt)."""
    lines = [f"{'POLICY':<22}{'ATTEMPTS':>9}  OFFSETS (s)"]
    for name in RetryPolicy.names():
        policy = RetryPolicy.named(name)
        offsets = ", ".join(f"{o:g}" for o in policy.attempt_offsets())
        lines.append(f"{name:<22}{policy.max_attempts:>9}  {offsets}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from whsim.commands.spec import clause_table

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print("Retry schedules (every attempt failing instantly):")
    print(schedule_table())
    print()
    print(clause_table(list(clauses())))
    schedules = {
        name: {
            "attempt_offsets_s": list(RetryPolicy.named(name).attempt_offsets()),
            "source": RetryPolicy.named(name).source,
        }
        for name in RetryPolicy.names()
    }
    (out / "schedules.json").write_text(json.dumps(schedules, indent=2) + "\n")
    (out / "clauses.json").write_text(
        json.dumps([c.as_dict() for c in clauses()], indent=2, ensure_ascii=False) + "\n"
    )
    print(f"\nwrote {out / 'schedules.json'} and {out / 'clauses.json'}")
    return 0
