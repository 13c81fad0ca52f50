"""The schema (created with sqlite-utils) and its numbered migrations, run in order at every start."""
from __future__ import annotations

from typing import TYPE_CHECKING

from bot.store.db import connect, transaction

if TYPE_CHECKING:   # imported by migrate() only when a step is due: it brings numpy (about 29 MB, 0.2 s)
    import sqlite_utils


def _inbox_v1(db: sqlite_utils.Database) -> None:
    db["inbox"].create({
        "id": int, "source": str, "received_at": float, "content_type": str, "body": bytes,
    }, pk="id", not_null={"source", "received_at", "body"})
    db["rejected"].create({
        "id": int, "source": str, "received_at": float, "http_status": int, "reason": str, "body": bytes,
    }, pk="id")


def _v1(db: sqlite_utils.Database) -> None:
    # What the worker made of each inbox row, committed with the state it changed: the inbox's read position.
    db["inbox_status"].create({
        "inbox_id": int, "status": str, "alerts": int, "error": str, "processed_at": float,
    }, pk="inbox_id", not_null={"status"}, defaults={"alerts": 0})
    db["incidents"].create({
        "id": int, "group_key": str, "status": str, "title": str, "severity": str, "kind": str, "source": str,
        "table_name": str, "labels": str, "links": str, "summary": str, "channel": str, "slack_channel": str,
        "slack_ts": str, "runbook": str, "owner": str, "alert_count": int, "opened_at": float,
        "updated_at": float, "resolved_at": float, "ack_at": float,
    }, pk="id", not_null={"group_key", "status", "title", "severity", "channel"}, defaults={"alert_count": 0})
    db["incidents"].create_index(["group_key", "status"])
    db["incident_alerts"].create({
        "incident_id": int, "fingerprint": str, "status": str, "count": int, "first_seen": float,
        "last_seen": float, "alert": str,
    }, pk=("incident_id", "fingerprint"), foreign_keys=[("incident_id", "incidents", "id")])
    db["incident_alerts"].create_index(["fingerprint"])
    db["timeline"].create({
        "id": int, "incident_id": int, "at": float, "actor": str, "origin": str, "kind": str, "text": str,
    }, pk="id", foreign_keys=[("incident_id", "incidents", "id")])
    db["timeline"].create_index(["incident_id", "id"])
    db["outbox"].create({
        "id": int, "incident_id": int, "kind": str, "channel": str, "payload": str, "status": str,
        "attempts": int, "next_at": float, "created_at": float, "delivered_at": float, "last_error": str,
        "result": str,
    }, pk="id", not_null={"kind", "status", "next_at", "created_at"}, defaults={"status": "pending", "attempts": 0})
    db["outbox"].create_index(["status", "next_at"])
    db["outbox"].create_index(["incident_id", "status"])
    db["silences"].create({
        "id": int, "matchers": str, "starts_at": float, "ends_at": float, "reason": str, "created_by": str,
        "created_at": float, "ended_notified": int,
    }, pk="id", defaults={"ended_notified": 0})
    db["suppressed"].create({
        "id": int, "silence_id": int, "inbox_id": int, "at": float, "fingerprint": str, "alert": str,
    }, pk="id")


def _v2(db: sqlite_utils.Database) -> None:
    """Working incidents from Slack: resolution details, Slack event dedupe, the audit log."""
    db["incidents"].add_column("resolution_cause", str)
    db["incidents"].add_column("resolution_note", str)
    db["incidents"].add_column("resolved_by", str)
    db["incidents"].add_column("ack_by", str)
    db["incidents"].create_index(["slack_channel", "slack_ts"])
    db["slack_events"].create({"event_id": str, "at": float}, pk="event_id")
    db["audit"].create({
        "id": int, "at": float, "user": str, "channel": str, "action": str, "args": str, "result": str,
        "allowed": int, "request_id": str, "via": str,
    }, pk="id")
    db["audit"].create_index(["at"])


def _v3(db: sqlite_utils.Database) -> None:
    """Outbox lanes: an incident's Slack items and its PagerDuty items keep order each, apart."""
    db["outbox"].add_column("lane", str, not_null_default="slack")
    db["outbox"].create_index(["incident_id", "lane", "status"])


def _v4(db: sqlite_utils.Database) -> None:
    """PagerDuty in step: the PagerDuty incident of each incident, webhooks seen, what we sent."""
    for column in ("pd_dedup_key", "pd_routing_key_env", "pd_incident_id", "pd_incident_url", "pd_status",
                   "pd_assignee", "pd_service"):
        db["incidents"].add_column(column, str)
    db["incidents"].create_index(["pd_dedup_key"])
    db["incidents"].create_index(["pd_incident_id"])
    db["pd_webhooks_seen"].create({"webhook_id": str, "at": float}, pk="webhook_id")
    # Notes we wrote in PagerDuty, so their echo (incident.annotated) is not posted back as news.
    db["pd_sent_notes"].create({"incident_id": int, "digest": str, "at": float}, pk=("incident_id", "digest"))


def _inbox_v2(db: sqlite_utils.Database) -> None:
    db["inbox"].add_column("meta", str)   # what the sender said in headers that the worker needs (webhook ids)


def _v5(db: sqlite_utils.Database) -> None:
    """The schema of each table as the `schema` diagnostic last saw it, to show what changed since."""
    db["schemas_seen"].create({"table_ref": str, "columns": str, "at": float}, pk="table_ref")


