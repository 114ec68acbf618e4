"""Retry policy: the three readings, named policies, classification and jitter."""

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

import whsim
from whsim.core.policy import DEFAULT_READING, RetryPolicy, classify


@pytest.mark.parametrize(
    ("reading", "offsets"),
    [
        ("immediate-plus-five", (0, 0, 1, 3, 7, 15, 31)),
        ("immediate-counts", (0, 0, 1, 3, 7, 15)),
        ("backoff-only", (0, 1, 3, 7, 15, 31)),
    ],
)
def test_guide_readings(reading, offsets):
    policy = whsim.RetryPolicy.seed(reading)
    assert policy.attempt_offsets() == tuple(float(o) for o in offsets)
    assert policy.max_attempts == len(offsets)
    assert policy.timeout_ms == 5_000 and policy.expiry_ms == 86_400_000
    assert policy.jitter == "none"


def test_default_reading_is_backoff_only():
    assert DEFAULT_READING == "backoff-only"
    assert whsim.RetryPolicy.seed().name == "backoff-only"


def test_unknown_reading_lists_the_choices():
    with pytest.raises(whsim.UnknownReadingError, match="immediate-plus-five"):
        whsim.RetryPolicy.seed("twice")
    with pytest.raises(whsim.UnknownReadingError, match="svix"):
        whsim.RetryPolicy.named("nope")


def test_named_policies_of_other_systems():
    svix = whsim.RetryPolicy.named("svix")
    assert svix.attempt_offsets()[:3] == (0.0, 5.0, 305.0)
    assert svix.max_attempts == 8 and svix.jitter == "proportional"
    assert svix.window_ms() == 99_305_000  # 27 h 35 min 5 s
    sw = whsim.RetryPolicy.named("standard-webhooks")
    assert sw.window_ms() == (75 * 3600 + 35 * 60 + 5) * 1000
    stripe = whsim.RetryPolicy.named("stripe-like")
    assert 3 * 86_400_000 <= stripe.window_ms() <= 4 * 86_400_000
    for name in whsim.RetryPolicy.names():
        policy = whsim.RetryPolicy.named(name)
        assert policy.source, name


@pytest.mark.parametrize(
    ("status", "error", "codes", "verdict"),
    [
        (200, None, "5xx-and-network", "success"),
        (204, None, "5xx-and-network", "success"),
        (500, None, "5xx-and-network", "retry"),
        (503, None, "5xx-and-network", "retry"),
        (429, None, "5xx-and-network", "retry"),
        (408, None, "5xx-and-network", "retry"),
        (400, None, "5xx-and-network", "rejected"),
        (401, None, "5xx-and-network", "rejected"),
        (302, None, "5xx-and-network", "rejected"),
        (None, "timeout", "5xx-and-network", "retry"),
        (None, "connect", "only-500", "retry"),
        (503, None, "only-500", "rejected"),
        (400, None, "all-non-2xx", "retry"),
        (302, None, "all-non-2xx", "retry"),
    ],
)
def test_classify(status, error, codes, verdict):
    assert classify(status, error, codes) == verdict


def test_classify_needs_status_or_error():
    with pytest.raises(whsim.SpecInputError):
        classify(None, None)


@given(u=st.floats(0, 1, exclude_max=True), retry=st.integers(1, 7))
def test_jitter_stays_within_its_band(u, retry):
    base = whsim.RetryPolicy.named("svix").delays_ms[retry - 1]
    assert 0.8 * base - 1 <= whsim.RetryPolicy.named("svix").retry_delay_ms(retry, u) <= 1.2 * base
    full = whsim.RetryPolicy.named("svix", jitter="full")
    assert 0 <= full.retry_delay_ms(retry, u) <= base
    equal = whsim.RetryPolicy.named("svix", jitter="equal")
    assert base // 2 <= equal.retry_delay_ms(retry, u) <= base


def test_replace_validates():
    policy = whsim.RetryPolicy.seed()
    with pytest.raises(whsim.SpecInputError):
        dataclasses.replace(policy, timeout_ms=0)
    with pytest.raises(whsim.UnknownReadingError):
        dataclasses.replace(policy, codes="all")
    with pytest.raises(whsim.UnknownReadingError):
        dataclasses.replace(policy, jitter="lots")
    with pytest.raises(whsim.SpecInputError):
        policy.retry_delay_ms(6)


def test_decorrelated_jitter_draws_from_the_previous_wait_within_the_cap():
    policy = RetryPolicy.seed("backoff-only", jitter="decorrelated")  # 1, 2, 4, 8, 16 s
    assert policy.retry_delay_ms(1, 0.0) == 1_000  # from [first, 3 x first)
    assert policy.retry_delay_ms(1, 0.5) == 2_000
    assert policy.retry_delay_ms(3, 0.5, previous_ms=4_000) == 6_500
    assert policy.retry_delay_ms(4, 0.99, previous_ms=12_000) == 16_000  # capped at the longest
