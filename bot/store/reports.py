"""Queries across incidents and their timelines for the handoff and the reports."""
from __future__ import annotations

import sqlite3


def alerting_places(conn: sqlite3.Connection, start: float, end: float) -> list[tuple[str | None, str | None]]:
    """(table, source) of each alert that fired in [start, end) into an incident: one that opened it, one that
    joined it, and one that reopened it."""
    return [(r["table_name"], r["source"]) for r in conn.execute(
        "SELECT i.table_name, i.source FROM timeline e JOIN incidents i ON i.id = e.incident_id "
        "WHERE e.at >= ? AND e.at < ? AND (e.kind = 'opened' OR (e.kind = 'alert' AND e.text "
        "LIKE 'Alert joined:%') OR (e.kind = 'status' AND e.text LIKE 'Reopened:%'))", (start, end))]
