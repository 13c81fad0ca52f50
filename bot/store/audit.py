"""The audit log: every command and action, allowed or refused."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from bot.store.records import Record


@dataclass(frozen=True)
class AuditEntry(Record):
    id: int
    at: float
    user: str
    channel: str | None
    action: str
    args: str
    result: str
    allowed: int
    request_id: str
    via: str


def add_audit(conn: sqlite3.Connection, at: float, user: str, channel: str | None, action: str, args: str,
              result: str, allowed: bool, request_id: str, via: str) -> None:
    conn.execute("INSERT INTO audit (at, user, channel, action, args, result, allowed, request_id, via) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (at, user, channel, action, args, result, int(allowed), request_id, via))


def audit_since(conn: sqlite3.Connection, since: float) -> list[AuditEntry]:
    return AuditEntry.all(conn.execute("SELECT * FROM audit WHERE at >= ? ORDER BY id", (since,)))
