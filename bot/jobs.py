"""Scheduled work the worker runs between inbox batches: for now, telling the channel a silence has ended."""
from __future__ import annotations

import json
import sqlite3

from bot import clock, store
from bot.slack import delivery
from bot.config import Settings
from bot.pipeline.matchers import describe
from bot.slack.mrkdwn import escape, mention


def run_due(conn: sqlite3.Connection, settings: Settings, now: float | None = None) -> int:
    """Do whatever is due; the number of things done."""
    now = clock.now() if now is None else now
    ended = conn.execute("SELECT * FROM silences WHERE ends_at <= ? AND ended_notified = 0", (now,)).fetchall()
    if not ended:
        return 0
    with store.transaction(conn):
        for s in ended:
            by = f" (set by {mention(s['created_by'])}" + (f": {escape(s['reason'])}" if s["reason"] else "") + ")"
            delivery.enqueue_message(conn, settings.channel,
                                   f":bell: Silence {s['id']} on `{escape(describe(json.loads(s['matchers'])))}` "
                                   f"has ended{by}. Matching alerts open threads again.")
            conn.execute("UPDATE silences SET ended_notified = 1 WHERE id = ?", (s["id"],))
    return len(ended)
