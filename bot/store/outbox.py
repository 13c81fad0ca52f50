"""Outbox items as people and handoff delivery look at them (the deliverer's own queries live in bot/outbox.py
until they move here)."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from bot.store.records import Record


@dataclass(frozen=True)
class OutboxItem(Record):
    id: int
    incident_id: int | None
    kind: str
    channel: str | None
    status: str
    attempts: int
    last_error: str | None


def outbox_items(conn: sqlite3.Connection, dead_only: bool = False, limit: int = 50) -> list[OutboxItem]:
    """Dead letters, or everything not delivered yet, newest first."""
    where = "status = 'dead'" if dead_only else "status != 'done'"
    return OutboxItem.all(conn.execute(f"SELECT * FROM outbox WHERE {where} ORDER BY id DESC LIMIT ?", (limit,)))


def handoff_waiting(conn: sqlite3.Connection, kind: str, handoff_id: int) -> bool:
    """True while an item of `kind` for this handoff is still to be delivered."""
    return conn.execute("SELECT 1 FROM outbox WHERE kind = ? AND status IN ('pending', 'inflight') AND "
                        "json_extract(payload, '$.handoff') = ?", (kind, handoff_id)).fetchone() is not None
