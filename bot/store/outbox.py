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


def outbox_row(conn: sqlite3.Connection, outbox_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM outbox WHERE id = ?", (outbox_id,)).fetchone()


def dead_letters_after(conn: sqlite3.Connection, after_id: int, not_kind: str, not_containing: str) -> tuple[int, int]:
    """How many dead letters came after `after_id`, and the newest id; items of kind `not_kind` whose payload
    holds `not_containing` are left out."""
    row = conn.execute("SELECT count(*), max(id) FROM outbox WHERE status = 'dead' AND id > ? AND NOT "
                       "(kind = ? AND instr(payload, ?) > 0)", (after_id, not_kind, not_containing)).fetchone()
    return row[0], row[1] or 0
