"""Cloud Monitoring: the time series behind an alert as a chart in its thread; silences that snooze its policy.

What happens when a Cloud Monitoring incident opens is decided here, in the worker's transaction; the calls to
Google are outbox items (bot/monitoring/delivery.py, bot/monitoring/snoozes.py).
"""
from __future__ import annotations

import logging
import sqlite3

from bot import outbox
from bot.alert import Alert
from bot.monitoring import delivery, snoozes
from bot.monitoring.payload import facts
from bot.outbox import Pace

log = logging.getLogger("dre-bot.monitoring")
SOURCE = "gcp-monitoring"


def on_open(conn: sqlite3.Connection, incident_id: int, alert: Alert) -> None:
    """Remember the alert's policy (for snoozes) and queue the chart of its metric."""
    if alert.source != SOURCE:
        return
    found = facts(alert.raw)
    if found.policy:
        conn.execute("UPDATE incidents SET gcp_policy = ? WHERE id = ?", (found.policy, incident_id))
    if found.chart is not None:
        delivery.enqueue_chart(conn, incident_id, found.chart)
    elif found.why_no_chart:
        log.info("INC-%s: no chart of the metric: %s", incident_id, found.why_no_chart)


def register(settings) -> None:
    # Cloud Monitoring's read quota is generous, but an alert storm must not fire hundreds of queries at once.
    for lane in (delivery.LANE, snoozes.LANE):
        outbox.PACES[lane] = Pace(rate=5.0, burst=10)
        outbox.OWN_THREADS[lane] = 1     # a slow query or render never holds up cards and replies
    outbox.register(delivery.CHART, delivery.ChartHandler())
    outbox.register(delivery.CHART_FILE, delivery.ChartFileHandler())
    outbox.register(snoozes.SNOOZE, snoozes.SnoozeHandler())
    outbox.register(snoozes.UNSNOOZE, snoozes.UnsnoozeHandler())
