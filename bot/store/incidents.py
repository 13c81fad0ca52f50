"""Incidents and the alerts they hold, as typed records (which also answer `inc["column"]`, as the service,
the notifiers and the message builders read them)."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from bot.alert import Alert
from bot.store.db import dumps
from bot.store.records import Record


@dataclass(frozen=True)
class Incident(Record):
    """A row of the incidents table; `labels` and `links` are JSON text."""
    id: int
    group_key: str | None
    status: str
    title: str | None
    severity: str | None
    kind: str | None
    source: str | None
    table_name: str | None
    labels: str | None
    links: str | None
    summary: str | None
    channel: str | None
    slack_channel: str | None
    slack_ts: str | None
    runbook: str | None
    owner: str | None
    alert_count: int | None
    opened_at: float
    updated_at: float | None
    resolved_at: float | None
    ack_at: float | None
    resolution_cause: str | None
    resolution_note: str | None
    resolved_by: str | None
    ack_by: str | None
    pd_dedup_key: str | None
    pd_routing_key_env: str | None
    pd_incident_id: str | None
    pd_incident_url: str | None
    pd_status: str | None
    pd_assignee: str | None
    pd_service: str | None
    first_response_at: float | None
    gcp_policy: str | None
    finding: str | None
    paged: str | None
    lineage_root: str | None
    lineage_tables: str | None     # JSON list of the tables grouped by lineage


@dataclass(frozen=True)
class IncidentAlert(Record):
    """An alert on an incident: `alert` is the JSON of its last snapshot, without the raw payload."""
    incident_id: int
    fingerprint: str
    status: str
    count: int
    first_seen: float
    last_seen: float
    alert: str | None


def incident(conn: sqlite3.Connection, incident_id: int) -> Incident | None:
    return Incident.maybe(conn.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone())


def incident_for_fingerprint(conn: sqlite3.Connection, fingerprint: str) -> Incident | None:
    """The newest incident that holds an alert with this fingerprint."""
    return Incident.maybe(conn.execute(
        "SELECT i.* FROM incidents i JOIN incident_alerts a ON a.incident_id = i.id "
        "WHERE a.fingerprint = ? ORDER BY i.id DESC LIMIT 1", (fingerprint,)).fetchone())


def open_incident_for_key(conn: sqlite3.Connection, group_key: str) -> Incident | None:
    return Incident.maybe(conn.execute("SELECT * FROM incidents WHERE group_key = ? AND status != 'resolved' "
                                       "ORDER BY id DESC LIMIT 1", (group_key,)).fetchone())


def resolved_incident_for_key(conn: sqlite3.Connection, group_key: str, since: float) -> Incident | None:
    return Incident.maybe(conn.execute("SELECT * FROM incidents WHERE group_key = ? AND status = 'resolved' AND "
                                       "resolved_at >= ? ORDER BY id DESC LIMIT 1", (group_key, since)).fetchone())


def incident_by_thread(conn: sqlite3.Connection, channel_id: str, ts: str) -> Incident | None:
    return Incident.maybe(conn.execute("SELECT * FROM incidents WHERE slack_channel = ? AND slack_ts = ?",
                                       (channel_id, ts)).fetchone())


def open_incidents(conn: sqlite3.Connection) -> list[Incident]:
    return Incident.all(conn.execute("SELECT * FROM incidents WHERE status != 'resolved' ORDER BY id DESC"))


def open_incidents_owned_by(conn: sqlite3.Connection, owner: str, limit: int = 20) -> list[Incident]:
    """Newest first."""
    return Incident.all(conn.execute("SELECT * FROM incidents WHERE owner = ? AND status != 'resolved' "
                                     "ORDER BY id DESC LIMIT ?", (owner, limit)))


def open_incident_count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM incidents WHERE status != 'resolved'").fetchone()[0]


def open_incident_for_table(conn: sqlite3.Connection, *names: str) -> Incident | None:
    """The newest open incident on a table known by any of `names` (its full name, dataset.table)."""
    marks = ", ".join("?" * len(names))
    return Incident.maybe(conn.execute(f"SELECT * FROM incidents WHERE status != 'resolved' AND table_name IN "
                                       f"({marks}) ORDER BY id DESC LIMIT 1", names).fetchone())


def slack_channel_id(conn: sqlite3.Connection, channel: str) -> str | None:
    """The Slack channel id an earlier card in `channel` (as configured, a name or an id) was posted to."""
    row = conn.execute("SELECT slack_channel FROM incidents WHERE channel = ? AND slack_channel IS NOT NULL "
                       "LIMIT 1", (channel,)).fetchone()
    return row[0] if row else None


def add_incident(conn: sqlite3.Connection, *, group_key: str, status: str, title: str, severity: str, kind: str,
                 source: str, table_name: str | None, labels: str, links: str, summary: str, channel: str,
                 runbook: str | None, alert_count: int, opened_at: float, updated_at: float,
                 finding: str | None) -> int:
    """A new incident; its id. `labels` and `links` are JSON text."""
    cur = conn.execute(
        "INSERT INTO incidents (group_key, status, title, severity, kind, source, table_name, labels, links, summary,"
        " channel, runbook, alert_count, opened_at, updated_at, finding) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (group_key, status, title, severity, kind, source, table_name, labels, links, summary, channel, runbook,
         alert_count, opened_at, updated_at, finding))
    return int(cur.lastrowid)


def incident_alerts(conn: sqlite3.Connection, incident_id: int) -> list[IncidentAlert]:
    return IncidentAlert.all(conn.execute("SELECT * FROM incident_alerts WHERE incident_id = ? ORDER BY first_seen",
                                          (incident_id,)))


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


def recent_incidents(conn: sqlite3.Connection, include_resolved: bool = False, limit: int = 100) -> list[Incident]:
    """Newest first."""
    where = "" if include_resolved else "WHERE status != 'resolved' "
    return Incident.all(conn.execute(f"SELECT * FROM incidents {where}ORDER BY id DESC LIMIT ?", (limit,)))


def incidents_open_at(conn: sqlite3.Connection, at: float) -> list[Incident]:
    """Incidents opened by `at` and not resolved before it, by severity then age."""
    return Incident.all(conn.execute("SELECT * FROM incidents WHERE opened_at <= ? AND (status != 'resolved' OR "
                                     "resolved_at >= ?) ORDER BY severity, opened_at", (at, at)))


def incidents_opened_between(conn: sqlite3.Connection, start: float, end: float) -> list[Incident]:
    """Incidents opened in [start, end), oldest first."""
    return Incident.all(conn.execute("SELECT * FROM incidents WHERE opened_at >= ? AND opened_at < ? "
                                     "ORDER BY opened_at", (start, end)))


def incidents_resolved_between(conn: sqlite3.Connection, start: float, end: float) -> list[Incident]:
    """Incidents resolved (and still resolved) in [start, end), in order of resolution."""
    return Incident.all(conn.execute("SELECT * FROM incidents WHERE status = 'resolved' AND resolved_at >= ? AND "
                                     "resolved_at < ? ORDER BY resolved_at", (start, end)))


# The incident columns a change may set: only these names ever reach the SQL text.
INCIDENT_COLUMNS = frozenset({
    "status", "title", "severity", "kind", "source", "table_name", "labels", "links", "summary", "channel",
    "slack_channel", "slack_ts", "runbook", "owner", "alert_count", "opened_at", "updated_at", "resolved_at",
    "resolved_by", "resolution_cause", "resolution_note", "ack_at", "ack_by", "first_response_at", "gcp_policy",
    "pd_routing_key_env", "pd_dedup_key", "pd_incident_id", "pd_incident_url", "pd_status", "pd_assignee",
    "pd_service", "finding", "paged", "lineage_root", "lineage_tables"})


def update_incident(conn: sqlite3.Connection, incident_id: int, changes: dict[str, object],
                    only_if_null: str | None = None) -> None:
    """Set some of an incident's columns (`only_if_null`: only while that column is still NULL)."""
    unknown = set(changes) - INCIDENT_COLUMNS
    if unknown:
        raise ValueError(f"not incident columns: {sorted(unknown)}")
    sets = ", ".join(f"{k} = ?" for k in changes)
    guard = f" AND {only_if_null} IS NULL" if only_if_null in INCIDENT_COLUMNS else ""
    conn.execute(f"UPDATE incidents SET {sets} WHERE id = ?{guard}", (*changes.values(), incident_id))


def open_incident_tables(conn: sqlite3.Connection) -> dict[int, set[str]]:
    """Each open incident's tables (its own and its alerts' `table` labels), for grouping by lineage."""
    out: dict[int, set[str]] = {}
    for incident_id, table in conn.execute(
            "SELECT i.id, i.table_name FROM incidents i WHERE i.status != 'resolved' AND i.table_name IS NOT NULL "
            "UNION SELECT a.incident_id, json_extract(a.alert, '$.labels.table') FROM incident_alerts a "
            "JOIN incidents i ON i.id = a.incident_id WHERE i.status != 'resolved' "
            "AND json_extract(a.alert, '$.labels.table') IS NOT NULL"):
        out.setdefault(incident_id, set()).add(table)
    return out


def move_alerts(conn: sqlite3.Connection, from_id: int, to_id: int, fingerprints: list[str]) -> int:
    """Move alerts to another incident (a split); the number moved."""
    marks = ", ".join("?" * len(fingerprints))
    return conn.execute(f"UPDATE OR REPLACE incident_alerts SET incident_id = ? WHERE incident_id = ? AND "
                        f"fingerprint IN ({marks})", (to_id, from_id, *fingerprints)).rowcount
