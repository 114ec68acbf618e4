"""RETRY: the schedule against always-500 (RETRY-1), what is retried (RETRY-2), redirects (RETRY-5).

Gaps are measured failure-to-next on the kit's monotonic clock (from the end of one attempt to
the headers of the next; reading from-failure of RETRY-3) and graded against the bands of the
timing profile, scaled by the sender's advertised time scale.
"""

from __future__ import annotations

from whsim.conformance.case import Case
from whsim.conformance.listener import MAX_KEPT
from whsim.conformance.outcomes import Outcome
from whsim.conformance.timing import grade_gaps, match_reading
from whsim.core.policy import RetryPolicy
from whsim.core.spec.clauses import reading_names
from whsim.core.spec.events import TEST_EVENT_TYPE

from .catalog import case
from .grading import attempt_rows, gaps, record_arrivals, require, starts, timeline
from .scenarios import Run, Scenarios, same_event
from .target import SenderTarget


def _schedule(whsim_case: Case, sender: SenderTarget, run: Run, title: str) -> list[float]:
    attempts = run.attempts()
    record_arrivals(whsim_case, run, attempts)
    observed = gaps(attempts)
    expected = sender.gaps()
    grade = grade_gaps(observed, expected, sender.timing)
    quiet = sender.timing.band(
        sender.longest_gap(len(attempts) - 1) or max(expected, default=1)
    ).high
    whsim_case.details.update(
        attempts=attempt_rows(attempts),
        gaps_failure_to_next_s=[round(g, 3) for g in observed],
        gaps_start_to_start_s=[round(g, 3) for g in starts(attempts)],
        expected_gaps_s=[round(e, 3) for e in expected],
        bands_s=[[round(b.low, 3), round(b.high, 3)] for b in grade.bands],
        reading=sender.reading,
        time_scale=sender.time_scale,
        scaled=sender.scaled,
        timing_profile=sender.timing.describe(),
    )
    whsim_case.details["figures"] = [
        timeline(
            f"{title}: {len(attempts)} attempt(s) against the bands of reading {sender.reading}"
            + (f" (scaled x{sender.time_scale:g})" if sender.scaled else ""),
            attempts,
            grade.bands,
            grades=[str(g) for g in grade.grades],
            quiet_s=quiet,
        )
    ]
    return observed


@case("SND-RETRY-001")
def test_backoff_gaps(sender: SenderTarget, scenarios: Scenarios, whsim_case: Case) -> None:
    run = require(whsim_case, scenarios, "retry-500")
    observed = _schedule(whsim_case, sender, run, "always 500")
    if not run.attempts():
        whsim_case.fail(
            "no delivery attempt arrived after POST .../test", expected="attempts", actual="none"
        )
    grade = grade_gaps(observed, sender.gaps(), sender.timing)
    expected = ", ".join(f"{b.expected:.3f} [{b.low:.3f}, {b.high:.3f}]" for b in grade.bands)
    actual = ", ".join(f"{g:.3f}" for g in observed) or "no retry"
    if grade.outcome is Outcome.PASS:
        whsim_case.passed(f"reading {sender.reading}: {grade.why}")
        return
    best, _ = match_reading(observed, sender.timing, sender.time_scale)
    if best is not None and best.reading != sender.reading:
        whsim_case.non_strict(
            f"the schedule follows reading {best.reading}, not the kit's {sender.reading} "
            f"(tolerated: the guide's retry clause is ambiguous); {grade.why}",
            expected=f"gaps (s) {expected}",
            actual=f"gaps (s) {actual}",
        )
    if grade.outcome is Outcome.NON_STRICT:
        whsim_case.non_strict(
            grade.why, expected=f"gaps (s) {expected}", actual=f"gaps (s) {actual}"
        )
    whsim_case.fail(grade.why, expected=f"gaps (s) {expected}", actual=f"gaps (s) {actual}")


@case("SND-RETRY-002")
def test_attempt_count(sender: SenderTarget, scenarios: Scenarios, whsim_case: Case) -> None:
    run = require(whsim_case, scenarios, "retry-500")
    attempts = run.attempts()
    record_arrivals(whsim_case, run, attempts)
    observed = gaps(attempts)
    whsim_case.details.update(attempts=attempt_rows(attempts), reading=sender.reading)
    want = sender.policy.max_attempts
    got = len(attempts)
    if got == want:
        whsim_case.passed(f"{got} attempts (1 + {want - 1} retries), then quiet")
        return
    best, _ = match_reading(observed, sender.timing, sender.time_scale)
    if best is not None:
        whsim_case.non_strict(
            f"{got} attempts: reading {best.reading} (tolerated), not the kit's {sender.reading}",
            expected=f"{want} attempts",
            actual=f"{got} attempts",
        )
    more = "extra attempts after the schedule ended" if got > want else "attempts are missing"
    whsim_case.fail(
        f"{got} attempts where reading {sender.reading} makes {want}: {more}",
        expected=f"{want} attempts, then none within the quiet window",
        actual=f"{got} attempts",
    )


