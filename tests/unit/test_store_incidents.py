"""Incidents, their alerts, timelines and silences from the store on a real, migrated SQLite file: typed records
with every column of their table, and the queries the commands, the deliverers and /metrics use."""
from __future__ import annotations

import dataclasses

import pytest

from bot import store
from bot.alert import Alert


def _incident(conn, *, group_key="k", channel="#data", table=None, source="alertmanager", opened_at=100.0) -> int:
    return store.add_incident(conn, group_key=group_key, status="triggered", title="Orders late", severity="sev2",
                              kind="freshness", source=source, table_name=table, labels='{"table": "x"}',
                              links="[]", summary="late", channel=channel, runbook=None, alert_count=1,
                              opened_at=opened_at, updated_at=opened_at, finding="stale since 02:00")


@pytest.mark.parametrize("record, table", [(store.Incident, "incidents"), (store.IncidentAlert, "incident_alerts"),
                                           (store.TimelineEntry, "timeline"), (store.Silence, "silences"),
                                           (store.OutboxRow, "outbox")])
def test_each_record_has_every_column_of_its_table(conn, record, table):
    # A migration that adds a column must add the field too, or the record would hide it from every caller.
    columns = {r["name"] for r in conn.execute(f"PRAGMA table_info({table})")}
    assert {f.name for f in dataclasses.fields(record)} == columns


