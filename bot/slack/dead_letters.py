"""Dead letters are told in the channel: deliveries that failed for good (any kind), at most one notice per
quarter hour, so a Slack or PagerDuty outage is seen where people look without flooding the channel."""
from __future__ import annotations

import sqlite3

from bot import schedule
from bot.config import Settings
from bot.slack import delivery

EVERY = 15 * 60
KEY = "dead-letters"


def notice(conn: sqlite3.Connection, settings: Settings, now: float) -> int:
    last = conn.execute("SELECT key, at FROM scheduled_runs WHERE key LIKE ? ORDER BY at DESC LIMIT 1",
                        (f"{KEY}:%",)).fetchone()
    if last is not None and now - last["at"] < EVERY:
        return 0
    seen = int(last["key"].split(":")[1]) if last is not None else 0
    # Notices about dead letters are not counted themselves, or an unreachable Slack would feed its own notices.
    row = conn.execute("SELECT count(*), max(id) FROM outbox WHERE status = 'dead' AND id > ? AND NOT "
                       "(kind = ? AND payload LIKE '%dre-bot outbox --dead%')", (seen, delivery.MESSAGE)).fetchone()
    count, newest = row[0], row[1]
    if not count or not schedule.once(conn, f"{KEY}:{newest}", now):
        return 0
    delivery.enqueue_message(conn, settings.channel,
                             f":rotating_light: {count} deliver{'y' if count == 1 else 'ies'} failed for good "
                             "(Slack, PagerDuty, BigQuery or Cloud Monitoring calls; each incident's thread says what "
                             "it missed). On the bot's host, `dre-bot outbox --dead` lists them and "
                             "`dre-bot outbox --retry-all` tries them again.")
    return 1
