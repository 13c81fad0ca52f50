"""Scheduled things that must happen once: a key is claimed the first time it is seen."""
from __future__ import annotations

import sqlite3

from bot import store


def once(conn: sqlite3.Connection, key: str, now: float) -> bool:
    """True the first time `key` is seen: a scheduled job (a note prompt, a weekly report) runs exactly once."""
    return store.run_once(conn, key, now)


def first_look(conn: sqlite3.Connection, key: str, now: float) -> float:
    """When the bot first looked at `key`'s schedule (recorded now if never): nothing before it is posted."""
    once(conn, key, now)
    return store.ran_at(conn, key)