def test_an_incident_reads_back_as_a_frozen_record_that_answers_by_column(conn):
    incident_id = _incident(conn, table="proj.sales.orders")
    inc = store.incident(conn, incident_id)
    assert isinstance(inc, store.Incident)
    assert (inc.title, inc["status"], inc.finding, inc.opened_at) == ("Orders late", "triggered",
                                                                      "stale since 02:00", 100.0)
    assert dict(inc)["table_name"] == "proj.sales.orders" and "pd_dedup_key" in inc.keys()
    with pytest.raises(KeyError):
        inc["no_such_column"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        inc.status = "resolved"  # type: ignore[misc]


def test_alerts_and_timeline_entries_are_records(conn):
    incident_id = _incident(conn)
    alert = Alert(source="alertmanager", status="firing", title="Orders late", fingerprint="fp1")
    assert store.upsert_incident_alert(conn, incident_id, alert, 101.0)
    assert not store.upsert_incident_alert(conn, incident_id, alert, 102.0)
    (a,) = store.incident_alerts(conn, incident_id)
    assert isinstance(a, store.IncidentAlert) and (a.fingerprint, a["count"], a.last_seen) == ("fp1", 2, 102.0)
    store.add_timeline(conn, incident_id, "U1", "slack", "status", "Acknowledged by U1", at=103.0)
    store.add_timeline(conn, incident_id, "U1", "slack", "note", "Looking", at=104.0)
    entries = store.timeline(conn, incident_id)
    assert [type(e) for e in entries] == [store.TimelineEntry] * 2 and entries[1]["text"] == "Looking"
    assert [e.kind for e in store.timeline_until(conn, incident_id, 103.5)] == ["status"]


def test_status_lists_and_the_open_count(conn):
    mine, theirs, done = _incident(conn, group_key="a"), _incident(conn, group_key="b"), _incident(conn, group_key="c")
    store.update_incident(conn, mine, {"owner": "U1"})
    store.update_incident(conn, done, {"owner": "U1", "status": "resolved", "resolved_at": 200.0})
    assert [i.id for i in store.open_incidents_owned_by(conn, "U1")] == [mine]
    assert store.open_incident_count(conn) == 2
    assert [i.id for i in store.recent_incidents(conn, limit=20)] == [theirs, mine]
    assert [i.id for i in store.recent_incidents(conn, include_resolved=True, limit=2)] == [done, theirs]


def test_the_open_incident_of_a_table_by_either_name(conn):
    older = _incident(conn, group_key="a", table="sales.orders")
    newer = _incident(conn, group_key="b", table="proj.sales.orders")
    assert store.open_incident_for_table(conn, "proj.sales.orders", "sales.orders").id == newer
    store.update_incident(conn, newer, {"status": "resolved"})
    assert store.open_incident_for_table(conn, "proj.sales.orders", "sales.orders").id == older
    assert store.open_incident_for_table(conn, "proj.other.t", "other.t") is None


def test_a_card_thread_is_recorded_once_and_its_channel_id_reused(conn):
    first, second = _incident(conn, group_key="a"), _incident(conn, group_key="b")
    assert store.slack_channel_id(conn, "#data") is None
    store.update_incident(conn, first, {"slack_channel": "C1", "slack_ts": "1.1"}, only_if_null="slack_ts")
    store.update_incident(conn, first, {"slack_channel": "C9", "slack_ts": "9.9"}, only_if_null="slack_ts")
    assert (store.incident(conn, first).slack_channel, store.incident(conn, first).slack_ts) == ("C1", "1.1")
    assert store.slack_channel_id(conn, "#data") == "C1" and store.incident(conn, second).slack_ts is None


def test_pagerduty_keys_keep_the_first_and_pages_fill_in_what_is_missing(conn):
    incident_id = _incident(conn)
    store.keep_pd_dedup_key(conn, incident_id, "dre-1")
    store.keep_pd_dedup_key(conn, incident_id, "other")
    store.record_page(conn, incident_id, "ignored", "PD1", "https://pd/PD1")
    store.record_page(conn, incident_id, None, None, None)
    inc = store.incident_by_pd_incident(conn, "PD1")
    assert (inc.pd_dedup_key, inc.pd_incident_id, inc.pd_incident_url) == ("dre-1", "PD1", "https://pd/PD1")
    assert store.incident_by_pd_dedup_key(conn, "dre-1").id == incident_id
    assert not store.note_sent(conn, incident_id, "d1")
    store.add_sent_note(conn, incident_id, "d1", 5.0)
    store.add_sent_note(conn, incident_id, "d1", 6.0)   # a second success of the same note is no error
    assert store.note_sent(conn, incident_id, "d1")


def test_silences_are_records_and_keep_their_snooze(conn):
    incident_id = _incident(conn)
    store.update_incident(conn, incident_id, {"gcp_policy": "projects/p/alertPolicies/1"})
    sid = store.add_silence(conn, {"table": "orders"}, 3600, "backfill", "U1")
    store.set_silence_incident(conn, sid, incident_id)
    store.set_snooze(conn, sid, "projects/p/snoozes/7")
    s = store.silence(conn, sid)
    assert isinstance(s, store.Silence) and (s.snooze, s["incident_id"]) == ("projects/p/snoozes/7", incident_id)
    with_policy = store.silence_with_policy(conn, sid)
    assert with_policy.gcp_policy == "projects/p/alertPolicies/1" and with_policy.reason == "backfill"
    assert store.silence(conn, sid + 1) is None


def test_the_numbers_for_metrics(conn):
    a = _incident(conn, group_key="a", source="alertmanager", opened_at=100.0)
    _incident(conn, group_key="b", source="grafana", opened_at=200.0)
    _incident(conn, group_key="c", source="grafana", opened_at=300.0)
    store.update_incident(conn, a, {"status": "resolved", "resolved_at": 150.0, "resolution_cause": "upstream"})
    store.add_timeline(conn, a, "U1", "slack", "status", "Resolved by U1", at=150.0)
    store.add_timeline(conn, a, "U1", "slack", "status", "Reopened: again", at=160.0)
    assert store.incidents_by_source(conn) == [("alertmanager", 1), ("grafana", 2)]
    assert store.resolved_by_cause(conn) == [("upstream", 1)]
    assert store.open_by_status(conn) == [("triggered", 2)]
    assert store.resolutions(conn) == 1 and store.suppressed_count(conn) == 0
    assert [i.opened_at for i in store.incidents_opened_since(conn, 200.0)] == [200.0, 300.0]
    assert store.handoff_count(conn) == 0 and not store.newest_handoff_unacknowledged(conn)
    handoff_id = store.add_handoff(conn, key="k1", channel="#data", shift_start=0.0, shift_end=10.0, outgoing="U1",
                                   outgoing_name="Ann", incoming="U2", incoming_name="Bo", note=None, created_by="bot",
                                   created_at=10.0, text="handoff", notes=[])
    assert store.handoff_count(conn) == 1 and store.newest_handoff_unacknowledged(conn)
    store.acknowledge_handoff(conn, handoff_id, "U2", 11.0)
    assert not store.newest_handoff_unacknowledged(conn)
