"""Dispatch: incident events, once committed, turned into outbox items by every registered notifier.

The deliverer calls `dispatch` at the start of each round, in the transaction that also marks the calls it is
about to make, so an event becomes its outbox items exactly once, and a crash in between loses nothing (the
event stays undispatched and is dispatched again)."""
from __future__ import annotations

import logging
import sqlite3

from bot import clock, events, store
from bot.registry import Registry

log = logging.getLogger("dre-bot.notify")


def dispatch(conn: sqlite3.Connection, registry: Registry, limit: int = 500) -> int:
    """Run every notifier on every undispatched event, in order, inside the caller's transaction. A notifier
    that fails on an event is logged and skipped for that event (the others still act on it), so one bad event
    never blocks the ones behind it."""
    pending = events.undispatched(conn, limit)
    for event in pending:
        for name, notifier in registry.notifiers:
            try:
                with store.savepoint(conn):
                    notifier(conn, event)
            except Exception:
                log.exception("the %s notifier failed on event %s (%s of INC-%s)", name, event.id, event.kind,
                              event.incident_id)
    if pending:
        store.mark_dispatched(conn, [e.id for e in pending], clock.now())
    return len(pending)