@case("SND-RETRY-003")
def test_which_reading(sender: SenderTarget, scenarios: Scenarios, whsim_case: Case) -> None:
    run = require(whsim_case, scenarios, "retry-500")
    attempts = run.attempts()
    observed = gaps(attempts)
    best, fits = match_reading(observed, sender.timing, sender.time_scale)
    whsim_case.details["fits"] = {
        f.reading: {"grade": str(f.grade.outcome), "why": f.grade.why, "error_s": round(f.error, 3)}
        for f in fits
    }
    if attempts and len(observed) >= 1 and best is not None:
        expected = sender.gaps(best.reading)
        ratios = [o / e for o, e in zip(observed, expected, strict=False) if e >= 0.05]
        if ratios:
            ratios.sort()
            whsim_case.details["observed_over_expected_median"] = round(ratios[len(ratios) // 2], 3)
    if best is None:
        whsim_case.fail(
            f"the schedule ({len(attempts)} attempts, gaps "
            f"{', '.join(f'{g:.3f}' for g in observed) or 'none'} s) matches no reading of RETRY-1",
            expected="one of: "
            + "; ".join(
                f"{f.reading} {', '.join(f'{g:.3f}' for g in sender.gaps(f.reading))}" for f in fits
            ),
            actual=f"{len(attempts)} attempts",
        )
    whsim_case.info(
        f"the sender follows reading {best.reading} of RETRY-1 (time scale {sender.time_scale:g}"
        f"{', scaled' if sender.scaled else ''})"
    )


@case("SND-RETRY-004")
def test_no_retry_after_2xx(sender: SenderTarget, scenarios: Scenarios, whsim_case: Case) -> None:
    run = require(whsim_case, scenarios, "ok")
    attempts = run.attempts()
    record_arrivals(whsim_case, run, attempts)
    whsim_case.details["attempts"] = attempt_rows(attempts)
    if not attempts:
        whsim_case.untestable("the test event never arrived (SND-EVENT-005)")
    if len(attempts) > 1:
        whsim_case.fail(
            f"the test event was sent {len(attempts)} times although the first attempt got 200",
            expected="one attempt",
            actual=f"{len(attempts)} attempts, {gaps(attempts)[0]:.3f} s apart",
        )
    whsim_case.passed("one attempt, answered 200, nothing after it")


@case("SND-RETRY-005")
def test_retried_until_2xx(sender: SenderTarget, scenarios: Scenarios, whsim_case: Case) -> None:
    run = require(whsim_case, scenarios, "fail-2")
    observed = _schedule(whsim_case, sender, run, "500, 500, then 200")
    attempts = run.attempts()
    if len(attempts) < 3:
        whsim_case.fail(
            f"{len(attempts)} attempt(s): the sender stopped before the 2xx",
            expected="500, 500, 200",
            actual=", ".join(str(a.status) for a in attempts) or "nothing",
        )
    if len(attempts) > 3:
        whsim_case.fail(
            f"{len(attempts) - 3} attempt(s) after the 200",
            expected="nothing after the 2xx",
            actual=", ".join(str(a.status) for a in attempts),
        )
    grade = grade_gaps(observed, sender.gaps()[:2], sender.timing)
    whsim_case.passed(
        f"500, 500, 200 and nothing after; gaps {', '.join(f'{g:.3f}' for g in observed)} s ({grade.outcome})"
    )


@case("SND-RETRY-006")
def test_retry_after_timeout(sender: SenderTarget, scenarios: Scenarios, whsim_case: Case) -> None:
    run = require(whsim_case, scenarios, "timeout")
    attempts = run.attempts()
    record_arrivals(whsim_case, run, attempts)
    whsim_case.details["attempts"] = attempt_rows(attempts)
    if not attempts:
        whsim_case.fail("no attempt arrived", expected="an attempt, then a retry", actual="nothing")
    first = attempts[0]
    if not first.client_closed:
        if len(attempts) > 1:
            whsim_case.passed(
                "the sender waited for the held answer; the case SND-TIMEOUT-001 grades that"
            )
            return
        whsim_case.fail(
            "the first attempt was held past the 5 s limit and the sender waited for it; no retry",
            expected="a timeout near 5 s, then a retry",
            actual=f"the sender waited {(first.t_end_ns - first.t_body_ns) / 1e9:.1f} s",
        )
    if len(attempts) < 2:
        whsim_case.fail(
            "the sender gave up the hanging attempt but never retried it",
            expected="a retry after the timeout",
            actual="one attempt",
        )
    gap = gaps(attempts)[0]
    whsim_case.passed(f"retried {gap:.3f} s after giving up the hanging attempt")


@case("SND-RETRY-007")
def test_retry_after_refused(sender: SenderTarget, scenarios: Scenarios, whsim_case: Case) -> None:
    run = require(whsim_case, scenarios, "refused")
    got = run.deliveries()
    record_arrivals(whsim_case, run, got)
    closed = run.details.get("closed_for_s")
    whsim_case.details["closed_for_s"] = closed
    whsim_case.details["attempts"] = attempt_rows(got)
    if not got:
        whsim_case.fail(
            f"the kit refused connections for {closed} s, then listened again; no attempt came",
            expected="a retry once the endpoint listens again",
            actual="no attempt",
        )
    # Other scenarios' events may arrive here too (the path is subscribed to job.failed): any
    # reset delivery whose event comes again later (same id, or the same envelope but for a new
    # id: EVENT-9 is SND-EVENT-003's business) is a retry, the test event's first.
    pairs = [
        (d, r)
        for d in got
        if d.dropped
        for r in got
        if not r.dropped and same_event(d, r) and r.t_headers_ns > d.t_headers_ns
    ]
    pairs.sort(key=lambda p: p[0].event_type != TEST_EVENT_TYPE)
    first = pairs[0][0] if pairs else next((a for a in got if a.dropped), None)
    retry = pairs[0][1] if pairs else None
    if first is None or retry is None:
        whsim_case.fail(
            "after the refused connections, the kit reset the first delivery it got "
            f"({first.event_id if first else 'none'}) unanswered; no later attempt of that event "
            "id came",
            expected="a later attempt of the same event id (a connection error is retried)",
            actual=", ".join(f"{a.event_id} ({'reset' if a.dropped else a.status})" for a in got),
        )
    gap = (retry.t_headers_ns - min(first.t_failed_ns, retry.t_headers_ns)) / 1e9
    whsim_case.passed(
        f"refused for {closed} s, then the first delivery ({first.event_id}) was reset; the same "
        f"event came again {gap:.3f} s later"
        + ("" if retry.event_id == first.event_id else f" (under a new id, {retry.event_id})")
    )


@case("SND-RETRY-008")
def test_redirect_not_followed(
    sender: SenderTarget, scenarios: Scenarios, whsim_case: Case
) -> None:
    run = require(whsim_case, scenarios, "redirect")
    attempts = run.attempts()
    record_arrivals(whsim_case, run, attempts)
    landing = run.listener.arrivals(str(run.details["landing_path"]))
    record_arrivals(whsim_case, run, landing, "followed to the redirect's Location")
    whsim_case.details.update(attempts=attempt_rows(attempts), followed=len(landing))
    if landing:
        whsim_case.fail(
            f"the sender followed the 307 to its Location ({len(landing)} request(s))",
            expected="a 3xx is the answer; nothing is sent to the Location",
            actual=f"{landing[0].method} {landing[0].path}",
        )
    if not attempts:
        whsim_case.untestable("the test event never arrived (SND-EVENT-005)")
    whsim_case.passed(
        f"307 not followed; {len(attempts)} attempt(s) on the redirecting path "
        f"({'retried' if len(attempts) > 1 else 'not retried'})"
    )


@case("SND-RETRY-009")
def test_client_errors(sender: SenderTarget, scenarios: Scenarios, whsim_case: Case) -> None:
    seen = {}
    for status in (400, 401, 404, 410):
        run = require(whsim_case, scenarios, f"codes-{status}")
        attempts = run.attempts()
        record_arrivals(whsim_case, run, attempts[:20], f"answered {status}")
        seen[status] = max(len(attempts), run.listener.count(run.path) - len(run.verifications()))
    whsim_case.details["attempts_per_status"] = seen
    allowed = max(RetryPolicy.seed(r).max_attempts for r in reading_names("RETRY-1"))
    flooded = {s: n for s, n in seen.items() if n > allowed}
    if flooded:
        whsim_case.fail(
            "more attempts of one event than any reading of RETRY-1 allows ("
            + ", ".join(f"{s}: {n}" for s, n in flooded.items())
            + f"; at most {allowed}); the kit kept a sample of the first {MAX_KEPT} per path",
            expected=f"at most {allowed} attempts per event",
            actual=", ".join(f"{s}: {n} attempts" for s, n in seen.items()),
        )
    summary = ", ".join(
        f"{s}: {n} attempt(s) ({'retried' if n > 1 else 'not retried'})" for s, n in seen.items()
    )
    retried = [s for s, n in seen.items() if n > 1]
    reading = "5xx-and-network" if not retried else "all-non-2xx" if len(retried) == 4 else "other"
    whsim_case.info(f"{summary}; matches reading {reading} of RETRY-2 (the kit's: 5xx-and-network)")
