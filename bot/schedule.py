"""Scheduled things that must happen once: a key is claimed the first time it is seen (scheduled_runs)."""
from __future__ import annotations

import sqlite3


def once(conn: sqlite3.Connection, key: str, now: float) -> bool:
    """True the first time `key` is seen: a scheduled job (a note prompt, a weekly report) runs exactly once."""
    return conn.execute("INSERT OR IGNORE INTO scheduled_runs (key, at) VALUES (?, ?)", (key, now)).rowcount == 1


def first_look(conn: sqlite3.Connection, key: str, now: float) -> float:
    """When the bot first looked at `key`'s schedule (recorded now if never): nothing before it is posted."""
    once(conn, key, now)
    return conn.execute("SELECT at FROM scheduled_runs WHERE key = ?", (key,)).fetchone()[0]
