"""The Cloud Monitoring notifier: when a Cloud Monitoring incident opens, remember its alert policy and chart its
metric; a silence that covers such an incident snoozes the policy, and ending the silence ends the snooze."""
from __future__ import annotations

import logging
import sqlite3

from bot import events, outbox, service, store
from bot.alert import Alert
from bot.events import Event
from bot.monitoring import delivery, snoozes
from bot.monitoring.payload import facts
from bot.service import Actor

log = logging.getLogger("dre-bot.monitoring")
SOURCE = "gcp-monitoring"


def notify(conn: sqlite3.Connection, event: Event) -> None:
    if event.kind == events.OPENED and event.data["alert"]["source"] == SOURCE:
        _on_open(conn, event.incident_id, Alert.from_dict(event.data["alert"]))
    elif event.kind == events.SILENCED and event.incident_id is not None:
        inc = store.incident(conn, event.incident_id)
        if inc is not None and inc["gcp_policy"]:
            outbox.enqueue(conn, inc["id"], snoozes.SNOOZE, snoozes.LANE, snoozes.LANE,
                           {"silence": event.data["silence_id"], "policy": inc["gcp_policy"]})
    elif event.kind == events.UNSILENCED and event.incident_id is not None:
        inc = store.incident(conn, event.incident_id)
        if inc is not None and inc["gcp_policy"]:
            # Same lane and incident as the snooze, so it goes after it.
            outbox.enqueue(conn, inc["id"], snoozes.UNSNOOZE, snoozes.LANE, snoozes.LANE,
                           {"silence": event.data["silence_id"]})


def _on_open(conn: sqlite3.Connection, incident_id: int, alert: Alert) -> None:
    found = facts(alert.raw)
    if found.policy:
        store.update_incident(conn, incident_id, {"gcp_policy": found.policy})
    if found.chart is not None:
        delivery.enqueue_chart(conn, incident_id, found.chart)
    elif found.why_no_chart:
        # Said in the thread, so nobody waits for a chart that is not coming.
        service.record_news(conn, incident_id, Actor("dre-bot", origin="cloud-monitoring"),
                            f"No chart of the metric: {found.why_no_chart}.")
