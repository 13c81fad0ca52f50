"""The SQLite schema (created with sqlite-utils), its migrations, and every state query."""
from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from typing import Any, Iterator

import sqlite_utils

from bot import clock
from bot.alert import Alert


def connect(path: str) -> sqlite3.Connection:
    """A connection in WAL mode with full fsync: a committed row survives a crash or power loss."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


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


MIGRATIONS = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9]
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
            db = sqlite_utils.Database(conn)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for number, step in enumerate(steps[version:], start=version + 1):
                with transaction(conn):
                    step(db)
                    conn.execute(f"PRAGMA user_version={number}")
        finally:
            conn.close()


def connect_for_reading(path: str, inbox_path: str) -> sqlite3.Connection:
    """The state database with the inbox attached, and a view `inbox` of every row with what became of it.

    For the CLI and for inspection only: a connection with the inbox attached would take its write lock too."""
    conn = connect(path)
    conn.execute("ATTACH DATABASE ? AS ib", (inbox_path,))
    conn.execute("CREATE TEMP VIEW inbox AS SELECT i.id, i.source, i.received_at, i.content_type, i.body, "
                 "COALESCE(s.status, 'new') AS status, COALESCE(s.alerts, 0) AS alerts, s.error, s.processed_at "
                 "FROM ib.inbox i LEFT JOIN main.inbox_status s ON s.inbox_id = i.id")
    conn.execute("CREATE TEMP VIEW rejected AS SELECT * FROM ib.rejected")
    return conn


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


# --- inbox -------------------------------------------------------------------------------------------------

def insert_inbox(conn: sqlite3.Connection, rows: list[tuple]) -> list[int]:
    """Insert (source, body, content_type[, meta]) rows in the caller's transaction; their ids in order."""
    now = time.time()
    ids = []
    for source, body, content_type, *meta in rows:
        cur = conn.execute("INSERT INTO inbox (source, received_at, content_type, body, meta) VALUES (?, ?, ?, ?, ?)",
                           (source, now, content_type, body, dumps(meta[0]) if meta and meta[0] else None))
        ids.append(cur.lastrowid)
    return ids


def inbox_position(conn: sqlite3.Connection) -> int:
    """The last inbox id the worker has dealt with (state database)."""
    return conn.execute("SELECT COALESCE(max(inbox_id), 0) FROM inbox_status").fetchone()[0]


def pending_inbox(inbox_conn: sqlite3.Connection, after: int, limit: int = 100) -> list[sqlite3.Row]:
    return inbox_conn.execute("SELECT * FROM inbox WHERE id > ? ORDER BY id LIMIT ?", (after, limit)).fetchall()


def finish_inbox(conn: sqlite3.Connection, inbox_id: int, status: str, alerts: int = 0,
                 error: str | None = None) -> None:
    """Record what became of an inbox row, in the same transaction as the state it changed."""
    conn.execute("INSERT OR REPLACE INTO inbox_status (inbox_id, status, alerts, error, processed_at) "
                 "VALUES (?, ?, ?, ?, ?)", (inbox_id, status, alerts, error, time.time()))


def reject(conn: sqlite3.Connection, source: str, http_status: int, reason: str, body: bytes) -> None:
    conn.execute("INSERT INTO rejected (source, received_at, http_status, reason, body) VALUES (?, ?, ?, ?, ?)",
                 (source, time.time(), http_status, reason, body))


def depths(conn: sqlite3.Connection, inbox_conn: sqlite3.Connection) -> dict[str, int]:
    position = inbox_position(conn)
    waiting = inbox_conn.execute("SELECT count(*) FROM inbox WHERE id > ?", (position,)).fetchone()[0]
    row = conn.execute(
        "SELECT ? AS inbox,"
        " (SELECT count(*) FROM inbox_status WHERE status = 'failed') AS inbox_failed,"
        # Events not yet turned into outbox items are delivery work too: nothing is settled until they are.
        " (SELECT count(*) FROM outbox WHERE status IN ('pending', 'inflight'))"
        " + (SELECT count(*) FROM events WHERE dispatched_at IS NULL) AS outbox,"
        " (SELECT count(*) FROM outbox WHERE status = 'dead') AS dead_letters,"
        " (SELECT count(*) FROM incidents WHERE status != 'resolved') AS open_incidents", (waiting,)).fetchone()
    return dict(row)


# --- incidents -----------------------------------------------------------------------------------------------