def _v6(db: sqlite_utils.Database) -> None:
    """Shift handoffs, the notes written for them, and the scheduled jobs already run (each exactly once)."""
    db["handoffs"].create({
        "id": int, "key": str, "channel": str, "shift_start": float, "shift_end": float,
        "outgoing": str, "outgoing_name": str, "incoming": str, "incoming_name": str, "note": str,
        "created_by": str, "created_at": float, "text": str, "slack_channel": str, "slack_ts": str,
        "dm_channel": str, "dm_ts": str, "acked_at": float, "acked_by": str, "reminded_at": float,
        "escalated_at": float,
    }, pk="id", not_null={"key", "channel", "shift_start", "shift_end", "created_at"})
    db["handoffs"].create_index(["key"], unique=True)
    db["handoff_notes"].create({
        "id": int, "user": str, "text": str, "at": float, "handoff_id": int,
    }, pk="id")
    db["scheduled_runs"].create({"key": str, "at": float}, pk="key")


def _v7(db: sqlite_utils.Database) -> None:
    """The first human response of each incident (an acknowledgement, or a resolution by a person), which a
    reopen does not erase: time to acknowledge is measured to it. Filled in from the timeline for old rows."""
    db["incidents"].add_column("first_response_at", float)
    db.execute("UPDATE incidents SET first_response_at = (SELECT min(t.at) FROM timeline t WHERE "
               "t.incident_id = incidents.id AND t.kind = 'status' AND (t.text LIKE 'Acknowledged by %' OR "
               "t.text LIKE 'Resolved by %'))")


def _v8(db: sqlite_utils.Database) -> None:
    """Cloud Monitoring: the alert policy behind an incident, and the snooze a silence on it made there."""
    db["incidents"].add_column("gcp_policy", str)         # projects/P/alertPolicies/ID
    db["silences"].add_column("incident_id", int)         # the incident the silence was set on, when it snoozes
    db["silences"].add_column("snooze", str)              # projects/P/snoozes/ID, once Cloud Monitoring made it


def _v9(db: sqlite_utils.Database) -> None:
    """Incident events: what happened, recorded by the core in the transaction of the change; the notifiers
    (Slack, PagerDuty, Cloud Monitoring, diagnostics) render their calls from them. `dispatched_at` is set once
    every notifier has turned the event into outbox rows, in the same transaction as those rows."""
    db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, incident_id INTEGER, "
               "origin TEXT NOT NULL, actor TEXT, data TEXT NOT NULL DEFAULT '{}', at REAL NOT NULL, "
               "dispatched_at REAL)")
    db.execute("CREATE INDEX events_undispatched ON events (id) WHERE dispatched_at IS NULL")


def _v10(db: sqlite_utils.Database) -> None:
    """The incident's finding: one line at the top of the card, first the sender's own words ("Has 42 rows vs.
    101 expected"), then what the first evidence showed ("orders last written 30 h ago, allowed 24 h")."""
    db["incidents"].add_column("finding", str)


def _v11(db: sqlite_utils.Database) -> None:
    """Who was paged for the incident, as the card shows it until someone takes it (names, never mentions: a card
    edit must not ping)."""
    db["incidents"].add_column("paged", str)


def _v12(db: sqlite_utils.Database) -> None:
    """Lineage on the card: the suspected root of a storm, and the tables it holds (JSON list), set when
    [grouping] lineage = true groups alerts by the tables they read."""
    db["incidents"].add_column("lineage_root", str)
    db["incidents"].add_column("lineage_tables", str)


def _v13(db: sqlite_utils.Database) -> None:
    """Storms in one channel: an outbox item's urgency (in a channel's queue, higher goes first: the storm summary,
    then cards not yet posted, then edits and replies), the storms (one summary message each, edited in place) and
    the incidents each lists."""
    db["outbox"].add_column("urgency", int, not_null_default=0)
    db.execute("CREATE INDEX outbox_waiting_channel ON outbox (channel, kind) WHERE status IN ('pending', 'inflight')")
    db.execute("CREATE TABLE storms (id INTEGER PRIMARY KEY, channel TEXT NOT NULL, slack_channel TEXT, "
               "slack_ts TEXT, started_at REAL NOT NULL, quiet_since REAL, last_sent_at REAL, ended_at REAL)")
    db.execute("CREATE INDEX storms_open ON storms (channel) WHERE ended_at IS NULL")
    db.execute("CREATE TABLE storm_incidents (storm_id INTEGER NOT NULL, incident_id INTEGER NOT NULL, "
               "PRIMARY KEY (storm_id, incident_id))")
    db.execute("CREATE INDEX storm_incidents_incident ON storm_incidents (incident_id)")


MIGRATIONS = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9, _v10, _v11, _v12, _v13]
INBOX_MIGRATIONS = [_inbox_v1, _inbox_v2]


def migrate(path: str, inbox_path: str | None = None) -> None:
    """Bring the state database (and the inbox database) to the newest schema; safe to run at every start.

    The inbox is a database of its own: the web process's group-commit writer is its only writer, so taking
    a webhook never waits for the worker's or the deliverer's transactions."""
    for db_path, steps in ((path, MIGRATIONS), (inbox_path, INBOX_MIGRATIONS)):
        if db_path is None:
            continue
        conn = connect(db_path)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version >= len(steps):
                continue
            import sqlite_utils
            db = sqlite_utils.Database(conn)
            for number, step in enumerate(steps[version:], start=version + 1):
                with transaction(conn):
                    step(db)
                    conn.execute(f"PRAGMA user_version={number}")
        finally:
            conn.close()
