"""Write sample-sender-report.json: a sender conformance report trimmed to its retry cases.

Usage (after `make demo`): .venv/bin/python notebooks/data/trim_sender_report.py reports/sender/report.json
Notebook 06 reads the sample when no demo has run; it keeps the report's shape, drops request and
response bytes and figures.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def trim(report: dict) -> dict:
    out = {k: v for k, v in report.items() if k not in ("cases", "clauses")}
    out["cases"] = [
        {
            **{k: v for k, v in c.items() if k not in ("request", "response", "exchanges", "curl")},
            "details": {k: v for k, v in c.get("details", {}).items() if k != "figures"},
        }
        for c in report["cases"]
        if c["id"].startswith("SND-RETRY-")
    ]
    scale = out["settings"].get("time scale", "1")
    out["notes"] = [
        *out.get("notes", []),
        "sample for notebooks/06: the report.json of `whsim conformance sender` against "
        f"`whsim sender` (time scale {scale}, seed {report['seed']}), trimmed to the SND-RETRY "
        "cases without request/response bytes and figures",
    ]
    return out


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "reports/sender/report.json")
    target = HERE / "sample-sender-report.json"
    target.write_text(json.dumps(trim(json.loads(source.read_text())), indent=1) + "\n")
    print(f"wrote {target}")
