"""The reference receiver under readings: what it honours changes its answers; the rest is
refused by name, in the app and on the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from test_receiver_app import SECRET, AppClient, _event, _post

from whsim import Readings
from whsim.core import honoured
from whsim.core.errors import ReadingNotHonouredError
from whsim.core.signing import sign
from whsim.receiver import ReceiverStore, create_app


def _client(*readings: str) -> AppClient:
    return AppClient(create_app(SECRET, store=ReceiverStore(), readings=Readings.parse(readings)))


def _unknown_type() -> bytes:
    return json.dumps(
        {"id": "evt_x", "type": "job.archived", "timestamp": "2024-01-01T00:00:00Z", "data": {}}
    ).encode()


def test_sig1_and_sig2_pick_the_signature_form_it_accepts():
    body = _event(1)
    hexsig = sign(body, SECRET)
    forms = {"bare": hexsig, "prefixed": "sha256=" + hexsig, "upper": hexsig.upper()}
    expected = {
        (): {"bare"},
        ("SIG-1=sha256-prefix",): {"prefixed"},
        ("SIG-2=tolerant",): {"bare", "prefixed", "upper"},
    }
    for readings, accepted in expected.items():
        for name, sig in forms.items():
            status, _ = _post(_client(*readings), body, sig)
            assert (status == 200) == (name in accepted), (readings, name, status)


def test_codes5_reject_400_refuses_an_unknown_type():
    body = _unknown_type()
    assert _post(_client(), body)[0] == 200
    status, doc = _post(_client("CODES-5=reject-400"), body)
    assert status == 400 and doc["field"] == "type"
    assert _post(_client("CODES-5=reject-400"), _event(2))[0] == 200


@pytest.mark.parametrize("reading", ["EVENT-9=envelope-id", "EVENT-9=no-id"])
def test_event9_both_readings_dedupe(reading):
    client = _client(reading)
    with_id = _event(3)
    doc = json.loads(with_id)
    del doc["id"]
    without_id = json.dumps(doc).encode()
    for body in (with_id, without_id):
        assert _post(client, body)[1] == {"status": "ok"}
        assert _post(client, body)[1] == {"status": "already_processed"}


def test_the_receivers_table_is_what_the_receiver_does():
    # every reading of the registry: honoured (the app starts) or refused by name
    for row in honoured.table():
        clause_id, name = row["clause"], row["reading"]
        try:
            create_app(SECRET, store=ReceiverStore(), readings=Readings({clause_id: name}))
            refused = False
        except ReadingNotHonouredError as exc:
            assert f"{clause_id}={name}" in str(exc) and "whsim receiver" in str(exc)
            refused = True
        assert refused == (not honoured.RECEIVER.honours(clause_id, name)), (clause_id, name)


def test_the_command_refuses_a_reading_by_name():
    run = subprocess.run(
        [sys.executable, "-m", "whsim", "receiver", "--secret", "s", "--port", "0",
         "--reading", "RETRY-1=immediate-counts"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2
    assert "RETRY-1=immediate-counts" in run.stderr and "Traceback" not in run.stderr
