"""The store's queries on a real SQLite file, migrated as at start: what they find and the records they return."""
from __future__ import annotations

import dataclasses
import sqlite3

import pytest

from bot import clock, store
from bot.alert import Alert


def _incident(conn: sqlite3.Connection, *, status: str = "triggered", opened_at: float, resolved_at=None,
              table: str | None = None, source: str = "alertmanager") -> int:
    cur = conn.execute("INSERT INTO incidents (group_key, status, title, severity, channel, source, table_name, "
                       "opened_at, resolved_at) VALUES (?, ?, 'Freshness', 'sev2', '#data-incidents', ?, ?, ?, ?)",
                       (f"k{opened_at}", status, source, table, opened_at, resolved_at))
    return int(cur.lastrowid)


def test_migrations_keep_their_order_and_number(tmp_path):
    names = [m.__name__ for m in store.MIGRATIONS]
    assert names == [f"_v{n}" for n in range(1, len(names) + 1)]
    path = str(tmp_path / "state.db")
    store.migrate(path)
    store.migrate(path)   # safe to run at every start
    c = store.connect(path)
    assert c.execute("PRAGMA user_version").fetchone()[0] == len(store.MIGRATIONS)
    assert c.execute("SELECT name FROM sqlite_master WHERE name = 'events'").fetchone()


def test_a_handoff_comes_back_as_a_frozen_record_that_carries_its_notes(conn):
    store.add_handoff_note(conn, "U1", "orders backfill half done", at=100.0)
    store.add_handoff_note(conn, "U2", "too early for this shift", at=50.0)
    notes = store.unattached_notes(conn, since=90.0)
    assert [(n.user, n.text) for n in notes] == [("U1", "orders backfill half done")]
    hid = store.add_handoff(conn, key="shift:1", channel="#dre", shift_start=90.0, shift_end=200.0, outgoing="U1",
                            outgoing_name=None, incoming="U2", incoming_name=None, note="n", created_by="dre-bot",
                            created_at=201.0, text="Handoff", notes=notes)
    assert store.unattached_notes(conn, since=0.0)[0].user == "U2"   # only the note it carried is taken
    h = store.handoff(conn, hid)
    assert isinstance(h, store.Handoff) and (h.key, h.incoming, h.acked_at) == ("shift:1", "U2", None)
    assert h["incoming"] == "U2" and dict(h)["shift_end"] == 200.0   # read by column, like sqlite3.Row
    with pytest.raises(dataclasses.FrozenInstanceError):
        h.acked_by = "U3"
    with pytest.raises(KeyError):
        h["no_such_column"]
    assert store.handoff_exists(conn, "shift:1") and not store.handoff_exists(conn, "shift:2")


def test_handoff_marks_land_in_their_columns(conn):
    hid = store.add_handoff(conn, key="manual:1", channel="#dre", shift_start=0.0, shift_end=10.0, outgoing=None,
                            outgoing_name="Ana", incoming=None, incoming_name="Bo", note=None, created_by="U1",
                            created_at=5.0, text="t", notes=[])
    store.mark_posted(conn, hid, "channel", "C1", "1.5")
    store.mark_posted(conn, hid, "incoming", "D1", "2.5")
    store.mark_reminded(conn, hid, 7.0)
    store.acknowledge_handoff(conn, hid, "U9", 8.0)
    h = store.handoff(conn, hid)
    assert (h.slack_channel, h.slack_ts, h.dm_channel, h.dm_ts) == ("C1", "1.5", "D1", "2.5")
    assert (h.reminded_at, h.escalated_at, h.acked_by, h.acked_at) == (7.0, None, "U9", 8.0)
    assert store.manual_handoff_near(conn, 4.0, 6.0).id == hid
    assert store.manual_handoff_near(conn, 6.0, 9.0) is None
    with pytest.raises(KeyError):
        store.mark_posted(conn, hid, "everyone", "C1", "1.5")


