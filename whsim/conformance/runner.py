"""``whsim conformance ROLE``: check the target, run the role's pytest suite, report, exit code.

The suite runs in-process through :func:`pytest.main` with the suite's own ``pytest.ini`` (so the
calling project's pytest settings cannot change a grade). The plugin writes the reports; the exit
code is read back from report.json: 0 no case failed, 1 one did, 2 the target could not be reached
at all, a usage error, or a kit error.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from whsim.conformance.http import probe
from whsim.conformance.outcomes import EXIT_ERROR
from whsim.core.errors import ConformanceUsageError
from whsim.core.readings import Readings

__all__ = ["ROLES", "ConformanceUsageError", "run", "suite_dir"]

ROLES = ("receiver", "sender")
"""Roles with a suite (``whsim_conformance.<role>``)."""


def suite_dir(role: str) -> Path:
    """Where the installed suite of ``role`` lives."""
    spec = importlib.util.find_spec(f"whsim_conformance.{role}")
    if spec is None or not spec.submodule_search_locations:
        raise ConformanceUsageError(
            f"the {role} suite is not installed (package whsim_conformance.{role})", field="role"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def check_url(url: str, *, option: str = "target") -> None:
    """Raise ConformanceUsageError unless ``url`` is http(s) with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConformanceUsageError(
            f"{option} must be an http:// or https:// URL with a host, got {url!r}",
            field=option.lstrip("-").replace("-", "_"),
        )


_check_url = check_url


def sender_options(
    *,
    trigger: str = "http",
    listen: str = "127.0.0.1:0",
    public_url: str | None = None,
    mode: str | None = None,
    timing: str = "default",
) -> list[str]:
    """The pytest options of the sender suite, each value checked (ConformanceUsageError)."""
    from whsim.conformance.timing import PROFILES

    if not trigger.strip():
        raise ConformanceUsageError("--trigger must be http, none or a command", field="trigger")
    if trigger not in ("http", "none"):
        try:
            trigger.format(event_type="job.completed", webhook_id="wh_1")
        except (KeyError, IndexError, ValueError) as exc:
            raise ConformanceUsageError(
                f"--trigger command template may use only {{event_type}} and {{webhook_id}}: {exc}",
                field="trigger",
            ) from None
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConformanceUsageError(f"--listen must be HOST:PORT, got {listen!r}", field="listen")
    if public_url is not None:
        _check_url(public_url)
    if mode is not None and mode not in ("development", "production"):
        raise ConformanceUsageError(
            f"--mode must be development or production, got {mode!r}", field="mode"
        )
    if timing not in PROFILES:
        raise ConformanceUsageError(
            f"--timing must be one of {', '.join(PROFILES)}, got {timing!r}", field="timing"
        )
    args = [f"--whsim-trigger={trigger}", f"--whsim-listen={listen}", f"--whsim-timing={timing}"]
    if public_url:
        args.append(f"--whsim-public-url={public_url}")
    if mode:
        args.append(f"--whsim-mode={mode}")
    return args


def run(
    role: str,
    url: str,
    *,
    secret: str = "",
    report_dir: Path,
    strict: bool = False,
    seed: int | None = None,
    keyword: str | None = None,
    timeout_budget: float | None = None,
    pytest_args: Sequence[str] = (),
    quiet: bool = False,
    readings: Readings | None = None,
    sender: Sequence[str] = (),
) -> int:
    """Run the ``role`` suite against ``url``; returns the exit code (see the module docstring).

    ``sender`` holds the sender suite's options, as :func:`sender_options` builds them;
    ``readings`` the readings the suite grades by (checked by the plugin against the suite's
    declaration in :mod:`whsim.core.honoured`).
    """
    import pytest

    if role not in ROLES:
        raise ConformanceUsageError(
            f"unknown role {role!r}; known: {', '.join(ROLES)}", field="role"
        )
    _check_url(url)
    if role == "receiver" and not secret:
        raise ConformanceUsageError(
            "a signing secret is needed (--secret or WHSIM_SECRET)", field="secret"
        )
    if timeout_budget is not None and not timeout_budget > 0:
        raise ConformanceUsageError(
            "--timeout-budget must be a positive number of seconds", field="timeout_budget"
        )
    why = probe(url)
    if why is not None:
        print(f"whsim conformance: error: cannot reach {url} at all: {why}", file=sys.stderr)
        return EXIT_ERROR
    suite = suite_dir(role)
    report_dir = Path(report_dir)
    stale = report_dir / "report.json"
    if stale.exists():
        stale.unlink()
    args = [
        str(suite),
        "-c",
        str(suite.parent / "pytest.ini"),
        "--rootdir",
        str(suite.parent),
        f"--whsim-report={report_dir}",
    ]
    if role == "receiver":
        args += [f"--whsim-receiver-url={url}", f"--whsim-secret={secret}"]
    else:
        args += [f"--whsim-sender-url={url}", *(sender or sender_options())]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        args[1:1] = ["-p", "whsim.pytest_plugin"]
    for clause_id, name in (readings.chosen if readings is not None else {}).items():
        args.append(f"--whsim-reading={clause_id}={name}")
    if readings is not None and readings.policy is not None:
        args.append(f"--whsim-policy={readings.policy}")
    if strict:
        args.append("--whsim-strict")
    if seed is not None:
        args.append(f"--whsim-seed={seed}")
    if timeout_budget is not None:
        args.append(f"--whsim-timeout-budget={timeout_budget}")
    if keyword:
        args += ["-k", keyword]
    args += ["-q"] if quiet else []
    args += list(pytest_args)
    code = pytest.ExitCode(pytest.main(args))
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print(f"whsim conformance: error: no case matched -k {keyword!r}", file=sys.stderr)
        return EXIT_ERROR
    if code == pytest.ExitCode.USAGE_ERROR:
        return EXIT_ERROR  # pytest has printed the one ERROR: line
    if code in (
        pytest.ExitCode.INTERNAL_ERROR,
        pytest.ExitCode.INTERRUPTED,
    ):
        print(f"whsim conformance: error: pytest stopped ({code.name})", file=sys.stderr)
        return EXIT_ERROR
    if not stale.exists():
        print(
            "whsim conformance: error: no report was written (is the whsim plugin disabled?)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    report = json.loads(stale.read_text(encoding="utf-8"))
    return int(report["exit_code"])
