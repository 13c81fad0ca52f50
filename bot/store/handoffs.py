"""Shift handoffs and the notes written for the next one."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from bot.store.records import Record


@dataclass(frozen=True)
class Handoff(Record):
    id: int
    key: str
    channel: str
    shift_start: float
    shift_end: float
    outgoing: str | None
    outgoing_name: str | None
    incoming: str | None
    incoming_name: str | None
    note: str | None
    created_by: str | None
    created_at: float
    text: str | None
    slack_channel: str | None
    slack_ts: str | None
    dm_channel: str | None
    dm_ts: str | None
    acked_at: float | None
    acked_by: str | None
    reminded_at: float | None
    escalated_at: float | None


@dataclass(frozen=True)
class HandoffNote(Record):
    id: int
    user: str
    text: str
    at: float
    handoff_id: int | None


# Where a posted handoff message is recorded, by whom it went to: the channel, or the incoming on-call's DM.
_POSTED_COLUMNS = {"channel": ("slack_channel", "slack_ts"), "incoming": ("dm_channel", "dm_ts")}


def handoff(conn: sqlite3.Connection, handoff_id: int) -> Handoff | None:
    return Handoff.maybe(conn.execute("SELECT * FROM handoffs WHERE id = ?", (handoff_id,)).fetchone())


def handoff_exists(conn: sqlite3.Connection, key: str) -> bool:
    return conn.execute("SELECT 1 FROM handoffs WHERE key = ?", (key,)).fetchone() is not None


def last_handoff(conn: sqlite3.Connection) -> Handoff | None:
    """The handoff of the latest shift."""
    return Handoff.maybe(conn.execute("SELECT * FROM handoffs ORDER BY shift_end DESC, id DESC LIMIT 1").fetchone())


def newest_handoff(conn: sqlite3.Connection) -> Handoff | None:
    """The handoff written last."""
    return Handoff.maybe(conn.execute("SELECT * FROM handoffs ORDER BY id DESC LIMIT 1").fetchone())


def recent_handoffs(conn: sqlite3.Connection, limit: int = 50) -> list[Handoff]:
    return Handoff.all(conn.execute("SELECT * FROM handoffs ORDER BY id DESC LIMIT ?", (limit,)))


def manual_handoff_near(conn: sqlite3.Connection, since: float, until: float) -> Handoff | None:
    """The newest handoff posted by hand (its key starts with `manual:`) created between `since` and `until`."""
    return Handoff.maybe(conn.execute(
        "SELECT * FROM handoffs WHERE key LIKE 'manual:%' AND created_at >= ? AND created_at <= ? "
        "ORDER BY id DESC LIMIT 1", (since, until)).fetchone())


def add_handoff(conn: sqlite3.Connection, *, key: str, channel: str, shift_start: float, shift_end: float,
                outgoing: str | None, outgoing_name: str | None, incoming: str | None, incoming_name: str | None,
                note: str | None, created_by: str, created_at: float, text: str, notes: list[HandoffNote]) -> int:
    """Insert a handoff and attach the notes written for it; its id."""
    cur = conn.execute(
        "INSERT INTO handoffs (key, channel, shift_start, shift_end, outgoing, outgoing_name, incoming, "
        "incoming_name, note, created_by, created_at, text) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (key, channel, shift_start, shift_end, outgoing, outgoing_name, incoming, incoming_name, note,
         created_by, created_at, text))
    handoff_id = int(cur.lastrowid)
    conn.executemany("UPDATE handoff_notes SET handoff_id = ? WHERE id = ?", [(handoff_id, n.id) for n in notes])
    return handoff_id


def acknowledge_handoff(conn: sqlite3.Connection, handoff_id: int, user: str, at: float) -> None:
    conn.execute("UPDATE handoffs SET acked_at = ?, acked_by = ? WHERE id = ?", (at, user, handoff_id))


def mark_reminded(conn: sqlite3.Connection, handoff_id: int, at: float) -> None:
    conn.execute("UPDATE handoffs SET reminded_at = ? WHERE id = ?", (at, handoff_id))


def mark_escalated(conn: sqlite3.Connection, handoff_id: int, at: float) -> None:
    conn.execute("UPDATE handoffs SET escalated_at = ? WHERE id = ?", (at, handoff_id))


def mark_posted(conn: sqlite3.Connection, handoff_id: int, to: str, channel: str | None, ts: str | None) -> None:
    """Record where the handoff message went; `to` is "channel" or "incoming"."""
    channel_column, ts_column = _POSTED_COLUMNS[to]
    conn.execute(f"UPDATE handoffs SET {channel_column} = ?, {ts_column} = ? WHERE id = ?", (channel, ts, handoff_id))


def add_handoff_note(conn: sqlite3.Connection, user: str, text: str, at: float) -> None:
    conn.execute("INSERT INTO handoff_notes (user, text, at) VALUES (?, ?, ?)", (user, text, at))


def unattached_notes(conn: sqlite3.Connection, since: float) -> list[HandoffNote]:
    """Notes written since `since` that no handoff carries yet, oldest first."""
    return HandoffNote.all(conn.execute("SELECT * FROM handoff_notes WHERE handoff_id IS NULL AND at >= ? "
                                        "ORDER BY id", (since,)))
