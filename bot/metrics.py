"""The bot's own numbers for GET /metrics: counters per running app in a prometheus_client registry, and the
inbox and outbox depths read from SQLite at each scrape."""
from __future__ import annotations

import sqlite3
from typing import Iterator

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from bot import store

# Only the series docs/METRICS.md lists: no `_created` timestamps beside each counter (a process-wide switch).
prometheus_client.disable_created_metrics()
# generate_latest writes the classic text format; newer clients' CONTENT_TYPE_LATEST names 1.0.0, which older
# Prometheus servers do not know.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

DEPTHS = {   # store.depths() key -> (metric name, help)
    "inbox": ("dre_inbox_depth", "Webhooks committed and not yet processed."),
    "inbox_failed": ("dre_inbox_failed", "Inbox bodies that failed to parse or process (`dre-bot inbox --failed`)."),
    "outbox": ("dre_outbox_depth", "Outbox items waiting for delivery or in flight."),
    "dead_letters": ("dre_dead_letters", "Outbox items given up on (`dre-bot outbox --dead`)."),
    "open_incidents": ("dre_open_incidents", "Incidents not resolved."),
}


class Metrics:
    """One per running app, never module globals: several apps run in one test process and must not share counts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.webhooks_accepted = Counter("dre_webhooks_accepted", "Webhooks committed to the inbox.", ["source"],
                                         registry=r)
        self.webhooks_rejected = Counter("dre_webhooks_rejected", "Webhooks refused.", ["source", "status"],
                                         registry=r)
        self.outbox_delivered = Counter("dre_outbox_delivered", "Outbox items delivered.", registry=r)
        self.outbox_retried = Counter("dre_outbox_retried", "Outbox items scheduled for another try.", ["lane"],
                                      registry=r)
        self.outbox_ratelimited = Counter("dre_outbox_ratelimited", "Answers of 429 Too Many Requests.", ["lane"],
                                          registry=r)
        self.outbox_dead = Counter("dre_outbox_dead", "Outbox items moved to dead letters.", registry=r)

    def watch(self, collector) -> None:
        """Add a collector that reads its numbers at scrape time."""
        self.registry.register(collector)

    def render(self) -> bytes:
        """The exposition text for a scrape (blocking: collectors read SQLite)."""
        return generate_latest(self.registry)


class Depths:
    """The inbox and outbox depths, read at each scrape so they are never stale."""

    def __init__(self, conn: sqlite3.Connection, inbox_conn: sqlite3.Connection):
        self.conn, self.inbox_conn = conn, inbox_conn

    def collect(self) -> Iterator[Metric]:
        for key, value in store.depths(self.conn, self.inbox_conn).items():
            name, help_text = DEPTHS.get(key, (f"dre_{key}", key.replace("_", " ") + "."))
            yield GaugeMetricFamily(name, help_text, value=value)
