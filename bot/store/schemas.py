"""The schema of each warehouse table as the `schema` diagnostic last saw it."""
from __future__ import annotations

import json
import sqlite3

from bot import clock
from bot.store.db import dumps


def schema_seen(conn: sqlite3.Connection, table_ref: str) -> tuple[dict[str, str], float] | None:
    row = conn.execute("SELECT columns, at FROM schemas_seen WHERE table_ref = ?", (table_ref,)).fetchone()
    return (json.loads(row["columns"]), row["at"]) if row else None


def save_schema(conn: sqlite3.Connection, table_ref: str, columns: dict[str, str], at: float | None = None) -> None:
    conn.execute("INSERT OR REPLACE INTO schemas_seen (table_ref, columns, at) VALUES (?, ?, ?)",
                 (table_ref, dumps(columns), at or clock.now()))
