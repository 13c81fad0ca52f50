"""Each incident's PagerDuty side: which PagerDuty incident it is, its state there, and the notes we sent."""
from __future__ import annotations

import sqlite3

from bot.store.incidents import Incident


def incident_by_pd_incident(conn: sqlite3.Connection, pd_incident_id: str) -> Incident | None:
    return Incident.maybe(conn.execute("SELECT * FROM incidents WHERE pd_incident_id = ? ORDER BY id DESC LIMIT 1",
                                       (pd_incident_id,)).fetchone())


def incident_by_pd_dedup_key(conn: sqlite3.Connection, dedup_key: str) -> Incident | None:
    return Incident.maybe(conn.execute("SELECT * FROM incidents WHERE pd_dedup_key = ? ORDER BY id DESC LIMIT 1",
                                       (dedup_key,)).fetchone())


def incidents_in_pagerduty(conn: sqlite3.Connection, resolved_since: float) -> list[Incident]:
    """Incidents that reached PagerDuty, open or resolved since `resolved_since`: what reconciliation checks."""
    return Incident.all(conn.execute("SELECT * FROM incidents WHERE (pd_dedup_key IS NOT NULL OR pd_incident_id IS "
                                     "NOT NULL) AND (status != 'resolved' OR resolved_at >= ?)", (resolved_since,)))


def note_sent(conn: sqlite3.Connection, incident_id: int, digest: str) -> bool:
    """True when we wrote this note in PagerDuty ourselves (its webhook is our own echo)."""
    return conn.execute("SELECT 1 FROM pd_sent_notes WHERE incident_id = ? AND digest = ?",
                        (incident_id, digest)).fetchone() is not None


def set_pd_incident_id(conn: sqlite3.Connection, incident_id: int, pd_incident_id: str | None) -> None:
    conn.execute("UPDATE incidents SET pd_incident_id = ? WHERE id = ?", (pd_incident_id, incident_id))


def keep_pd_dedup_key(conn: sqlite3.Connection, incident_id: int, dedup_key: str | None) -> None:
    """Set the incident's dedup key unless it has one: the first key used stays its key."""
    conn.execute("UPDATE incidents SET pd_dedup_key = COALESCE(pd_dedup_key, ?) WHERE id = ?", (dedup_key, incident_id))


def record_page(conn: sqlite3.Connection, incident_id: int, dedup_key: str | None, pd_incident_id: str | None,
                url: str | None) -> None:
    """What `/dre page` created in PagerDuty: the dedup key where there was none, the id and link where given."""
    conn.execute("UPDATE incidents SET pd_dedup_key = COALESCE(pd_dedup_key, ?), pd_incident_id = "
                 "COALESCE(?, pd_incident_id), pd_incident_url = COALESCE(?, pd_incident_url) WHERE id = ?",
                 (dedup_key, pd_incident_id, url, incident_id))


def add_sent_note(conn: sqlite3.Connection, incident_id: int, digest: str, at: float) -> None:
    """Remember a note we wrote in PagerDuty, so its webhook is known as our own echo."""
    conn.execute("INSERT OR IGNORE INTO pd_sent_notes (incident_id, digest, at) VALUES (?, ?, ?)",
                 (incident_id, digest, at))


def update_pagerduty(conn: sqlite3.Connection, incident_id: int, *, pd_incident_id: str | None,
                     url: str | None, status: str | None, assignee: str | None, service: str | None) -> None:
    """What a PagerDuty webhook said about the incident; a field it left out keeps its value (the assignee is
    always replaced: nobody assigned is news)."""
    conn.execute("UPDATE incidents SET pd_incident_id = COALESCE(?, pd_incident_id), pd_incident_url = "
                 "COALESCE(?, pd_incident_url), pd_status = COALESCE(?, pd_status), pd_assignee = ?, pd_service = "
                 "COALESCE(?, pd_service) WHERE id = ?", (pd_incident_id, url, status, assignee, service, incident_id))


def set_pagerduty(conn: sqlite3.Connection, incident_id: int, *, pd_incident_id: str | None, url: str | None,
                  dedup_key: str | None, status: str | None, assignee: str | None, service: str | None) -> None:
    """Every PagerDuty field at once: for an incident that started in PagerDuty (a mirrored one)."""
    conn.execute("UPDATE incidents SET pd_incident_id = ?, pd_incident_url = ?, pd_dedup_key = ?, pd_status = ?, "
                 "pd_assignee = ?, pd_service = ? WHERE id = ?",
                 (pd_incident_id, url, dedup_key, status, assignee, service, incident_id))


def reconcile_pagerduty(conn: sqlite3.Connection, incident_id: int, pd_incident_id: str | None, url: str | None,
                        status: str | None) -> None:
    """What reconciliation read in PagerDuty: the status always, the id and link only where we had none."""
    conn.execute("UPDATE incidents SET pd_incident_id = COALESCE(pd_incident_id, ?), pd_incident_url = "
                 "COALESCE(pd_incident_url, ?), pd_status = ? WHERE id = ?", (pd_incident_id, url, status, incident_id))


def first_sight_of_webhook(conn: sqlite3.Connection, key: str, at: float) -> bool:
    """Record a webhook id (or a signed event id); True only the first time it is seen."""
    return conn.execute("INSERT OR IGNORE INTO pd_webhooks_seen (webhook_id, at) VALUES (?, ?)", (key, at)).rowcount == 1
