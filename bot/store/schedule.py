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
