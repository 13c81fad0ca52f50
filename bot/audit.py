"""The audit log: every command and action, allowed or refused: who, what, arguments, result, when."""
from __future__ import annotations

import sqlite3
from bot import clock



def record(conn: sqlite3.Connection, *, user: str, action: str, args: str, result: str, allowed: bool,
           request_id: str, via: str, channel: str | None = None) -> None:
    conn.execute("INSERT INTO audit (at, user, channel, action, args, result, allowed, request_id, via) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (clock.now(), user, channel, action, args[:2000], result[:2000], int(allowed), request_id, via))


def since(conn: sqlite3.Connection, seconds: float) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM audit WHERE at >= ? ORDER BY id", (clock.now() - seconds,)).fetchall()

