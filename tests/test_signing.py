"""Signing: golden vectors, round trips, and that malformed input is False, never an exception."""

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import whsim
from whsim.core.errors import SignatureFormatError
from whsim.core.signing import standard_headers, standard_secret

DATA = Path(__file__).parent / "data" / "signatures.json"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "signatures.json"
VECTORS = json.loads(DATA.read_text())


def test_committed_vectors_match_the_shared_ones():
    if not SHARED.exists():
        pytest.skip(f"{SHARED} is not beside this checkout")
    assert json.loads(SHARED.read_text()) == VECTORS


@pytest.mark.parametrize("vector", VECTORS["body_only_hex_hmac_sha256"])
def test_guide_scheme_golden(vector):
    body = vector["body"].encode()
    assert whsim.sign(body, vector["secret"]) == vector["hex"]
    assert whsim.verify(body, vector["hex"], vector["secret"])
    # GitHub's header carries 'sha256=': the guide's scheme has no prefix, so it must not verify.
    assert not whsim.verify(body, "sha256=" + vector["hex"], vector["secret"])


@pytest.mark.parametrize("vector", VECTORS["standard_webhooks_v1"])
def test_standard_webhooks_golden(vector):
    body = vector["body"].encode()
    sig = whsim.standard_sign(vector["msg_id"], vector["timestamp"], body, vector["secret"])
    assert sig == vector["signature_header"]
    ts = str(vector["timestamp"])
    assert whsim.standard_verify(
        vector["msg_id"], ts, sig, body, vector["secret"], now=vector["timestamp"] + 10
    )


def test_standard_webhooks_tolerance_and_rotation():
    old, new = standard_secret(b"o" * 32), standard_secret(b"n" * 32)
    body = b'{"a":1}'
    headers = standard_headers("msg_1", 1_000, body, [new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    args = ("msg_1", headers["webhook-timestamp"], headers["webhook-signature"], body)
    assert whsim.standard_verify(*args, old, now=1_000)
    assert whsim.standard_verify(*args, [standard_secret(b"x" * 32), new], now=1_000)
    assert not whsim.standard_verify(*args, standard_secret(b"x" * 32), now=1_000)
    assert whsim.standard_verify(*args, new, now=1_300)
    assert not whsim.standard_verify(*args, new, now=1_301)
    assert not whsim.standard_verify(*args, new, now=699)


@pytest.mark.parametrize(
    "header",
    ["", "garbage", "v1", "v1,", "v1,!!!notbase64", "v2,AAAA", "v1a,AAAA", " ", ",,"],
)
def test_standard_verify_malformed_headers_are_false(header):
    secret = standard_secret(b"k" * 32)
    assert not whsim.standard_verify("msg_1", "1000", header, b"{}", secret, now=1000)


def test_standard_secret_rules():
    with pytest.raises(SignatureFormatError):
        standard_secret(b"short")
    with pytest.raises(SignatureFormatError):
        whsim.standard_sign("msg_1", 1, b"", "whsec_***")
    with pytest.raises(SignatureFormatError):
        whsim.standard_sign("msg.1", 1, b"", standard_secret(b"k" * 24))


@pytest.mark.parametrize(
    "signature", [None, "", "zz" * 32, "ab" * 31, "ab" * 33, "sha256=" + "ab" * 32, 42, b"ab" * 32]
)
def test_verify_false_on_malformed(signature):
    assert whsim.verify(b"body", signature, "secret") is False


def test_verify_is_as_strict_as_the_guides_receiver():
    sig = whsim.sign(b"body", "secret")
    assert sig == sig.lower()
    # The guide's receiver compares hexdigest() (lowercase) with the header exactly.
    assert whsim.verify(b"body", sig, "secret")
    assert not whsim.verify(b"body", sig.upper(), "secret")
    assert not whsim.verify(b"body", "sha256=" + sig, "secret")
    assert not whsim.verify(b"body", f" {sig} ", "secret")


@given(body=st.binary(max_size=512), secret=st.text(min_size=1, max_size=64))
def test_round_trip(body, secret):
    assert whsim.verify(body, whsim.sign(body, secret), secret)


@given(
    body=st.binary(min_size=1, max_size=256),
    secret=st.text(min_size=1, max_size=32),
    data=st.data(),
)
def test_any_one_byte_change_of_the_body_fails(body, secret, data):
    sig = whsim.sign(body, secret)
    i = data.draw(st.integers(0, len(body) - 1))
    delta = data.draw(st.integers(1, 255))
    changed = body[:i] + bytes([(body[i] + delta) % 256]) + body[i + 1 :]
    assert not whsim.verify(changed, sig, secret)


@given(body=st.binary(max_size=128), data=st.data())
def test_any_one_character_change_of_the_signature_fails(body, data):
    sig = whsim.sign(body, "secret")
    i = data.draw(st.integers(0, len(sig) - 1))
    other = data.draw(st.sampled_from([c for c in "0123456789abcdef" if c != sig[i]]))
    assert not whsim.verify(body, sig[:i] + other + sig[i + 1 :], "secret")


@given(signature=st.one_of(st.none(), st.text(max_size=80)), body=st.binary(max_size=64))
def test_verify_never_raises(signature, body):
    assert whsim.verify(body, signature, "secret") in (True, False)


def test_standard_sign_is_base64_of_32_bytes():
    sig = whsim.standard_sign("msg_x", 5, b"{}", standard_secret(b"\x01" * 24))
    assert sig.startswith("v1,") and len(base64.b64decode(sig[3:])) == 32
