"""Incident events (bot/events.py): recorded with the change, dispatched once to the notifiers."""
from __future__ import annotations

import sqlite3


def add_event(conn: sqlite3.Connection, kind: str, incident_id: int | None, origin: str, actor: str | None,
              data: str, at: float) -> None:
    conn.execute("INSERT INTO events (kind, incident_id, origin, actor, data, at) VALUES (?, ?, ?, ?, ?, ?)",
                 (kind, incident_id, origin, actor, data, at))


def undispatched_events(conn: sqlite3.Connection, limit: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM events WHERE dispatched_at IS NULL ORDER BY id LIMIT ?", (limit,)).fetchall()


def mark_dispatched(conn: sqlite3.Connection, event_ids: list[int], at: float) -> None:
    conn.executemany("UPDATE events SET dispatched_at = ? WHERE id = ?", [(at, i) for i in event_ids])
