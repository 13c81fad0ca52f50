"""The team's numbers for Prometheus (GET /metrics), read from the database at each scrape, so they survive
restarts and agree with /dre stats (docs/METRICS.md).

Counters only ever grow (incidents opened, resolutions, alerts silenced, handoffs: rows that are never deleted
or changed back); what can go down (open incidents, resolved incidents by cause, MTTA and MTTR over the last
7 days) is a gauge."""
from __future__ import annotations

import sqlite3
from typing import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from bot import store, timings
from bot.reports import stats

WINDOW = 7 * 86400.0


def _labelled(family: CounterMetricFamily | GaugeMetricFamily, counts: list[tuple[str, int]]) -> Metric:
    for label, n in counts:
        family.add_metric([label], n)
    return family


class TeamNumbers:
    """A prometheus_client collector: `now` gives the bot's clock (scripted in tests)."""

    def __init__(self, conn: sqlite3.Connection, now: Callable[[], float]):
        self.conn, self.now = conn, now

    def collect(self) -> Iterator[Metric]:
        conn, now = self.conn, self.now()
        yield _labelled(CounterMetricFamily("dre_incidents_opened", "Incidents opened, by source.", labels=["source"]),
                        store.incidents_by_source(conn))
        yield CounterMetricFamily(
            "dre_incident_resolutions", "Times an incident was resolved (a reopened incident resolved again counts "
            "twice).", value=store.resolutions(conn))
        yield _labelled(GaugeMetricFamily("dre_incidents_resolved", "Resolved incidents, by cause category (none: "
                                          "resolved without one).", labels=["cause"]),
                        store.resolved_by_cause(conn))
        yield _labelled(GaugeMetricFamily("dre_incidents_open", "Incidents open now, by status.", labels=["status"]),
                        store.open_by_status(conn))
        yield CounterMetricFamily("dre_alerts_silenced", "Alerts held by silences.",
                                  value=store.suppressed_count(conn))
        rows = store.incidents_opened_since(conn, now - WINDOW)
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
                                  value=store.handoff_count(conn))
        yield GaugeMetricFamily("dre_handoffs_unacknowledged", "1 while the newest handoff waits for the incoming "
                                "on-call to acknowledge it.",
                                value=int(store.newest_handoff_unacknowledged(conn)))
