"""The receiver suite's diagnosis: the likely root cause, from the outcomes and a few probes.

Probes run only when the pattern asks for them (a correctly signed event was refused): the same
valid event signed over each common re-serialization of its body, and with the signature header
written in each common other way (``sha256=`` prefix, uppercase hex, surrounding spaces). The
one that is accepted names the cause; when none is, every signed request was refused alike and
the likely cause is the secret. Slow answers and URLs that are not a receiver at all (404, 405,
an HTML page, a sender's registration API) are read from what the suite already saw.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import httpx

from whsim.conformance.case import Case, CaseResult, CaseSpec
from whsim.conformance.diagnosis import Finding
from whsim.conformance.exchange import Exchange, curl_line
from whsim.conformance.outcomes import Outcome
from whsim.core.signing import SIGNATURE_HEADER, sign

from .target import REQUEST_TIMEOUT_S, ReceiverTarget, timed_out

__all__ = ["BODY_FORMS", "HEADER_FORMS", "diagnose"]

_PROBE = CaseSpec("RCV-DIAG-000", "diagnosis probes (not a case)", ("SIG-3",))

BODY_FORMS: dict[str, Callable[[bytes], bytes]] = {
    "Python json.dumps defaults (', ' and ': ' separators)": lambda b: json.dumps(
        json.loads(b)
    ).encode(),
    "compact (JSON.stringify, or separators=(',', ':'))": lambda b: json.dumps(
        json.loads(b), separators=(",", ":"), ensure_ascii=False
    ).encode(),
    "sorted keys (json.dumps(..., sort_keys=True))": lambda b: json.dumps(
        json.loads(b), sort_keys=True
    ).encode(),
    "sorted keys, compact": lambda b: json.dumps(
        json.loads(b), sort_keys=True, separators=(",", ":")
    ).encode(),
}
"""Re-serializations a receiver may verify instead of the raw bytes."""

HEADER_FORMS: dict[str, Callable[[str], str]] = {
    "with a 'sha256=' prefix": lambda h: "sha256=" + h,
    "in uppercase hex": str.upper,
    "with a 'sha256=' prefix and uppercase hex": lambda h: "sha256=" + h.upper(),
    "surrounded by spaces (not stripped)": lambda h: f" {h} ",
}
"""Ways a receiver may read the signature header other than bare lowercase hex."""


def _ok(ex: Exchange) -> bool:
    s = ex.response.status
    return s is not None and 200 <= s < 300


def _slow(target: ReceiverTarget) -> Finding | None:
    slow: Counter[str] = Counter()
    total: Counter[str] = Counter()
    worst = 0.0
    for _, ex in target.log:
        kind = _type(ex.request.body)
        total[kind] += 1
        late = timed_out(ex) or ex.response.elapsed_s > REQUEST_TIMEOUT_S
        if late:
            slow[kind] += 1
            worst = max(worst, ex.response.elapsed_s)
    if not slow:
        return None
    n = sum(slow.values())
    return Finding(
        "slow-receiver",
        f"{n} of {sum(total.values())} answers came later than the guide's {REQUEST_TIMEOUT_S:g} s "
        "(or never): the guide's sender times these out and retries them",
        [f"{kind or 'not an event'}: {slow[kind]} of {total[kind]} late" for kind in sorted(slow)],
        "answer first (2xx once the signature holds and the event is stored), do the work after",
        ["RCV-TIMEOUT-001"],
    )


def _type(body: bytes) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        return ""
    kind = doc.get("type") if isinstance(doc, dict) else None
    return kind if isinstance(kind, str) else ""


def _not_a_receiver(target: ReceiverTarget, results: Mapping[str, CaseResult]) -> Finding | None:
    answers = [ex for _, ex in target.log if ex.response.status is not None]
    if not answers:
        return None
    statuses = Counter(ex.response.status for ex in answers)
    html = sum(
        1
        for ex in answers
        if any(k.lower() == "content-type" and "html" in v.lower() for k, v in ex.response.headers)
    )
    if html * 2 >= len(answers):
        return Finding(
            "not-a-receiver",
            f"the URL answers with an HTML page ({html} of {len(answers)} answers), not as a "
            "webhook receiver",
            [_tally(statuses)],
            "check the path: the receiver's POST route, not a web page",
        )
    if any(_ok(ex) for ex in answers):
        return None
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(target.url))
    for path in ("/api/webhooks", "/api/meta"):
        try:
            got = target.client.get(origin + path, timeout=REQUEST_TIMEOUT_S)
            doc = got.json() if got.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            doc = None
        if isinstance(doc, dict) and ("webhooks" in doc or "time_scale" in doc or "mode" in doc):
            return Finding(
                "sender-api-not-receiver",
                f"{origin} looks like a webhook sender's API (GET {path} answers like one), not "
                "a receiver",
                [f"GET {origin}{path}: 200 {json.dumps(doc)[:120]}", _tally(statuses)],
                "point the receiver suite at your webhook endpoint; to check a sender, run "
                "'whsim conformance sender' against this URL",
            )
    common, n = statuses.most_common(1)[0]
    if common in (404, 405) and n == len(answers):
        what = "no such route (404)" if common == 404 else "does not take POST (405)"
        return Finding(
            "not-a-receiver",
            f"every POST to {target.url} got {common}: {what}",
            [_tally(statuses)],
            "check the URL's path and that the route accepts POST",
        )
    return None


def _tally(statuses: Counter[int | None]) -> str:
    return "answers: " + ", ".join(f"{n} x {s}" for s, n in statuses.most_common())


def _signature(target: ReceiverTarget, results: Mapping[str, CaseResult]) -> Finding | None:
    first = results.get("RCV-SIG-001")
    if first is None:
        return None
    refused = [ex for ex in first.exchanges if ex.response.status == 401]
    raw_refused = [
        r.spec.id
        for r in results.values()
        if r.spec.id.startswith(("RCV-RAW-", "RCV-GEN-001"))
        and r.outcome is Outcome.FAIL
        and any(ex.response.status == 401 for ex in r.exchanges)
    ]
    if first.outcome is Outcome.FAIL:
        if not refused or len(refused) * 2 < len(first.exchanges):
            return None
    elif not raw_refused:
        return None
    case = Case(_PROBE)
    event = target.event("job.completed")
    raw = json.dumps(json.loads(event.body), indent=2).encode()  # differs from every form
    probes: list[tuple[str, str, bytes, dict[str, str]]] = []
    for label, reserialize in BODY_FORMS.items():
        signed = sign(reserialize(raw), target.secret)
        probes.append(("body", label, raw, {SIGNATURE_HEADER: signed}))
    body = target.event("job.completed").body
    right = sign(body, target.secret)
    for label, spell in HEADER_FORMS.items():
        probes.append(("header", label, body, {SIGNATURE_HEADER: spell(right)}))
    exchanges = [
        target.send(
            case,
            b,
            headers={"Content-Type": "application/json", **h},
            note=f"diagnosis probe: signature {label}",
        )
        for _, label, b, h in probes
    ]
    evidence = (
        [f"RCV-SIG-001: {len(refused)} of {len(first.exchanges)} correctly signed events got 401"]
        if first.outcome is Outcome.FAIL
        else []
    )
    if raw_refused:
        evidence.append(
            f"refused with 401 although signed over the exact bytes: {', '.join(raw_refused)}"
        )
    for (kind, label, _, _), ex in zip(probes, exchanges, strict=True):
        if not _ok(ex):
            continue
        if kind == "body":
            return Finding(
                "body-reserialized",
                f"the receiver verifies the signature over a re-serialized body: {label}, not "
                "the raw bytes it received",
                [*evidence, f"accepted when signed over {label}: {curl_line(ex.request)}"],
                "compute the HMAC over the raw request body (request.get_data() / "
                "await request.body()) before parsing it",
                ["RCV-SIG-001", "RCV-RAW-001"],
            )
        return Finding(
            "header-format",
            f"the receiver reads X-Webhook-Signature differently: it accepts the signature "
            f"{label}, but the guide's sender sends bare lowercase hex",
            [*evidence, f"accepted with the signature {label}: {curl_line(ex.request)}"],
            "compare hmac.new(secret, raw_body, sha256).hexdigest() with the header as sent",
            ["RCV-SIG-001"],
        )
    if first.outcome is not Outcome.FAIL:
        return None  # some bodies are refused, but not by a form the probes know
    negatives = [
        i for i in ("RCV-SIG-002", "RCV-SIG-004") if getattr(results.get(i), "outcome", None)
    ]
    return Finding(
        "wrong-secret",
        "every correctly signed request was refused with 401, and so was each variant of body "
        "form and header format: the receiver most likely verifies with another secret",
        [
            *evidence,
            f"{len(probes)} probes ({', '.join(BODY_FORMS)}; {', '.join(HEADER_FORMS)}): "
            "none accepted",
            *(f"{i}: {results[i].outcome}" for i in negatives),
        ],
        "check that --secret is the secret the receiver was configured with",
        ["RCV-SIG-001"],
    )


def diagnose(target: ReceiverTarget, results: Mapping[str, CaseResult]) -> list[Finding]:
    """The likely root causes of the run, most fundamental first (empty when nothing failed)."""
    found = [f for f in (_not_a_receiver(target, results),) if f is not None]
    if not found:
        sig = _signature(target, results)
        if sig is not None:
            found.append(sig)
    slow = _slow(target)
    if slow is not None:
        found.append(slow)
    return found
