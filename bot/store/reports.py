"""Queries across incidents and their timelines for the handoff and the reports."""
from __future__ import annotations

import sqlite3

from bot.store.incidents import Incident


def alerting_places(conn: sqlite3.Connection, start: float, end: float) -> list[tuple[str | None, str | None]]:
    """(table, source) of each alert that fired in [start, end) into an incident: one that opened it, one that
    joined it, and one that reopened it."""
    return [(r["table_name"], r["source"]) for r in conn.execute(
        "SELECT i.table_name, i.source FROM timeline e JOIN incidents i ON i.id = e.incident_id "
        "WHERE e.at >= ? AND e.at < ? AND (e.kind = 'opened' OR (e.kind = 'alert' AND e.text "
        "LIKE 'Alert joined:%') OR (e.kind = 'status' AND e.text LIKE 'Reopened:%'))", (start, end))]


def _counts(conn: sqlite3.Connection, sql: str) -> list[tuple[str, int]]:
    return [(str(r[0]), r[1]) for r in conn.execute(sql)]


def incidents_by_source(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """(source, incidents opened), every incident ever; `unknown` where the source is missing."""
    return _counts(conn, "SELECT COALESCE(source, 'unknown') AS source, count(*) AS n FROM incidents "
                         "GROUP BY 1 ORDER BY 1")


def resolutions(conn: sqlite3.Connection) -> int:
    """Times an incident was resolved: a reopened incident resolved again counts twice."""
    return conn.execute("SELECT count(*) FROM timeline WHERE kind = 'status' AND text LIKE 'Resolved%'").fetchone()[0]


def resolved_by_cause(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """(cause category, resolved incidents); `none` for those resolved without one."""
    return _counts(conn, "SELECT COALESCE(resolution_cause, 'none') AS cause, count(*) AS n FROM incidents "
                         "WHERE status = 'resolved' GROUP BY 1 ORDER BY 1")


def open_by_status(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    return _counts(conn, "SELECT status, count(*) AS n FROM incidents WHERE status != 'resolved' "
                         "GROUP BY status ORDER BY status")


def suppressed_count(conn: sqlite3.Connection) -> int:
    """Alerts held by silences, ever."""
    return conn.execute("SELECT count(*) FROM suppressed").fetchone()[0]


def incidents_opened_since(conn: sqlite3.Connection, since: float) -> list[Incident]:
    return Incident.all(conn.execute("SELECT * FROM incidents WHERE opened_at >= ?", (since,)))


def handoff_count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM handoffs").fetchone()[0]


def newest_handoff_unacknowledged(conn: sqlite3.Connection) -> bool:
    """True while the newest handoff waits for the incoming on-call to acknowledge it."""
    return conn.execute("SELECT count(*) FROM handoffs WHERE acked_at IS NULL AND id = (SELECT max(id) "
                        "FROM handoffs)").fetchone()[0] == 1
