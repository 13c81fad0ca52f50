"""The team's numbers for Prometheus (GET /metrics), read from the database at each scrape, so they survive
restarts and agree with /dre stats (docs/METRICS.md).

Counters only ever grow (incidents opened, resolutions, alerts silenced, handoffs: rows that are never deleted
or changed back); what can go down (open incidents, resolved incidents by cause, MTTA and MTTR over the last
7 days) is a gauge."""
from __future__ import annotations

import sqlite3
from typing import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from bot import timings
from bot.reports import stats

WINDOW = 7 * 86400.0


def _labelled(family: CounterMetricFamily | GaugeMetricFamily, rows, label: str) -> Metric:
    for row in rows:
        family.add_metric([str(row[label])], row["n"])
    return family


class TeamNumbers:
    """A prometheus_client collector: `now` gives the bot's clock (scripted in tests)."""

    def __init__(self, conn: sqlite3.Connection, now: Callable[[], float]):
        self.conn, self.now = conn, now

    def collect(self) -> Iterator[Metric]:
        conn, now = self.conn, self.now()
        yield _labelled(CounterMetricFamily("dre_incidents_opened", "Incidents opened, by source.", labels=["source"]),
                        conn.execute("SELECT COALESCE(source, 'unknown') AS source, count(*) AS n FROM incidents "
                                     "GROUP BY 1 ORDER BY 1"), "source")
        yield CounterMetricFamily(
            "dre_incident_resolutions", "Times an incident was resolved (a reopened incident resolved again counts "
            "twice).", value=conn.execute("SELECT count(*) FROM timeline WHERE kind = 'status' AND text LIKE "
                                          "'Resolved%'").fetchone()[0])
        yield _labelled(GaugeMetricFamily("dre_incidents_resolved", "Resolved incidents, by cause category (none: "
                                          "resolved without one).", labels=["cause"]),
                        conn.execute("SELECT COALESCE(resolution_cause, 'none') AS cause, count(*) AS n FROM "
                                     "incidents WHERE status = 'resolved' GROUP BY 1 ORDER BY 1"), "cause")
        yield _labelled(GaugeMetricFamily("dre_incidents_open", "Incidents open now, by status.", labels=["status"]),
                        conn.execute("SELECT status, count(*) AS n FROM incidents WHERE status != 'resolved' "
                                     "GROUP BY status ORDER BY status"), "status")
        yield CounterMetricFamily("dre_alerts_silenced", "Alerts held by silences.",
                                  value=conn.execute("SELECT count(*) FROM suppressed").fetchone()[0])
        rows = conn.execute("SELECT * FROM incidents WHERE opened_at >= ?", (now - WINDOW,)).fetchall()
        for metric, what, attr in (("dre_mtta_seconds", "acknowledge", "tta"), ("dre_mttr_seconds", "resolve", "ttr")):
            values = [v for v in (getattr(timings.of(r), attr) for r in rows) if v is not None]
            family = GaugeMetricFamily(metric, f"Time to {what}, median and p90, of the incidents opened in the last "
                                       "7 days (absent when there were none).", labels=["quantile"])
            for quantile, value in (("0.5", timings.median(values)), ("0.9", timings.percentile(values, 90))):
                if value is not None:
                    family.add_metric([quantile], value)
            yield family
        fp = stats.compute(conn, now - WINDOW, now).false_positive_share
        if fp is not None:
            yield GaugeMetricFamily("dre_false_positive_ratio", "False positives among incidents resolved with a "
                                    "cause, opened in the last 7 days.", value=fp)
        yield CounterMetricFamily("dre_handoffs", "Handoffs posted.",
                                  value=conn.execute("SELECT count(*) FROM handoffs").fetchone()[0])
        yield GaugeMetricFamily("dre_handoffs_unacknowledged", "1 while the newest handoff waits for the incoming "
                                "on-call to acknowledge it.", value=conn.execute(
                                    "SELECT count(*) FROM handoffs WHERE acked_at IS NULL AND id = (SELECT max(id) "
                                    "FROM handoffs)").fetchone()[0])
