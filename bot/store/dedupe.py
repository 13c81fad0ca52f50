"""Deliveries seen already (Slack Events API retries), so a retry is not news."""
from __future__ import annotations

import sqlite3
import time


def first_seen_event(conn: sqlite3.Connection, event_id: str) -> bool:
    """True the first time an Events API event_id is seen; Slack retries repeat it."""
    cur = conn.execute("INSERT OR IGNORE INTO slack_events (event_id, at) VALUES (?, ?)", (event_id, time.time()))
    return cur.rowcount == 1

