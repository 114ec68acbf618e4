"""VERIFY: the challenge is echoed exactly, with 200 (clause VERIFY-2, reading json-echo)."""

from __future__ import annotations

from whsim.conformance.case import Case
from whsim.conformance.exchange import Exchange
from whsim.core.registry import challenge_accepted
from whsim.core.spec.events import verification_body
from whsim.pytest_plugin import WhsimSettings

from .catalog import case
from .generated import challenges, run_examples
from .target import ReceiverTarget, status_text


def _echo_all(
    receiver: ReceiverTarget, whsim_case: Case, values: list[str]
) -> list[tuple[str, bool, str, Exchange]]:
    # Signed: the kit's reading of VERIFY-5 (a receiver may also answer unsigned ones).
    sent = receiver.send_all(
        whsim_case, [(verification_body(v), "verification request") for v in values]
    )
    out = []
    for challenge, ex in zip(values, sent, strict=True):
        ok, why = challenge_accepted(challenge, ex.response.status, ex.response.body)
        out.append((challenge, ok, why, ex))
    return out


def _grade(whsim_case: Case, results: list[tuple[str, bool, str, Exchange]]) -> None:
    for challenge, ok, why, ex in results:
        if ok:
            continue
        status = ex.response.status
        lenient, _ = challenge_accepted(challenge, status, ex.response.body, reading="any-2xx-echo")
        expected = f'200 {{"challenge": {challenge[:80]!r}{"..." if len(challenge) > 80 else ""}}}'
        if lenient:
            whsim_case.non_strict(
                f"echoed with {status}, not 200 (tolerated reading any-2xx-echo)",
                expected=expected,
                actual=status_text(ex),
                primary=ex,
            )
        hint = (
            " (the kit signs the verification request, reading signed of VERIFY-5: a 401 here "
            "means the signature check failed; see RCV-SIG-001 and the diagnosis)"
            if status == 401
            else ""
        )
        whsim_case.fail(
            f"challenge not echoed: {why}{hint}",
            expected=expected,
            actual=status_text(ex),
            primary=ex,
        )
    whsim_case.passed(f"{len(results)} challenge(s) echoed with 200")


def _check(receiver: ReceiverTarget, whsim_case: Case, *values: str) -> None:
    _grade(whsim_case, _echo_all(receiver, whsim_case, list(values)))


@case("RCV-VERIFY-001")
def test_plain_challenge(receiver: ReceiverTarget, whsim_case: Case) -> None:
    _check(receiver, whsim_case, "3f9a2c7e1b")


@case("RCV-VERIFY-002")
def test_unicode_challenge(receiver: ReceiverTarget, whsim_case: Case) -> None:
    _check(receiver, whsim_case, "chällénge-漢字-🙂-\u200b-Ω")


@case("RCV-VERIFY-003")
def test_long_challenge(receiver: ReceiverTarget, whsim_case: Case) -> None:
    _check(receiver, whsim_case, ("0123456789abcdef" * 512))


@case("RCV-VERIFY-004")
def test_json_special_challenge(receiver: ReceiverTarget, whsim_case: Case) -> None:
    _check(receiver, whsim_case, 'a"b\\c/d\n\te\u0000f\u2028g</script>{"challenge":"x"}', "null")


@case("RCV-VERIFY-005")
def test_generated_challenges(
    receiver: ReceiverTarget, whsim_case: Case, whsim_settings: WhsimSettings
) -> None:
    values: list[str] = []
    run_examples(challenges, values.append, seed=whsim_settings.seed, n=20)
    results = _echo_all(receiver, whsim_case, values)
    whsim_case.details["examples"] = len(results)
    _grade(whsim_case, results)


@case("RCV-VERIFY-006")
def test_unsigned_verification(receiver: ReceiverTarget, whsim_case: Case) -> None:
    challenge = "unsigned-7c41"
    ex = receiver.send(whsim_case, verification_body(challenge), signature=None)
    ok, why = challenge_accepted(challenge, ex.response.status, ex.response.body)
    if ok:
        whsim_case.info(
            "echoes an unsigned verification request: works under both readings of VERIFY-5",
            primary=ex,
        )
    else:
        whsim_case.info(
            f"does not echo an unsigned verification request ({why}; {status_text(ex)}): works only "
            "with senders that sign it (the kit's reading 'signed')",
            primary=ex,
        )
