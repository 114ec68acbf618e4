"""``whsim listen``: watch deliveries arrive, verified, and answer them (or pass them on)."""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
from typing import Any

from whsim.core.errors import SpecInputError
from whsim.core.spec.events import EVENT_TYPES


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "listen",
        help="a local endpoint that prints each delivery, verified, as it arrives",
        description="Listen for webhook deliveries on http://HOST:PORT/webhook and print one line "
        "each: event type and id, attempt number and the gap since the previous attempt of the "
        "same event, the signature and schema verdicts with their reasons, and the answer given. "
        "Answers by --behaviour, or passes each delivery byte for byte to --forward-to and "
        "answers with what it said. --register makes a sender deliver here.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5000, help="port (0 picks a free one)")
    parser.add_argument(
        "--secret", default=os.environ.get("WHSIM_SECRET"), help="signing secret (env WHSIM_SECRET)"
    )
    parser.add_argument(
        "--behaviour",
        metavar="NAME|FILE",
        help="how to answer: a name from whsim.core.behaviours (healthy, fail-twice, ...) or a "
        "TOML/JSON file, as for whsim receiver (default healthy)",
    )
    parser.add_argument(
        "--forward-to",
        metavar="URL",
        help="pass each delivery, exact bytes and headers, to your receiver; answer with its answer",
    )
    parser.add_argument(
        "--register",
        metavar="SENDER_URL",
        help="register this endpoint with the sender at SENDER_URL (POST /api/webhooks)",
    )
    parser.add_argument(
        "--events",
        default=",".join(EVENT_TYPES),
        metavar="TYPE,...",
        help="event types to register for (default: all seven)",
    )
    parser.add_argument(
        "--job",
        action="store_true",
        help="after registering, start a job on the sender (reference sender's event source API) "
        "so events flow at once",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of random faults")
    parser.set_defaults(func=run)


def _register(sender: str, url: str, events: list[str], secret: str, job: bool) -> None:
    """Register ``url`` with ``sender`` (the challenge comes back to us meanwhile), then a job."""
    import httpx

    base = sender.rstrip("/")
    try:
        with httpx.Client(timeout=30.0) as client:
            got = client.post(
                f"{base}/api/webhooks", json={"url": url, "events": events, "secret": secret}
            )
            doc = (
                got.json()
                if got.headers.get("content-type", "").startswith("application/json")
                else {}
            )
            if got.status_code >= 300:
                print(
                    f"whsim listen: registration refused: {got.status_code} {got.text[:300]}",
                    flush=True,
                )
                return
            print(
                f"whsim listen: registered {doc.get('id')} with {base} (status {doc.get('status')})",
                flush=True,
            )
            if job:
                proposal = client.post(
                    f"{base}/api/proposals", json={"title": "whsim listen"}
                ).json()
                started = client.post(
                    f"{base}/api/jobs",
                    json={"proposal_id": proposal.get("id"), "steps": 5, "step_seconds": 3},
                )
                print(f"whsim listen: started job {started.json().get('id')} on {base}", flush=True)
    except (httpx.HTTPError, json.JSONDecodeError) as exc:
        print(f"whsim listen: cannot register with {base}: {type(exc).__name__}: {exc}", flush=True)


def run(args: argparse.Namespace) -> int:
    from whsim.commands.receiver import load_behaviour
    from whsim.conformance.runner import check_url
    from whsim.listen import create_listen_app
    from whsim.serve import bind, make_server, run_server

    if not args.secret:
        raise SpecInputError(
            "a signing secret is needed (--secret or WHSIM_SECRET)", field="secret"
        )
    events = [e.strip() for e in args.events.split(",") if e.strip()]
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown or not events:
        raise SpecInputError(
            f"--events must name event types from: {', '.join(EVENT_TYPES)}; got {', '.join(unknown) or 'none'}",
            field="events",
        )
    for option in ("forward_to", "register"):
        value = getattr(args, option)
        if value is not None:
            check_url(value, option=f"--{option.replace('_', '-')}")
    faults = load_behaviour(args.behaviour) if args.behaviour else None
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        raise SpecInputError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", field="port"
        ) from None
    app = create_listen_app(
        args.secret,
        behaviour=faults,
        forward_to=args.forward_to,
        say=lambda line: print(line, flush=True),
        rng=random.Random(args.seed),
    )
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{sock.getsockname()[1]}/webhook"
    answer = (
        f"forwarding to {args.forward_to}"
        if args.forward_to
        else f"behaviour {faults.name if faults else 'healthy'}"
    )
    print(f"whsim listen: listening on {url} ({answer}); Ctrl-C stops", flush=True)
    server = make_server(app, lifespan="off")

    def ready() -> None:
        # Registration waits for the challenge this server answers: never on the event loop.
        if args.register:
            threading.Thread(
                target=_register,
                args=(args.register, url, events, args.secret, args.job),
                name="whsim-listen-register",
                daemon=True,
            ).start()

    try:
        run_server(server, sock, on_ready=ready)
    finally:
        sock.close()
    print("whsim listen: stopped", file=sys.stderr)
    return 0
