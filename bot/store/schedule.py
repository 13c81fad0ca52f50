"""Scheduled jobs already run (a note prompt, a weekly report, a handoff), each recorded exactly once."""
from __future__ import annotations

import sqlite3


def run_once(conn: sqlite3.Connection, key: str, now: float) -> bool:
    """Record `key` as run; True only the first time."""
    return conn.execute("INSERT OR IGNORE INTO scheduled_runs (key, at) VALUES (?, ?)", (key, now)).rowcount == 1


def ran(conn: sqlite3.Connection, key: str) -> bool:
    return conn.execute("SELECT 1 FROM scheduled_runs WHERE key = ?", (key,)).fetchone() is not None


def ran_at(conn: sqlite3.Connection, key: str) -> float | None:
    row = conn.execute("SELECT at FROM scheduled_runs WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def latest_run(conn: sqlite3.Connection, prefix: str) -> sqlite3.Row | None:
    """The newest run whose key starts with `prefix`."""
    return conn.execute("SELECT key, at FROM scheduled_runs WHERE substr(key, 1, ?) = ? ORDER BY at DESC LIMIT 1",
                        (len(prefix), prefix)).fetchone()
