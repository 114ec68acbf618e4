"""Named scenarios run and say what they claim; TOML files load; bad files name field and file."""

from __future__ import annotations

import pytest

import whsim
from whsim.core.errors import ScenarioError
from whsim.sim import SCENARIOS, load_scenario, scenario_from_dict


@pytest.fixture(scope="module")
def results():
    return {name: whsim.simulate(name, seed=0) for name in SCENARIOS}


def test_every_named_scenario_runs(results):
    for name, result in results.items():
        s = result.summary
        assert s["scenario"] == name
        assert s["deliveries"] > 0 and s["attempts"] >= s["deliveries"]
        assert s["delivered"] + s["exhausted"] + s["expired"] + s["rejected"] == s["deliveries"]
        assert load_scenario(name).description


def test_named_scenarios_show_their_point(results):
    assert results["healthy"].summary["loss_rate"] == 0
    assert results["healthy"].summary["amplification"] == 1.0
    assert results["flaky"].summary["amplification"] > 1.1
    assert results["outage-10min"].summary["exhausted"] > 0
    assert results["outage-10min"].summary["refused"] > 0
    two_h = results["outage-2h"]
    assert two_h.engine == "reference"
    assert two_h.summary["expired"] > 0 and two_h.summary["loss_rate"] > 0
    assert results["slow-receiver"].summary["timeouts"] > 0
    assert results["retry-storm"].summary["peak_attempts_per_s"] > 5
    progress = results["progress-heavy"].events
    per_job = progress[progress["type"] == "job.progress"].groupby("job_id").size()
    assert per_job.max() <= 600 // 10 + 1


def test_outage_2h_with_the_guides_expiry_expires_nothing():
    scenario = load_scenario("outage-2h")
    guide = scenario.replace(sender=whsim.Sender(concurrency=1))
    assert whsim.simulate(guide, seed=0).summary["expired"] == 0


def _write(tmp_path, text):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (
            "[[receivers]]\nname = 'x'\nfailure_probability = 2\n",
            "receivers[0].failure_probability",
        ),
        ("[[receivers]]\nname = 'x'\nlatncy = 3\n", "receivers[0].latncy"),
        ("[sender]\nretry = 'sometimes'\n", "sender.retry"),
        ("[sender]\ntimeout_s = 'five'\n", "sender.timeout_s"),
        ("[sender]\nconcurrency = -1\n", "sender.concurrency"),
        ("[sender]\ntimeout_s = 0\n", "sender.timeout_s"),
        ("[sender]\njitter = 'some'\n", "sender.jitter"),
        ("[sender]\ncodes = 'most'\n", "sender.codes"),
        ("[sender]\nthrottle = 'maybe'\n", "sender.throttle"),
        ("[sender]\ndowntime = [{ start_s = 10, end_s = 5 }]\n", "sender.downtime[0]"),
        ("[[webhooks]]\nid = 'a'\nevents = ['job.done']\n", "webhooks[0].events"),
        ("[[webhooks]]\nid = 'a'\nreceiver = 'ghost'\n", "webhooks[0].receiver"),
        ("[[webhooks]]\nreceiver = 'healthy'\n", "webhooks[0].id"),
        ("[workload]\narrival = 'sometimes'\n", "workload.arrival"),
        ("[workload]\nduration_s = -1\n", "workload.duration_s"),
        ("[workload]\nrate_per_s = 0\n", "workload.rate_per_s"),
        ("[workload]\narrival = 'constant'\nevery_s = 0\n", "workload.every_s"),
        ("colour = 'red'\n", "colour"),
    ],
)
def test_bad_files_name_the_field_and_the_file(tmp_path, text, field):
    path = _write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.field == field
    assert info.value.source == str(path)
    assert str(path) in str(info.value) and field in str(info.value)


def test_invalid_toml_names_the_file(tmp_path):
    path = _write(tmp_path, "name = \n")
    with pytest.raises(ScenarioError, match="not valid TOML") as info:
        load_scenario(path)
    assert info.value.source == str(path)


def test_unknown_name_lists_the_named_scenarios():
    with pytest.raises(ScenarioError, match="outage-10min"):
        load_scenario("outage-3min")


