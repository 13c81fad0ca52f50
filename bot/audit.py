"""The audit log: every command and action, allowed or refused: who, what, arguments, result, when."""
from __future__ import annotations

import sqlite3

from bot import clock, store


def record(conn: sqlite3.Connection, *, user: str, action: str, args: str, result: str, allowed: bool,
           request_id: str, via: str, channel: str | None = None) -> None:
    # Arguments and results are cut at 2000 characters: a pasted log must not bloat the log.
    store.add_audit(conn, clock.now(), user, channel, action, args[:2000], result[:2000], allowed, request_id, via)


def since(conn: sqlite3.Connection, seconds: float) -> list[store.AuditEntry]:
    return store.audit_since(conn, clock.now() - seconds)
