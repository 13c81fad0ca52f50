"""Dead letters are told in the channel: deliveries that failed for good (any kind), at most one notice per
quarter hour, so a Slack or PagerDuty outage is seen where people look without flooding the channel."""
from __future__ import annotations

import sqlite3

from bot import schedule, store
from bot.config import Settings
from bot.slack import delivery

EVERY = 15 * 60
KEY = "dead-letters"
MARK = "dre-bot outbox --dead"   # in the notice's own text


def notice(conn: sqlite3.Connection, settings: Settings, now: float) -> int:
    last = store.latest_run(conn, f"{KEY}:")
    if last is not None and now - last["at"] < EVERY:
        return 0
    seen = int(last["key"].split(":")[1]) if last is not None else 0
    # Notices about dead letters are not counted themselves, or an unreachable Slack would feed its own notices.
    count, newest = store.dead_letters_after(conn, seen, delivery.MESSAGE, MARK)
    if not count or not schedule.once(conn, f"{KEY}:{newest}", now):
        return 0
    delivery.enqueue_message(conn, settings.channel,
                             f":rotating_light: {count} deliver{'y' if count == 1 else 'ies'} failed for good "
                             "(Slack, PagerDuty, BigQuery or Cloud Monitoring calls; each incident's thread says what "
                             "it missed). On the bot's host, `dre-bot outbox --dead` lists them and "
                             "`dre-bot outbox --retry-all` tries them again.")
    return 1