def incident(conn: sqlite3.Connection, incident_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()


def incident_for_fingerprint(conn: sqlite3.Connection, fingerprint: str) -> sqlite3.Row | None:
    """The newest incident that holds an alert with this fingerprint."""
    return conn.execute(
        "SELECT i.* FROM incidents i JOIN incident_alerts a ON a.incident_id = i.id "
        "WHERE a.fingerprint = ? ORDER BY i.id DESC LIMIT 1", (fingerprint,)).fetchone()


def open_incident_for_key(conn: sqlite3.Connection, group_key: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM incidents WHERE group_key = ? AND status != 'resolved' "
                        "ORDER BY id DESC LIMIT 1", (group_key,)).fetchone()


def resolved_incident_for_key(conn: sqlite3.Connection, group_key: str, since: float) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM incidents WHERE group_key = ? AND status = 'resolved' AND resolved_at >= ? "
                        "ORDER BY id DESC LIMIT 1", (group_key, since)).fetchone()


def incident_by_thread(conn: sqlite3.Connection, channel_id: str, ts: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM incidents WHERE slack_channel = ? AND slack_ts = ?",
                        (channel_id, ts)).fetchone()


def first_seen_event(conn: sqlite3.Connection, event_id: str) -> bool:
    """True the first time an Events API event_id is seen; Slack retries repeat it."""
    cur = conn.execute("INSERT OR IGNORE INTO slack_events (event_id, at) VALUES (?, ?)", (event_id, time.time()))
    return cur.rowcount == 1


def open_incidents(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM incidents WHERE status != 'resolved' ORDER BY id DESC").fetchall()


def incident_alerts(conn: sqlite3.Connection, incident_id: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM incident_alerts WHERE incident_id = ? ORDER BY first_seen",
                        (incident_id,)).fetchall()


def timeline(conn: sqlite3.Connection, incident_id: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM timeline WHERE incident_id = ? ORDER BY id", (incident_id,)).fetchall()


def add_timeline(conn: sqlite3.Connection, incident_id: int, actor: str, origin: str, kind: str, text: str,
                 at: float | None = None) -> None:
    conn.execute("INSERT INTO timeline (incident_id, at, actor, origin, kind, text) VALUES (?, ?, ?, ?, ?, ?)",
                 (incident_id, at or clock.now(), actor, origin, kind, text))


def upsert_incident_alert(conn: sqlite3.Connection, incident_id: int, alert: Alert, now: float) -> bool:
    """Record the alert on the incident; True when the fingerprint is new to it."""
    row = conn.execute("SELECT count FROM incident_alerts WHERE incident_id = ? AND fingerprint = ?",
                       (incident_id, alert.fingerprint)).fetchone()
    snapshot = dumps({k: v for k, v in alert.to_dict().items() if k != "raw"})
    if row is None:
        conn.execute("INSERT INTO incident_alerts (incident_id, fingerprint, status, count, first_seen, last_seen,"
                     " alert) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (incident_id, alert.fingerprint, alert.status, 1 if alert.firing else 0, now, now, snapshot))
        return True
    conn.execute("UPDATE incident_alerts SET status = ?, count = count + ?, last_seen = ?, alert = ? "
                 "WHERE incident_id = ? AND fingerprint = ?",
                 (alert.status, 1 if alert.firing else 0, now, snapshot, incident_id, alert.fingerprint))
    return False


# --- silences ------------------------------------------------------------------------------------------------

def active_silences(conn: sqlite3.Connection, now: float) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM silences WHERE starts_at <= ? AND ends_at > ? ORDER BY id",
                        (now, now)).fetchall()


def add_silence(conn: sqlite3.Connection, matchers: dict[str, str], seconds: float, reason: str,
                created_by: str) -> int:
    now = clock.now()
    cur = conn.execute("INSERT INTO silences (matchers, starts_at, ends_at, reason, created_by, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (dumps(matchers), now, now + seconds, reason, created_by, now))
    return int(cur.lastrowid)


def end_silence(conn: sqlite3.Connection, silence_id: int, now: float) -> bool:
    """End an active silence now; False when there is no such active silence."""
    cur = conn.execute("UPDATE silences SET ends_at = ? WHERE id = ? AND ends_at > ?", (now, silence_id, now))
    return cur.rowcount == 1


def schema_seen(conn: sqlite3.Connection, table_ref: str) -> tuple[dict[str, str], float] | None:
    row = conn.execute("SELECT columns, at FROM schemas_seen WHERE table_ref = ?", (table_ref,)).fetchone()
    return (json.loads(row["columns"]), row["at"]) if row else None


def save_schema(conn: sqlite3.Connection, table_ref: str, columns: dict[str, str], at: float | None = None) -> None:
    conn.execute("INSERT OR REPLACE INTO schemas_seen (table_ref, columns, at) VALUES (?, ?, ?)",
                 (table_ref, dumps(columns), at or clock.now()))


def record_suppressed(conn: sqlite3.Connection, silence_id: int, inbox_id: int | None, alert: Alert) -> None:
    conn.execute("INSERT INTO suppressed (silence_id, inbox_id, at, fingerprint, alert) VALUES (?, ?, ?, ?, ?)",
                 (silence_id, inbox_id, clock.now(), alert.fingerprint,
                  dumps({k: v for k, v in alert.to_dict().items() if k != "raw"})))