def test_a_full_file_loads(tmp_path):
    path = _write(
        tmp_path,
        """
name = "mine"
[sender]
retry = "svix"
jitter = "full"
concurrency = 2
downtime = [{ start_s = 60, end_s = 120 }]
[[receivers]]
name = "r"
base = "flaky"
latency = { kind = "uniform", ms = 10, high_ms = 30 }
outages = [{ start_s = 30, end_s = 90, kind = "status", status = 502 }]
[[webhooks]]
id = "w"
receiver = "r"
count = 3
status = "pending_verification"
[workload]
duration_s = 300
arrival = "bursts"
burst_size = 3
burst_every_s = 60
""",
    )
    scenario = load_scenario(path)
    assert scenario.sender.policy().name == "svix" and scenario.coupled
    assert scenario.webhooks[0].ids() == ("w-1", "w-2", "w-3")
    result = whsim.simulate(scenario, seed=1)
    assert result.engine == "reference" and result.summary["attempts"] > 0


def test_dict_and_dataclass_forms_agree():
    doc = {
        "name": "d",
        "webhooks": [{"id": "a", "receiver": "flaky"}],
        "workload": {"duration_s": 600},
    }
    from_dict = scenario_from_dict(doc)
    direct = whsim.Scenario(
        name="d",
        webhooks=(whsim.Webhook("a", "flaky"),),
        workload=whsim.Workload(duration_ms=600_000),
    )
    assert from_dict == direct


def test_verification_failures_receive_nothing():
    scenario = whsim.Scenario(
        webhooks=(
            whsim.Webhook("ok", "healthy", status="pending_verification"),
            whsim.Webhook("bad", "wrong-challenge", status="pending_verification"),
            whsim.Webhook("off", "healthy", status="disabled"),
        ),
        workload=whsim.Workload(duration_ms=600_000),
    )
    result = whsim.simulate(scenario, seed=0)
    assert set(result.deliveries["webhook_id"].unique()) == {"ok"}
    assert result.summary["webhooks_failed_verification"] == 1


def test_sender_downtime_queues_events_until_it_ends():
    scenario = whsim.Scenario(
        webhooks=(whsim.Webhook("w", "healthy"),),
        sender=whsim.Sender(downtime=(whsim.Downtime(0, 600_000),)),
        workload=whsim.Workload(duration_ms=900_000),
    )
    result = whsim.simulate(scenario, seed=0)
    first = result.attempts[result.attempts["attempt"] == 1]
    assert first["sent_ms"].min() == 600_000
    assert result.summary["loss_rate"] == 0


def test_downtime_longer_than_the_expiry_expires_events():
    scenario = whsim.Scenario(
        webhooks=(whsim.Webhook("w", "healthy"),),
        sender=whsim.Sender(downtime=(whsim.Downtime(0, 25 * 3_600_000),)),
        workload=whsim.Workload(duration_ms=2 * 3_600_000),
    )
    result = whsim.simulate(scenario, seed=0)
    d = result.deliveries
    # at 25 h, events from the first hour are older than 24 h; the rest are still young
    old = d["event_ms"] < 3_600_000
    assert (d.loc[old, "state"] == "expired").all() and (d.loc[old, "attempts"] == 0).all()
    assert (d.loc[~old, "state"] == "delivered").all()
    assert old.sum() > 0 and (~old).sum() > 0


def test_receiver_table_finds_what_behaviour_finds():
    from whsim.core.behaviours import BEHAVIOURS, Behaviour
    from whsim.sim import Scenario, Webhook

    mine = Behaviour("mine", failure_probability=0.5)
    own = Behaviour(next(iter(BEHAVIOURS)), failure_probability=1.0)  # shadows a built-in
    scenario = Scenario(
        webhooks=(Webhook("a", "mine"), Webhook("b", own.name)),
        receivers=(mine, own),
    )
    table = scenario.receiver_table()
    for name in {*BEHAVIOURS, "mine"}:
        assert table[name] is scenario.behaviour(name)
    assert table["mine"] is mine and table[own.name] is own
    assert table[own.name] is not BEHAVIOURS[own.name]
