"""The inbox: webhook bodies as they came in, what the worker made of each, and the bodies refused."""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from bot.store.db import dumps
from bot.store.records import Record


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


@dataclass(frozen=True)
class InboxEntry(Record):
    """An inbox row with what became of it (through the reading connection's `inbox` view)."""
    id: int
    source: str
    received_at: float
    content_type: str | None
    status: str
    alerts: int
    error: str | None


@dataclass(frozen=True)
class Rejected(Record):
    id: int
    source: str
    received_at: float
    http_status: int
    reason: str


_ENTRY = "SELECT id, source, received_at, content_type, status, alerts, error FROM inbox"


def inbox_entries(conn: sqlite3.Connection, failed_only: bool = False, limit: int = 50) -> list[InboxEntry]:
    """Newest first; `conn` comes from connect_for_reading."""
    where = " WHERE status = 'failed'" if failed_only else ""
    return InboxEntry.all(conn.execute(f"{_ENTRY}{where} ORDER BY id DESC LIMIT ?", (limit,)))


def inbox_entry(conn: sqlite3.Connection, inbox_id: int) -> InboxEntry | None:
    return InboxEntry.maybe(conn.execute(f"{_ENTRY} WHERE id = ?", (inbox_id,)).fetchone())


def inbox_body(conn: sqlite3.Connection, inbox_id: int) -> bytes | None:
    row = conn.execute("SELECT body FROM inbox WHERE id = ?", (inbox_id,)).fetchone()
    return None if row is None else bytes(row["body"])


def mark_retried(conn: sqlite3.Connection, inbox_id: int, note: str) -> None:
    """The old row of a body queued again says where it went (the inbox itself is append-only)."""
    conn.execute("UPDATE inbox_status SET status = 'retried', error = ? WHERE inbox_id = ?", (note, inbox_id))


def rejected_bodies(conn: sqlite3.Connection, limit: int = 50) -> list[Rejected]:
    return Rejected.all(conn.execute("SELECT id, source, received_at, http_status, reason FROM rejected "
                                     "ORDER BY id DESC LIMIT ?", (limit,)))
