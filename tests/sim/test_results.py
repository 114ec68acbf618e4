"""The DataFrames are tidy and agree with each other and with the summary."""

from __future__ import annotations

import pandas as pd
import pytest

import whsim
from whsim.core.spec.events import EVENT_TYPES, parse_event


@pytest.fixture(scope="module")
def result():
    return whsim.simulate("outage-10min", seed=2)


def test_attempts_columns_and_order(result):
    att = result.attempts
    assert list(att.columns) == [
        "event_id",
        "webhook_id",
        "attempt",
        "sent_ms",
        "latency_ms",
        "status",
        "error",
        "outcome",
    ]
    assert att["sent_ms"].is_monotonic_increasing
    assert (att["latency_ms"] >= 0).all()
    errors = att["error"] != ""
    assert att.loc[errors, "status"].isna().all() and att.loc[~errors, "status"].notna().all()
    assert set(att["error"].unique()) <= {"", "timeout", "connect"}


def test_deliveries_agree_with_attempts(result):
    att, dl = result.attempts, result.deliveries
    used = att.groupby(["event_id", "webhook_id"], observed=True).size()
    merged = dl.set_index(["event_id", "webhook_id"])["attempts"]
    assert (merged[used.index] == used).all()
    last = att.sort_values("attempt").groupby(["event_id", "webhook_id"], observed=True).last()
    final = dl.set_index(["event_id", "webhook_id"]).loc[last.index, "state"]
    assert ((last["outcome"] == "delivered") == (final == "delivered")).all()
    assert ((last["outcome"] == "exhausted") == (final == "exhausted")).all()
    delivered = dl["state"] == "delivered"
    assert dl.loc[delivered, "time_to_delivery_ms"].notna().all()
    assert dl.loc[~delivered, "time_to_delivery_ms"].isna().all()


def test_summary_matches_tables(result):
    s = result.summary
    assert s["attempts"] == len(result.attempts)
    assert s["deliveries"] == len(result.deliveries)
    assert s["events"] == len(result.events)
    assert s["delivered"] == int((result.deliveries["state"] == "delivered").sum())
    assert s["loss_rate"] == pytest.approx(1 - s["delivered"] / s["deliveries"], abs=1e-6)
    assert s["amplification"] == pytest.approx(s["attempts"] / s["deliveries"], abs=1e-4)
    per_second = result.attempts.assign(sec=result.attempts["sent_ms"] // 1000)
    peak = per_second.groupby(["webhook_id", "sec"], observed=True).size().max()
    assert s["peak_attempts_per_s"] == peak
    assert s["attempts_sha256"] == result.attempts_hash()


def test_events_are_the_guides_events(result):
    ev = result.events
    assert set(ev["type"].unique()) <= set(EVENT_TYPES)
    assert ev["time_ms"].is_monotonic_increasing
    for i in range(0, len(ev), max(1, len(ev) // 50)):
        event = result.event(i)
        assert parse_event(event.body).id == ev["event_id"][i]
        assert event.timestamp == ev["timestamp"][i]
    jobs = ev.dropna(subset=["job_id"]).groupby("job_id")["type"].agg(list)
    for types in jobs:
        assert types[0] == "job.created" and types[1] == "job.started"
        assert types[-1] in ("job.failed", "document.created")


def test_tables_are_pandas(result):
    assert isinstance(result.attempts, pd.DataFrame)
    assert str(result.attempts["outcome"].dtype) == "category"
