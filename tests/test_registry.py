"""Registration validation, host rules by mode, and the verification handshake."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from whsim.core.errors import RegistrationError
from whsim.core.registry import (
    Mode,
    WebhookStatus,
    address_refusal,
    challenge_accepted,
    status_after_url_change,
    status_after_verification,
    validate_registration,
    validate_update,
    validate_url,
)

GOOD = {
    "url": "https://your-server.com/webhook",
    "events": ["job.completed", "job.failed"],
    "secret": "your_webhook_secret",
}


def test_the_guides_example_registers_in_both_modes():
    for mode in Mode:
        reg = validate_registration(GOOD, mode)
        assert reg.events == ("job.completed", "job.failed")


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"url": None}, "url", "invalid_url"),
        ({"url": "ftp://x.com/"}, "url", "invalid_url"),
        ({"url": "https:///nohost"}, "url", "invalid_url"),
        ({"url": "https://user:pw@x.com/"}, "url", "invalid_url"),
        ({"url": "https://x.com/a b"}, "url", "invalid_url"),
        ({"url": "https://x.com:99999/"}, "url", "invalid_url"),
        ({"events": []}, "events", "invalid_request"),
        ({"events": "job.completed"}, "events", "invalid_request"),
        ({"events": ["job.completed", 3]}, "events[1]", "invalid_request"),
        ({"events": ["job.deleted"]}, "events[0]", "unknown_event_type"),
        ({"secret": "short"}, "secret", "invalid_request"),
        ({"secret": 12345678}, "secret", "invalid_request"),
        ({"secret": "tab\tinside!"}, "secret", "invalid_request"),
        ({"colour": "red"}, "colour", "invalid_request"),
    ],
)
def test_bad_registrations_name_the_field(change, field, code):
    with pytest.raises(RegistrationError) as info:
        validate_registration({**GOOD, **change})
    assert info.value.field == field
    assert info.value.code == code


@pytest.mark.parametrize("missing", ["url", "events", "secret"])
def test_missing_fields(missing):
    body = {k: v for k, v in GOOD.items() if k != missing}
    with pytest.raises(RegistrationError) as info:
        validate_registration(body)
    assert (info.value.field, info.value.code) == (missing, "missing_field")


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.0.0.5/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/hook",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[fd00::1]/hook",
        "https://metadata.google.internal/",
        "https://0.0.0.0/",
    ],
)
def test_production_refuses_http_and_internal_hosts(url):
    validate_url(url, Mode.DEVELOPMENT)
    with pytest.raises(RegistrationError) as info:
        validate_url(url, Mode.PRODUCTION)
    assert info.value.code in ("https_required", "forbidden_address")


def test_loopback_host_reading():
    validate_url("http://127.0.0.1:9000/hook", https_reading="loopback-host")
    with pytest.raises(RegistrationError):
        validate_url("http://example.com/hook", https_reading="loopback-host")


def test_address_refusal():
    assert address_refusal("8.8.8.8") is None
    assert address_refusal("2606:4700::1111") is None
    assert "metadata" in address_refusal("169.254.169.254")
    assert "loopback" in address_refusal("127.0.0.2")
    assert "private" in address_refusal("172.16.0.1")
    assert "carrier-grade" in address_refusal("100.100.1.1")
    assert "not an IP" in address_refusal("example.com")


def test_updates_partial_and_full():
    assert validate_update({"events": ["job.failed"]}) == {"events": ("job.failed",)}
    with pytest.raises(RegistrationError):
        validate_update({})
    with pytest.raises(RegistrationError) as info:
        validate_update({"events": ["job.failed"]}, put_reading="full-replace")
    assert info.value.field == "url"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "url": JSON | st.sampled_from(["https://a.com/x", "http://[::1", "https://"]),
        "events": JSON | st.just(["job.failed"]),
        "secret": JSON,
    },
)


@given(body=JSON | FIELDS, mode=st.sampled_from(list(Mode)))
def test_validation_raises_only_its_own_error(body, mode):
    for validate in (validate_registration, validate_update):
        try:
            validate(body, mode)
        except RegistrationError as exc:
            assert exc.field is not None
            assert str(exc)


def test_challenge_answers():
    assert challenge_accepted("abc", 200, b'{"challenge":"abc"}')[0]
    assert not challenge_accepted("abc", 200, b'{"challenge":"abd"}')[0]
    assert not challenge_accepted("abc", 201, b'{"challenge":"abc"}')[0]
    assert challenge_accepted("abc", 201, b'{"challenge":"abc"}', "any-2xx-echo")[0]
    assert not challenge_accepted("abc", 200, b"abc")[0]
    assert not challenge_accepted("abc", None, b"")[0]
    assert not challenge_accepted("abc", 200, b'["abc"]')[0]


def test_verification_state_machine():
    assert status_after_verification(True) is WebhookStatus.ACTIVE
    assert status_after_verification(False) is WebhookStatus.VERIFICATION_FAILED
    assert status_after_verification(False, "reject-registration") is None
    assert status_after_verification(False, "ignore") is WebhookStatus.ACTIVE
    assert status_after_url_change(WebhookStatus.ACTIVE) is WebhookStatus.PENDING_VERIFICATION
    assert status_after_url_change(WebhookStatus.ACTIVE, "keep") is WebhookStatus.ACTIVE
    assert status_after_url_change(WebhookStatus.DISABLED) is WebhookStatus.DISABLED


# IPv6 forms that carry an IPv4 address: each one wrapping an internal IPv4 address is refused,
# and the reason names the form and the embedded address.
EMBEDDED_INTERNAL = [
    ("2002:7f00:1::", "6to4", "127.0.0.1"),
    ("2002:a00:1::1", "6to4", "10.0.0.1"),
    ("2002:a9fe:a9fe::", "6to4", "169.254.169.254"),
    ("64:ff9b::7f00:1", "NAT64", "127.0.0.1"),
    ("64:ff9b::c0a8:101", "NAT64", "192.168.1.1"),
    ("64:ff9b::a9fe:a9fe", "NAT64", "169.254.169.254"),
    # Teredo: server 65.54.227.120, client 127.0.0.1 obfuscated (bits inverted) in the last 32.
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo client", "127.0.0.1"),
    ("2001:0:a00:1:8000:63bf:f7f7:f7f7", "Teredo server", "10.0.0.1"),
    ("::127.0.0.1", "IPv4-compatible", "127.0.0.1"),
    ("::10.1.2.3", "IPv4-compatible", "10.1.2.3"),
    ("::ffff:127.0.0.1", "IPv4-mapped", "127.0.0.1"),
    ("::ffff:100.64.0.1", "IPv4-mapped", "100.64.0.1"),
]


@pytest.mark.parametrize(("address", "form", "embedded"), EMBEDDED_INTERNAL)
def test_ipv6_forms_embedding_an_internal_ipv4_address_are_refused(address, form, embedded):
    reason = address_refusal(address)
    assert reason is not None
    assert f"embeds {embedded} ({form})" in reason
    with pytest.raises(RegistrationError) as err:
        validate_url(f"https://[{address}]/hook", Mode.PRODUCTION)
    assert err.value.field == "url" and err.value.code == "forbidden_address"
    assert embedded in err.value.message
    assert validate_url(f"https://[{address}]/hook", Mode.DEVELOPMENT)


@pytest.mark.parametrize("address", ["64:ff9b:1::1", "64:ff9b:1:ffff::8.8.8.8"])
def test_local_use_nat64_is_refused_whole(address):
    assert "local-use NAT64" in address_refusal(address)


def test_an_ipv4_mapped_public_address_is_judged_as_that_address():
    assert address_refusal("::ffff:8.8.8.8") is None
    assert address_refusal("8.8.8.8") is None
