"""The numbers the team runs on, over a window [start, end): incident count, MTTA and MTTR (median and p90),
top tables and sources, the false-positive share and the silenced volume. Definitions: docs/METRICS.md."""
from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot import store, timings

FALSE_POSITIVE = "false_positive"


@dataclass
class Stats:
    start: float
    end: float
    source: str | None = None
    table: str | None = None
    incidents: int = 0
    resolved: int = 0
    still_open: int = 0
    unattended: int = 0
    mtta: float | None = None
    mtta_p90: float | None = None
    mttr: float | None = None
    mttr_p90: float | None = None
    with_cause: int = 0
    false_positives: int = 0
    silenced: int = 0
    top_tables: list[tuple[str, int]] = field(default_factory=list)
    top_sources: list[tuple[str, int]] = field(default_factory=list)
    days: list[tuple[str, int, float | None]] = field(default_factory=list)   # (day, incidents, median TTR)

    @property
    def false_positive_share(self) -> float | None:
        """False positives among the incidents resolved with a cause; None when none were."""
        return self.false_positives / self.with_cause if self.with_cause else None


def _matches(source: str | None, table: str | None, want_source: str | None, want_table: str | None) -> bool:
    return (want_source is None or source == want_source) and (want_table is None or table == want_table)


def compute(conn: sqlite3.Connection, start: float, end: float, source: str | None = None,
            table: str | None = None, zone: str = "UTC") -> Stats:
    """The figures over incidents that opened in [start, end), filtered by source and table."""
    rows = [r for r in store.incidents_opened_between(conn, start, end)
            if _matches(r["source"], r["table_name"], source, table)]
    s = Stats(start, end, source, table, incidents=len(rows))
    ttas, ttrs = [], []
    tables, sources = Counter(), Counter()
    tz = ZoneInfo(zone)
    per_day: dict[str, list] = {}
    for r in rows:
        t = timings.of(r)
        if t.tta is not None:
            ttas.append(t.tta)
        if t.ttr is not None:
            ttrs.append(t.ttr)
            s.resolved += 1
        else:
            s.still_open += 1
        s.unattended += t.unattended
        if t.ttr is not None and r["resolution_cause"]:
            s.with_cause += 1
            s.false_positives += r["resolution_cause"] == FALSE_POSITIVE
        if r["table_name"]:
            tables[r["table_name"]] += 1
        sources[r["source"] or "unknown"] += 1
        day = datetime.fromtimestamp(r["opened_at"], tz=tz).strftime("%Y-%m-%d")
        per_day.setdefault(day, []).append(t.ttr)
    s.mtta, s.mtta_p90 = timings.median(ttas), timings.percentile(ttas, 90)
    s.mttr, s.mttr_p90 = timings.median(ttrs), timings.percentile(ttrs, 90)
    s.top_tables, s.top_sources = tables.most_common(5), sources.most_common(5)
    for alert in store.suppressed_alerts(conn, start, end):
        s.silenced += _matches(alert.get("source"), (alert.get("labels") or {}).get("table"), source, table)
    day = datetime.fromtimestamp(start, tz=tz).replace(hour=0, minute=0, second=0, microsecond=0)
    while day.timestamp() < end:
        key = day.strftime("%Y-%m-%d")
        ttr_day = [v for v in per_day.get(key, []) if v is not None]
        s.days.append((key, len(per_day.get(key, [])), timings.median(ttr_day)))
        day = (day + timedelta(days=1, hours=2)).replace(hour=0)   # the next local midnight, across DST
    return s


def context(s: Stats) -> dict:
    """The figures as a template reads them (names escaped for mrkdwn)."""
    from bot.slack.mrkdwn import escape
    share = s.false_positive_share
    return {
        "incidents": s.incidents, "resolved": s.resolved, "still_open": s.still_open, "unattended": s.unattended,
        "mtta": s.mtta, "mtta_p90": s.mtta_p90, "mttr": s.mttr, "mttr_p90": s.mttr_p90,
        "false_positive_share": None if share is None else round(100 * share),
        "false_positives": s.false_positives, "with_cause": s.with_cause, "silenced": s.silenced,
        "top_tables": [(escape(k), n) for k, n in s.top_tables],
        "top_sources": [(escape(k), n) for k, n in s.top_sources],
        "filters": " ".join(f"{k}={escape(v)}" for k, v in (("source", s.source), ("table", s.table)) if v),
    }
