"""The timeline: each incident's story, entry by entry."""
from __future__ import annotations

import sqlite3

from bot import clock


def timeline(conn: sqlite3.Connection, incident_id: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM timeline WHERE incident_id = ? ORDER BY id", (incident_id,)).fetchall()


def add_timeline(conn: sqlite3.Connection, incident_id: int, actor: str, origin: str, kind: str, text: str,
                 at: float | None = None) -> None:
    conn.execute("INSERT INTO timeline (incident_id, at, actor, origin, kind, text) VALUES (?, ?, ?, ?, ?, ?)",
                 (incident_id, at or clock.now(), actor, origin, kind, text))


def timeline_until(conn: sqlite3.Connection, incident_id: int, at: float) -> list[sqlite3.Row]:
    """The incident's story as it stood at `at`."""
    return conn.execute("SELECT * FROM timeline WHERE incident_id = ? AND at <= ? ORDER BY id",
                        (incident_id, at)).fetchall()
