"""The PagerDuty notifier: which incident events page, and which are sent on to PagerDuty.

The loop guard is a filter on the event's origin: a change that came from PagerDuty (its webhooks,
reconciliation, an incident mirrored from it) is never sent back to it. See bot/pagerduty/inbound.py for the rest.
"""
from __future__ import annotations

import json
import sqlite3

from bot import events, store
from bot.config import Settings
from bot.events import Event
from bot.incident import ACKNOWLEDGED, REOPENED, RESOLVED
from bot.pagerduty import delivery, paging

ORIGIN = "pagerduty"


class PagerDutyNotifier:
    def __init__(self, settings: Settings):
        self.settings = settings

    def __call__(self, conn: sqlite3.Connection, event: Event) -> None:
        if event.origin == ORIGIN or event.incident_id is None or not self.settings.pagerduty_enabled:
            return
        inc = store.incident(conn, event.incident_id)
        if inc is None:
            return
        if event.kind == events.OPENED:
            self._maybe_page(conn, inc, inc["severity"])
        elif event.kind == events.SEVERITY_RAISED and not inc["pd_dedup_key"]:
            self._maybe_page(conn, inc, event.data["to"])
        elif event.kind == events.STATUS_CHANGED:
            self._sync(conn, inc, event)
        elif event.kind == events.NOTE and (inc["pd_dedup_key"] or inc["pd_incident_id"]):
            delivery.enqueue(conn, inc["id"], delivery.NOTE, text=event.data["text"], actor=event.actor)

    def _maybe_page(self, conn: sqlite3.Connection, inc: sqlite3.Row, severity: str) -> None:
        """Page through PagerDuty when the routing rules say this incident pages."""
        env = paging.routing_key_env(self.settings, json.loads(inc["labels"] or "{}"), severity)
        if env is None:
            return
        store.update_incident(conn, inc["id"], {"pd_routing_key_env": env,
                                                "pd_dedup_key": paging.dedup_key(self.settings, inc["id"])})
        delivery.enqueue(conn, inc["id"], delivery.TRIGGER)
        store.add_timeline(conn, inc["id"], "dre-bot", "dre-bot", "page", f"Paging through PagerDuty ({severity})")

    @staticmethod
    def _sync(conn: sqlite3.Connection, inc: sqlite3.Row, event: Event) -> None:
        """Tell PagerDuty about a change made here, when the incident is in PagerDuty at all."""
        if not (inc["pd_dedup_key"] or inc["pd_incident_id"]):
            return
        target = event.data["to"]
        kind = {ACKNOWLEDGED: delivery.ACK, RESOLVED: delivery.RESOLVE, REOPENED: delivery.TRIGGER}.get(target)
        if target == REOPENED:   # a trigger after a resolve opens a new PagerDuty incident under the same key
            store.update_incident(conn, inc["id"], {"pd_incident_id": None, "pd_incident_url": None,
                                                    "pd_status": None})
        if kind:
            # A person's change goes as them; one the alerts made goes as the bot.
            delivery.enqueue(conn, inc["id"], kind, actor=None if "title" in event.data else event.actor)