def test_shift_queries_find_the_incidents_of_the_window(conn):
    still_open = _incident(conn, opened_at=10.0, table="analytics.orders")
    fixed_in_shift = _incident(conn, status="resolved", opened_at=20.0, resolved_at=150.0)
    fixed_before = _incident(conn, status="resolved", opened_at=30.0, resolved_at=90.0)
    assert [r["id"] for r in store.incidents_open_at(conn, 100.0)] == [still_open, fixed_in_shift]
    assert [r["id"] for r in store.incidents_opened_between(conn, 15.0, 40.0)] == [fixed_in_shift, fixed_before]
    assert [r["id"] for r in store.incidents_resolved_between(conn, 100.0, 200.0)] == [fixed_in_shift]
    assert [r["id"] for r in store.recent_incidents(conn)] == [still_open]
    assert len(store.recent_incidents(conn, include_resolved=True, limit=2)) == 2


def test_a_silence_counts_the_alerts_it_held_and_keeps_them(conn):
    sid = store.add_silence(conn, {"table": "analytics.*"}, 3600, "backfill", "U1")
    alert = Alert(source="alertmanager", fingerprint="f1", status="firing", title="Stale", severity="sev2",
                  labels={"table": "analytics.orders"})
    store.record_suppressed(conn, sid, None, alert)
    store.record_suppressed(conn, sid, None, alert)
    now = clock.now()
    (held,) = store.silences_active_at(conn, now + 1)
    assert (held.id, held.held, held.labels, held.reason) == (sid, 2, {"table": "analytics.*"}, "backfill")
    assert store.silences_active_at(conn, now + 3601) == []
    kept = store.suppressed_alerts(conn, now - 60, now + 60)
    assert [a["labels"] for a in kept] == [{"table": "analytics.orders"}] * 2 and "raw" not in kept[0]


def test_pagerduty_fields_keep_what_a_webhook_left_out(conn):
    iid = _incident(conn, opened_at=1.0)
    store.set_pagerduty(conn, iid, pd_incident_id="P1", url="https://pd/P1", dedup_key="k1", status="triggered",
                        assignee="Ana", service="Warehouse")
    store.update_pagerduty(conn, iid, pd_incident_id=None, url=None, status="acknowledged", assignee="Bo",
                           service=None)
    row = store.incident_by_pd_incident(conn, "P1")
    assert (row["pd_incident_url"], row["pd_status"], row["pd_assignee"], row["pd_service"]) == \
        ("https://pd/P1", "acknowledged", "Bo", "Warehouse")
    store.reconcile_pagerduty(conn, iid, "P2", "https://pd/P2", "resolved")   # ours wins for id and link
    row = store.incident_by_pd_dedup_key(conn, "k1")
    assert (row["pd_incident_id"], row["pd_incident_url"], row["pd_status"]) == ("P1", "https://pd/P1", "resolved")
    assert [r["id"] for r in store.incidents_in_pagerduty(conn, resolved_since=0.0)] == [iid]


def test_the_audit_log_reads_back_in_order_from_a_time(conn):
    store.add_audit(conn, 10.0, "U1", "C1", "ack", "INC-1", "ok", True, "r1", "slash")
    store.add_audit(conn, 20.0, "U2", None, "resolve", "INC-1", "refused", False, "r2", "button")
    entries = store.audit_since(conn, 15.0)
    assert [(e.user, e.action, e.allowed, e.via) for e in entries] == [("U2", "resolve", 0, "button")]


def test_the_cli_sees_the_inbox_with_what_became_of_each_body(tmp_path):
    state, inbox = str(tmp_path / "state.db"), str(tmp_path / "inbox.db")
    store.migrate(state, inbox)
    ic, sc = store.connect(inbox), store.connect(state)
    first, second = store.insert_inbox(ic, [("generic", b'{"a":1}', "application/json"),
                                            ("montecarlo", b"{}", "application/json")])
    store.finish_inbox(sc, first, "failed", error="no title")
    store.reject(ic, "generic", 415, "text/plain is not JSON", b"x")
    reading = store.connect_for_reading(state, inbox)
    assert [(e.id, e.status) for e in store.inbox_entries(reading)] == [(second, "new"), (first, "failed")]
    assert [e.error for e in store.inbox_entries(reading, failed_only=True)] == ["no title"]
    assert store.inbox_body(reading, first) == b'{"a":1}' and store.inbox_body(reading, 99) is None
    store.mark_retried(sc, first, "queued again as inbox 3")
    assert store.inbox_entry(reading, first).status == "retried"
    assert [(r.http_status, r.reason) for r in store.rejected_bodies(reading)] == [(415, "text/plain is not JSON")]
