"""The timeline: each incident's story, entry by entry."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from bot import clock
from bot.store.records import Record


@dataclass(frozen=True)
class TimelineEntry(Record):
    id: int
    incident_id: int
    at: float
    actor: str | None
    origin: str | None
    kind: str
    text: str


def timeline(conn: sqlite3.Connection, incident_id: int) -> list[TimelineEntry]:
    return TimelineEntry.all(conn.execute("SELECT * FROM timeline WHERE incident_id = ? ORDER BY id", (incident_id,)))


def add_timeline(conn: sqlite3.Connection, incident_id: int, actor: str, origin: str, kind: str, text: str,
                 at: float | None = None) -> None:
    conn.execute("INSERT INTO timeline (incident_id, at, actor, origin, kind, text) VALUES (?, ?, ?, ?, ?, ?)",
                 (incident_id, at or clock.now(), actor, origin, kind, text))


def timeline_until(conn: sqlite3.Connection, incident_id: int, at: float) -> list[TimelineEntry]:
    """The incident's story as it stood at `at`."""
    return TimelineEntry.all(conn.execute("SELECT * FROM timeline WHERE incident_id = ? AND at <= ? ORDER BY id",
                                          (incident_id, at)))
